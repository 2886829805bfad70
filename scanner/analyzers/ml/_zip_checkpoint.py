"""Zip-based pickle-family files: PyTorch checkpoints, TorchScript archives, ``.npz``.

Every member that is a pickle is walked, whatever its name (``hidden-pickle`` when the name
does not say so), ``.npy`` members are checked for object arrays, nested zips are opened, and
TorchScript ``code/`` is searched for file access and custom operators. Zip CRCs and the
"encrypted"/"patched" flag bits are not trusted to decide anything: PyTorch's reader and other
loaders read such members anyway, so their raw bytes are walked.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from typing import IO, BinaryIO

from scanner.analyzers.ml._common import model_finding
from scanner.analyzers.ml._numpy_arrays import scan_npy
from scanner.analyzers.ml._pickle_ctx import (
    PickleFormatError,
    ScanCtx,
    Walker,
    label,
    seekable,
)
from scanner.analyzers.ml._pickle_vm import PickleError
from scanner.models import Severity
from scanner.sources.sniff import SNIFF_BYTES, ContentKind, sniff_head

__all__ = ["scan_zip"]

_MAX_ZIP_MEMBERS = 200_000
_MAX_CODE_BYTES = 16 * 1024**2
_IN_MEMORY = 256 * 1024**2
# Flag bits zipfile refuses (encrypted, patched, strong encryption) while other readers go on.
_REFUSED_FLAGS = 0x1 | 0x20 | 0x40
_STANDARD_OP_NAMESPACES = frozenset(
    {"aten", "prim", "quantized", "_quantized", "prepacked", "_caffe2", "profiler", "cuda",
     "ops", "torch", "quantized_decomposed", "mkldnn", "_c10d_functional", "c10d"}
)  # fmt: skip
_ZIP_KINDS = frozenset(
    {ContentKind.ZIP, ContentKind.TORCH_ZIP, ContentKind.NPZ, ContentKind.KERAS_ZIP}
)
_TS_FILE_ACCESS = re.compile(r"\b(?:from_file|_load_for_mobile|load_library|_save_for_mobile)\b")
_TS_OPS = re.compile(r"\bops\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)")


def scan_zip(walker: Walker, f: BinaryIO, ctx: ScanCtx, *, member: str, depth: int) -> None:
    """Walk every member of a zip checkpoint (TorchScript archives allow ``__torch__`` types)."""
    with zipfile.ZipFile(f) as zf:
        infos = zf.infolist()
        if len(infos) > _MAX_ZIP_MEMBERS:
            raise PickleFormatError(f"{label(member)}: more than {_MAX_ZIP_MEMBERS} members")
        names = [i.filename for i in infos]
        torchscript = any(
            "/code/" in n or n.startswith("code/") or n.endswith("constants.pkl") for n in names
        )
        policy = ctx.policy.with_torchscript() if torchscript else ctx.policy
        saved_policy, ctx.policy = ctx.policy, policy
        try:
            for info in infos:
                if info.is_dir():
                    continue
                _scan_zip_member(walker, zf, info, ctx, member=member, depth=depth)
        finally:
            ctx.policy = saved_policy


def _scan_zip_member(
    walker: Walker,
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    ctx: ScanCtx,
    *,
    member: str,
    depth: int,
) -> None:
    name = info.filename
    inner = f"{member}/{name}" if member else name
    lower = name.lower()
    named_pickle = lower.endswith((".pkl", ".pickle", "_pkl"))
    what = sniff_head(_member_head(zf, info, SNIFF_BYTES), name)
    if named_pickle:
        walker.scan_pickle_stream(_member(zf, info), ctx, member=inner, depth=depth + 1)
        return
    if what.kind is ContentKind.NUMPY and not what.compression:
        scan_npy(walker, _member(zf, info), ctx, member=inner, depth=depth + 1)
        return
    if ("/code/" in name or name.startswith("code/")) and lower.endswith(".py"):
        code = _member(zf, info).read(_MAX_CODE_BYTES)
        _scan_torchscript_code(walker, code, ctx, inner)
        return
    if what.kind in _ZIP_KINDS and not what.compression:
        scan_zip(walker, _member(zf, info), ctx, member=inner, depth=depth + 1)
        return
    if what.compression and what.kind in (ContentKind.PICKLE, ContentKind.NUMPY):
        walker.scan_any(_member(zf, info), ctx, member=inner, depth=depth + 1, strict=True)
        return
    if what.kind is ContentKind.PICKLE:
        # A pickle under a name that does not say so (misleading names are a known bypass).
        before = len(ctx.out)
        try:
            walker.scan_pickle_stream(_member(zf, info), ctx, member=inner, depth=depth + 1)
        except PickleError:
            del ctx.out[before:]
            return  # weight bytes that happen to start like a pickle
        ctx.out.append(
            model_finding(
                walker.name,
                "hidden-pickle",
                Severity.MEDIUM,
                f"{ctx.entry.path}!{inner} is a pickle although its name does not say so; "
                "loaders that pick members by content or name will execute it.",
                ctx.location(),
                inner,
                cwe=502,
                properties={"member": inner},
            )
        )


def _scan_torchscript_code(walker: Walker, data: bytes, ctx: ScanCtx, member: str) -> None:
    text = data.decode("utf-8", "replace")
    for m in _TS_FILE_ACCESS.finditer(text):
        key = ("torchscript-file-access", member, m.group(0))
        if key in ctx.seen:
            continue
        ctx.seen.add(key)
        line = text.count("\n", 0, m.start()) + 1
        ctx.out.append(
            model_finding(
                walker.name,
                "torchscript-file-access",
                Severity.HIGH,
                f"TorchScript code {ctx.entry.path}!{member} line {line} calls "
                f"{m.group(0)}, which reads or writes files or loads native code.",
                ctx.location(),
                f"{member}:{m.group(0)}",
                properties={"member": member, "op": m.group(0), "member_line": line},
            )
        )
    for m in _TS_OPS.finditer(text):
        ns = m.group(1)
        if ns in _STANDARD_OP_NAMESPACES:
            continue
        op = f"{ns}.{m.group(2)}"
        key = ("torchscript-custom-op", member, op)
        if key in ctx.seen:
            continue
        ctx.seen.add(key)
        ctx.out.append(
            model_finding(
                walker.name,
                "torchscript-custom-op",
                Severity.MEDIUM,
                f"TorchScript code {ctx.entry.path}!{member} calls custom operator {op}, "
                "which needs a native library loaded on the device.",
                ctx.location(),
                f"{member}:{op}",
                properties={"member": member, "op": op},
            )
        )


def _member_head(zf: zipfile.ZipFile, info: zipfile.ZipInfo, n: int) -> bytes:
    """The first ``n`` bytes of a member; stored members are read straight from the file.

    Checkpoints hold thousands of stored tensor members: building a ZipExtFile for each just to
    sniff a few bytes would dominate the scan.
    """
    if info.flag_bits & _REFUSED_FLAGS:
        return _raw_member(zf, info)[:n]
    if info.compress_type != zipfile.ZIP_STORED or zf.fp is None:
        with _open_member(zf, info) as mf:
            return mf.read(n)
    fp, start = _data_start(zf, info)
    fp.seek(start)
    return fp.read(min(n, info.file_size))


def _data_start(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[IO[bytes], int]:
    """The archive's file object and the offset of a member's data (after its local header)."""
    fp = zf.fp
    if fp is None:
        raise zipfile.BadZipFile("zip file is closed")
    if info.header_offset < 0:
        raise zipfile.BadZipFile(f"negative header offset for {info.filename!r}")
    fp.seek(info.header_offset)
    local = fp.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename!r}")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return fp, info.header_offset + 30 + name_len + extra_len


def _raw_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member whose flag bits make zipfile refuse it (encrypted, patched data), read as a
    lenient loader would: stored or deflated bytes taken as they are. Really encrypted content
    does not walk as anything and ends as a failure, never as a pass.
    """
    if info.file_size > _IN_MEMORY or info.compress_size > _IN_MEMORY:
        raise PickleFormatError(f"{info.filename}: flagged member too large to read raw")
    fp, start = _data_start(zf, info)
    fp.seek(start)
    data = fp.read(info.compress_size)
    if info.compress_type == zipfile.ZIP_STORED:
        return data
    if info.compress_type == zipfile.ZIP_DEFLATED:
        try:
            return zlib.decompressobj(-15).decompress(data, _IN_MEMORY)
        except zlib.error as exc:
            raise PickleFormatError(f"{info.filename}: flagged member does not inflate") from exc
    raise PickleFormatError(
        f"{info.filename}: flagged member with compression {info.compress_type}"
    )


def _open_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    """``zf.open`` without the CRC check (see ``_member``)."""
    mf = zf.open(info)
    mf._expected_crc = None  # type: ignore[attr-defined]  # a wrong CRC must not hide content
    return mf


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> BinaryIO:
    """A zip member as a fast, seekable stream; CRC is not trusted to decide anything.

    A wrong CRC makes zipfile raise while PyTorch's reader loads the member anyway (a reported
    scanner bypass), so the check is switched off: what matters is what a loader would execute.
    Members up to ``_IN_MEMORY`` bytes are read at once (byte-wise reads of a zip stream are slow).
    """
    if info.flag_bits & _REFUSED_FLAGS:
        return io.BytesIO(_raw_member(zf, info))
    mf = _open_member(zf, info)
    if info.file_size <= _IN_MEMORY:
        with mf:
            return io.BytesIO(mf.read(_IN_MEMORY + 1))
    return seekable(mf)
