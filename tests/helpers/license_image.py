"""The license-accuracy image: a stock Debian 12 rootfs plus 13 hard Python distributions.

The distributions are rebuilt from ``tests/assets/license_truth`` (their real METADATA headers
and license files, and their vendored libraries under their real file names) into
``usr/local/lib/python3.11/site-packages``, appended to the cached mmdebstrap rootfs
(``tests.helpers.debian_rootfs``). ``expected()`` is the hand-written truth.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

from license_expression import get_spdx_licensing

from tests.helpers.debian_rootfs import bookworm_rootfs

__all__ = ["FIXTURES", "SITE", "build_image", "expected", "license_files"]

FIXTURES = Path(__file__).resolve().parent.parent / "assets" / "license_truth"
SITE = "usr/local/lib/python3.11/site-packages"


def expected() -> dict[str, Any]:
    """The truth: ``pypi``, ``vendored`` (``parent/library``) and ``deb`` name → expression."""
    data: dict[str, Any] = json.loads((FIXTURES / "expected.json").read_text())
    return data


def license_files() -> dict[str, bytes]:
    """Every file of the distributions, keyed by its path inside the image."""
    out: dict[str, bytes] = {}
    for dist in sorted(FIXTURES.glob("*.dist-info")):
        for f in sorted(dist.rglob("*")):
            if f.is_file():
                out[f"{SITE}/{f.relative_to(FIXTURES).as_posix()}"] = f.read_bytes()
    libs: dict[str, list[str]] = json.loads((FIXTURES / "vendored_libraries.json").read_text())
    for paths in libs.values():
        for rel in paths:
            # a placeholder body, distinct per library so each has its own digest
            out[f"{SITE}/{rel}"] = (
                b"\0placeholder shared object " + hashlib.sha256(rel.encode()).digest()
            )
    return out


def build_image(dest: Path) -> Path | str:
    """The stock rootfs with the distributions added; a reason string when it cannot be built."""
    base = bookworm_rootfs()
    if isinstance(base, str):
        return base
    shutil.copyfile(base, dest)
    with tarfile.open(dest, "a") as tf:
        for path, data in license_files().items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    return dest


def same(got: str, want: str) -> bool:
    """Whether two license expressions are equivalent ("" and UNKNOWN both mean none)."""
    if not want or not got or got == "UNKNOWN":
        return (not want) == (not got or got == "UNKNOWN")
    licensing = get_spdx_licensing()
    return bool(licensing.is_equivalent(licensing.parse(got), licensing.parse(want)))
