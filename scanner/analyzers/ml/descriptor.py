"""``model-descriptor``: each model asset's ``mlModelDescriptor`` against what its archive holds.

Per panorama-package-format.md section 5: ``PYTORCH`` wants one TorchScript ``.pt``/``.pth``,
``MXNET`` a ``-symbol.json`` plus ``.params`` pair, ``TENSORFLOW`` a SavedModel or a frozen
``.pb`` (or a Keras ``.h5``). The archive is re-opened read-only with bounded reads: member
names from the tar/zip index, and at most a few small members (symbol JSON, ONNX structure).

Rules (``model-descriptor.<rule>``):

- ``framework-mismatch`` (high): the archive holds another framework's model, or none.
- ``incomplete-archive`` (medium): a required part is missing (MXNet params, TorchScript code).
- ``invalid`` (high): ``framework``, ``precisionMode``, ``inputs`` outside the schema.
- ``input-mismatch`` (high): an input name the model does not have (MXNet, ONNX).
- ``shape-mismatch`` (medium): an input shape that differs from the model's static shape.
- ``layout`` (low): a shape that does not look like the framework's usual layout.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from scanner.analyzers.interface import Output, TargetAnalyzer
from scanner.analyzers.ml._common import model_finding
from scanner.analyzers.ml.mxnet_model import symbol_inputs
from scanner.config import ArchiveLimits
from scanner.models import AnalyzerFailure, ArtifactKind, Location, Severity
from scanner.sources.interface import ArtifactFormat, ScanTarget, SourceArtifact
from scanner.sources.safe_archive import (
    ArchiveMember,
    ArchiveStreamError,
    LinkContext,
    SafeTarReader,
)

__all__ = ["ArchiveView", "ModelDescriptorAnalyzer", "detect_frameworks"]

FRAMEWORKS = ("TENSORFLOW", "PYTORCH", "MXNET")
PRECISIONS = ("FP32", "FP16")
INPUT_TYPES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "float16", "float32",
               "float64")  # fmt: skip
_MAX_MEMBERS = 100_000
_MAX_SMALL = 16 * 1024**2


@dataclass(slots=True)
class ArchiveView:
    """Member names of a model archive, with a bounded reader for small members."""

    path: Path
    kind: str  # tar | zip | file
    names: list[str] = field(default_factory=list)
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    complete: bool = True  # false when a tar stream stopped early (bomb, corruption)

    def read_member(self, name: str, limit: int = _MAX_SMALL) -> bytes | None:
        """A member's bytes when it is at most ``limit`` bytes, else ``None``."""
        if self.kind == "file":
            if self.path.stat().st_size > limit:
                return None
            return self.path.read_bytes()
        if self.kind == "zip":
            with zipfile.ZipFile(self.path) as zf:
                zinfo = zf.getinfo(name)
                return zf.read(zinfo) if zinfo.file_size <= limit else None
        # Streamed through the bounded reader: a compression bomb stops at the scan's limits
        # instead of being inflated in full by tarfile's random access.
        with self.path.open("rb") as raw:
            for member in _tar_files(raw, self.path, self.limits):
                if member.raw_name != name:
                    continue
                if member.size > limit:
                    return None
                try:
                    return member.read(limit)
                except ArchiveStreamError:
                    return None
        return None


def _tar_files(raw: BinaryIO, path: Path, limits: ArchiveLimits) -> Iterator[ArchiveMember]:
    reader = SafeTarReader(raw, artifact=path.name, limits=limits, context=LinkContext.EXTRACT)
    for member in reader:
        if member.is_file:
            yield member


def open_archive(path: Path, limits: ArchiveLimits | None = None) -> ArchiveView:
    """List a model archive (tar, tar.gz, zip) or treat a loose file as a one-member archive.

    Tar streams are read through ``SafeTarReader`` with the scan's ``limits``; when it stops
    early (a bomb, corruption) the view's ``complete`` is false and its names are partial.
    """
    limits = limits or ArchiveLimits()
    if zipfile.is_zipfile(path) and not _is_torch_zip(path):
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
        return ArchiveView(path, "zip", names[: _MAX_MEMBERS + 1], limits)
    if tarfile.is_tarfile(path):
        names = []
        with path.open("rb") as raw:
            reader = SafeTarReader(
                raw, artifact=path.name, limits=limits, context=LinkContext.EXTRACT
            )
            for member in reader:
                if member.is_file:
                    names.append(member.raw_name)
                    if len(names) > _MAX_MEMBERS:
                        break
        return ArchiveView(path, "tar", names, limits, reader.complete)
    return ArchiveView(path, "file", [path.name], limits)


def _is_torch_zip(path: Path) -> bool:
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith("data.pkl") for n in zf.namelist())


def detect_frameworks(names: list[str]) -> dict[str, list[str]]:
    """Framework -> the members that show it, from member names alone."""
    found: dict[str, list[str]] = {}
    for n in names:
        base = n.rsplit("/", 1)[-1].lower()
        if base.startswith("._"):
            continue  # macOS resource forks
        if base.endswith((".pt", ".pth", ".pt2", ".ptl")):
            found.setdefault("PYTORCH", []).append(n)
        elif base.endswith("-symbol.json") or base.endswith(".params"):
            found.setdefault("MXNET", []).append(n)
        elif base == "saved_model.pb" or base.endswith((".pb", ".h5", ".hdf5", ".keras")):
            if not base.endswith("keras_metadata.pb"):
                found.setdefault("TENSORFLOW", []).append(n)
        elif base.endswith(".onnx"):
            found.setdefault("ONNX", []).append(n)
        elif base.endswith((".pkl", ".joblib", ".safetensors", ".npy", ".npz")):
            found.setdefault("OTHER", []).append(n)
    return found


class ModelDescriptorAnalyzer(TargetAnalyzer):
    """Checks that model descriptors and model archives agree."""

    name: ClassVar[str] = "model-descriptor"
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"model", "manifest"})

    def analyze_target(self, target: ScanTarget) -> Iterator[Output]:
        """One pass over the target's model assets that carry a descriptor."""
        for sa in target.artifacts:
            if sa.artifact.kind is not ArtifactKind.MODEL or sa.format is ArtifactFormat.DESCRIPTOR:
                continue  # descriptor copies carry the same descriptor as their model asset
            desc = (sa.descriptor or {}).get("mlModelDescriptor")
            if not isinstance(desc, Mapping):
                continue
            yield from self._check(sa, desc)

    def _check(self, sa: SourceArtifact, desc: Mapping[str, Any]) -> Iterator[Output]:
        art = sa.artifact.name
        loc = Location(art)
        yield from self._schema(desc, loc, art)
        if sa.file is None or not sa.file.is_file():
            return
        try:
            config = self.ctx.config
            view = open_archive(sa.file, config.limits if config is not None else None)
        except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
            yield AnalyzerFailure(self.name, f"cannot list model archive: {exc}", loc)
            return
        if not view.complete:
            return  # the walk of the same archive reports the bomb or corruption as a finding
        found = detect_frameworks(view.names)
        framework = str(desc.get("framework", ""))
        if framework in FRAMEWORKS and framework not in found:
            held = ", ".join(sorted(found)) or "no model file"
            members = [m for ms in found.values() for m in ms][:5]
            yield model_finding(
                self.name,
                "framework-mismatch",
                Severity.HIGH,
                f"Descriptor of {art} says {framework} but the archive holds {held}"
                + (f" ({', '.join(members)})" if members else "")
                + "; the device will fail to compile or load it.",
                loc,
                f"{framework}:{held}",
                properties={"framework": framework, "found": sorted(found), "members": members},
            )
            return
        others = sorted(k for k in found if k not in (framework, "OTHER"))
        if others:
            yield model_finding(
                self.name,
                "framework-mismatch",
                Severity.MEDIUM,
                f"Model archive {art} ({framework}) also holds {', '.join(others)} model files "
                f"({', '.join(m for k in others for m in found[k][:3])}) that its descriptor "
                "does not declare.",
                loc,
                f"extra:{','.join(others)}",
                properties={"framework": framework, "extra": others},
            )
        inputs = [i for i in desc.get("inputs") or [] if isinstance(i, Mapping)]
        if framework == "MXNET":
            yield from self._mxnet(view, found["MXNET"], inputs, loc, art)
        elif framework == "PYTORCH":
            yield from self._pytorch(view, found["PYTORCH"], loc, art)
        if "ONNX" in found:
            yield from self._onnx(view, found["ONNX"], inputs, loc, art)
        yield from self._layout(framework, inputs, loc, art)

    def _schema(self, desc: Mapping[str, Any], loc: Location, art: str) -> Iterator[Output]:
        problems: list[str] = []
        if desc.get("framework") not in FRAMEWORKS:
            problems.append(f"framework {desc.get('framework')!r} is not one of {FRAMEWORKS}")
        precision = desc.get("precisionMode", "FP32")
        if precision not in PRECISIONS:
            problems.append(f"precisionMode {precision!r} is not FP32 or FP16")
        inputs = desc.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            problems.append("inputs is missing or empty")
        else:
            for i, item in enumerate(inputs):
                if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                    problems.append(f"inputs[{i}] has no name")
                    continue
                shape = item.get("shape")
                if (
                    not isinstance(shape, list)
                    or not shape
                    or not all(
                        isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape
                    )
                ):
                    problems.append(
                        f"inputs[{i}] ({item['name']}) shape {shape!r} is not positive ints"
                    )
                if "type" in item and item["type"] not in INPUT_TYPES:
                    problems.append(f"inputs[{i}] type {item['type']!r} is not allowed")
        for p in problems:
            yield model_finding(
                self.name,
                "invalid",
                Severity.HIGH,
                f"Model descriptor of {art}: {p}.",
                loc,
                p,
                properties={"problem": p},
            )

    def _mxnet(
        self, view: ArchiveView, members: list[str], inputs: list[Mapping[str, Any]],
        loc: Location, art: str,
    ) -> Iterator[Output]:  # fmt: skip
        symbols = [m for m in members if m.lower().endswith("-symbol.json")]
        params = [m for m in members if m.lower().endswith(".params")]
        if not symbols or not params:
            missing = "-symbol.json" if not symbols else ".params"
            yield model_finding(
                self.name,
                "incomplete-archive",
                Severity.MEDIUM,
                f"MXNet model archive {art} has no {missing} file; Neo needs the "
                "<name>-symbol.json and <name>-0000.params pair.",
                loc,
                f"missing:{missing}",
                properties={"missing": missing},
            )
        if not symbols:
            return
        raw = view.read_member(symbols[0])
        if raw is None:
            return
        try:
            graph_inputs = symbol_inputs(json.loads(raw))
        except (ValueError, RecursionError):
            return  # the mxnet analyzer reports malformed symbol files
        for item in inputs:
            name = str(item.get("name"))
            if graph_inputs and name not in graph_inputs:
                yield model_finding(
                    self.name,
                    "input-mismatch",
                    Severity.HIGH,
                    f"Descriptor input {name!r} of {art} is not an input of "
                    f"{symbols[0]} (inputs: {', '.join(graph_inputs)}).",
                    Location(art, symbols[0]),
                    f"input:{name}",
                    properties={"input": name, "model_inputs": graph_inputs},
                )

    def _pytorch(
        self, view: ArchiveView, members: list[str], loc: Location, art: str
    ) -> Iterator[Output]:
        for m in members[:4]:
            data = self._head_listing(view, m)
            if data is None:
                continue
            if not any("/code/" in n or n.startswith("code/") for n in data):
                yield model_finding(
                    self.name,
                    "incomplete-archive",
                    Severity.MEDIUM,
                    f"{m} in {art} is not a TorchScript archive (no code/): Neo needs a model "
                    "from torch.jit.trace, and a plain checkpoint needs the Python class to load.",
                    Location(art, m),
                    f"not-torchscript:{m}",
                    properties={"member": m},
                )

    def _head_listing(self, view: ArchiveView, member: str) -> list[str] | None:
        """Names inside a zip-format .pt member (bounded; tar members are spooled up to a cap)."""
        if view.kind == "file":
            return _zip_names(view.path.open("rb"))
        data = view.read_member(member, limit=256 * 1024**2)
        return _zip_names(io.BytesIO(data)) if data is not None else None

    def _onnx(
        self, view: ArchiveView, members: list[str], inputs: list[Mapping[str, Any]],
        loc: Location, art: str,
    ) -> Iterator[Output]:  # fmt: skip
        from scanner.analyzers.ml._protowire import WireError
        from scanner.analyzers.ml.onnx_model import load_skeleton

        for m in members[:4]:
            data = view.read_member(m, limit=256 * 1024**2) if view.kind != "file" else None
            stream: BinaryIO | None = io.BytesIO(data) if data is not None else None
            size = len(data) if data is not None else 0
            if stream is None and view.kind == "file":
                stream = view.path.open("rb")
                size = view.path.stat().st_size
            if stream is None:
                continue
            try:
                sk = load_skeleton(stream, size, max_structure=256 * 1024**2)
            except (WireError, ValueError):
                continue  # the onnx analyzer reports malformed files
            finally:
                stream.close()
            g = sk.model.graph
            inits = {t.name for t in g.initializer}
            model_inputs = {
                i.name: [d.dim_value if d.HasField("dim_value") else None
                         for d in i.type.tensor_type.shape.dim]
                for i in g.input if i.name not in inits
            }  # fmt: skip
            for item in inputs:
                name = str(item.get("name"))
                if name not in model_inputs:
                    yield model_finding(
                        self.name,
                        "input-mismatch",
                        Severity.HIGH,
                        f"Descriptor input {name!r} of {art} is not an input of {m} "
                        f"(inputs: {', '.join(model_inputs)}).",
                        Location(art, m),
                        f"input:{name}",
                        properties={"input": name, "model_inputs": sorted(model_inputs)},
                    )
                    continue
                want, have = item.get("shape"), model_inputs[name]
                if (
                    isinstance(want, list)
                    and have
                    and (
                        len(want) != len(have)
                        or any(h is not None and h != w for h, w in zip(have, want, strict=False))
                    )
                ):
                    yield model_finding(
                        self.name,
                        "shape-mismatch",
                        Severity.MEDIUM,
                        f"Descriptor input {name!r} of {art} has shape {want}, but {m} "
                        f"declares {have}.",
                        Location(art, m),
                        f"shape:{name}",
                        properties={"input": name, "descriptor": want, "model": have},
                    )

    def _layout(
        self, framework: str, inputs: list[Mapping[str, Any]], loc: Location, art: str
    ) -> Iterator[Output]:
        for item in inputs:
            shape = item.get("shape")
            if not isinstance(shape, list) or len(shape) != 4:
                continue
            nchw = shape[1] in (1, 3, 4) and shape[3] not in (1, 3, 4)
            nhwc = shape[3] in (1, 3, 4) and shape[1] not in (1, 3, 4)
            if (framework in ("PYTORCH", "MXNET") and nhwc) or (framework == "TENSORFLOW" and nchw):
                want = "NHWC" if framework == "TENSORFLOW" else "NCHW"
                yield model_finding(
                    self.name,
                    "layout",
                    Severity.LOW,
                    f"Descriptor input {item.get('name')!r} of {art} has shape {shape}; "
                    f"{framework} models are compiled as {want}.",
                    loc,
                    f"layout:{item.get('name')}",
                    properties={"input": item.get("name"), "shape": shape, "expected": want},
                )


def _zip_names(f: BinaryIO) -> list[str] | None:
    try:
        with f, zipfile.ZipFile(f) as zf:
            return zf.namelist()[:_MAX_MEMBERS]
    except zipfile.BadZipFile:
        return None
