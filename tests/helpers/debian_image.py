"""Stock Debian 12 images for tests, and the offline wheel directory a container installs from.

A root filesystem comes from ``mmdebstrap --variant=minbase --include=PACKAGES bookworm`` (about
35 s on a quiet machine), cached as
``$XDG_CACHE_HOME/panorama-gate-tests/bookworm-<packages>.tar`` so later runs, and CI on the same
machine, reuse it; ``docker import`` turns it into a local image. No registry is involved.

Containers run with ``--network none``, so pip inside them installs from a *wheel directory*:
``PANORAMA_GATE_WHEELHOUSE``, or ``$XDG_CACHE_HOME/panorama-gate-tests/wheelhouse``, which
``.ci/run`` fills with ``pip wheel -w DIR '.[dev]' 'setuptools>=69' wheel`` before the tests.
Every function returns a reason string instead of a path when its piece cannot be had, for the
caller to skip (or, in CI, fail) with.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from packaging.requirements import Requirement

__all__ = [
    "STOCK_PACKAGES",
    "cache_dir",
    "debian_rootfs",
    "docker_image",
    "missing_wheels",
    "stock_debian_rootfs",
    "wheelhouse",
]

# One Debian 12 base serves every test that needs a stock image (the README in a fresh
# machine, the license accuracy image, the stock application image): CI bootstraps it once.
STOCK_PACKAGES = ("python3", "python3-numpy", "python3-pip", "python3-venv", "git")

REPO = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """The per-user cache folder the test images and the wheel directory live in."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "panorama-gate-tests"


def debian_rootfs(packages: tuple[str, ...]) -> Path | str:
    """A cached bookworm minbase rootfs tar with ``packages``; a reason when it cannot be made."""
    cached = cache_dir() / f"bookworm-{'-'.join(sorted(packages))}.tar"
    if cached.is_file():
        return cached
    if shutil.which("mmdebstrap") is None:
        return "mmdebstrap is not installed (apt-get install mmdebstrap)"
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{uuid.uuid4().hex[:8]}.partial")
    proc = subprocess.run(
        ["mmdebstrap", "--variant=minbase", f"--include={','.join(packages)}"]
        + ["--format=tar", "bookworm", str(partial)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        return f"mmdebstrap could not build a bookworm rootfs: {proc.stderr[-300:]}"
    partial.rename(cached)  # atomic: a parallel run sees a whole tar or none
    return cached


def stock_debian_rootfs() -> Path | str:
    """The shared stock Debian 12 rootfs (``STOCK_PACKAGES``); a reason when it cannot be made."""
    return debian_rootfs(STOCK_PACKAGES)


@contextmanager
def docker_image(rootfs: Path) -> Iterator[str]:
    """``docker import`` the rootfs as a uniquely tagged local image; removed on exit."""
    tag = f"panorama-gate-test/debian:{uuid.uuid4().hex[:12]}"
    subprocess.run(
        ["docker", "import", "--change", 'CMD ["/bin/sh"]', str(rootfs), tag],
        capture_output=True,
        check=True,
        timeout=600,
    )
    try:
        yield tag
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120, check=False)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_wheels(folder: Path) -> list[str]:
    """Direct requirements of ``.[dev]`` (and the build backend) with no wheel in ``folder``."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = meta["project"]
    texts = list(project["dependencies"]) + list(meta["build-system"]["requires"])
    for name, reqs in project["optional-dependencies"].items():
        if name != "dev":
            texts += reqs
    have = {_norm(p.name.split("-")[0]) for p in folder.glob("*.whl")}
    names = {_norm(Requirement(t).name) for t in texts} - {_norm(project["name"])}
    return sorted(n for n in names if n not in have)


def wheelhouse() -> Path | str:
    """The wheel directory for offline installs in containers; a reason when it is unusable."""
    given = os.environ.get("PANORAMA_GATE_WHEELHOUSE")
    folder = Path(given) if given else cache_dir() / "wheelhouse"
    fill = f"python3 -m pip wheel -w {folder} '.[dev]' 'setuptools>=69' wheel (.ci/run does)"
    if not folder.is_dir():
        return f"no wheel directory at {folder}; fill it: {fill}"
    missing = missing_wheels(folder)
    if missing:
        return f"{folder} has no wheel for {', '.join(missing[:5])}; refill it: {fill}"
    return folder
