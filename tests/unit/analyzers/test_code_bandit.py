"""The ``code`` analyzer: app selection, bandit mapping, nosec, failures, parallel == serial."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest

from scanner.analyzers import code_bandit
from scanner.analyzers.code_bandit import CodeAnalyzer, reached_from, run_bandit
from scanner.analyzers.interface import AnalyzerContext
from scanner.config import ScanConfig
from scanner.errors import ConfigError
from scanner.models import (
    AnalyzerFailure,
    Artifact,
    ArtifactKind,
    Category,
    Finding,
    Severity,
    Skipped,
)
from scanner.sources.interface import ArtifactFormat, SourceArtifact

ENTRY = {
    "runtimeDescriptor": {
        "envelopeVersion": "2021-01-01",
        "entry": {"path": "python3", "name": "/opt/app/main.py"},
    }
}


def _artifact(
    fmt: ArtifactFormat = ArtifactFormat.ROOTFS,
    descriptor: object = None,
    package_dir: Path | None = None,
) -> SourceArtifact:
    art = Artifact(ArtifactKind.CONTAINER, "code.tar.gz", "assets/code.tar.gz", None, 0)
    return SourceArtifact(art, None, fmt, package_dir, descriptor)  # type: ignore[arg-type]


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def _analyzer(scope: str = "app", jobs: int = 1) -> CodeAnalyzer:
    a = CodeAnalyzer()
    a.configure(AnalyzerContext("code", {"scope": scope}, ScanConfig(jobs=jobs)))
    return a


APP = {
    "panorama/app.py": (
        "import subprocess\n"
        "import helpers.net\n"
        "def run(cmd):\n"
        "    subprocess.call(cmd, shell=True)\n"
        "    return eval(cmd)  # nosec B307\n"
    ),
    "panorama/helpers/__init__.py": "",
    "panorama/helpers/net.py": "import requests\nrequests.get('http://x', verify=False)\n",
    "panorama/broken.py": "def f(:\n",
    "opt/app/main.py": "import util\n",
    "opt/app/util.py": "import pickle\npickle.loads(b'')\n",
    "opt/app/unused.py": "exec('1')\n",
    "usr/bin/tool.py": "exec('1')\n",
    "usr/lib/python3/dist-packages/lib.py": "exec('1')\n",
}


def test_app_scope_findings_and_failures(tmp_path: Path) -> None:
    _write(tmp_path, APP)
    out = list(_analyzer().analyze_tree(tmp_path, _artifact(descriptor=ENTRY)))
    findings = [o for o in out if isinstance(o, Finding)]
    got = {(f.rule_id, f.location.path, f.location.line, f.severity) for f in findings}
    assert ("code.B602", "panorama/app.py", 4, Severity.HIGH) in got
    assert ("code.B501", "panorama/helpers/net.py", 2, Severity.HIGH) in got
    assert ("code.B301", "opt/app/util.py", 2, Severity.MEDIUM) in got  # reached from entry
    # nosec B307 on line 5 is honoured; the unreached and the library files are not scanned.
    assert not any(f.location.line == 5 and f.location.path == "panorama/app.py" for f in findings)
    paths = {f.location.path for f in findings}
    assert paths.isdisjoint(
        {"opt/app/unused.py", "usr/bin/tool.py", "usr/lib/python3/dist-packages/lib.py"}
    )
    for f in findings:
        assert f.category is Category.CODE
        assert f.location.artifact == "code.tar.gz"
        assert f.properties["test_id"] == f.rule_id.split(".", 1)[1]
    b602 = next(f for f in findings if f.rule_id == "code.B602")
    assert b602.cwe == 78
    failures = [o for o in out if isinstance(o, AnalyzerFailure)]
    assert [(x.analyzer, x.location.path if x.location else None) for x in failures] == [
        ("code", "panorama/broken.py")
    ]
    assert "syntax error" in failures[0].reason
    skipped = [o for o in out if isinstance(o, Skipped)]
    assert len(skipped) == 1
    assert "3 Python file(s)" in skipped[0].reason


def test_scope_all_scans_everything_and_skips_unparsable_libraries(tmp_path: Path) -> None:
    files = dict(APP)
    files["usr/lib/python3/dist-packages/py2.py"] = "print 'hello'\n"
    _write(tmp_path, files)
    out = list(_analyzer("all").analyze_tree(tmp_path, _artifact()))
    paths = {o.location.path for o in out if isinstance(o, Finding)}
    assert {"opt/app/unused.py", "usr/bin/tool.py", "usr/lib/python3/dist-packages/lib.py"} <= paths
    lib_skip = [o for o in out if isinstance(o, Skipped)]
    assert [s.location.path for s in lib_skip if s.location] == [
        "usr/lib/python3/dist-packages/py2.py"
    ]
    assert [f.location.path for f in out if isinstance(f, AnalyzerFailure) and f.location] == [
        "panorama/broken.py"
    ]


def test_wants_depends_on_scope() -> None:
    app, everything = _analyzer("app"), _analyzer("all")
    lib = "usr/lib/python3.8/site-packages/numpy/core.py"
    assert app.wants("panorama/app.py", 10)
    assert not app.wants(lib, 10)
    assert everything.wants(lib, 10)
    assert not app.wants("panorama/model.onnx", 10)


def test_bad_scope_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="scope"):
        CodeAnalyzer().configure(AnalyzerContext("code", {"scope": "some"}))


def test_code_package_src_and_its_descriptor(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "src/app.py": "import os\nos.system('ls ' + os.environ['X'])\n",
            "tools/build.py": "exec('1')\n",
        },
    )
    (tmp_path / "descriptor.json").write_text(
        json.dumps({"runtimeDescriptor": {"entry": {"name": "/panorama/app.py"}}})
    )
    (tmp_path / "Dockerfile").write_text("FROM x:1\nCOPY src /panorama\n")
    art = _artifact(ArtifactFormat.DIRECTORY, package_dir=tmp_path)
    out = list(_analyzer().analyze_tree(tmp_path, art))
    # tools/ is not copied into the image: not the app's code
    assert {(o.rule_id, o.location.path) for o in out if isinstance(o, Finding)} == {
        ("code.B605", "src/app.py")
    }


@pytest.mark.parametrize("dockerfile", ["FROM x:1\nWORKDIR /panorama\nCOPY . .\n", None])
def test_code_package_folder_copied_whole_is_all_app_code(
    tmp_path: Path, dockerfile: str | None
) -> None:
    _write(
        tmp_path,
        {
            "application.py": "import subprocess\nsubprocess.run(cmd, shell=True)\n",
            "helpers/tool.py": "eval(input())\n",
        },
    )
    if dockerfile is not None:
        (tmp_path / "Dockerfile").write_text(dockerfile)
    art = _artifact(ArtifactFormat.DIRECTORY, package_dir=tmp_path)
    out = list(_analyzer().analyze_tree(tmp_path, art))
    found = {(o.rule_id, o.location.path) for o in out if isinstance(o, Finding)}
    assert {("code.B602", "application.py"), ("code.B307", "helpers/tool.py")} <= found


def test_reached_from_follows_relative_and_package_imports(tmp_path: Path) -> None:
    files = {
        "app/main.py": "from . import a\nfrom pkg import b\nimport pkg.c as c\n",
        "app/a.py": "from .pkg.d import x\n",
        "app/pkg/__init__.py": "",
        "app/pkg/b.py": "",
        "app/pkg/c.py": "",
        "app/pkg/d.py": "",
        "app/other.py": "",
    }
    _write(tmp_path, files)
    got = reached_from(tmp_path, "app/main.py", set(files))
    assert got == set(files) - {"app/other.py"}
    assert reached_from(tmp_path, "missing.py", set(files)) == set()


def test_hardcoded_password_message_is_redacted(tmp_path: Path) -> None:
    _write(tmp_path, {"panorama/app.py": "password = 'Correct-Horse-9'\n"})
    [f] = [o for o in _analyzer().analyze_tree(tmp_path, _artifact()) if isinstance(o, Finding)]
    assert f.rule_id == "code.B105"
    assert "Correct-Horse-9" not in f.message
    assert "Corr…(15)" in f.message


def test_low_confidence_lowers_severity(tmp_path: Path) -> None:
    # B108 (hard-coded /tmp) is MEDIUM severity, MEDIUM confidence; B113 (requests without
    # timeout) is MEDIUM severity, LOW confidence, so it is reported one step lower.
    _write(tmp_path, {"panorama/app.py": "import requests\nrequests.get('https://x')\n"})
    [f] = [o for o in _analyzer().analyze_tree(tmp_path, _artifact()) if isinstance(o, Finding)]
    assert (f.rule_id, f.severity, f.properties["bandit_confidence"]) == (
        "code.B113",
        Severity.LOW,
        "LOW",
    )


def test_parallel_equals_serial_on_real_files(tmp_path: Path) -> None:
    """Real third-party code, split in tiny chunks over two workers, equals a serial run."""
    site = Path(sysconfig.get_paths()["purelib"])
    src = sorted((site / "bandit").rglob("*.py"))[:60]
    assert len(src) >= 40
    for f in src:
        dest = tmp_path / f.relative_to(site)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(f.read_bytes())
    # A nosec file and a broken file make sure both paths are compared too.
    _write(tmp_path, {"x/nosec.py": "eval(1)  # nosec\nexec(1)\n", "x/bad.py": "def (:\n"})
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.py"))
    serial = run_bandit(tmp_path, files, jobs=1)
    parallel = run_bandit(tmp_path, files, jobs=2, chunk=2)
    assert len(files) >= code_bandit.PARALLEL_MIN_FILES
    assert serial[0]  # there is something to compare
    assert parallel == serial
    assert ("x/bad.py", "syntax error while parsing AST from file") in serial[1]
    nosec = [i for i in serial[0] if i.path == "x/nosec.py"]
    assert [i.test_id for i in nosec] == ["B102"]
