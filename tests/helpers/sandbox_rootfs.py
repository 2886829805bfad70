"""Small container root filesystems made from the host's own Python, for sandbox tests.

No registry is needed: the host's *base* interpreter, its standard library (without its tests
and GUI parts), numpy, and the shared libraries they link are laid out at their host paths,
with a copy of the interpreter as ``usr/bin/python3``. The result is a flat rootfs tar, the form
``docker export`` writes and Panorama ships.

It works whichever way the tests' Python was installed (system, venv, pyenv, pipx-style):
third-party modules are *placed where the sandbox's interpreter finds them*. The tests may run
in a virtual environment, but the rootfs holds the base interpreter (``sys.base_exec_prefix``),
which has no ``pyvenv.cfg`` beside it and so never searches the venv's ``site-packages``. numpy
is therefore copied into the base interpreter's own first site directory (asked of that
interpreter, run isolated), not to its host path in the venv.

``usr/bin/python3`` finds the standard library through the prefix compiled into it (the stdlib
is at its host path), which holds for system, pyenv and source builds and every venv or pipx
environment made from them. Relocatable builds (python-build-standalone, as uv installs) have a
compiled-in prefix that is not where they live and are not supported here.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["app_rootfs", "base_interpreter", "base_members", "build_rootfs"]

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


def base_interpreter() -> Path:
    """The real file of the base interpreter: outside any venv, symlinks resolved.

    ``sys.executable`` in a venv made with ``--copies`` is a copy that only works beside its
    ``pyvenv.cfg``; the base installation's ``bin/pythonX.Y`` does not depend on the venv.
    """
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidate = Path(sys.base_exec_prefix) / "bin" / name
    if candidate.is_file():
        return Path(os.path.realpath(candidate))
    return Path(os.path.realpath(sys.executable))  # unusual layouts: the running interpreter


def _base_site_dir(exe: Path) -> Path:
    """The first site directory the base interpreter searches on its own.

    Asked of the interpreter itself, isolated (``-I``: no environment, no user site), so a venv
    or PYTHONPATH of the test run cannot leak into the answer. Debian's Python answers
    ``/usr/local/lib/python3.X/dist-packages``; pyenv's ``<prefix>/lib/python3.X/site-packages``.
    """
    out = subprocess.run(
        [str(exe), "-I", "-c", "import json, site; print(json.dumps(site.getsitepackages()))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    dirs = json.loads(out)
    if not dirs:
        raise RuntimeError(f"{exe} reports no site directory; cannot place numpy in a rootfs")
    return Path(dirs[0])


def base_members() -> dict[str, Path]:
    """rootfs path -> host file for the base Python, its stdlib, numpy and their libraries."""
    exe = base_interpreter()
    # the base installation's stdlib, also from a venv (its sysconfig reports the base's)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files: dict[str, Path] = {}
    for p in _walk(stdlib):
        files[str(p).lstrip("/")] = p
    import numpy

    np_dir = Path(numpy.__file__).parent
    site_dir = _base_site_dir(exe)
    moved: list[Path] = []
    # numpy.libs (manylinux wheels) sits beside numpy: numpy's extensions find it by a relative
    # RPATH ($ORIGIN/../numpy.libs), so both move together.
    for d in (np_dir, np_dir.parent / "numpy.libs"):
        if d.is_dir():
            moved.append(d)
            for p in _walk(d):
                files[str(site_dir / d.name / p.relative_to(d)).lstrip("/")] = p
    libdir = Path(sysconfig.get_config_var("LIBDIR") or "")
    for p in libdir.glob("libpython3*.so.*"):
        files[str(p).lstrip("/")] = Path(os.path.realpath(p))
    binaries = [exe] + [p for p in files.values() if p.suffix == ".so" or ".so." in p.name]
    for lib in _needed_libs(binaries):
        if any(lib.is_relative_to(d) for d in moved):
            continue  # already in the rootfs beside numpy
        # the loader looks libraries up by the name ldd printed; the content is the real file's
        files[str(lib).lstrip("/")] = Path(os.path.realpath(lib))
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
