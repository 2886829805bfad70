"""Stock application images built the way real Panorama apps are, for end-to-end tests.

A base root filesystem comes from the distribution's own mirror (``mmdebstrap``: Debian 12, or
Ubuntu 20.04 as Panorama's 1.2.1 base images), with python3, python3-numpy and pip from the
distribution. ``docker import`` makes it an image; a ``docker build --network none`` then
pip-installs real, current wheels (downloaded once from PyPI) and copies the application and
an ONNX model into ``/panorama``; ``docker create`` + ``docker export`` + ``gzip -1`` make the
container asset exactly as ``panorama-cli build-container`` does. Everything is cached in
``$XDG_CACHE_HOME/panorama-gate-tests`` keyed by its inputs, so CI builds each base once.

Nothing here is faked: the dpkg database, the RECORD files and every binary are the real ones.
Where a base cannot be built (no mmdebstrap, no Docker engine, no mirror), callers skip with the
reason, unless ``PANORAMA_GATE_REQUIRE_DOCKER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.debian_image import STOCK_PACKAGES, cache_dir, stock_debian_rootfs
from tests.helpers.project_builder import BuiltProject, ProjectSpec, build_project

__all__ = [
    "BASES",
    "BaseSpec",
    "StockImageError",
    "cache_dir",
    "file_sha256",
    "project_with_asset",
    "stock_app_asset",
    "tamper",
]


class StockImageError(Exception):
    """A stock image could not be built here (the message says why)."""


@dataclass(frozen=True)
class BaseSpec:
    """A distribution base image and how to bootstrap it."""

    name: str
    suite: str
    python: str  # the interpreter version its python3 is, for picking wheels ("3.11")
    mirror: str = ""  # an apt sources line; "" = mmdebstrap's default (Debian)
    keyring_deb: str = ""  # URL of the distribution's keyring package, pinned by ``keyring_sha``
    keyring_sha: str = ""
    packages: tuple[str, ...] = ("python3", "python3-numpy", "python3-pip")


BASES: Mapping[str, BaseSpec] = {
    "debian12": BaseSpec("debian12", "bookworm", "3.11", packages=STOCK_PACKAGES),
    "ubuntu20.04": BaseSpec(
        "ubuntu20.04",
        "focal",
        "3.8",
        mirror="deb http://archive.ubuntu.com/ubuntu focal main universe",
        # Ubuntu's archive keyring, fetched from Ubuntu's own pool and pinned by digest: the
        # trust anchor for every package mmdebstrap then verifies
        keyring_deb=(
            "http://archive.ubuntu.com/ubuntu/pool/main/u/ubuntu-keyring/"
            "ubuntu-keyring_2020.02.11.4_all.deb"
        ),
        keyring_sha="2684fae16e90a9ff3cb4dc08a8af5bd9973d38763b60e5f458dea0b403a39788",
    ),
}

# Current wheels an ordinary app installs (pinned, so the image is the same every run): pure
# Python, compiled with vendored libraries (pillow's *.libs), and onnx with its own test models.
WHEELS = (
    "requests==2.32.3",
    "urllib3==2.2.3",
    "idna==3.10",
    "certifi==2024.8.30",
    "charset-normalizer==3.4.0",
    "PyYAML==6.0.2",
    "pillow==10.4.0",
    "protobuf==5.28.3",
    "onnx==1.17.0",
)

APP = b'''"""Counts objects: the ONNX model runs in the container (appliance 8.0.29 and later)."""
import numpy as np
import onnx
import panoramasdk


class App(panoramasdk.node):
    def __init__(self):
        super().__init__()
        self.model = onnx.load("/panorama/models/detector.onnx")
        self.threshold = self.inputs.threshold.get()

    def run(self):
        while True:
            streams = self.inputs.video_in.get()
            for media in streams:
                frame = np.asarray(media.image, dtype=np.float32) / 255.0
                out = self.call({"input0": frame[None]}, "detector")
                if out and float(np.max(out[0])) > self.threshold:
                    media.add_label("object", 0.1, 0.1)
            self.outputs.video_out.put(streams)


App().run()
'''

DOCKERFILE = """FROM {base}
COPY wheels /tmp/wheels
# Debian 12's pip refuses system installs without this (PEP 668); Ubuntu 20.04's ignores it
ENV PIP_BREAK_SYSTEM_PACKAGES=1
RUN python3 -m pip install --no-deps --no-index --no-cache-dir /tmp/wheels/*.whl \\
    && rm -rf /tmp/wheels
COPY src /panorama
"""


def _key(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _run(cmd: list[str], what: str, timeout: int = 1800, **kw: object) -> str:
    proc = subprocess.run(  # noqa: PLW1510 - checked below with the message
        cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw
    )
    if proc.returncode != 0:
        raise StockImageError(f"{what} failed: {(proc.stderr or proc.stdout)[-400:]}")
    return proc.stdout


def _keyring(spec: BaseSpec, work: Path) -> list[str]:
    if not spec.keyring_deb:
        return []
    deb = work / "keyring.deb"
    # fetched by a child process, as mmdebstrap fetches the packages: the tests' own process
    # stays offline (the conftest network guard)
    fetch = (
        "import sys, urllib.request; "
        "open(sys.argv[2], 'wb').write(urllib.request.urlopen(sys.argv[1], timeout=60).read())"
    )
    _run(
        [sys.executable, "-c", fetch, spec.keyring_deb, str(deb)], f"fetching {spec.name}'s keyring"
    )
    if hashlib.sha256(deb.read_bytes()).hexdigest() != spec.keyring_sha:
        raise StockImageError(f"{spec.name}'s keyring package does not match its pinned digest")
    _run(["dpkg-deb", "-x", str(deb), str(work / "keyring")], "dpkg-deb -x")
    ring = work / "keyring" / "usr" / "share" / "keyrings" / "ubuntu-archive-keyring.gpg"
    return [f"--keyring={ring}"]


def base_rootfs(spec: BaseSpec) -> Path:
    """The base root filesystem tar, built with mmdebstrap on first use and cached.

    Debian 12 is the shared stock image every Debian test uses (built once in CI).
    """
    if spec.name == "debian12":
        shared = stock_debian_rootfs()
        if isinstance(shared, str):
            raise StockImageError(shared)
        return shared
    cached = cache_dir() / f"base-{spec.name}-{_key(spec)}.tar"
    if cached.is_file():
        return cached
    if shutil.which("mmdebstrap") is None:
        raise StockImageError("mmdebstrap is not installed (apt-get install mmdebstrap)")
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # mmdebstrap's apt may run as an unprivileged mapped user: it must read the keyring
        work.chmod(0o755)
        partial = work / "rootfs.tar"
        cmd = ["mmdebstrap", "--variant=minbase", f"--include={','.join(spec.packages)}"]
        cmd += [*_keyring(spec, work), "--format=tar", spec.suite, str(partial)]
        if spec.mirror:
            cmd.append(spec.mirror)
        _run(cmd, f"mmdebstrap {spec.suite}")
        shutil.move(str(partial), cached)
    return cached


def wheels_for(spec: BaseSpec) -> Path:
    """The pinned wheels for the base's Python, downloaded from PyPI once and cached."""
    folder = cache_dir() / f"wheels-{spec.python}-{_key(WHEELS)}"
    if folder.is_dir() and len(list(folder.glob("*.whl"))) == len(WHEELS):
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    abi = "cp" + spec.python.replace(".", "")
    _run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--python-version", spec.python, "--abi", abi, "--abi", "abi3", "--abi", "none",
         "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
         "--platform", "manylinux_2_28_x86_64", "--platform", "any",
         "-d", str(partial), *WHEELS],
        "pip download of the stock wheels",
    )  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def onnx_model() -> bytes:
    """A small, clean ONNX model (MatMul + Relu), made with onnx's own helpers."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).random((64, 8), np.float32), "W")
    x = helper.make_tensor_value_info("input0", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 8])
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["input0", "W"], ["H"]),
            helper.make_node("Relu", ["H"], ["scores"]),
        ],
        "detector",
        [x],
        [y],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def stock_app_asset(base: str, extra_wheels: tuple[Path, ...] = ()) -> Path:
    """The exported container asset (``.tar.gz``) of the stock app on ``base``, cached.

    ``extra_wheels`` are installed beside the pinned ones (the benchmarks' 1 GiB variant adds
    torch's CPU wheel); they must suit the base's Python.
    """
    spec = BASES[base]
    extras = tuple((w.name, w.stat().st_size) for w in extra_wheels)
    if shutil.which("docker") is None:
        raise StockImageError("no docker client")
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        raise StockImageError("no Docker engine is running")
    rootfs = base_rootfs(spec)
    wheels = wheels_for(spec)
    model = onnx_model()
    key = _key(spec, WHEELS, DOCKERFILE, APP, model, *extras)
    cached = cache_dir() / f"app-{spec.name}-{key}.tar.gz"
    if cached.is_file():
        return cached
    tag = f"panorama-gate-test-base:{spec.name}-{_key(spec)}"
    app_tag = f"panorama-gate-test-app:{spec.name}-{_key(spec, WHEELS, DOCKERFILE, APP, *extras)}"
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        shutil.copytree(wheels, ctx / "wheels")
        for wheel in extra_wheels:
            shutil.copyfile(wheel, ctx / "wheels" / wheel.name)
        (ctx / "src" / "models").mkdir(parents=True)
        (ctx / "src" / "app.py").write_bytes(APP)
        (ctx / "src" / "models" / "detector.onnx").write_bytes(model)
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=tag))
        container = ""
        try:
            _run(["docker", "import", str(rootfs), tag], "docker import")
            _run(["docker", "build", "--network", "none", "-q", "-t", app_tag, str(ctx)],
                 "docker build")  # fmt: skip
            container = _run(["docker", "create", app_tag, "/bin/true"], "docker create").strip()
            exported = ctx / "export.tar"
            _run(["docker", "export", "-o", str(exported), container], "docker export")
            partial = cached.with_suffix(".partial")
            with exported.open("rb") as src, gzip.open(partial, "wb", compresslevel=1) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            partial.rename(cached)
        finally:
            if container:
                subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
            subprocess.run(["docker", "rmi", "-f", app_tag, tag], capture_output=True, check=False)
    return cached


def tamper(src: Path, dest: Path, edits: Mapping[str, Callable[[bytes], bytes]]) -> list[str]:
    """Copy a gzip'd root filesystem, rewriting the named members; returns the paths changed."""
    changed: list[str] = []
    with tarfile.open(src, "r:gz") as tin, tarfile.open(dest, "w:gz", compresslevel=1) as tout:
        for member in tin:
            data = tin.extractfile(member) if member.isfile() else None
            edit = edits.get(member.name)
            if data is not None and edit is not None:
                content = edit(data.read())
                member.size = len(content)
                tout.addfile(member, io.BytesIO(content))
                changed.append(member.name)
            else:
                tout.addfile(member, data)
    return changed


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def project_with_asset(root: Path, asset: Path, models: Mapping[str, bytes]) -> BuiltProject:
    """A Panorama project whose container asset is ``asset`` (an exported image), named by its
    digest as panorama-cli names it, and a model package holding ``models``."""
    spec = ProjectSpec(
        model_files=dict(models),
        src_files={"app.py": b"# see the container asset\n"},
        inbound_ports=[],
        routing=[],
    )
    project = build_project(root, spec)
    assert project.container_asset is not None
    real = project.root / "assets" / f"{file_sha256(asset)}.tar.gz"
    shutil.copyfile(asset, real)
    project.container_asset.unlink()
    pkg = project.code_dir / "package.json"
    doc = json.loads(pkg.read_text())
    doc["nodePackage"]["assets"][0]["implementations"][0]["assetUri"] = real.name
    pkg.write_text(json.dumps(doc, indent=4) + "\n")
    return project
