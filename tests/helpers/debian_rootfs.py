"""A stock Debian 12 root filesystem for tests, built once with mmdebstrap and cached.

``mmdebstrap --variant=minbase --include=python3,python3-numpy bookworm`` makes a real
Debian image (about 60 s on a quiet machine); the tar is kept in
``$XDG_CACHE_HOME/panorama-gate-tests/bookworm-python3-rootfs.tar`` (or the file
``PANORAMA_GATE_BOOKWORM_ROOTFS`` names) so later runs, and CI runs on the same machine, reuse it.
Tests that need it skip with the reason when mmdebstrap is missing or Debian's mirror cannot be
reached, unless ``PANORAMA_GATE_REQUIRE_DOCKER=1`` (CI) turns that into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["PACKAGES", "bookworm_rootfs", "cached_path"]

# The image: Debian's minimal base plus the interpreter and numpy an application needs.
PACKAGES = ("python3", "python3-numpy")


def cached_path() -> Path:
    """Where the built root filesystem is cached."""
    given = os.environ.get("PANORAMA_GATE_BOOKWORM_ROOTFS")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "panorama-gate-tests" / "bookworm-python3-rootfs.tar"


def bookworm_rootfs() -> Path | str:
    """The cached rootfs tar, building it on first use; a reason string when it cannot be made."""
    cached = cached_path()
    if cached.is_file():
        return cached
    if shutil.which("mmdebstrap") is None:
        return "mmdebstrap is not installed (apt-get install mmdebstrap)"
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial")
    proc = subprocess.run(
        [
            "mmdebstrap",
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            "--format=tar",
            "bookworm",
            str(partial),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        return f"mmdebstrap could not build a bookworm rootfs: {proc.stderr[-300:]}"
    partial.rename(cached)
    return cached
