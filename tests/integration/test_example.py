"""The bundled example: reproducible from its builder, and the README's first command works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from examples.build_example import FAKE_KEY_ID, FAKE_SECRET, build, build_osv_db

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "shelf-monitor"
OSV = REPO / "examples" / "osv-db"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_committed_example_is_what_the_builder_makes(tmp_path: Path) -> None:
    assert _tree(build(tmp_path / "app")) == _tree(EXAMPLE)
    assert _tree(build_osv_db(tmp_path / "osv")) == _tree(OSV)


def test_readme_scan_of_the_example(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scanner",
            "scan",
            str(EXAMPLE),
            "--vuln-db",
            str(OSV),
            "--offline",
            "--no-profile",
            "--no-cache",
            "--format",
            "terminal",
            "-o",
            "-",
            "--format",
            "json",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(out.read_text())
    assert report["verdict"]["decision"] == "rejected"
    rules = {f["rule_id"] for f in report["findings"]}
    for expected in (
        "secrets.aws-access-key-id",
        "secrets.credential-url",
        "code.B602",
        "licenses.denied",
        "pickle.code-execution",
        "vulns.known-vulnerability",
    ):
        assert expected in rules, (expected, sorted(rules))
    assert any(f["category"] == "privacy" for f in report["findings"])
    vuln_ids = {
        f["properties"].get("vulnerability_id")
        for f in report["findings"]
        if f["category"] == "vulnerability"
    }
    assert {"GHSA-mh33-7rrq-662w", "GHSA-r64q-w8jr-g9qp"} <= vuln_ids
    assert "REJECTED" in proc.stdout
    assert report["failures"] == []
    # the report conforms to the committed JSON Schema of the contract
    schema = json.loads((REPO / "scanner" / "report" / "schema" / "report.schema.json").read_text())
    errors = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(report))
    assert errors == []
    # the planted secrets never appear in any output
    everything = proc.stdout + proc.stderr + out.read_text()
    for secret in ("Sh3lfCam!2024", FAKE_KEY_ID, FAKE_SECRET):
        assert secret not in everything
