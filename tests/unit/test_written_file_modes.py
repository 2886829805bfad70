"""Reports are written with the umask; files that may carry what a scan saw stay private.

A report written inside the tool's container must be readable by the CI user on the host, so
report files get ``0666 & ~umask`` like any program's output; the cache (findings of a private
application) is 0600 whatever the umask.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.fsutil import atomic_open, atomic_write_bytes, atomic_write_text

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def umask() -> Iterator[object]:
    """Set the process umask for one test and put the old one back."""
    old = os.umask(0o022)

    def set_to(value: int) -> None:
        os.umask(value)

    try:
        yield set_to
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    atomic_write_text(tmp_path / "r.json", "{}\n")
    atomic_write_bytes(tmp_path / "r.bin", b"x")
    assert _mode(tmp_path / "r.json") == expected
    assert _mode(tmp_path / "r.bin") == expected


def test_private_files_are_0600_whatever_the_umask(tmp_path, umask):
    umask(0)
    atomic_write_text(tmp_path / "cache.json", "{}", private=True)
    assert _mode(tmp_path / "cache.json") == 0o600


def test_failed_write_leaves_no_temporary_and_the_old_file(tmp_path, umask):
    target = tmp_path / "r.json"
    target.write_text("old")

    def half_write() -> None:
        with atomic_open(target) as fp:
            fp.write("half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        half_write()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_scan_reports_are_readable_by_others_and_the_cache_is_private(tmp_path):
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-m", "scanner", "scan", str(REPO / "examples" / "shelf-monitor")]
    cmd += ["--vuln-db", str(REPO / "examples" / "osv-db"), "--offline", "--no-profile"]
    cmd += ["--cache-dir", str(cache), "--format", "json", "-o", str(out / "report.json")]
    cmd += ["--format", "sarif", "-o", str(out / "report.sarif")]
    proc = subprocess.run(
        cmd,
        preexec_fn=lambda: os.umask(0o022),  # the child's umask, nothing else
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 1, proc.stderr
    assert _mode(out / "report.json") == 0o644
    assert _mode(out / "report.sarif") == 0o644
    entries = [p for p in cache.rglob("*") if p.is_file()]
    assert entries
    assert all(_mode(p) == 0o600 for p in entries), [oct(_mode(p)) for p in entries]
