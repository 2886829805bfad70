"""README.md is assembled from docs/sections and opens with the two commands CI relies on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_readme_is_assembled_from_the_sections() -> None:
    proc = subprocess.run(
        [sys.executable, "docs/build_readme.py", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_readme_opens_with_the_run_and_test_commands() -> None:
    head = (REPO / "README.md").read_text().split("## What it does")[0]
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    assert venv + "python3 -m pip install . && panorama-gate scan examples/shelf-monitor" in head
    test_cmd = (
        venv + "python3 -m pip install -e '.[dev]' && python3 -m pytest -q -p no:randomly tests"
    )
    assert test_cmd in head
    # CI runs the documented command itself (quieter pip), in a fresh venv
    ci = (REPO / ".ci" / "run").read_text()
    assert test_cmd.replace("install -e", "install -q -e") in ci
