"""Flags and outputs do what the help and the docs say (no silent drift).

``--jobs 0`` is a usage error, not a silent "auto"; ``profile`` on an image it cannot run is
incomplete (exit 3), never "approved"; ``scan --format notice`` writes the same notices file,
license texts included, as ``licenses --format notice``; and the pre-commit snippets name a
revision that exists; ``-v`` prints where the time went, the figures the JSON report carries.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.requirements import missing_requirement
from tests.helpers.sandbox_rootfs import build_rootfs

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = ["examples/shelf-monitor", "--vuln-db", "examples/osv-db", "--offline", "--no-profile"]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanner", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_jobs_below_one_is_a_usage_error(how: str) -> None:
    args, env = (["--jobs", "0"], None) if how == "flag" else ([], {"PANORAMA_GATE_JOBS": "0"})
    proc = _cli("scan", *EXAMPLE, *args, env=env)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]  # argparse's usage, then one line saying why
    assert "JOBS" in last.upper()
    assert last.endswith("0 is less than 1")
    assert "Traceback" not in proc.stderr


def test_verbose_scan_says_where_the_time_went(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = _cli("scan", *EXAMPLE, "-v", "--no-cache", "--format", "json", "-o", str(out))
    assert proc.returncode in (0, 1), proc.stderr
    timings = json.loads(out.read_text())["timings"]
    assert timings["wall_seconds"] > 0
    assert timings["cpu_seconds"] > 0
    assert timings["jobs"] >= 1
    for name in ("secrets", "code", "pickle"):  # code: the bandit analyzer
        row = timings["analyzers"][name]
        assert row["files"] > 0, (name, row)
        assert row["bytes"] > 0, (name, row)
    # every analyzer that ran has a row, those offered nothing included; stages have theirs
    assert set(timings["analyzers"]) >= {"packages", "licenses", "vulns", "manifest"}
    assert timings["stages"]["walk"]["files"] > 0
    lines = proc.stderr.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("timings: "))
    assert re.match(r"timings: [\d.]+ s wall, [\d.]+ s CPU, \d+ job", lines[head])
    table = lines[head + 1 :]
    assert any(re.match(r"\s+analyzer\s+seconds\s+files\s+bytes", line) for line in table)
    # every analyzer row of the JSON is a row of the table, with its seconds
    for name, row in timings["analyzers"].items():
        assert any(
            re.match(rf"\s+{re.escape(name)}\s+{row['seconds']:.2f}\b", ln) for ln in table
        ), name


@pytest.mark.sandbox
def test_profile_of_an_image_it_cannot_run_is_incomplete(tmp_path: Path) -> None:
    if shutil.which("bwrap") is None:
        missing_requirement("bubblewrap", "not on PATH; install the bubblewrap package")
    image = build_rootfs(tmp_path / "bare.tar", {"panorama/app.py": b"print(1)\n"}, base={})
    proc = _cli("profile", str(image), "--sandbox", "bwrap")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "verdict: incomplete" in proc.stdout
    assert "approved" not in proc.stdout
    assert "python3 is not in the image" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_scan_and_licenses_write_the_same_notice_file(tmp_path: Path) -> None:
    scan = _cli("scan", *EXAMPLE, "--no-cache", "--format", "notice", "-o", str(tmp_path / "a"))
    assert scan.returncode == 1, scan.stderr
    lic = _cli("licenses", *EXAMPLE, "--no-cache", "--format", "notice", "-o", str(tmp_path / "b"))
    assert lic.returncode == 1, lic.stderr
    from_scan = (tmp_path / "a").read_text()
    assert from_scan == (tmp_path / "b").read_text()
    assert "--- " in from_scan  # at least one license text reproduced, not only names


def test_pre_commit_snippets_name_a_revision_that_exists() -> None:
    texts = [(REPO / ".pre-commit-hooks.yaml").read_text()]
    texts += [p.read_text() for p in (REPO / "docs" / "sections").glob("*.md")]
    revs = [m for t in texts for m in re.findall(r"\brev:\s*(\S+)", t)]
    assert revs
    tags = subprocess.run(
        ["git", "tag", "--list"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.split()
    for rev in revs:
        assert rev.startswith("<") or rev in tags, f"rev {rev!r} is neither a placeholder nor a tag"
