"""The format tests behind ``scanner.sources.sniff``: signatures, archive headers, pickle
opcode framing, protobuf wire structure and text, each on a few hundred bytes of head.

Private to the sniffer: import ``scanner.sources.sniff`` instead.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from scanner.sources._pickle_opcodes import TEXT_BYTES, pickle_opcodes_walk

__all__ = ["MODEL_KINDS", "ContentKind", "Sniffed", "plain", "zip_kind"]


class ContentKind(StrEnum):
    """What a file's bytes are."""

    EMPTY = "empty"
    PICKLE = "pickle"  # a raw pickle stream (joblib and PyTorch legacy files are pickles too)
    TORCH_ZIP = "torch-zip"  # PyTorch zip checkpoint or TorchScript archive
    TORCH_LEGACY_TAR = "torch-legacy-tar"  # torch < 0.4: tar of sys_info/pickle/storages
    NUMPY = "npy"
    NPZ = "npz"
    KERAS_ZIP = "keras-zip"  # Keras 3 ``.keras``: config.json + model.weights.h5
    HDF5 = "hdf5"
    SAFETENSORS = "safetensors"
    ONNX = "onnx"
    TF_SAVED_MODEL = "tf-saved-model"
    TF_GRAPHDEF = "tf-graphdef"
    PROTOBUF = "protobuf"  # wire-format protobuf of no schema recognised here
    PROTOBUF_TEXT = "protobuf-text"  # TensorFlow text protobuf (saved_model.pbtxt, graph.pbtxt)
    TFLITE = "tflite"
    GGUF = "gguf"
    MXNET_PARAMS = "mxnet-params"
    MXNET_SYMBOL = "mxnet-symbol"
    ZIP = "zip"  # any other zip: an archive to open
    TAR = "tar"
    COMPRESSED = "compressed"  # a compressed stream whose content could not be seen in the head
    TEXT = "text"
    OTHER = "other"  # a known non-model format (ELF, images, PDF, ...): ``Sniffed.detail`` says
    UNKNOWN = "unknown"


# Kinds a model analyzer reads (a compressed stream counts by its content).
MODEL_KINDS: frozenset[ContentKind] = frozenset(
    {
        ContentKind.PICKLE,
        ContentKind.TORCH_ZIP,
        ContentKind.TORCH_LEGACY_TAR,
        ContentKind.NUMPY,
        ContentKind.NPZ,
        ContentKind.KERAS_ZIP,
        ContentKind.HDF5,
        ContentKind.SAFETENSORS,
        ContentKind.ONNX,
        ContentKind.TF_SAVED_MODEL,
        ContentKind.TF_GRAPHDEF,
        ContentKind.PROTOBUF_TEXT,
        ContentKind.TFLITE,
        ContentKind.GGUF,
        ContentKind.MXNET_PARAMS,
        ContentKind.MXNET_SYMBOL,
    }
)


@dataclass(frozen=True, slots=True)
class Sniffed:
    """The verdict on one file's head.

    ``kind`` is what the (decompressed) content is; ``compression`` names the outer compression
    (``""`` for none); ``detail`` is a short human description (``"elf"``, ``"protocol 4"``);
    ``names`` the member names of an archive that the head shows (the first zip member, the tar
    headers inside the head).
    """

    kind: ContentKind
    compression: str = ""
    detail: str = ""
    names: tuple[str, ...] = ()

    @property
    def is_model(self) -> bool:
        """Content a model analyzer reads."""
        return self.kind in MODEL_KINDS

    @property
    def is_archive(self) -> bool:
        """A container of further files (a plain or compressed tar, or a zip of other files)."""
        return self.kind in (ContentKind.TAR, ContentKind.ZIP)

    def describe(self) -> str:
        """``"gzip-compressed pickle (protocol 4)"`` and the like, for messages."""
        what = self.kind.value + (f" ({self.detail})" if self.detail else "")
        return f"{self.compression}-compressed {what}" if self.compression else what


def plain(head: bytes, name: str) -> Sniffed:
    """Sniff uncompressed content (``name`` only breaks ties between protobuf schemas).

    Text (most of a root filesystem) takes a short path: no signature, zip, tar or protobuf
    head is free of control bytes, so only a protocol 0 pickle or a text format can match.
    """
    if not head.translate(None, TEXT_BYTES):
        return _pickle(head, name) or _text_kind(head)
    for test in (_magic, _zip, _tar, _pickle, _protobuf):
        found = test(head, name)
        if found is not None:
            return found
    return Sniffed(ContentKind.UNKNOWN)


# --- fixed signatures ----------------------------------------------------------------------------

_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "elf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"%PDF-", "pdf"),
    (b"SQLite format 3\x00", "sqlite"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\xca\xfe\xba\xbe", "java-class"),
    (b"MZ", "pe"),
    (b"OggS", "ogg"),
    (b"RIFF", "riff"),
    (b"\x00asm", "wasm"),
    (b"!<arch>\n", "ar"),
    (b"hsqs", "squashfs"),
)


_OTHER_BY_FIRST: dict[bytes, tuple[tuple[bytes, str], ...]] = {}
for _m, _w in _OTHER_MAGIC:
    _OTHER_BY_FIRST[_m[:1]] = (*_OTHER_BY_FIRST.get(_m[:1], ()), (_m, _w))


def _magic(head: bytes, name: str) -> Sniffed | None:
    if head.startswith(b"\x93NUMPY"):
        return Sniffed(ContentKind.NUMPY)
    if head.startswith(b"\x89HDF\r\n\x1a\n") or head[512:520] == b"\x89HDF\r\n\x1a\n":
        return Sniffed(ContentKind.HDF5)
    if head[4:8] == b"TFL3":
        return Sniffed(ContentKind.TFLITE)
    if head.startswith(b"GGUF"):
        return Sniffed(ContentKind.GGUF)
    if head[:8] == b"\x12\x01\x00\x00\x00\x00\x00\x00":
        return Sniffed(ContentKind.MXNET_PARAMS)
    if _safetensors(head):
        return Sniffed(ContentKind.SAFETENSORS)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return Sniffed(ContentKind.PICKLE, detail=f"protocol {head[1]}")
    if head[:4] == b"\x00\x00\x00\x0c" and head[4:8] == b"jP  ":
        return Sniffed(ContentKind.OTHER, detail="jpeg2000")
    if head[4:8] == b"ftyp":
        return Sniffed(ContentKind.OTHER, detail="mp4")
    for magic, what in _OTHER_BY_FIRST.get(head[:1], ()):
        if head.startswith(magic):
            return Sniffed(ContentKind.OTHER, detail=what)
    if len(head) >= 4 and head[2:4] == b"\r\n" and head[:2] != b"\r\n":
        return _pyc(head)
    return None


def _pyc(head: bytes) -> Sniffed | None:
    # CPython bytecode: a 2-byte version magic, then \r\n (a pickle never opens that way).
    if len(head) >= 16 and int.from_bytes(head[:2], "little") in range(2900, 4000):
        return Sniffed(ContentKind.OTHER, detail="python-bytecode")
    return None


def _safetensors(head: bytes) -> bool:
    """A little-endian u64 header length, then a JSON object of tensor entries."""
    if len(head) < 10:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    if not 2 <= n <= 100 * 1024**2:
        return False
    body = head[8 : 8 + min(n, 64)].lstrip(b" ")
    return body[:1] == b"{" and body[1:].lstrip()[:1] in (b'"', b"}")


# --- archives ------------------------------------------------------------------------------------

_TORCH_MEMBER = re.compile(
    r"(?:^|/)(?:data\.pkl|constants\.pkl|version|\.format_version|byteorder|data/\d+)$"
)


def zip_kind(names: Iterable[str]) -> ContentKind:
    """What a zip is from its member names: a checkpoint, ``.npz``, ``.keras``, or an archive.

    With the first member only (from the local header), or with the central directory's list.
    """
    listed = [n for n in names if not n.endswith("/")]
    if not listed:
        return ContentKind.ZIP
    if any(_TORCH_MEMBER.search(n) for n in listed[:64]):
        return ContentKind.TORCH_ZIP
    if all(n.lower().endswith(".npy") for n in listed[:64]):
        return ContentKind.NPZ
    top = {n for n in listed[:16] if "/" not in n}
    if {"config.json", "model.weights.h5"} <= top or {"metadata.json", "config.json"} <= top:
        return ContentKind.KERAS_ZIP
    return ContentKind.ZIP


def _zip(head: bytes, name: str) -> Sniffed | None:
    if head[:4] == b"PK\x05\x06":
        return Sniffed(ContentKind.ZIP, detail="empty")
    if head[:4] != b"PK\x03\x04" or len(head) < 30:
        return None
    names = _local_names(head)
    first = names[0]
    kind = zip_kind(names)
    if kind is ContentKind.ZIP and first.lower().endswith((".pkl", ".pickle")):
        kind = ContentKind.TORCH_ZIP  # a zip led by a pickle: torch.load reads it the same way
    return Sniffed(kind, names=tuple(names))


def _local_names(head: bytes) -> list[str]:
    """Member names of the local headers inside the head (directories and small members come
    first in many archives; a member whose size is only in a trailing descriptor ends it)."""
    names: list[str] = []
    pos = 0
    while pos + 30 <= len(head) and head[pos : pos + 4] == b"PK\x03\x04" and len(names) < 32:
        flags, _, _, _, _, csize, _, name_len, extra_len = struct.unpack(
            "<HHHHIIIHH", head[pos + 6 : pos + 30]
        )
        names.append(head[pos + 30 : pos + 30 + name_len].decode("utf-8", "replace")[:300])
        if flags & 0x08 and csize == 0:
            break
        pos += 30 + name_len + extra_len + csize
    return names


def _tar(head: bytes, name: str) -> Sniffed | None:
    if len(head) < 512 or not _tar_header_ok(head, 0):
        return None
    names: list[str] = []
    pos = 0
    # Every header inside the head (directories and small files come first in most archives).
    while pos + 512 <= len(head) and len(names) < 32 and _tar_header_ok(head, pos):
        header = head[pos : pos + 512]
        names.append(header[:100].split(b"\0", 1)[0].decode("utf-8", "replace")[:300])
        try:
            size = int(header[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
        except ValueError:
            break
        if header[156:157] in (b"x", b"g", b"L", b"K"):  # pax/GNU long names: meta entries
            names.pop()
        pos += 512 + (size + 511) // 512 * 512
    bases = {n.rstrip("/").rsplit("/", 1)[-1] for n in names}
    if bases & {"sys_info", "pickle", "storages", "tensors"}:
        return Sniffed(ContentKind.TORCH_LEGACY_TAR, names=tuple(names))
    return Sniffed(ContentKind.TAR, names=tuple(names))


def _tar_header_ok(head: bytes, pos: int) -> bool:
    header = head[pos : pos + 512]
    if len(header) < 512 or header[:1] == b"\0":
        return False
    if header[257:262] == b"ustar":
        return True
    try:
        chksum = int(header[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    raw = bytearray(header)
    raw[148:156] = b" " * 8
    return chksum == sum(raw)


def _pickle(head: bytes, name: str) -> Sniffed | None:
    # Protocol 2+ headers are caught by _magic; here, protocols 0 and 1.
    if pickle_opcodes_walk(head):
        return Sniffed(ContentKind.PICKLE, detail="protocol 0/1")
    return None


# --- protobuf wire format ------------------------------------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int] | None:
    value = shift = 0
    while pos < len(data) and shift < 64:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
    return None


def _fields(data: bytes, limit: int = 16) -> list[tuple[int, int, object]] | None:
    """Top-level (field, wire type, value) of a protobuf head; ``None`` if it is not one.

    A length-delimited value running past the head is cut (it is the model's big message);
    the walk stops there.
    """
    out: list[tuple[int, int, object]] = []
    pos = 0
    while pos < len(data) and len(out) < limit:
        tag = _varint(data, pos)
        if tag is None:
            return out or None
        key, pos = tag
        field, wire = key >> 3, key & 7
        if field == 0 or field > 536_870_911:
            return None
        if wire == 0:
            v = _varint(data, pos)
            if v is None:
                return out or None
            value, pos = v
            out.append((field, wire, value))
        elif wire == 2:
            v = _varint(data, pos)
            if v is None:
                return out or None
            length, pos = v
            out.append((field, wire, data[pos : pos + length]))
            if pos + length > len(data):
                return out
            pos += length
        elif wire == 1:
            out.append((field, wire, data[pos : pos + 8]))
            pos += 8
        elif wire == 5:
            out.append((field, wire, data[pos : pos + 4]))
            pos += 4
        else:
            return None
    return out


_ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
_PRINTABLE = re.compile(rb"[\x20-\x7e]*\Z")


def _protobuf(head: bytes, name: str) -> Sniffed | None:
    fields = _fields(head)
    if not fields:
        return None
    first, wire, value = fields[0]
    if (
        first == 1
        and wire == 0
        and value == 1
        and len(fields) > 1
        and fields[1][:2] == (2, 2)
        and isinstance(fields[1][2], bytes)
        and fields[1][2][:1] in (b"\x0a", b"\x12")
    ):
        return Sniffed(ContentKind.TF_SAVED_MODEL)
    onnx_name = name.lower().endswith(".onnx")
    if (
        first == 1
        and wire == 0
        and isinstance(value, int)
        and 1 <= value <= 32
        and (len(fields) >= 2 or onnx_name)
        and all(_ONNX_FIELDS.get(f) == w for f, w, _ in fields)
        and all(
            _PRINTABLE.match(v) for f, _, v in fields if f in (2, 3, 4) and isinstance(v, bytes)
        )
    ):
        return Sniffed(ContentKind.ONNX, detail=f"ir_version {value}")
    if first == 1 and wire == 2 and isinstance(value, bytes) and _node_def(value):
        return Sniffed(ContentKind.TF_GRAPHDEF)
    if name.lower().endswith((".pb", ".onnx")):
        return Sniffed(ContentKind.PROTOBUF)
    return None


def _node_def(data: bytes) -> bool:
    """The head of a TensorFlow ``NodeDef``: a printable name (1) then an op name (2)."""
    fields = _fields(data, limit=3)
    if not fields or len(fields) < 2:
        return False
    (f1, w1, name), (f2, w2, op) = fields[0], fields[1]
    return (
        (f1, w1, f2, w2) == (1, 2, 2, 2)
        and isinstance(name, bytes)
        and isinstance(op, bytes)
        and bool(name)
        and _PRINTABLE.match(name) is not None
        and re.fullmatch(rb"[A-Z][A-Za-z0-9_]*", op) is not None
    )


# --- text ----------------------------------------------------------------------------------------

_PBTXT_START = re.compile(
    rb"\A(?:\s*#[^\n]*\n)*\s*(?:saved_model_schema_version\s*:|meta_graphs\s*\{|"
    rb"node\s*\{\s*name\s*:|meta_info_def\s*\{|graph_def\s*\{|library\s*\{|versions\s*\{)"
)


def _text_kind(head: bytes) -> Sniffed:
    """A head already known to be text: a TensorFlow text protobuf, an MXNet symbol, or text."""
    if _PBTXT_START.match(head):
        return Sniffed(ContentKind.PROTOBUF_TEXT)
    symbol_keys = b'"arg_nodes"' in head or b'"heads"' in head
    if head.lstrip()[:1] == b"{" and b'"nodes"' in head and symbol_keys:
        return Sniffed(ContentKind.MXNET_SYMBOL)
    return Sniffed(ContentKind.TEXT)
