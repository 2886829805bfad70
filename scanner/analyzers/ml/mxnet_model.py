"""``mxnet``: MXNet ``-symbol.json`` graphs and ``.params`` NDArray files.

Rules (``mxnet.<rule>``):

- ``custom-op`` (high): a ``Custom`` operator, whose Python implementation the loading
  program must register (arbitrary code on the device).
- ``unknown-op`` (medium): an operator name MXNet does not ship.
- ``malformed-symbol`` (high): the symbol JSON is not a valid graph.
- ``malformed-params`` (high): the ``.params`` file's structure is invalid (magic, counts,
  shapes, sizes); data bytes are skipped by seeking, never read.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import FileAnalyzer, Output
from scanner.analyzers.ml._common import MODEL_MAX_SIZE, model_finding, sniffed_of
from scanner.models import Severity
from scanner.sources.sniff import ContentKind

__all__ = ["MxnetAnalyzer", "parse_params", "symbol_inputs"]

_LIST_MAGIC = 0x112
_V1, _V2, _V3 = 0xF993FAC8, 0xF993FAC9, 0xF993FACA
_ELEM = {0: 4, 1: 8, 2: 2, 3: 1, 4: 4, 5: 1, 6: 8, 7: 1, 8: 2, 9: 2, 10: 4, 11: 8, 12: 2}
_MAX_SYMBOL = 64 * 1024**2
_MAX_ARRAYS = 1_000_000

KNOWN_OPS = frozenset(
    [
        "null",
        "Convolution",
        "Deconvolution",
        "BatchNorm",
        "Activation",
        "LeakyReLU",
        "Pooling",
        "FullyConnected",
        "SoftmaxOutput",
        "SoftmaxActivation",
        "softmax",
        "log_softmax",
        "Flatten",
        "flatten",
        "Concat",
        "concat",
        "Reshape",
        "reshape",
        "transpose",
        "Dropout",
        "elemwise_add",
        "elemwise_sub",
        "elemwise_mul",
        "elemwise_div",
        "_plus",
        "_minus",
        "_mul",
        "_div",
        "_Plus",
        "_Minus",
        "_Mul",
        "_Div",
        "add_n",
        "ElementWiseSum",
        "_copy",
        "identity",
        "BlockGrad",
        "stop_gradient",
        "Cast",
        "cast",
        "clip",
        "slice",
        "slice_axis",
        "slice_like",
        "SliceChannel",
        "split",
        "UpSampling",
        "Embedding",
        "LayerNorm",
        "InstanceNorm",
        "GroupNorm",
        "L2Normalization",
        "LRN",
        "RNN",
        "ROIPooling",
        "Crop",
        "Pad",
        "pad",
        "expand_dims",
        "squeeze",
        "tile",
        "repeat",
        "stack",
        "where",
        "sum",
        "mean",
        "max",
        "min",
        "prod",
        "norm",
        "argmax",
        "argmin",
        "topk",
        "sort",
        "argsort",
        "take",
        "pick",
        "one_hot",
        "dot",
        "batch_dot",
        "exp",
        "log",
        "sqrt",
        "rsqrt",
        "square",
        "abs",
        "sign",
        "relu",
        "sigmoid",
        "tanh",
        "softsign",
        "erf",
        "floor",
        "ceil",
        "round",
        "negative",
        "reciprocal",
        "zeros_like",
        "ones_like",
        "shape_array",
        "size_array",
        "Correlation",
        "SpatialTransformer",
        "GridGenerator",
        "BilinearSampler",
        "MakeLoss",
        "LinearRegressionOutput",
        "LogisticRegressionOutput",
        "MAERegressionOutput",
        "SVMOutput",
        "SequenceMask",
        "SequenceLast",
        "SequenceReverse",
        "swapaxes",
        "SwapAxis",
        "hard_sigmoid",
        "gather_nd",
        "scatter_nd",
        "reverse",
        "log1p",
        "expm1",
        "power",
        "maximum",
        "minimum",
        "_maximum",
        "_minimum",
        "_power",
        "_hypot",
        "smooth_l1",
        "softmin",
        "arccos",
        "arcsin",
        "arctan",
        "cos",
        "sin",
        "tan",
        "cosh",
        "sinh",
        "arccosh",
        "arcsinh",
        "arctanh",
        "_zeros",
        "_ones",
        "_full",
        "_arange",
        "_eye",
        "_linspace",
        "diag",
        "depth_to_space",
        "space_to_depth",
        "_equal",
        "_not_equal",
        "_greater",
        "_greater_equal",
        "_lesser",
        "_lesser_equal",
        "_logical_and",
        "_logical_or",
        "_logical_xor",
        "logical_not",
        "_grad_add",
        "amp_cast",
        "amp_multicast",
        "all_finite",
        "softmax_cross_entropy",
        "IdentityAttachKLSparseReg",
        "khatri_rao",
        "moments",
        "batch_take",
        "ravel_multi_index",
        "unravel_index",
        "histogram",
        "fix",
        "trunc",
        "rint",
        "gamma",
        "gammaln",
        "degrees",
        "radians",
        "cbrt",
        "rcbrt",
        "reshape_like",
        "broadcast_like",
    ]
)
_KNOWN_PREFIXES = (
    "_contrib_", "_npi_", "_np_", "_npx_", "_image_", "_random_", "_sample_", "broadcast_",
    "elemwise_", "_linalg_", "linalg_", "_sparse_", "_backward_", "_scatter_", "_rnn_",
    "_sg_", "_cvimresize", "_cvcopyMakeBorder", "_onehot", "_mul_scalar", "_plus_scalar",
    "_minus_scalar", "_div_scalar", "_rminus_scalar", "_rdiv_scalar", "_power_scalar",
    "_rpower_scalar", "_maximum_scalar", "_minimum_scalar", "_equal_scalar",
    "_not_equal_scalar", "_greater_scalar", "_greater_equal_scalar", "_lesser_scalar",
    "_lesser_equal_scalar", "_mod", "_rmod", "_hypot_scalar", "_logical_", "_split_v2",
    "_slice_assign", "_crop_assign", "_square_sum", "_shuffle", "_histogram",
    "_ravel", "_unravel", "_foreach", "_while_loop", "_cond", "_CachedOp", "_identity_with",
    "_set_value", "_onnx_", "_copyto", "_imdecode", "_div", "_mul", "_plus", "_minus",
)  # fmt: skip


class _BadParamsError(Exception):
    pass


def symbol_inputs(doc: Any) -> list[str]:
    """Names of the graph's variable nodes (``op == "null"``) that are not parameters."""
    nodes = doc.get("nodes") if isinstance(doc, dict) else None
    if not isinstance(nodes, list):
        return []
    names = [n.get("name", "") for n in nodes if isinstance(n, dict) and n.get("op") == "null"]
    params = ("weight", "bias", "gamma", "beta", "moving_mean", "moving_var", "running_mean",
              "running_var", "alpha", "label")  # fmt: skip
    return [n for n in names if isinstance(n, str) and not n.endswith(params)]


def _read(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _BadParamsError(f"truncated {what}")
    return data


def _skip(f: BinaryIO, n: int, size: int, what: str) -> None:
    end = f.tell() + n
    if n < 0 or end > size:
        raise _BadParamsError(f"{what} of {n} bytes runs past the end of the file")
    f.seek(end)


def _ndarray(f: BinaryIO, size: int) -> None:
    magic = struct.unpack("<I", _read(f, 4, "array magic"))[0]
    if magic in (_V2, _V3):
        stype = struct.unpack("<i", _read(f, 4, "storage type"))[0]
        if stype != 0:
            raise _BadParamsError(f"sparse storage type {stype} is not supported")
        ndim = struct.unpack("<i", _read(f, 4, "ndim"))[0]
        if ndim == -1 and magic == _V3:
            return  # unknown shape: no data follows
        dim_fmt = "q"
    elif magic == _V1:
        ndim = struct.unpack("<I", _read(f, 4, "ndim"))[0]
        dim_fmt = "q"
    else:  # legacy: the first word already is ndim, dimensions are uint32
        ndim = magic
        dim_fmt = "I"
    if not 0 <= ndim <= 32:
        raise _BadParamsError(f"array with {ndim} dimensions")
    width = struct.calcsize(dim_fmt)
    dims = struct.unpack(f"<{ndim}{dim_fmt}", _read(f, width * ndim, "shape"))
    if any(d < 0 for d in dims):
        raise _BadParamsError("negative dimension")
    if ndim == 0:
        return
    _read(f, 8, "context")
    type_flag = struct.unpack("<i", _read(f, 4, "dtype"))[0]
    if type_flag not in _ELEM:
        raise _BadParamsError(f"unknown dtype flag {type_flag}")
    numel = 1
    for d in dims:
        numel *= d
    _skip(f, numel * _ELEM[type_flag], size, "array data")


def parse_params(f: BinaryIO, size: int) -> list[str]:
    """Validate an NDArray list file and return its array names (data is skipped)."""
    magic, _reserved = struct.unpack("<QQ", _read(f, 16, "header"))
    if magic != _LIST_MAGIC:
        raise _BadParamsError(f"bad magic 0x{magic:x} (expected 0x{_LIST_MAGIC:x})")
    count = struct.unpack("<Q", _read(f, 8, "array count"))[0]
    if count > _MAX_ARRAYS:
        raise _BadParamsError(f"{count} arrays")
    for _ in range(count):
        _ndarray(f, size)
    n_names = struct.unpack("<Q", _read(f, 8, "name count"))[0]
    if n_names not in (0, count):
        raise _BadParamsError(f"{n_names} names for {count} arrays")
    names = []
    for _ in range(n_names):
        length = struct.unpack("<Q", _read(f, 8, "name length"))[0]
        if length > 4096:
            raise _BadParamsError(f"name of {length} bytes")
        names.append(_read(f, length, "name").decode("utf-8", "replace"))
    if f.tell() != size:
        raise _BadParamsError(f"{size - f.tell()} unexpected bytes after the last name")
    return names


class MxnetAnalyzer(FileAnalyzer):
    """Checks MXNet symbol graphs for custom/unknown ops and params files for structure."""

    name: ClassVar[str] = "mxnet"
    parallel: ClassVar[bool] = True  # heavy: runs in a worker beside the walk
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"model"})
    patterns: ClassVar[tuple[str, ...]] = ("**/*-symbol.json", "**/*.params")
    content_kinds: ClassVar[frozenset[str]] = frozenset(
        {ContentKind.MXNET_PARAMS.value, ContentKind.MXNET_SYMBOL.value}
    )
    max_size: ClassVar[int] = MODEL_MAX_SIZE

    def analyze(self, entry: FileEntry) -> Iterator[Output]:
        """Scan one symbol or params file (the content decides which; the name breaks ties)."""
        kind = sniffed_of(entry).kind
        if kind is ContentKind.MXNET_PARAMS or (
            kind is not ContentKind.MXNET_SYMBOL and entry.path.lower().endswith(".params")
        ):
            yield from self._params(entry)
        else:
            yield from self._symbol(entry)

    def _params(self, entry: FileEntry) -> Iterator[Output]:
        f = entry.open()
        try:
            parse_params(f, entry.size)
        except _BadParamsError as exc:
            yield model_finding(
                self.name,
                "malformed-params",
                Severity.HIGH,
                f"{entry.path} is not a valid MXNet parameter file: {exc}.",
                entry.location(),
                "malformed",
                cwe=20,
                properties={"error": str(exc)},
            )
        finally:
            f.close()

    def _symbol(self, entry: FileEntry) -> Iterator[Output]:
        loc = entry.location()
        data = entry.read(_MAX_SYMBOL + 1)
        try:
            if len(data) > _MAX_SYMBOL:
                raise ValueError(f"larger than {_MAX_SYMBOL} bytes")
            doc = json.loads(data)
            nodes = doc["nodes"]
            if not isinstance(nodes, list):
                raise ValueError("'nodes' is not a list")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            yield model_finding(
                self.name,
                "malformed-symbol",
                Severity.HIGH,
                f"{entry.path} is not a valid MXNet symbol graph ({exc}).",
                loc,
                "malformed",
            )
            return
        seen: set[str] = set()
        for node in nodes:
            if not isinstance(node, dict):
                continue
            op = str(node.get("op", ""))
            name = str(node.get("name", ""))
            attrs = node.get("attrs") or node.get("attr") or node.get("param") or {}
            if op == "Custom":
                op_type = str(attrs.get("op_type", "?")) if isinstance(attrs, dict) else "?"
                key = f"Custom:{op_type}"
                if key in seen:
                    continue
                seen.add(key)
                yield model_finding(
                    self.name,
                    "custom-op",
                    Severity.HIGH,
                    f"MXNet graph {entry.path} uses Custom operator {op_type!r} (node "
                    f"{name!r}); its Python code must be registered by the loader.",
                    loc,
                    f"op:{key}",
                    cwe=94,
                    properties={"op": "Custom", "op_type": op_type, "node": name},
                )
            elif op not in KNOWN_OPS and not op.startswith(_KNOWN_PREFIXES) and op not in seen:
                seen.add(op)
                yield model_finding(
                    self.name,
                    "unknown-op",
                    Severity.MEDIUM,
                    f"MXNet graph {entry.path} uses operator {op!r} (node {name!r}), which "
                    "MXNet does not ship; it needs a plug-in library.",
                    loc,
                    f"op:{op}",
                    properties={"op": op, "node": name},
                )
