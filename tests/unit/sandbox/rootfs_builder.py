"""Small container root filesystems made from the host's own Python, for sandbox tests.

No registry is needed: the host interpreter, the standard library (without its tests and GUI
parts), numpy, and the shared libraries they link are laid out at their host paths, with
``usr/bin/python3`` as the interpreter. The result is a flat rootfs tar, the form
``docker export`` writes and Panorama ships.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["app_rootfs", "base_members", "build_rootfs"]

_SKIP_DIRS = {
    "test",
    "tests",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "pydoc_data",
    "site-packages",
    "dist-packages",
    "f2py",
    "_pyinstaller",
    "doc",
}
_MTIME = 1_700_000_000


def _needed_libs(binaries: list[Path]) -> set[Path]:
    """Shared libraries (resolved) that ``binaries`` load, from ldd."""
    out: set[Path] = set()
    for chunk in range(0, len(binaries), 200):
        proc = subprocess.run(
            ["ldd", *map(str, binaries[chunk : chunk + 200])],
            capture_output=True,
            text=True,
            check=False,
        )
        for line in proc.stdout.splitlines():
            m = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s+(/\S+)\s+\(", line)
            if m:
                out.add(Path(os.path.normpath(m.group(1))))
    return out


def _walk(root: Path, with_numpy_dir: bool = False) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("config-")]
        for f in filenames:
            if ".opt-" in f or f.startswith("_tkinter"):
                continue
            yield Path(dirpath) / f


def base_members() -> dict[str, Path]:
    """rootfs path -> host file for the host Python, its stdlib, numpy and their libraries."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    purelib = Path(sysconfig.get_paths()["purelib"])
    exe = Path(os.path.realpath(sys.executable))
    files: dict[str, Path] = {}
    for p in _walk(stdlib):
        files[str(p).lstrip("/")] = p
    import numpy

    np_dir = Path(numpy.__file__).parent
    for d in (np_dir, purelib / "numpy.libs"):
        if d.is_dir():
            for p in _walk(d):
                files[str(p).lstrip("/")] = p
    libdir = Path(sysconfig.get_config_var("LIBDIR") or "")
    for p in libdir.glob("libpython3*.so.*"):
        files[str(p).lstrip("/")] = Path(os.path.realpath(p))
    binaries = [exe] + [p for p in files.values() if p.suffix == ".so" or ".so." in p.name]
    for lib in _needed_libs(binaries):
        files[str(lib).lstrip("/")] = Path(os.path.realpath(lib))
        # the loader looks libraries up by the name ldd printed; keep both spellings
    files[str(exe).lstrip("/")] = exe
    files["usr/bin/python3"] = exe
    # the dynamic loader at its canonical path
    for loader in ("/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"):
        if Path(loader).exists():
            files[loader.lstrip("/")] = Path(os.path.realpath(loader))
    return files


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = _MTIME
    tar.addfile(info, io.BytesIO(data))


def build_rootfs(
    dest: Path,
    extra: Mapping[str, bytes] | None = None,
    base: Mapping[str, Path] | None = None,
    compress: bool = True,
) -> Path:
    """Write a rootfs tar (gzip -1 unless ``compress`` is false) with ``extra`` files added."""
    base = base if base is not None else base_members()
    dirs: set[str] = {
        "tmp",
        "panorama",
        "opt/aws/panorama/storage",
        "opt/aws/panorama/logs",
        "etc",
        "dev",
        "proc",
        "sys",
        "root",
    }
    for name in list(base) + list(extra or {}):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    raw = dest.open("wb")
    fileobj = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) if compress else raw
    try:
        with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for d in sorted(dirs):
                info = tarfile.TarInfo(d)
                info.type = tarfile.DIRTYPE
                info.mode = 0o1777 if d == "tmp" else 0o755
                info.mtime = _MTIME
                tar.addfile(info)
            _add_bytes(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
            _add_bytes(tar, "etc/group", b"root:x:0:\n")
            for name, path in sorted(base.items()):
                info = tar.gettarinfo(str(path), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                with path.open("rb") as fp:
                    tar.addfile(info, fp)
            for name, data in sorted((extra or {}).items()):
                _add_bytes(tar, name, data, 0o755 if name.endswith(".py") else 0o644)
    finally:
        if fileobj is not raw:
            fileobj.close()
        raw.close()
    return dest


def app_rootfs(
    dest: Path,
    apps: Mapping[str, str],
    base: Mapping[str, Path] | None = None,
    compress: bool = True,
) -> Path:
    """A rootfs with each app at ``panorama/<name>.py``."""
    return build_rootfs(
        dest,
        {f"panorama/{n}.py": src.encode() for n, src in apps.items()},
        base=base,
        compress=compress,
    )
