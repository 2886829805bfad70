"""The business-logic node as the application graph describes it: ports, parameter values,
model nodes (with an ONNX file and output shapes when the model archive holds one)."""

from __future__ import annotations

import contextlib
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scanner.errors import ConfigError
from scanner.models import ArtifactKind
from scanner.sandbox._spec import AppSpec, Budgets, FrameSpec, Limits, SandboxRequest
from scanner.sources.interface import ScanTarget, SourceArtifact

__all__ = ["app_spec", "build_request", "entry_of", "onnx_output_shapes"]

_MAX_ONNX_BYTES = 512 * 1024 * 1024


def entry_of(artifact: SourceArtifact) -> tuple[str, str]:
    """``(path, name)`` of the entry point in descriptor.json (Panorama's defaults otherwise)."""
    desc: Any = artifact.descriptor or {}
    runtime = desc.get("runtimeDescriptor") if isinstance(desc, Mapping) else None
    entry = runtime.get("entry") if isinstance(runtime, Mapping) else None
    path = entry.get("path") if isinstance(entry, Mapping) else None
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return (
        str(path) if isinstance(path, str) and path else "python3",
        str(name) if isinstance(name, str) and name else "/panorama/app.py",
    )


def _node_package(iface: str) -> tuple[str, str]:
    """``"123::pkg.interface"`` -> ``("pkg", "interface")``."""
    ref = iface.split("::", 1)[-1]
    pkg, _, name = ref.partition(".")
    return pkg, name


def onnx_output_shapes(path: Path) -> list[list[int]]:
    """Output shapes of an ONNX model (unknown or symbolic dimensions become 1)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    shapes: list[list[int]] = []
    for out in model.graph.output:
        dims = out.type.tensor_type.shape.dim
        shapes.append([int(d.dim_value) if d.dim_value > 0 else 1 for d in dims] or [1])
    return shapes


def _extract_onnx(model: SourceArtifact, work: Path) -> Path | None:
    if model.file is None or not model.file.is_file():
        return None
    with contextlib.suppress(tarfile.TarError, OSError), tarfile.open(model.file, "r:*") as tf:
        for member in tf:
            if (
                member.isfile()
                and member.name.lower().endswith(".onnx")
                and member.size <= _MAX_ONNX_BYTES
            ):
                src = tf.extractfile(member)
                if src is None:
                    continue
                dest = work / f"{model.artifact.package or 'model'}.onnx"
                with dest.open("wb") as fp:
                    while chunk := src.read(1 << 20):
                        fp.write(chunk)
                return dest
    return None


def app_spec(
    target: ScanTarget,
    artifact: SourceArtifact,
    work: Path,
    overrides: Mapping[str, Any] | None = None,
) -> AppSpec:
    """The node's interface, parameters and models for ``artifact`` (a container asset)."""
    graphs = [m.data for m in target.manifest("graph") if isinstance(m.data, Mapping)]
    packages = _by_package(target, "package")
    pkg_name = artifact.artifact.package
    pkg = packages.get(pkg_name) if pkg_name else None
    if not graphs or pkg is None:
        return AppSpec(parameters=dict(overrides or {}), known=False)
    iface = _business_logic_interface(pkg)
    graph = graphs[0].get("nodeGraph") or {}
    nodes = [n for n in graph.get("nodes") or [] if isinstance(n, Mapping)]
    node_name = _node_name(nodes, pkg_name, iface)
    params = _parameters(graph, nodes, node_name, _override_values(target))
    params.update(overrides or {})
    return AppSpec(
        inputs=_ports(iface, "inputs"),
        outputs=_ports(iface, "outputs"),
        parameters=params,
        models=tuple(_models(target, nodes, packages, pkg_name, work)),
        known=bool(iface),
        node=node_name,
    )


def _by_package(target: ScanTarget, kind: str) -> dict[str | None, Mapping[str, Any]]:
    """The target's ``kind`` manifests (``package``, ``descriptor``) by package name."""
    return {
        m.package: m.data
        for m in target.manifest(kind)
        if isinstance(m.data, Mapping) and m.package
    }


def _business_logic_interface(pkg: Mapping[str, Any]) -> Mapping[str, Any]:
    """The package's first ``business_logic`` interface (empty when it declares none)."""
    node_pkg = pkg.get("nodePackage") or {}
    for candidate in node_pkg.get("interfaces") or []:
        if isinstance(candidate, Mapping) and candidate.get("category") == "business_logic":
            return candidate
    return {}


def _ports(iface: Mapping[str, Any], which: str) -> tuple[tuple[str, str], ...]:
    """``(name, type)`` of the interface's ``inputs`` or ``outputs`` (type ``media`` unless set)."""
    return tuple(
        (str(p.get("name")), str(p.get("type", "media")))
        for p in iface.get(which) or []
        if isinstance(p, Mapping)
    )


def _node_name(
    nodes: list[Mapping[str, Any]], pkg_name: str | None, iface: Mapping[str, Any]
) -> str:
    """The graph node that instantiates the package's interface (``""`` when none does)."""
    for n in nodes:
        pkg_ref, iname = _node_package(str(n.get("interface", "")))
        if pkg_ref == pkg_name and iname == iface.get("name"):
            return str(n.get("name"))
    return ""


def _override_values(target: ScanTarget) -> dict[str, Any]:
    """Node values from the override manifests (``nodeGraphOverrides``), by node name."""
    values: dict[str, Any] = {}
    for doc in target.manifest("override"):
        data = doc.data if isinstance(doc.data, Mapping) else {}
        for n in (data.get("nodeGraphOverrides") or {}).get("nodes") or []:
            if isinstance(n, Mapping) and "value" in n:
                values[str(n.get("name"))] = n["value"]
    return values


def _parameters(
    graph: Mapping[str, Any],
    nodes: list[Mapping[str, Any]],
    node_name: str,
    override_values: Mapping[str, Any],
) -> dict[str, Any]:
    """Port -> value for every edge into ``node_name`` from a node holding a value."""
    by_name = {str(n.get("name")): n for n in nodes}
    params: dict[str, Any] = {}
    for edge in graph.get("edges") or []:
        if not isinstance(edge, Mapping):
            continue
        consumer = str(edge.get("consumer", ""))
        producer = str(edge.get("producer", "")).split(".", 1)[0]
        cnode, _, cport = consumer.partition(".")
        if cnode != node_name or producer not in by_name:
            continue
        pnode = by_name[producer]
        if "value" in pnode:
            params[cport] = override_values.get(producer, pnode["value"])
    return params


def _models(
    target: ScanTarget,
    nodes: list[Mapping[str, Any]],
    packages: Mapping[str | None, Mapping[str, Any]],
    pkg_name: str | None,
    work: Path,
) -> list[dict[str, Any]]:
    """The graph's model nodes: name, inputs and framework (and ONNX file and output shapes)."""
    descriptors = _by_package(target, "descriptor")
    model_artifacts = {
        sa.artifact.package: sa for sa in target.artifacts if sa.artifact.kind is ArtifactKind.MODEL
    }
    models: list[dict[str, Any]] = []
    for n in nodes:
        pkg_ref, _ = _node_package(str(n.get("interface", "")))
        mpkg = packages.get(pkg_ref)
        if mpkg is None or pkg_ref == pkg_name:
            continue
        cats = {
            i.get("category")
            for i in (mpkg.get("nodePackage") or {}).get("interfaces") or []
            if isinstance(i, Mapping)
        }
        if "ml_model" not in cats:
            continue
        desc = (descriptors.get(pkg_ref) or {}).get("mlModelDescriptor") or {}
        spec: dict[str, Any] = {
            "name": str(n.get("name")),
            "inputs": list(desc.get("inputs") or []),
            "framework": str(desc.get("framework") or ""),
        }
        sa = model_artifacts.get(pkg_ref)
        onnx_file = _extract_onnx(sa, work) if sa is not None else None
        if onnx_file is not None:
            spec["onnx_file"] = str(onnx_file)
            spec["output_shapes"] = onnx_output_shapes(onnx_file)
        models.append(spec)
    return models


def build_request(
    target: ScanTarget,
    artifact: SourceArtifact,
    options: Mapping[str, Any],
    work: Path,
    *,
    frames_path: Path | None = None,
    max_frames: int | None = None,
    seconds: float | None = None,
    fps: float | None = None,
    parameters: Mapping[str, Any] | None = None,
    warmup: bool | None = None,
) -> SandboxRequest:
    """A ``SandboxRequest`` for one container asset of ``target``.

    ``options`` is the policy's ``resources:`` section (budgets plus ``frames``, ``seconds``,
    ``fps``, ``warmup``); the keyword arguments (command-line flags) override it.
    """
    budgets = Budgets.from_options(options)
    if artifact.file is None:
        raise ConfigError(f"{artifact.artifact.name}: the container asset has no file to run")
    entry_path, entry_name = entry_of(artifact)
    work.mkdir(parents=True, exist_ok=True)
    frames = FrameSpec(
        path=frames_path,
        fps=float(fps if fps is not None else options.get("fps") or 15.0),
    )
    fmt = {"rootfs": "rootfs", "docker-save": "docker-save", "oci-archive": "oci-archive"}.get(
        str(artifact.format), str(artifact.format)
    )
    digest = artifact.artifact.digest.hex if artifact.artifact.digest is not None else ""
    return SandboxRequest(
        asset=artifact.file,
        asset_format=fmt,
        entry_path=entry_path,
        entry_name=entry_name,
        name=artifact.artifact.name,
        app=app_spec(target, artifact, work, parameters),
        frames=frames,
        max_frames=int(max_frames if max_frames is not None else options.get("frames") or 30),
        seconds=float(seconds if seconds is not None else options.get("seconds") or 10.0),
        budgets=budgets,
        limits=Limits.for_budgets(budgets, options),
        warmup=bool(warmup if warmup is not None else options.get("warmup", True)),
        digest=digest,
        emulated_slowdown=float(options.get("emulated_slowdown") or 10.0),
    )
