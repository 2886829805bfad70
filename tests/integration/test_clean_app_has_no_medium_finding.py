"""End to end: a clean, realistic app gives no finding at medium or above; the code
analyzer gives the same results with one worker or two through the whole pipeline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config import ScanConfig
from scanner.models import Category, Finding, Severity
from scanner.pipeline import scan
from tests.helpers.archives import rootfs_tar
from tests.helpers.planted_apps import App, build_clean

MINE = ("code", "secrets", "privacy", "container", "container-files", "dockerfile")
CATEGORIES = {Category.CODE, Category.SECRET, Category.PRIVACY, Category.CONTAINER}


def _config(jobs: int = 0, scope: str = "app", tmp: Path | None = None) -> ScanConfig:
    return ScanConfig(
        analyzers=MINE,
        offline=True,
        cache_dir=None,
        work_dir=tmp,
        jobs=jobs,
        options={"code": {"scope": scope}},
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> App:
    return build_clean(tmp_path_factory.mktemp("clean") / "shelf")


def test_clean_realistic_app_has_nothing_at_medium_or_above(clean: App) -> None:
    report = scan(clean.root, _config())
    assert report.failures == ()
    mine = [f for f in report.findings if f.category in CATEGORIES]
    loud = [f for f in mine if f.severity >= Severity.MEDIUM]
    assert loud == [], [(f.rule_id, str(f.location), f.message) for f in loud]
    # The realistic parts are really there: the scan saw the third-party packages (their
    # sample keys are reported at info level with the reason) and the base image's setuid
    # programs (low).
    rules = {f.rule_id for f in mine}
    assert "container-files.setuid" in rules
    samples = [f for f in mine if f.properties.get("sample")]
    assert samples, "botocore's documented example keys should be seen (at info level)"
    assert all(f.severity is Severity.INFO and f.properties.get("reason") for f in samples)
    # The app code itself was scanned (nothing found in it).
    assert not any(f.rule_id.startswith("code.") and f.severity >= Severity.LOW for f in mine)


def _py_tree(n: int) -> dict[str, bytes]:
    """A container with n app modules, each with a couple of bandit findings."""
    files: dict[str, bytes] = {}
    for i in range(n):
        files[f"panorama/mod{i:03d}.py"] = (
            f"import subprocess\nimport pickle\n\n\ndef f{i}(x):\n"
            f"    subprocess.call(x, shell={i % 2 == 0})\n"
            f"    return pickle.loads(x)  {'# nosec' if i % 5 == 0 else ''}\n"
        ).encode()
    files["panorama/broken.py"] = b"def (:\n"
    return files


def test_code_analyzer_parallel_equals_serial_through_the_pipeline(tmp_path: Path) -> None:
    target = tmp_path / "container.tar.gz"
    target.write_bytes(rootfs_tar(_py_tree(40)))

    def code_outputs(jobs: int) -> tuple[list[tuple[str, str, int | None, str]], list[str]]:
        report = scan(target, _config(jobs=jobs))
        findings = sorted(
            (f.rule_id, f.location.path, f.location.line, f.fingerprint)
            for f in report.findings
            if isinstance(f, Finding) and f.category is Category.CODE
        )
        failures = sorted(str(x.location) for x in report.failures if x.analyzer == "code")
        return findings, failures

    serial = code_outputs(1)
    parallel = code_outputs(2)
    assert len(serial[0]) > 40
    assert serial == parallel
    assert serial[1] == [f"{target.name}!panorama/broken.py"]


def test_code_scope_all_reaches_third_party_code(tmp_path: Path) -> None:
    target = tmp_path / "container.tar.gz"
    lib = "usr/lib/python3/dist-packages/vendorlib/run.py"
    target.write_bytes(rootfs_tar({lib: b"import os\nos.system('ls ' + os.environ['X'])\n"}))
    app_only = scan(target, _config(scope="app"))
    everything = scan(target, _config(scope="all"))
    assert not any(f.location.path == lib for f in app_only.findings)
    assert any(f.location.path == lib and f.rule_id == "code.B605" for f in everything.findings)
