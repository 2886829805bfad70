"""Fail closed, end to end: each built-in analyzer in turn made to fail gives verdict
incomplete (and exit 3 through the CLI) every time.

Faults: a crash (an exception inside the analyzer's own method, injected on the instance);
a timeout (the exception a timed-out tool call raises); unreachable vulnerability data; Docker
unreachable for the sandbox profile.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from scanner.analyzers import load_analyzers, select
from scanner.analyzers.interface import Analyzer
from scanner.config import ScanConfig
from scanner.gate import judge
from scanner.models import Decision
from scanner.pipeline import scan
from scanner.policy import resolve_policy
from tests.helpers.cli_runner import QUIET_SCAN, cli_env, read_json, run_cli
from tests.helpers.project_builder import BuiltProject, ProjectSpec, build_project

METHODS = (
    "analyze",
    "analyze_tree",
    "analyze_config",
    "analyze_target",
    "analyze_components",
    "finish",
)

METADATA = b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\nLicense: Apache-2.0\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    """A project that every content analyzer has something to look at in."""
    spec = ProjectSpec(
        with_model=True,
        rootfs_files={
            "usr/lib/python3/dist-packages/requests-2.19.0.dist-info/METADATA": METADATA,
            "panorama/helper.py": b"import subprocess\nsubprocess.call('ls', shell=True)\n",
            "panorama/settings.json": b'{"contact": "ops@example.com"}\n',
        },
    )
    return build_project(tmp_path_factory.mktemp("fc") / "app", spec)


def _config(tmp: Path) -> ScanConfig:
    # vulns offline without a database is itself incomplete (tested through the CLI below);
    # the sandbox profile is tested with Docker unreachable below.
    return ScanConfig(
        cache_dir=None, offline=True, work_dir=tmp / "work", analyzers=("-vulns", "-sandbox")
    )


def _instances(config: ScanConfig) -> list[Analyzer]:
    return [cls() for cls in select(load_analyzers(), config.analyzers)]


class _Boom(RuntimeError):
    pass


def _raiser(exc: BaseException) -> Callable[..., Iterable[Any]]:
    def fail(*args: Any, **kwargs: Any) -> Iterable[Any]:
        raise exc

    return fail


def _called(project: BuiltProject, tmp: Path) -> set[str]:
    """Names of the analyzers whose methods the scan of ``project`` calls."""
    seen: set[str] = set()
    analyzers = _instances(_config(tmp))
    for a in analyzers:
        for m in METHODS:
            real = getattr(a, m, None)
            if real is None:
                continue

            def spy(*args: Any, _real: Any = real, _name: str = a.name, **kw: Any) -> Any:
                seen.add(_name)
                return _real(*args, **kw)

            setattr(a, m, spy)
    scan(project.root, _config(tmp), analyzers=analyzers)
    return seen


def test_baseline_is_not_incomplete(project: BuiltProject, tmp_path: Path) -> None:
    report = judge(scan(project.root, _config(tmp_path)), resolve_policy(None))
    assert report.verdict is not None
    assert report.verdict.decision is not Decision.INCOMPLETE, report.failures


@pytest.mark.parametrize(
    "exc",
    [_Boom("injected crash"), TimeoutError("injected timeout"),
     subprocess.TimeoutExpired("tool", 60), MemoryError(), RecursionError("deep")],
    ids=["crash", "timeout", "tool-timeout", "memory", "recursion"],
)  # fmt: skip
def test_each_analyzer_failing_is_incomplete(
    project: BuiltProject, tmp_path: Path, exc: BaseException
) -> None:
    called = _called(project, tmp_path)
    # the project exercises most analyzers (the model-format ones need their own formats)
    assert {"secrets", "packages", "licenses", "code", "manifest", "dockerfile"} <= called
    policy = resolve_policy(None)
    for name in sorted(called):
        analyzers = _instances(_config(tmp_path))
        victim = next(a for a in analyzers if a.name == name)
        for m in METHODS:
            if getattr(victim, m, None) is not None:
                setattr(victim, m, _raiser(exc))
        report = judge(scan(project.root, _config(tmp_path), analyzers=analyzers), policy)
        assert report.verdict is not None
        assert report.verdict.decision is Decision.INCOMPLETE, (name, report.verdict)
        assert any(f.analyzer == name for f in report.failures), (name, report.failures)


def test_image_config_analyzer_failing_is_incomplete(tmp_path: Path) -> None:
    from tests.helpers.archives import docker_save_archive, rootfs_members

    image = tmp_path / "image.tar"
    image.write_bytes(docker_save_archive([rootfs_members({"panorama/app.py": b"x = 1\n"})]))
    config = _config(tmp_path)
    analyzers = _instances(config)
    victim = next(a for a in analyzers if a.name == "container")
    victim.analyze_config = _raiser(_Boom("injected crash"))  # type: ignore[method-assign]
    report = judge(scan(image, config, analyzers=analyzers), resolve_policy(None))
    assert report.verdict is not None
    assert report.verdict.decision is Decision.INCOMPLETE
    assert any(f.analyzer == "container" for f in report.failures)


# --- through the CLI --------------------------------------------------------------------------

PLUGIN = """
from scanner.analyzers.interface import FileAnalyzer


class Crashing(FileAnalyzer):
    name = "crashing"
    version = 1
    patterns = ("**/*.py",)

    def analyze(self, entry):
        raise RuntimeError("plug-in crashed")
"""


def _cli_report(tmp: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    report = tmp / "report.json"
    res = run_cli(*args, "--format", "json", "-o", str(report), env=env)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode != 2, res.stderr
    return res.returncode, read_json(report) if report.exists() else None


def test_crashing_plugin_through_the_cli(project: BuiltProject, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "crashplug-0.1.dist-info").mkdir(parents=True)
    (site / "crashplug.py").write_text(PLUGIN)
    (site / "crashplug-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: crashplug\nVersion: 0.1\n"
    )
    (site / "crashplug-0.1.dist-info" / "entry_points.txt").write_text(
        "[panorama_gate.analyzers]\ncrashing = crashplug:Crashing\n"
    )
    env = {"PYTHONPATH": f"{site}{os.pathsep}{Path(__file__).resolve().parents[2]}"}
    code, report = _cli_report(
        tmp_path, "scan", str(project.root), *QUIET_SCAN, "--analyzers=-vulns", env=env
    )
    assert code == 3
    assert report["verdict"]["decision"] == "incomplete"
    assert any(f["analyzer"] == "crashing" for f in report["failures"])


def test_vulnerability_data_unreachable(project: BuiltProject, tmp_path: Path) -> None:
    # Online mode with every connection refused (a proxy on a closed loopback port).
    closed = "http://127.0.0.1:9"
    env = {"HTTPS_PROXY": closed, "HTTP_PROXY": closed, "https_proxy": closed, "NO_PROXY": ""}
    code, report = _cli_report(
        tmp_path, "scan", str(project.root), "--no-profile", "--no-cache", env=env
    )
    assert code == 3, report and report["failures"]
    assert any(f["analyzer"] == "vulns" for f in report["failures"])


def test_vulnerability_data_missing_offline(project: BuiltProject, tmp_path: Path) -> None:
    code, report = _cli_report(tmp_path, "scan", str(project.root), *QUIET_SCAN)
    assert code == 3
    assert any(f["analyzer"] == "vulns" for f in report["failures"])


def test_docker_unreachable_with_a_policy_that_requires_the_profile(
    project: BuiltProject, tmp_path: Path
) -> None:
    from scanner.policy import bundled_policy_path

    text = bundled_policy_path("default").read_text()
    text = text.replace("resources:\n", "resources:\n  sandbox: docker\n", 1)
    text = text.replace("when_unavailable: warn", "when_unavailable: incomplete")
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    code, report = _cli_report(
        tmp_path, "scan", str(project.root), "--offline", "--no-cache", "--analyzers=-vulns",
        "--policy", str(policy), env={"DOCKER_HOST": "unix:///nonexistent"},
    )  # fmt: skip
    assert code == 3
    assert any(f["analyzer"] == "sandbox" for f in report["failures"]), report["failures"]


def test_hadolint_missing_is_incomplete(project: BuiltProject, tmp_path: Path) -> None:
    # hadolint is looked up next to the interpreter first (scanner.tools), then on PATH: an
    # installation without it anywhere is simulated by emptying both.
    runner = (
        "import sys, scanner.tools as t; t.tool_dirs = lambda: []; "
        "from scanner.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    report = tmp_path / "report.json"
    res = subprocess.run(
        [sys.executable, "-c", runner, "scan", str(project.root), *QUIET_SCAN,
         "--analyzers=-vulns", "--format", "json", "-o", str(report)],
        env=cli_env({"PATH": str(tmp_path / "empty")}), capture_output=True, text=True,
        check=False, timeout=300,
    )  # fmt: skip
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 3, res.stderr
    failures = read_json(report)["failures"]
    assert any("hadolint" in f["reason"] for f in failures), failures
