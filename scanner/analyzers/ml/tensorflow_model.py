"""``tensorflow``: SavedModels (``saved_model.pb`` and ``saved_model.pbtxt``) and frozen
``GraphDef`` files (binary or text): dangerous ops.

Files come by content (a SavedModel or graph protobuf, a TensorFlow text protobuf) whatever
they are named; other ``.pb`` names are tried too. The binary protobuf is walked in wire format
(no TensorFlow install needed) with constant tensor contents skipped, the text format is
streamed (``_pbtxt``), and every ``NodeDef.op`` in the graph and in its function library is
checked.

Rules (``tensorflow.<rule>``):

- ``code-execution`` (critical): ``PyFunc``/``EagerPyFunc`` run Python callbacks.
- ``network-access`` (critical): RPC and remote-debugging ops.
- ``file-access`` (high): ops that read, write, list or map files (``ReadFile``,
  ``WriteFile``, ``MatchingFiles``, ``ImmutableConst``, dataset readers/writers...).
- ``checkpoint-io`` (medium): save/restore ops in a frozen graph (expected in a SavedModel).
- ``malformed`` (high): a ``saved_model.pb`` that does not parse.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import FileAnalyzer, Output
from scanner.analyzers.ml._common import MODEL_MAX_SIZE, model_finding, sniffed_of
from scanner.analyzers.ml._pbtxt import pbtxt_ops
from scanner.analyzers.ml._protowire import WireError, iter_fields, strip_message
from scanner.models import Finding, Location, Severity
from scanner.sources.sniff import ContentKind, Sniffed

__all__ = ["TensorFlowAnalyzer", "graph_ops"]

_TF_SCHEMA = {
    "Saved": {2: "Meta"},
    "Meta": {2: "Graph"},
    "Graph": {1: "Node", 2: "Lib"},
    "Lib": {1: "Func"},
    "Func": {3: "Node"},
    "Node": {5: "AttrEntry"},
    "AttrEntry": {2: "Attr"},
    "Attr": {8: "Tensor", 1: "List"},
    "List": {8: "Tensor"},
    "Tensor": {4: "!drop", 8: "!drop"},
}

CODE_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
NETWORK_OPS = frozenset(
    {"RpcCall", "RpcClient", "RpcServer", "RpcServerStart", "RpcServerRegister",
     "RpcCheckStatus", "RpcGetValue", "DebugIdentity", "DebugNanCount", "DebugNumericSummary",
     "Rpc", "TryRpc"}
)  # fmt: skip
FILE_OPS = frozenset(
    {"ReadFile", "WriteFile", "MatchingFiles", "ImmutableConst", "LoadAndRemapMatrix",
     "TFRecordDataset", "TFRecordDatasetV2", "FixedLengthRecordDataset",
     "FixedLengthRecordDatasetV2", "TextLineDataset", "CSVDataset", "CSVDatasetV2",
     "ExperimentalCSVDataset", "SqlDataset", "ExperimentalSqlDataset", "DatasetToTFRecord",
     "ExperimentalDatasetToTFRecord", "SaveDataset", "SaveDatasetV2", "LoadDataset",
     "ExperimentalLMDBDataset", "LMDBDataset", "WholeFileReader", "WholeFileReaderV2",
     "TextLineReader", "TextLineReaderV2", "TFRecordReader", "TFRecordReaderV2",
     "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "LMDBReader",
     "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteAudioSummary",
     "DebugIdentityV2", "DebugIdentityV3", "PrintV2", "SnapshotDataset", "SnapshotDatasetV2",
     "ReadTextLineDataset", "DecodeCSV_", "ExperimentalMatchingFilesDataset",
     "MatchingFilesDataset", "CacheDatasetV2", "CacheDataset"}
)  # fmt: skip
CHECKPOINT_OPS = frozenset(
    {"Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice",
     "MergeV2Checkpoints", "ShardedFilename", "ShardedFilespec"}
)  # fmt: skip


def _node_ops(node: bytes, out: dict[str, str]) -> None:
    name = op = ""
    for number, wt, value in iter_fields(node):
        if wt == 2 and isinstance(value, bytes):
            if number == 1:
                name = value.decode("utf-8", "replace")
            elif number == 2:
                op = value.decode("utf-8", "replace")
    if op:
        out.setdefault(op, name)


def _graph_ops(graph: bytes, out: dict[str, str]) -> None:
    for number, wt, value in iter_fields(graph):
        if wt != 2 or not isinstance(value, bytes):
            continue
        if number == 1:
            _node_ops(value, out)
        elif number == 2:  # FunctionDefLibrary
            for fno, fwt, fn in iter_fields(value):
                if fno == 1 and fwt == 2 and isinstance(fn, bytes):
                    for dno, dwt, nd in iter_fields(fn):
                        if dno == 3 and dwt == 2 and isinstance(nd, bytes):
                            _node_ops(nd, out)


def graph_ops(skeleton: bytes, saved_model: bool) -> dict[str, str]:
    """Op type -> first node name using it, for a stripped SavedModel or GraphDef."""
    out: dict[str, str] = {}
    if saved_model:
        for number, wt, meta in iter_fields(skeleton):
            if number == 2 and wt == 2 and isinstance(meta, bytes):
                for mno, mwt, graph in iter_fields(meta):
                    if mno == 2 and mwt == 2 and isinstance(graph, bytes):
                        _graph_ops(graph, out)
    else:
        _graph_ops(skeleton, out)
    return out


class TensorFlowAnalyzer(FileAnalyzer):
    """Flags file, process and network ops in TensorFlow graphs."""

    name: ClassVar[str] = "tensorflow"
    parallel: ClassVar[bool] = True  # heavy: runs in a worker beside the walk
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"model"})
    patterns: ClassVar[tuple[str, ...]] = ("**/saved_model.pb", "**/*.pb", "**/*.graphdef")
    content_kinds: ClassVar[frozenset[str]] = frozenset(
        {
            ContentKind.TF_SAVED_MODEL.value,
            ContentKind.TF_GRAPHDEF.value,
            ContentKind.PROTOBUF_TEXT.value,
        }
    )
    max_size: ClassVar[int] = MODEL_MAX_SIZE

    def wants(self, path: str, size: int, mode: int = 0o644) -> bool:
        """keras_metadata.pb belongs to the keras analyzer."""
        return super().wants(path, size, mode) and not _keras_metadata(path)

    def wants_content(self, path: str, size: int, sniffed: Sniffed) -> bool:
        """Graph content, except Keras metadata (the keras analyzer reads it)."""
        return not _keras_metadata(path) and super().wants_content(path, size, sniffed)

    def analyze(self, entry: FileEntry) -> Iterator[Output]:
        """Scan one SavedModel or GraphDef, binary or text."""
        kind = sniffed_of(entry).kind
        base = entry.path.rsplit("/", 1)[-1]
        saved = kind is ContentKind.TF_SAVED_MODEL or base in (
            "saved_model.pb",
            "saved_model.pbtxt",
        )
        loc = entry.location()
        f = entry.open()
        try:
            if kind is ContentKind.PROTOBUF_TEXT:
                ops = pbtxt_ops(f)
            else:
                skeleton, _ = strip_message(
                    f, entry.size, "Saved" if saved else "Graph", _TF_SCHEMA,
                    threshold=4096, max_output=512 << 20,
                )  # fmt: skip
                ops = graph_ops(skeleton, saved)
        except WireError as exc:
            if saved:
                yield _malformed(self.name, entry, loc, exc)
            # Any other .pb that is not a graph is simply some other protobuf: no record, or
            # a root filesystem would fill the report with them.
            return
        finally:
            f.close()
        if not saved and not ops:
            return
        for op, node in sorted(ops.items()):
            if op in CODE_OPS:
                rule, sev, why = "code-execution", Severity.CRITICAL, "runs a Python callback"
            elif op in NETWORK_OPS:
                rule, sev, why = "network-access", Severity.CRITICAL, "talks to the network"
            elif op in FILE_OPS:
                rule, sev, why = "file-access", Severity.HIGH, "reads, writes or maps files"
            elif op in CHECKPOINT_OPS and not saved:
                rule, sev, why = "checkpoint-io", Severity.MEDIUM, "reads or writes checkpoints"
            else:
                continue
            yield model_finding(
                self.name,
                rule,
                sev,
                f"TensorFlow graph {entry.path} uses op {op} (node {node!r}), which {why} "
                "when the graph runs.",
                loc,
                f"op:{op}",
                cwe=94 if rule == "code-execution" else 73,
                properties={"op": op, "node": node},
            )


def _malformed(name: str, entry: FileEntry, loc: Location, exc: Exception) -> Finding:
    return model_finding(
        name,
        "malformed",
        Severity.HIGH,
        f"{entry.path} is not a well-formed SavedModel ({exc}).",
        loc,
        "malformed",
    )


def _keras_metadata(path: str) -> bool:
    return path.lower().endswith("keras_metadata.pb")
