"""``onnx``: ONNX models checked structurally, weights never read.

The file is copied through the protobuf wire format with every large ``raw_data`` dropped (the
reader seeks over it), so a multi-gigabyte model becomes a few kilobytes of graph. That
skeleton is parsed with ``onnx`` and run through ``onnx.checker`` (full check, with stripped
tensors turned into placeholder external data in a private temp folder).

Rules (``onnx.<rule>``):

- ``external-data-traversal`` (critical): external data location absolute or escaping the
  model's folder (the path traversal behind CVE-2024-27318/CVE-2022-25882).
- ``custom-domain`` (medium): operators from a domain no standard runtime provides (native
  code must be loaded to run them); ``runtime-domain`` (low) for ONNX Runtime's own domains.
- ``unknown-op`` (medium): an operator the standard domain does not define.
- ``opset-range`` (medium): opset outside ``models.onnx_min_opset``..``onnx_max_opset``.
- ``checker-failed`` (medium): ``onnx.checker`` rejects the model.
- ``size-limit`` (medium): a tensor, the model or the node count above the policy limits.
- ``metadata-secret`` (high, category secret): a secret in ``metadata_props`` or doc strings.
- ``malformed`` (high): the protobuf does not parse.
"""

from __future__ import annotations

import posixpath
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import AnalyzerContext, FileAnalyzer, Output
from scanner.analyzers.ml._common import (
    MODEL_MAX_SIZE,
    metadata_secret,
    model_finding,
    model_options,
    opt_int,
)
from scanner.analyzers.ml._protowire import ONNX_SCHEMA, WireError, strip_message
from scanner.models import AnalyzerFailure, Finding, Location, Severity
from scanner.sources.sniff import ContentKind

__all__ = ["OnnxAnalyzer", "OnnxSkeleton", "load_skeleton"]

STANDARD_DOMAINS = frozenset(
    {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"}
)
RUNTIME_DOMAINS = frozenset(
    {
        "com.microsoft",
        "com.microsoft.nchwc",
        "com.microsoft.experimental",
        "com.ms.internal.nhwc",
        "com.microsoft.dml",
        "org.pytorch.aten",
    }
)
_PLACEHOLDER = "panorama-gate-stripped.bin"
_KEEP_INLINE = 64 * 1024
_EMPTY_RAW_DATA = bytes(
    [9 << 3 | 2, 0]
)  # TensorProto.raw_data = b""  # small tensors stay: shape inference reads shape constants
_WINDOWS_ABS = re.compile(r"^[A-Za-z]:[\\/]")


class OnnxSkeleton:
    """A parsed ONNX model without its large weights, plus what was dropped."""

    def __init__(self, model: Any, dropped_bytes: int, dropped_tensors: int) -> None:
        self.model = model
        self.dropped_bytes = dropped_bytes
        self.dropped_tensors = dropped_tensors


def load_skeleton(f: BinaryIO, size: int, *, max_structure: int) -> OnnxSkeleton:
    """Parse an ONNX model from ``f`` without reading large ``raw_data`` blobs.

    Raises ``WireError`` for malformed protobuf and ``ValueError`` when onnx cannot parse the
    skeleton.
    """
    import onnx  # heavy import: only when an ONNX file is actually scanned

    skeleton, dropped = strip_message(
        f,
        size,
        "Model",
        ONNX_SCHEMA,
        threshold=_KEEP_INLINE,
        max_output=max_structure,
        replace=lambda msg, no, off, n: _EMPTY_RAW_DATA,  # marks a stripped tensor
    )
    model = onnx.ModelProto()
    try:
        model.ParseFromString(skeleton)
    except Exception as exc:  # protobuf's DecodeError has no stable import path
        raise ValueError(f"not an ONNX model: {exc}") from exc
    return OnnxSkeleton(model, dropped.total, len(dropped.fields))


def _all_graphs(model: Any) -> Iterator[tuple[str, Any]]:
    """Every graph of the model with a readable path (main graph, subgraphs, training graphs)."""
    stack: list[tuple[str, Any]] = [("graph", model.graph)]
    while stack:
        path, g = stack.pop()
        yield path, g
        for node in g.node:
            for attr in node.attribute:
                if attr.HasField("g"):
                    stack.append((f"{path}/{node.name or node.op_type}.{attr.name}", attr.g))
                for i, sub in enumerate(attr.graphs):
                    stack.append((f"{path}/{node.name or node.op_type}.{attr.name}[{i}]", sub))


def _all_tensors(model: Any) -> Iterator[tuple[str, Any]]:
    for path, g in _all_graphs(model):
        for t in g.initializer:
            yield path, t
        for st in g.sparse_initializer:
            yield path, st.values
            yield path, st.indices
        for node in g.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield path, attr.t
                yield from ((path, t) for t in attr.tensors)


def _all_nodes(model: Any) -> Iterator[tuple[str, Any]]:
    for path, g in _all_graphs(model):
        for node in g.node:
            yield path, node
    for fn in model.functions:
        for node in fn.node:
            yield f"function {fn.domain}.{fn.name}", node


class OnnxAnalyzer(FileAnalyzer):
    """Checks ONNX models: traversal, custom ops, opsets, checker, limits, metadata secrets."""

    name: ClassVar[str] = "onnx"
    parallel: ClassVar[bool] = True  # heavy: runs in a worker beside the walk
    worker_imports: ClassVar[tuple[str, ...]] = ("onnx", "onnx.checker", "onnx.shape_inference")
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"model"})
    patterns: ClassVar[tuple[str, ...]] = ("**/*.onnx", "**/*.onnx.model")
    content_kinds: ClassVar[frozenset[str]] = frozenset({ContentKind.ONNX.value})
    max_size: ClassVar[int] = MODEL_MAX_SIZE

    def __init__(self) -> None:
        super().__init__()
        self._options: dict[str, Any] = {}

    def configure(self, ctx: AnalyzerContext) -> None:
        """Limits come from the policy's ``models:`` section (``onnx_*`` keys)."""
        super().configure(ctx)
        self._options = model_options(ctx)

    def _limit(self, key: str, default: int) -> int:
        return opt_int(self._options, key, default)

    def analyze(self, entry: FileEntry) -> Iterator[Output]:
        """Scan one ONNX file."""
        loc = entry.location()
        f = entry.open()
        try:
            try:
                sk = load_skeleton(
                    f, entry.size, max_structure=self._limit("onnx_max_structure_mb", 512) << 20
                )
            except (WireError, ValueError) as exc:
                yield model_finding(
                    self.name,
                    "malformed",
                    Severity.HIGH,
                    f"{entry.path} is not a well-formed ONNX model ({exc}); runtimes may crash "
                    "or misread it.",
                    loc,
                    "malformed",
                )
                return
        finally:
            f.close()
        try:
            results = list(self._check(sk, entry, loc))
        except (TypeError, UnicodeError, ValueError) as exc:
            # Hostile protobufs put invalid UTF-8 or wrong types where onnx expects strings.
            yield model_finding(
                self.name,
                "malformed",
                Severity.HIGH,
                f"{entry.path} has invalid fields for an ONNX model ({type(exc).__name__}); "
                "runtimes may crash or misread it.",
                loc,
                "malformed",
            )
            return
        yield from results

    def _check(self, sk: OnnxSkeleton, entry: FileEntry, loc: Location) -> Iterator[Output]:
        import onnx

        model = sk.model
        yield from self._external_data(model, entry, loc)
        yield from self._domains_and_ops(model, entry, loc)
        yield from self._opsets(model, entry, loc)
        yield from self._limits(model, entry, loc)
        yield from self._secrets(model, entry, loc)
        # The checker runs on a copy whose stripped/external tensors point at an empty
        # placeholder inside a private folder: it validates structure, never real paths.
        checked = onnx.ModelProto()
        checked.CopyFrom(model)
        external = False
        for _, t in _all_tensors(checked):
            stripped = t.HasField("raw_data") and not t.raw_data and _numel(t) > 0
            if stripped or t.data_location == onnx.TensorProto.EXTERNAL:
                external = True
                t.ClearField("raw_data")
                del t.external_data[:]
                t.data_location = onnx.TensorProto.EXTERNAL
                t.external_data.add(key="location", value=_PLACEHOLDER)
        try:
            if not external:
                # nothing points outside the model: checked in memory, without the folder
                # (its creation and removal cost more than the check of a small model)
                onnx.checker.check_model(checked, full_check=True)
            else:
                self._check_in_folder(checked)
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            yield model_finding(
                self.name,
                "checker-failed",
                Severity.MEDIUM,
                f"onnx.checker rejects {entry.path}: {first[:300]}",
                loc,
                "checker",
                properties={"error": first[:500]},
            )
        except OSError as exc:
            yield AnalyzerFailure(self.name, f"onnx.checker could not run: {exc}", loc)

    def _check_in_folder(self, checked: Any) -> None:
        """The checker on a model whose external tensors point at a placeholder file."""
        import onnx

        with tempfile.TemporaryDirectory(
            dir=str(self.ctx.work_dir) if self.ctx.work_dir else None
        ) as tmp:
            (Path(tmp) / _PLACEHOLDER).touch()
            path = Path(tmp) / "model.onnx"
            path.write_bytes(checked.SerializeToString())
            onnx.checker.check_model(str(path), full_check=True)

    def _external_data(self, model: Any, entry: FileEntry, loc: Location) -> Iterator[Finding]:
        import onnx

        seen: set[str] = set()
        for _, t in _all_tensors(model):
            if t.data_location != onnx.TensorProto.EXTERNAL:
                continue
            info = {e.key: e.value for e in t.external_data}
            location = info.get("location", "")
            problem = _traversal_problem(location)
            if problem is None or location in seen:
                continue
            seen.add(location)
            yield model_finding(
                self.name,
                "external-data-traversal",
                Severity.CRITICAL,
                f"ONNX tensor {t.name!r} in {entry.path} reads its data from {location!r}, "
                f"which {problem}: loading it reads files outside the model folder.",
                loc,
                f"{t.name}:{location}",
                cwe=22,
                properties={"tensor": t.name, "external_location": location},
            )

    def _domains_and_ops(self, model: Any, entry: FileEntry, loc: Location) -> Iterator[Finding]:
        import onnx

        local_functions = {(fn.domain, fn.name) for fn in model.functions}
        imported = {o.domain or "": o.version for o in model.opset_import}
        std_version = imported.get("", imported.get("ai.onnx", onnx.defs.onnx_opset_version()))
        custom: dict[str, set[str]] = {}
        unknown: set[str] = set()
        for _, node in _all_nodes(model):
            domain = node.domain or ""
            if (domain, node.op_type) in local_functions:
                continue
            if domain in STANDARD_DOMAINS:
                try:
                    onnx.defs.get_schema(node.op_type, std_version, domain)
                except onnx.defs.SchemaError:
                    unknown.add(f"{domain or 'ai.onnx'}::{node.op_type}")
            else:
                custom.setdefault(domain, set()).add(node.op_type)
        for domain in imported:
            if domain not in STANDARD_DOMAINS:
                custom.setdefault(domain, set())
        for domain, ops in sorted(custom.items()):
            runtime = domain in RUNTIME_DOMAINS
            op_list = ", ".join(sorted(ops)) or "(imported, unused)"
            yield model_finding(
                self.name,
                "runtime-domain" if runtime else "custom-domain",
                Severity.LOW if runtime else Severity.MEDIUM,
                f"{entry.path} uses operator domain {domain!r} ({op_list}); "
                + (
                    "it needs ONNX Runtime's contrib kernels."
                    if runtime
                    else "running it needs a custom operator library (native code) on the device."
                ),
                loc,
                f"domain:{domain}",
                properties={"domain": domain, "ops": sorted(ops)},
            )
        for op in sorted(unknown):
            yield model_finding(
                self.name,
                "unknown-op",
                Severity.MEDIUM,
                f"{entry.path} uses operator {op}, which the standard ONNX domain does not "
                f"define at opset {std_version}.",
                loc,
                f"op:{op}",
                properties={"op": op, "opset": std_version},
            )

    def _opsets(self, model: Any, entry: FileEntry, loc: Location) -> Iterator[Finding]:
        import onnx

        lo = self._limit("onnx_min_opset", 7)
        hi = self._limit("onnx_max_opset", onnx.defs.onnx_opset_version())
        for o in model.opset_import:
            if (o.domain or "") in ("", "ai.onnx") and not lo <= o.version <= hi:
                yield model_finding(
                    self.name,
                    "opset-range",
                    Severity.MEDIUM,
                    f"{entry.path} targets ONNX opset {o.version}, outside the allowed range "
                    f"{lo}..{hi}.",
                    loc,
                    f"opset:{o.version}",
                    properties={"opset": o.version, "min": lo, "max": hi},
                )

    def _limits(self, model: Any, entry: FileEntry, loc: Location) -> Iterator[Finding]:
        max_model = self._limit("onnx_max_model_mb", 4096) << 20
        max_tensor = self._limit("onnx_max_tensor_mb", 2048) << 20
        max_nodes = self._limit("onnx_max_nodes", 1_000_000)
        if entry.size > max_model:
            yield model_finding(
                self.name,
                "size-limit",
                Severity.MEDIUM,
                f"{entry.path} is {entry.size >> 20} MiB, above the policy's "
                f"{max_model >> 20} MiB model limit.",
                loc,
                "model-size",
                properties={"size": entry.size, "limit": max_model},
            )
        for _, t in _all_tensors(model):
            nbytes = _numel(t) * _elem_size(t.data_type)
            if nbytes > max_tensor:
                yield model_finding(
                    self.name,
                    "size-limit",
                    Severity.MEDIUM,
                    f"Tensor {t.name!r} in {entry.path} declares {nbytes >> 20} MiB, above the "
                    f"policy's {max_tensor >> 20} MiB tensor limit.",
                    loc,
                    f"tensor-size:{t.name}",
                    properties={"tensor": t.name, "bytes": nbytes, "limit": max_tensor},
                )
        nodes = sum(1 for _ in _all_nodes(model))
        if nodes > max_nodes:
            yield model_finding(
                self.name,
                "size-limit",
                Severity.MEDIUM,
                f"{entry.path} has {nodes} nodes, above the policy's {max_nodes}.",
                loc,
                "node-count",
                properties={"nodes": nodes, "limit": max_nodes},
            )

    def _secrets(self, model: Any, entry: FileEntry, loc: Location) -> Iterator[Finding]:
        pairs: list[tuple[str, str, str]] = [
            ("metadata_props", p.key, p.value) for p in model.metadata_props
        ]
        pairs.append(("doc_string", "doc_string", model.doc_string))
        for path, g in _all_graphs(model):
            pairs.append((f"{path}.doc_string", "doc_string", g.doc_string))
            pairs.extend((f"{path}.metadata_props", p.key, p.value) for p in g.metadata_props)
        for where, key, value in pairs:
            if not value:
                continue
            found = metadata_secret(
                self.name, entry.path, where, key, value, loc,
                evidence_at=where, extra={"field": where},
            )  # fmt: skip
            if found is not None:
                yield found


def _traversal_problem(location: str) -> str | None:
    """Why an external-data location is unsafe, or ``None`` when it stays in the folder."""
    if not location:
        return "is empty"
    if "\x00" in location:
        return "contains a NUL byte"
    if location.startswith(("/", "\\")) or _WINDOWS_ABS.match(location):
        return "is an absolute path"
    normal = posixpath.normpath(location.replace("\\", "/"))
    if normal == ".." or normal.startswith("../"):
        return "climbs out of the model folder"
    if "~" in location.split("/")[0]:
        return "starts at a home directory"
    return None


def _numel(t: Any) -> int:
    n = 1
    for d in t.dims:
        n *= max(int(d), 0)
    return n


def _elem_size(data_type: int) -> int:
    # TensorProto.DataType values -> bytes; strings and unknown types count as 1.
    return {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8,
            14: 8, 15: 16, 16: 2}.get(data_type, 1)  # fmt: skip
