"""What a file is, from its first bytes: one sniffer for loose files, archive members and
root-filesystem files alike.

Every model format panorama-gate reads is recognised by content: pickle streams (protocol
headers, or protocol 0/1 opcodes that walk cleanly), PyTorch and NumPy zips (the first local
header's member name, or the central directory when the caller has it), NumPy ``.npy``, HDF5,
safetensors headers, ONNX and TensorFlow protobufs (by their wire structure), TensorFlow text
protobufs, TFLite, GGUF, MXNet parameters and symbol files; containers (tar, zip) and
compressed streams (gzip, bzip2, xz, lzma, zstd, zlib, joblib's ``ZF``), whose decompressed head
is sniffed in turn. File names only *refine* what the bytes say (``MODEL_SUFFIXES``): they never
make a file something its content is not.

Sniffing is cheap by design: ``sniff`` asks for at most ``SNIFF_BYTES`` of head (a little more
for a compressed stream's decompressed head) and never reads a whole file.

Example::

    with open("checkpoint.tar", "rb") as f:
        s = sniff_head(f.read(SNIFF_BYTES), "checkpoint.tar")
    s.kind            # ContentKind.TORCH_ZIP: a zip inside, whatever the name says
"""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from collections.abc import Callable

from scanner.sources._formats import MODEL_KINDS, ContentKind, Sniffed, plain, zip_kind

__all__ = [
    "ARCHIVE_SUFFIXES",
    "GENERIC_MODEL_SUFFIXES",
    "MODEL_KINDS",
    "MODEL_SUFFIXES",
    "SNIFF_BYTES",
    "ContentKind",
    "Sniffed",
    "has_model_name",
    "is_model_member_name",
    "sniff",
    "sniff_head",
    "zip_kind",
]

# Enough for every signature below, a tar header, a zip local header with its name, and the
# first fields of a protobuf; compressed streams are asked for more (see ``_inner``).
SNIFF_BYTES = 1024
_DECOMPRESSED_HEAD = 4096
# Compressed input read to see the decompressed head; bzip2 emits nothing before a whole block,
# so a larger bzip2 stream stays opaque (``ContentKind.COMPRESSED``) and names decide.
_COMPRESSED_INPUT = 16 * 1024

# Names that say "model file": the one list (the hook, target detection and the
# unrecognised-content rule all read it). Names refine; content decides.
MODEL_SUFFIXES: tuple[str, ...] = (
    ".onnx",
    ".pt",
    ".pth",
    ".pkl",
    ".pickle",
    ".joblib",
    ".dill",
    ".h5",
    ".hdf5",
    ".keras",
    ".pb",
    ".pbtxt",
    ".params",
    ".npy",
    ".npz",
    ".safetensors",
    ".ckpt",
    ".tflite",
    ".gguf",
    ".ptl",
    ".pt2",
    ".torchscript",
    ".mar",
    "-symbol.json",
)
# Names models often carry that other files carry too (firmware ``.bin``, data ``.dat``): they
# count as model names only inside a model artifact, never across a whole root filesystem.
GENERIC_MODEL_SUFFIXES: tuple[str, ...] = (".bin", ".dat", ".model", ".weights", ".sav", ".p")
ARCHIVE_SUFFIXES: tuple[str, ...] = (
    ".tar.gz",
    ".tgz",
    ".tar",
    ".zip",
    ".tar.zst",
    ".tar.zstd",
    ".tar.xz",
    ".tar.bz2",
)
# A compressed model file keeps its model suffix before the compression one (``.pkl.xz``).
_COMPRESSION_SUFFIXES = (".gz", ".xz", ".bz2", ".lzma", ".zst", ".z", ".zlib")


def _with_compression(suffixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(x + c for x in suffixes for c in ("", *_COMPRESSION_SUFFIXES))


# Every model suffix with and without a compression suffix after it: one C-level endswith.
_MODEL_ENDINGS = _with_compression(MODEL_SUFFIXES)
_GENERIC_ENDINGS = _with_compression(GENERIC_MODEL_SUFFIXES)


def has_model_name(path: str, *, generic: bool = False) -> bool:
    """Whether a file name says "model" (``generic`` also admits ``.bin``, ``.dat``...).

    Compression suffixes are looked through: ``weights.pkl.xz`` has a model name.
    """
    base = path[path.rfind("/") + 1 :].lower()
    if base.endswith(_MODEL_ENDINGS) or base == "saved_model.pb":
        return True
    return generic and base.endswith(_GENERIC_ENDINGS)


def is_model_member_name(name: str) -> bool:
    """A member name that marks an archive as a model container (for root filesystems)."""
    low = name.lower().rstrip("/")
    base = low.rsplit("/", 1)[-1]
    return (
        has_model_name(low)
        or base in ("saved_model.pb", "saved_model.pbtxt", "variables.index", "keras_metadata.pb")
        or low.endswith(("/variables", "variables/variables.index"))
    )


# --- the sniffer ---------------------------------------------------------------------------------

Reader = Callable[[int], bytes]
"""``read_head(n)``: the first ``n`` bytes of the file (fewer at its end); may be called again
with a larger ``n``."""


def sniff_head(head: bytes, name: str = "") -> Sniffed:
    """Sniff from a head already read (``SNIFF_BYTES`` is enough for every format)."""
    return sniff(lambda n: head[:n], name)


def sniff(read_head: Reader, name: str = "") -> Sniffed:
    """What the file whose head ``read_head`` serves is; ``name`` only breaks ties."""
    head = read_head(SNIFF_BYTES)
    if not head:
        return Sniffed(ContentKind.EMPTY)
    compression = _compression(head)
    if compression:
        return _inner(read_head, compression, name)
    return plain(head, name)


def _compression(head: bytes) -> str:
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] == b"1AY&SY":
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if len(head) >= 13 and head[0] == 0x5D and head[1:3] == b"\x00\x00" and head[4] < 0x80:
        # lzma "alone" (joblib's .lzma): properties byte, dictionary size, then the size or -1
        return "lzma"
    if head[:2] == b"ZF" and len(head) > 20 and head[18] == 0x78:
        return "zf"  # joblib < 0.10: "ZF" + size, then a zlib stream
    if len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:
        return "zlib"
    return ""


def _inner(read_head: Reader, compression: str, name: str) -> Sniffed:
    """Decompress the start of a stream and sniff what is inside."""
    data = read_head(_COMPRESSED_INPUT)
    out = b""
    try:
        if compression == "gzip":
            out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, _DECOMPRESSED_HEAD)
        elif compression == "zlib":
            out = zlib.decompressobj().decompress(data, _DECOMPRESSED_HEAD)
        elif compression == "zf":
            out = zlib.decompressobj().decompress(data[18:], _DECOMPRESSED_HEAD)
        elif compression == "bzip2":
            out = bz2.BZ2Decompressor().decompress(data, _DECOMPRESSED_HEAD)
        elif compression in ("xz", "lzma"):
            fmt = lzma.FORMAT_XZ if compression == "xz" else lzma.FORMAT_ALONE
            out = lzma.LZMADecompressor(format=fmt).decompress(data, _DECOMPRESSED_HEAD)
        elif compression == "zstd":
            out = _zstd_head(data)
    except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError):
        out = b""
    if not out:
        if compression in ("zlib", "lzma", "zf"):
            # two bytes that only look like a zlib or lzma header: sniff the bytes themselves
            return plain(read_head(SNIFF_BYTES), name)
        return Sniffed(ContentKind.COMPRESSED, compression)
    inner = plain(out[:_DECOMPRESSED_HEAD], _strip_compression_suffix(name))
    if inner.kind is ContentKind.UNKNOWN:
        return Sniffed(ContentKind.COMPRESSED, compression, inner.detail)
    return Sniffed(inner.kind, compression, inner.detail, inner.names)


def _zstd_head(data: bytes) -> bytes:
    try:
        import zstandard
    except ImportError:  # pragma: no cover - zstandard is a dependency
        return b""
    try:
        # a bounded read: a few KiB of zstd input can expand to gigabytes
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
            return bytes(reader.read(_DECOMPRESSED_HEAD))
    except zstandard.ZstdError:
        return b""


def _strip_compression_suffix(name: str) -> str:
    low = name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if low.endswith(suffix):
            return name[: -len(suffix)]
    return name
