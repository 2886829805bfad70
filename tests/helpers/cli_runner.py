"""Helpers for running the real CLI as a subprocess in the reliability tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

# Generous bounds: these catch a runaway reader, they are not benchmarks.
MAX_SECONDS = 60.0
MAX_MEMORY_KB = 1024 * 1024  # 1 GiB

# Flags that keep a scan local and quick: no sandbox, no network, no shared cache.
QUIET_SCAN = ("--no-profile", "--offline", "--no-cache")


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a CLI subprocess: the repository importable, no user cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANORAMA_GATE_")}
    env["PYTHONPATH"] = str(REPO) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Measured:
    """One measured CLI run."""

    exit: int
    stdout: str
    stderr: str
    wall_seconds: float
    peak_kb: int

    def assert_clean_failure_or_finding(self, *, incomplete_ok: bool = False) -> None:
        """Ends in a finding (exit 1) or a clear input error (exit 2); never a traceback.

        ``incomplete_ok``: an analyzer that could not read the input may also fail closed
        (exit 3, the failure recorded in the report).
        """
        assert "Traceback" not in self.stderr, self.stderr
        allowed = (1, 2, 3) if incomplete_ok else (1, 2)
        assert self.exit in allowed, (self.exit, self.stderr[-2000:])
        if self.exit == 2:
            assert "panorama-gate: error:" in self.stderr, self.stderr

    def assert_bounded(self) -> None:
        """Within the generous time and memory bounds."""
        assert self.wall_seconds < MAX_SECONDS, self.wall_seconds
        assert self.peak_kb < MAX_MEMORY_KB, f"peak {self.peak_kb} kB"


def measured_cli(tmp: Path, *args: str, env: Mapping[str, str] | None = None) -> Measured:
    """Run ``panorama-gate ARGS`` in a subprocess and measure its time and peak memory."""
    stats = tmp / "measure.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.helpers.measure", str(stats), *args],
        cwd=REPO,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS * 3,
        check=False,
    )
    data: dict[str, Any] = json.loads(stats.read_text())
    assert data["exit"] == proc.returncode
    return Measured(
        exit=proc.returncode,
        stdout=proc.stdout,
        stderr=proc.stderr,
        wall_seconds=float(data["wall_seconds"]),
        peak_kb=max(int(data["vm_hwm_kb"]), int(data["children_maxrss_kb"])),
    )


def start_cli(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``panorama-gate ARGS`` in the background (its own process group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "scanner", *args],
        cwd=REPO,
        env=cli_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``panorama-gate ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "scanner", *args],
        cwd=REPO,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 120.0, what: str = "") -> None:
    """Poll until ``predicate()`` holds (generous timeout, no timing assertions)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def read_json(path: Path) -> Any:
    """Parse a JSON file."""
    return json.loads(path.read_text("utf-8"))


# What the CLI prints when SIGINT or SIGTERM stops it (and it cleaned up).
INTERRUPTED_MESSAGE = "interrupted; temporary files, containers and partial outputs removed"


def session_processes(sid: int) -> list[str]:
    """The ``ps`` lines of every process still in session ``sid``."""
    out = subprocess.run(
        ["ps", "-eo", "pid=,sid=,args="], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.splitlines() if line.split()[1] == str(sid)]
