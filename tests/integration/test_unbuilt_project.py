"""A project whose code package is not built yet: its sources are scanned in the project scan.

Before ``panorama-cli build-container`` there is no container asset, so the code package's
folder stands in for it (once built, the container is what is scanned and deployed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.cli import main
from tests.helpers.keys import write_rsa_keypair
from tests.helpers.project_builder import ProjectSpec, build_project

KEY = "AKIA" + "QYLPMN5HHHFPZAM2"  # split so this file does not trip secret scanners
FAST = ["--no-profile", "--offline", "--analyzers=-vulns,-sandbox"]


def _scan(root: Path, out: Path) -> tuple[int, dict[str, object]]:
    code = main(["scan", str(root), *FAST, "--format", "json", "-o", str(out), "-q"])
    return code, json.loads(out.read_text())


def test_sources_of_an_unbuilt_package_are_scanned(tmp_path: Path) -> None:
    spec = ProjectSpec(
        breaks={"empty-assets"},
        src_files={"app.py": f'import os\nAWS_ACCESS_KEY_ID = "{KEY}"\n'.encode()},
    )
    root = build_project(tmp_path / "app", spec).root
    src = next(root.glob("packages/*-shelf_code-*/src"))
    (src / "creds").symlink_to("/etc/passwd")
    code, report = _scan(root, tmp_path / "r.json")
    assert code == 1
    findings = report["findings"]
    assert isinstance(findings, list)
    by_rule = {f["rule_id"]: f for f in findings}
    key = by_rule["secrets.aws-access-key-id"]
    assert key["location"]["path"] == "src/app.py"
    assert KEY not in json.dumps(report)  # redacted, never the secret itself
    assert "archive.symlink-escape" in by_rule
    assert "integrity.not-built" in by_rule


def test_clean_unbuilt_project_is_approved_signed_and_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PANORAMA_GATE_KEY_PASSWORD", "unbuilt-test")
    root = build_project(tmp_path / "app", ProjectSpec(breaks={"empty-assets"})).root
    code, report = _scan(root, tmp_path / "r.json")
    assert code == 0, report["findings"]
    assert any(a["kind"] == "code" for a in report["artifacts"])  # type: ignore[union-attr]
    assert main(["keygen", "--out", "ci"]) == 0
    assert main(["sign", str(root), "--key", "ci.key", "--report", str(tmp_path / "r.json")]) == 0
    assert main(["verify", str(root), "--key", "ci.pub"]) == 0
    # Every source file is a subject: one added after signing fails verification, and so
    # does one changed after signing.
    src = next(root.glob("packages/*-shelf_code-*/src"))
    (src / "later.py").write_text("print('added after signing')\n")
    assert main(["verify", str(root), "--key", "ci.pub"]) == 1
    (src / "later.py").unlink()
    assert main(["verify", str(root), "--key", "ci.pub"]) == 0
    (src / "app.py").write_text((src / "app.py").read_text() + "\n# edited after signing\n")
    assert main(["verify", str(root), "--key", "ci.pub"]) == 1


def test_unbuilt_project_publishes_and_pulls_with_its_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PANORAMA_GATE_KEY_PASSWORD", "unbuilt-test")
    write_rsa_keypair(tmp_path / "device.pem", tmp_path / "device.pub.pem")
    assert main(["keygen", "--out", "ci"]) == 0
    root = build_project(tmp_path / "app", ProjectSpec(breaks={"empty-assets"})).root
    dest = tmp_path / "releases"
    published = main(
        [
            "-q",
            "publish",
            str(root),
            "--to",
            f"file://{dest}",
            "--key",
            "ci.key",
            "--encrypt-to",
            "device.pub.pem",
            *FAST,
            "--app-version",
            "0.1.0",
            "--state-dir",
            str(tmp_path / "state"),
        ]
    )
    assert published == 0
    (release,) = [p.parent for p in dest.rglob("index.json")]
    out = tmp_path / "deploy"
    pulled = main(
        [
            "-q",
            "pull",
            f"file://{release}",
            "-o",
            str(out),
            "--key",
            "ci.pub",
            "--decrypt-key",
            "device.pem",
        ]
    )
    assert pulled == 0
    sources = sorted(p.relative_to(root) for p in root.glob("packages/*-shelf_code-*/**/*.py"))
    assert sources
    for rel in sources:
        assert (out / rel).read_bytes() == (root / rel).read_bytes()
