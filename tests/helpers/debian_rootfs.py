"""A stock Debian 12 root filesystem for tests, built once with mmdebstrap and cached.

It is the shared stock image of ``tests.helpers.debian_image`` (``STOCK_PACKAGES``: python3,
numpy, pip, venv, git from Debian), kept in ``$XDG_CACHE_HOME/panorama-gate-tests`` (or the file
``PANORAMA_GATE_BOOKWORM_ROOTFS`` names) so later runs, and CI runs on the same machine, reuse it.
Tests that need it skip with the reason when mmdebstrap is missing or Debian's mirror cannot be
reached, unless ``PANORAMA_GATE_REQUIRE_DOCKER=1`` (CI) turns that into a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.helpers.debian_image import STOCK_PACKAGES, cache_dir, stock_debian_rootfs

__all__ = ["PACKAGES", "bookworm_rootfs", "cached_path"]

# The image: Debian's minimal base plus the interpreter, numpy, pip, venv and git.
PACKAGES = STOCK_PACKAGES


def cached_path() -> Path:
    """Where the built root filesystem is cached (``PANORAMA_GATE_BOOKWORM_ROOTFS`` overrides)."""
    given = os.environ.get("PANORAMA_GATE_BOOKWORM_ROOTFS")
    if given:
        return Path(given)
    return cache_dir() / f"bookworm-{'-'.join(sorted(STOCK_PACKAGES))}.tar"


def bookworm_rootfs() -> Path | str:
    """The cached rootfs tar, building it on first use; a reason string when it cannot be made.

    It is the shared stock Debian 12 image (``tests.helpers.debian_image``), so CI builds it
    once for every test that needs one.
    """
    given = os.environ.get("PANORAMA_GATE_BOOKWORM_ROOTFS")
    if given:
        return Path(given)
    return stock_debian_rootfs()
