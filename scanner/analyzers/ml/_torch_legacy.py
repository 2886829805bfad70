"""PyTorch's legacy formats: the tar of torch < 0.4 (``sys_info``, ``pickle``, ``storages``,
``tensors``). The stream format after the legacy magic number is handled by the pickle walk.

Storage and tensor records are pickles followed by raw bytes: the pickles are walked, the
bytes skipped by seeking (their sizes are checked against hostile values).
"""

from __future__ import annotations

import io
import struct
import tarfile
from typing import BinaryIO

from scanner.analyzers.ml._pickle_ctx import MAX_BLOB, ScanCtx, Walker, seekable
from scanner.analyzers.ml._pickle_sniff import looks_like_pickle
from scanner.analyzers.ml._pickle_vm import GlobalRef, PickleError

__all__ = ["TORCH_LEGACY_MAGIC", "scan_legacy_tar"]

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_ELEM = {
    "FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "BFloat16Storage": 2,
    "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1,
    "BoolStorage": 1, "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16,
    "QUInt8Storage": 1, "QInt8Storage": 1, "QInt32Storage": 4, "UntypedStorage": 1,
}  # fmt: skip


def scan_legacy_tar(walker: Walker, f: BinaryIO, ctx: ScanCtx, *, member: str) -> None:
    """torch < 0.4 wrote a tar of ``sys_info``, ``pickle``, ``storages`` and ``tensors``."""
    with tarfile.open(fileobj=f, mode="r:") as tf:
        for info in tf:
            if not info.isfile():
                continue
            inner = f"{member}/{info.name}" if member else info.name
            mf = tf.extractfile(info)
            if mf is None:
                continue
            base = info.name.rsplit("/", 1)[-1]
            stream = seekable(mf)
            if base in ("sys_info", "pickle") or base.endswith(".pkl"):
                walker.scan_pickle_stream(stream, ctx, member=inner, depth=1)
            elif base == "storages":
                _legacy_storages(walker, stream, ctx, inner)
            elif base == "tensors":
                _legacy_tensors(walker, stream, ctx, inner)
            elif looks_like_pickle(stream.read(64)):
                stream.seek(0)
                walker.scan_pickle_stream(stream, ctx, member=inner, depth=1)


def _legacy_storages(walker: Walker, f: BinaryIO, ctx: ScanCtx, member: str) -> None:
    count = walker.scan_one(f, ctx, member=member, depth=1).result
    if not isinstance(count, int) or count < 0:
        raise PickleError(f"{member}: storage count is not an integer")
    for _ in range(count):
        args = walker.scan_one(f, ctx, member=member, depth=1).result
        stype = args[2] if isinstance(args, tuple) and len(args) == 3 else None
        if not isinstance(stype, GlobalRef) or stype.name not in _STORAGE_ELEM:
            raise PickleError(f"{member}: storage record without a known storage type")
        numel_raw = f.read(8)
        if len(numel_raw) != 8:
            raise PickleError(f"{member}: truncated storage size")
        numel = struct.unpack("<q", numel_raw)[0]
        if numel < 0 or numel > MAX_BLOB:
            raise PickleError(f"{member}: storage of {numel} elements")
        f.seek(numel * _STORAGE_ELEM[stype.name], io.SEEK_CUR)


def _legacy_tensors(walker: Walker, f: BinaryIO, ctx: ScanCtx, member: str) -> None:
    count = walker.scan_one(f, ctx, member=member, depth=1).result
    if not isinstance(count, int) or count < 0:
        raise PickleError(f"{member}: tensor count is not an integer")
    for _ in range(count):
        walker.scan_one(f, ctx, member=member, depth=1)
        fixed = f.read(16)
        if len(fixed) != 16:
            raise PickleError(f"{member}: truncated tensor record")
        ndim = struct.unpack("<i", fixed[8:12])[0]
        if not 0 <= ndim <= 64:
            raise PickleError(f"{member}: tensor with {ndim} dimensions")
        f.seek(16 * ndim + 8, io.SEEK_CUR)
