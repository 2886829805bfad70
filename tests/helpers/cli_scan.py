"""Run ``panorama-gate scan`` through the CLI and read its JSON report, for end-to-end tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scanner.cli import main

__all__ = ["STATIC", "scan_json"]

# The static analyzers, offline and without the sandbox: what a checkout scan in a hook runs.
STATIC = ("--offline", "--no-profile", "--no-cache")


def scan_json(target: Path, out: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    """(exit code, parsed JSON report) of ``scan TARGET *flags --format json -o OUT``."""
    code = main(["-q", "scan", str(target), *flags, "--format", "json", "-o", str(out)])
    report: dict[str, Any] = json.loads(out.read_text())
    return code, report
