"""Build realistic AWS Panorama projects in code, for tests.

A project looks like what ``panorama-cli`` leaves after ``build-container`` and ``add-raw-model``
(panorama-package-format.md sections 1-7)::

    <root>/
      assets/<sha256>.tar.gz     container asset: gzip'd flat rootfs tar (docker export form)
      assets/<sha256>.json       descriptor copy of the code package
      assets/<sha256>.tar.gz     model archive (tar.gz of model files)
      assets/<sha256>.json       descriptor copy of the model package
      graphs/<app>/graph.json
      packages/<acct>-<code>-<ver>/{package.json, descriptor.json, Dockerfile, src/app.py}
      packages/<acct>-<model>-<ver>/{package.json, descriptor.json}

Quick use::

    from tests.helpers.project_builder import ProjectSpec, build_project

    proj = build_project(tmp_path)                       # a clean, valid project
    proj.root, proj.container_asset, proj.container_sha  # paths and digests to assert on

    spec = ProjectSpec(
        rootfs_files={"panorama/app.py": b"AWS_KEY = 'AKIA...'\\n"},   # added to the container
        model_files={"model.pth": b"..."},                 # model archive content
        gpu=True,                                           # hardware_access requirement
        dockerfile="FROM public.ecr.aws/panorama/panorama-application:latest\\n",
        breaks={"container-digest", "version-mismatch"},    # see BREAKS
        edit_graph=lambda g: g["nodeGraph"]["nodes"].pop(),  # free-form edits before writing
    )
    proj = build_project(tmp_path / "p", spec)

``build_code_package(dest, spec)`` writes just one code-package folder (before
``build-container``). ``make_rootfs_tar(files)`` and ``make_model_archive(files)`` return the
bytes of a gzip'd rootfs tar / model archive, usable on their own; ``make_torch_zip()`` is the
benign default ``model.pth`` (a PyTorch-style zip). ``sha256_hex(data)``.

The graph has nodes ``front_door_camera`` (the built-in abstract RTSP camera), ``code_node``
(interface ``<code_asset>_interface``: inputs ``video_in`` media and ``threshold`` float32,
output ``video_out``, inbound port 8080), ``output_node`` (HDMI), ``threshold_param`` (float32
parameter) and, with ``with_model``, a model node named after ``model_asset``; edges camera ->
code -> HDMI and threshold_param -> code_node.threshold; one routing rule code_node 8080 -> 8085.
``with_override=True`` adds ``graphs/<app>/override.json`` swapping the camera for ``dock_cam``.

Named breakages (``ProjectSpec.breaks``, each a string in ``BREAKS``):

- ``container-digest`` / ``model-digest`` / ``descriptor-digest``: the asset file (container,
  model archive, code descriptor copy) is named by a hash that is not its content's.
- ``missing-container`` / ``missing-model`` / ``missing-descriptor``: that file is not written.
- ``descriptor-copy-differs``: the code descriptor copy in assets/ is valid and correctly named,
  but its bytes differ from the package's descriptor.json.
- ``version-mismatch``: the graph asks for code package version ``9.9``.
- ``name-mismatch``: the code package.json ``name`` differs from its folder name.
- ``account-mismatch``: the graph's code package entry and node use account ``999999999999``.
- ``extra-key``: an unknown key ``"surprise"`` in the code package's ``nodePackage``.
- ``empty-assets``: the code package has ``"assets": []`` (never built) and no container file.
- ``bad-edge``: an edge to a port that does not exist (``code_node.nope``).
- ``port-type-mismatch``: the float parameter feeds an ``int32`` input.
- ``param-int-for-float``: the float32 parameter node has value ``1`` (int, not ``1.0``).
- ``routing-undeclared``: a routing rule for container port 9999, not in inboundPorts.
- ``host-port-range``: a routing rule with host port 80.
- ``category-mismatch``: the code interface is declared ``ml_model``.
- ``bad-json``: the code package.json is not JSON.

Everything written is deterministic (fixed mtimes, gzip mtime 0), so digests are stable.
"""

from __future__ import annotations

import collections
import copy
import gzip
import hashlib
import io
import json
import pickle
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BREAKS",
    "DEFAULT_DOCKERFILE",
    "DEFAULT_ROOTFS_DIRS",
    "BuiltProject",
    "ProjectSpec",
    "build_code_package",
    "build_project",
    "make_model_archive",
    "make_rootfs_tar",
    "make_torch_zip",
    "sha256_hex",
    "write_json",
]

BREAKS = frozenset(
    {
        "container-digest",
        "model-digest",
        "descriptor-digest",
        "missing-container",
        "missing-model",
        "missing-descriptor",
        "descriptor-copy-differs",
        "version-mismatch",
        "name-mismatch",
        "account-mismatch",
        "extra-key",
        "empty-assets",
        "bad-edge",
        "port-type-mismatch",
        "param-int-for-float",
        "routing-undeclared",
        "host-port-range",
        "category-mismatch",
        "bad-json",
    }
)

DEFAULT_ROOTFS_DIRS = (
    "bin",
    "dev",
    "etc",
    "home",
    "lib",
    "opt",
    "opt/aws",
    "opt/aws/panorama",
    "opt/aws/panorama/logs",
    "opt/aws/panorama/storage",
    "panorama",
    "proc",
    "root",
    "sys",
    "tmp",
    "usr",
    "usr/bin",
    "usr/lib",
    "var",
)

DEFAULT_ROOTFS_FILES: Mapping[str, bytes] = {
    "etc/os-release": b'NAME="Ubuntu"\nVERSION_ID="20.04"\nID=ubuntu\n',
    "etc/passwd": b"root:x:0:0:root:/root:/bin/bash\n",
    "panorama/app.py": (
        b"import panoramasdk\n\n\nclass App(panoramasdk.node):\n"
        b"    def step(self):\n        frames = self.inputs.video_in.get()\n"
        b"        self.outputs.video_out.put(frames)\n"
    ),
}

DEFAULT_DOCKERFILE = (
    "FROM public.ecr.aws/panorama/panorama-application:1.2.1-arm64v8\nCOPY src /panorama\n"
)


def make_torch_zip(state: Mapping[str, int] | None = None) -> bytes:
    """A tiny, benign TorchScript-style zip (``model/data.pkl``, ``code/``...), deterministic.

    The pickle holds only an ``OrderedDict`` of ints, so model analyzers find nothing to flag.
    """
    payload = pickle.dumps(collections.OrderedDict(state or {"weight": 1}), protocol=2)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in (
            ("model/data.pkl", payload),
            ("model/code/__torch__/model.py", b"class Model(Module):\n  __parameters__ = []\n"),
            ("model/constants.pkl", pickle.dumps((), protocol=2)),
            ("model/version", b"3\n"),
            ("model/byteorder", b"little"),
        ):
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


DEFAULT_MODEL_FILES: Mapping[str, bytes] = {"model.pth": make_torch_zip()}

_MTIME = 1_600_000_000


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _tar_bytes(files: Mapping[str, bytes], dirs: Iterable[str] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = _MTIME
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith((".sh", ".py")) or "/bin/" in name else 0o644
            info.mtime = _MTIME
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    # mtime=0 and no file name keep the bytes (and so the digest) deterministic.
    return gzip.compress(data, compresslevel=1, mtime=0)


def make_rootfs_tar(
    files: Mapping[str, bytes] | None = None,
    *,
    dirs: Iterable[str] = DEFAULT_ROOTFS_DIRS,
    defaults: bool = True,
    compress: bool = True,
) -> bytes:
    """A flat root-filesystem tar as ``docker export`` writes it (gzip -1'd by default).

    ``files`` maps relative paths to content and is laid over ``DEFAULT_ROOTFS_FILES`` unless
    ``defaults`` is false; ``dirs`` are written first as directory members.
    """
    merged: dict[str, bytes] = dict(DEFAULT_ROOTFS_FILES) if defaults else {}
    merged.update(files or {})
    raw = _tar_bytes(merged, dirs)
    return _gzip(raw) if compress else raw


def make_model_archive(files: Mapping[str, bytes] | None = None, *, compress: bool = True) -> bytes:
    """A model archive (tar.gz by default) holding ``files`` (default: one ``model.pth``)."""
    raw = _tar_bytes(dict(files if files is not None else DEFAULT_MODEL_FILES))
    return _gzip(raw) if compress else raw


def write_json(path: Path, data: Any) -> bytes:
    """Write ``data`` as indented JSON (the CLI's style) and return the bytes written."""
    raw = (json.dumps(data, indent=4) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return raw


JsonEdit = Callable[[dict[str, Any]], object]


@dataclass
class ProjectSpec:
    """What to build; every field has a realistic default.

    ``edit_*`` callables receive the manifest dict (e.g. ``{"nodeGraph": {...}}``) just before
    it is written and may mutate it in place (their return value is ignored).
    """

    account: str = "123456789012"
    app_name: str = "shelf_app"
    code_package: str = "shelf_code"
    code_version: str = "1.0"
    code_asset: str = "shelf_code_asset"
    model_package: str = "shelf_model"
    model_version: str = "1.0"
    model_asset: str = "shelf_model_asset"
    with_model: bool = True
    framework: str = "PYTORCH"
    model_inputs: list[dict[str, Any]] = field(
        default_factory=lambda: [{"name": "input0", "shape": [1, 3, 224, 224]}]
    )
    rootfs_files: dict[str, bytes] = field(default_factory=dict)
    rootfs_dirs: tuple[str, ...] = DEFAULT_ROOTFS_DIRS
    model_files: dict[str, bytes] | None = None
    src_files: dict[str, bytes] = field(
        default_factory=lambda: {"app.py": DEFAULT_ROOTFS_FILES["panorama/app.py"]}
    )
    dockerfile: str = DEFAULT_DOCKERFILE
    entry_name: str = "/panorama/app.py"
    gpu: bool = False
    inbound_ports: list[int] = field(default_factory=lambda: [8080])
    routing: list[dict[str, Any]] = field(
        default_factory=lambda: [{"containerPort": 8080, "hostPort": 8085}]
    )
    threshold: float = 0.5
    with_override: bool = False
    breaks: set[str] = field(default_factory=set)
    edit_graph: JsonEdit | None = None
    edit_code_package: JsonEdit | None = None
    edit_model_package: JsonEdit | None = None
    edit_code_descriptor: JsonEdit | None = None
    edit_model_descriptor: JsonEdit | None = None

    def __post_init__(self) -> None:
        unknown = set(self.breaks) - BREAKS
        if unknown:
            raise ValueError(f"unknown breaks {sorted(unknown)}; known: {sorted(BREAKS)}")


@dataclass
class BuiltProject:
    """Where everything went; ``*_sha`` are the real SHA-256 hex digests of the written bytes."""

    root: Path
    spec: ProjectSpec
    graph_path: Path
    code_dir: Path
    model_dir: Path | None
    container_asset: Path | None
    container_sha: str
    code_descriptor_copy: Path | None
    model_asset: Path | None
    model_sha: str
    model_descriptor_copy: Path | None
    override_path: Path | None = None

    @property
    def code_node(self) -> str:
        """Graph node name of the code package."""
        return "code_node"

    @property
    def model_node(self) -> str:
        """Graph node name of the model package."""
        return self.spec.model_asset

    def rel(self, path: Path) -> str:
        """``path`` relative to the project root, POSIX form."""
        return path.relative_to(self.root).as_posix()

    def read_json(self, path: Path) -> Any:
        """Parse a JSON file of the project."""
        return json.loads(path.read_text())

    def edit_json(self, path: Path, edit: JsonEdit) -> None:
        """Load, edit in place, and rewrite a manifest (descriptor copies are not renamed)."""
        data = self.read_json(path)
        edit(data)
        write_json(path, data)


def _asset_name(data: bytes, ext: str, broken: bool) -> str:
    digest = sha256_hex(data + b"tampered" if broken else data)
    return f"{digest}{ext}"


def _code_descriptor(spec: ProjectSpec) -> dict[str, Any]:
    desc = {
        "runtimeDescriptor": {
            "envelopeVersion": "2021-01-01",
            "entry": {"path": "python3", "name": spec.entry_name},
        }
    }
    if spec.edit_code_descriptor:
        spec.edit_code_descriptor(desc)
    return desc


def _code_package_json(
    spec: ProjectSpec, asset_uri: str | None, descriptor_uri: str | None
) -> dict[str, Any]:
    implementation: dict[str, Any] = {"type": "container", "assetUri": asset_uri}
    if descriptor_uri:
        implementation["descriptorUri"] = descriptor_uri
    if spec.gpu:
        implementation["requirements"] = [
            {
                "type": "hardware_access",
                "inferenceAccelerators": [
                    {"deviceType": "nvhost_gpu", "sharedResourcePolicy": {"policy": "allow_all"}}
                ],
            }
        ]
    inputs: list[dict[str, Any]] = [
        {"name": "video_in", "type": "media"},
        {
            "name": "threshold",
            "type": "int32" if "port-type-mismatch" in spec.breaks else "float32",
        },
    ]
    interface: dict[str, Any] = {
        "name": f"{spec.code_asset}_interface",
        "category": "ml_model" if "category-mismatch" in spec.breaks else "business_logic",
        "asset": spec.code_asset,
        "inputs": inputs,
        "outputs": [{"name": "video_out", "type": "media"}],
    }
    if spec.inbound_ports:
        interface["network"] = {
            "inboundPorts": [{"port": p, "description": "status"} for p in spec.inbound_ports]
        }
    pkg: dict[str, Any] = {
        "envelopeVersion": "2021-01-01",
        "name": spec.code_package + ("_other" if "name-mismatch" in spec.breaks else ""),
        "version": spec.code_version,
        "description": "Shelf monitor business logic",
        "assets": []
        if asset_uri is None
        else [{"name": spec.code_asset, "implementations": [implementation]}],
        "interfaces": [interface],
    }
    if "extra-key" in spec.breaks:
        pkg["surprise"] = True
    doc = {"nodePackage": pkg}
    if spec.edit_code_package:
        spec.edit_code_package(doc)
    return doc


def _write_code_sources(code_dir: Path, spec: ProjectSpec) -> None:
    (code_dir / "Dockerfile").write_text(spec.dockerfile)
    for rel, data in spec.src_files.items():
        target = code_dir / "src" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def build_code_package(dest: Path, spec: ProjectSpec | None = None) -> Path:
    """Write one code-package folder as before ``build-container`` (no assets yet).

    ``dest`` is the package folder itself (created); returns it.
    """
    spec = spec or ProjectSpec()
    dest.mkdir(parents=True, exist_ok=True)
    write_json(dest / "descriptor.json", _code_descriptor(spec))
    if "bad-json" in spec.breaks:
        (dest / "package.json").write_text('{"nodePackage": {"envelopeVersion": ')
    else:
        write_json(dest / "package.json", _code_package_json(spec, None, None))
    _write_code_sources(dest, spec)
    return dest


def build_project(root: Path, spec: ProjectSpec | None = None) -> BuiltProject:
    """Write a whole Panorama project under ``root`` (created) and describe what was written."""
    spec = spec or ProjectSpec()
    b = spec.breaks
    acct = spec.account
    assets = root / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    (root / "packages").mkdir(exist_ok=True)

    # --- code package: container asset + descriptor copy -------------------------------------
    code_dir = root / "packages" / f"{acct}-{spec.code_package}-{spec.code_version}"
    code_dir.mkdir(parents=True, exist_ok=True)
    desc_bytes = write_json(code_dir / "descriptor.json", _code_descriptor(spec))
    _write_code_sources(code_dir, spec)

    container_asset: Path | None = None
    code_copy: Path | None = None
    container_sha = ""
    asset_uri: str | None = None
    descriptor_uri: str | None = None
    if "empty-assets" not in b:
        rootfs = make_rootfs_tar(
            {**{f"panorama/{k}": v for k, v in spec.src_files.items()}, **spec.rootfs_files},
            dirs=spec.rootfs_dirs,
        )
        container_sha = sha256_hex(rootfs)
        asset_uri = _asset_name(rootfs, ".tar.gz", "container-digest" in b)
        container_asset = assets / asset_uri
        if "missing-container" not in b:
            container_asset.write_bytes(rootfs)
        copy_bytes = desc_bytes
        if "descriptor-copy-differs" in b:
            other = json.loads(desc_bytes)
            other["runtimeDescriptor"]["entry"]["name"] = "/panorama/other.py"
            copy_bytes = (json.dumps(other, indent=4) + "\n").encode()
        descriptor_uri = _asset_name(copy_bytes, ".json", "descriptor-digest" in b)
        code_copy = assets / descriptor_uri
        if "missing-descriptor" not in b:
            code_copy.write_bytes(copy_bytes)
    if "bad-json" in b:
        (code_dir / "package.json").write_text('{"nodePackage": {"envelopeVersion": ')
    else:
        write_json(code_dir / "package.json", _code_package_json(spec, asset_uri, descriptor_uri))

    # --- model package: model archive + descriptor copy --------------------------------------
    model_dir: Path | None = None
    model_asset: Path | None = None
    model_copy: Path | None = None
    model_sha = ""
    if spec.with_model:
        model_dir = root / "packages" / f"{acct}-{spec.model_package}-{spec.model_version}"
        model_desc = {
            "mlModelDescriptor": {
                "envelopeVersion": "2021-01-01",
                "framework": spec.framework,
                "inputs": copy.deepcopy(spec.model_inputs),
            }
        }
        if spec.edit_model_descriptor:
            spec.edit_model_descriptor(model_desc)
        mdesc_bytes = write_json(model_dir / "descriptor.json", model_desc)
        archive = make_model_archive(spec.model_files)
        model_sha = sha256_hex(archive)
        model_uri = _asset_name(archive, ".tar.gz", "model-digest" in b)
        model_asset = assets / model_uri
        if "missing-model" not in b:
            model_asset.write_bytes(archive)
        mcopy_uri = f"{sha256_hex(mdesc_bytes)}.json"
        model_copy = assets / mcopy_uri
        model_copy.write_bytes(mdesc_bytes)
        model_pkg = {
            "nodePackage": {
                "envelopeVersion": "2021-01-01",
                "name": spec.model_package,
                "version": spec.model_version,
                "description": "Detector model",
                "assets": [
                    {
                        "name": spec.model_asset,
                        "implementations": [
                            {"type": "model", "assetUri": model_uri, "descriptorUri": mcopy_uri}
                        ],
                    }
                ],
                "interfaces": [
                    {
                        "name": f"{spec.model_asset}_interface",
                        "category": "ml_model",
                        "asset": spec.model_asset,
                        "inputs": [{"name": "video_in", "type": "media"}],
                        "outputs": [{"name": "video_out", "type": "media"}],
                    }
                ],
            }
        }
        if spec.edit_model_package:
            spec.edit_model_package(model_pkg)
        write_json(model_dir / "package.json", model_pkg)

    # --- graph --------------------------------------------------------------------------------
    graph_acct = "999999999999" if "account-mismatch" in b else acct
    code_ver = "9.9" if "version-mismatch" in b else spec.code_version
    packages: list[dict[str, Any]] = [
        {"name": f"{graph_acct}::{spec.code_package}", "version": code_ver},
        {"name": "panorama::abstract_rtsp_media_source", "version": "1.0"},
        {"name": "panorama::hdmi_data_sink", "version": "1.0"},
    ]
    nodes: list[dict[str, Any]] = [
        {
            "name": "front_door_camera",
            "interface": "panorama::abstract_rtsp_media_source.rtsp_v1_interface",
            "overridable": True,
            "launch": "onAppStart",
            "decorator": {"title": "Camera front_door_camera", "description": "Default camera"},
        },
        {
            "name": "code_node",
            "interface": f"{graph_acct}::{spec.code_package}.{spec.code_asset}_interface",
            "overridable": False,
            "launch": "onAppStart",
        },
        {
            "name": "output_node",
            "interface": "panorama::hdmi_data_sink.hdmi0",
            "overridable": True,
            "launch": "onAppStart",
        },
        {
            "name": "threshold_param",
            "interface": "float32",
            "value": 1 if "param-int-for-float" in b else spec.threshold,
            "overridable": True,
            "decorator": {"title": "Threshold", "description": "Minimum score"},
        },
    ]
    if spec.with_model:
        packages.append({"name": f"{acct}::{spec.model_package}", "version": spec.model_version})
        nodes.append(
            {
                "name": spec.model_asset,
                "interface": f"{acct}::{spec.model_package}.{spec.model_asset}_interface",
                "overridable": False,
                "launch": "onAppStart",
            }
        )
    edges = [
        {"producer": "front_door_camera.video_out", "consumer": "code_node.video_in"},
        {"producer": "code_node.video_out", "consumer": "output_node.video_in"},
        {"producer": "threshold_param", "consumer": "code_node.threshold"},
    ]
    if "bad-edge" in b:
        edges.append({"producer": "front_door_camera.video_out", "consumer": "code_node.nope"})
    routing = [{"node": "code_node", **r} for r in spec.routing]
    if "routing-undeclared" in b:
        routing.append({"node": "code_node", "containerPort": 9999, "hostPort": 8099})
    if "host-port-range" in b:
        routing.append({"node": "code_node", "containerPort": 8080, "hostPort": 80})
    graph_body: dict[str, Any] = {
        "envelopeVersion": "2021-01-01",
        "packages": packages,
        "nodes": nodes,
        "edges": edges,
    }
    if routing:
        graph_body["networkRoutingRules"] = routing
    graph = {"nodeGraph": graph_body}
    if spec.edit_graph:
        spec.edit_graph(graph)
    graph_path = root / "graphs" / spec.app_name / "graph.json"
    write_json(graph_path, graph)

    override_path: Path | None = None
    if spec.with_override:
        override_path = graph_path.parent / "override.json"
        write_json(
            override_path,
            {
                "nodeGraphOverrides": {
                    "envelopeVersion": "2021-01-01",
                    "packages": [{"name": f"{acct}::dock_cam", "version": "1.0"}],
                    "nodes": [{"name": "dock_cam_node", "interface": f"{acct}::dock_cam.dock_cam"}],
                    "nodeOverrides": [
                        {"replace": "front_door_camera", "with": [{"name": "dock_cam_node"}]}
                    ],
                }
            },
        )

    return BuiltProject(
        root=root,
        spec=spec,
        graph_path=graph_path,
        code_dir=code_dir,
        model_dir=model_dir,
        container_asset=container_asset,
        container_sha=container_sha,
        code_descriptor_copy=code_copy,
        model_asset=model_asset,
        model_sha=model_sha,
        model_descriptor_copy=model_copy,
        override_path=override_path,
    )
