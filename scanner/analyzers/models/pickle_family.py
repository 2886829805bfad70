"""``pickle``: pickle-family model files, judged without ever unpickling.

Covers raw pickles (protocols 0-5, several in a row), joblib files (arrays written inline,
nested object-array pickles, zlib/gzip/bz2/xz compression), PyTorch zip checkpoints and
TorchScript archives (every ``*.pkl`` member, plus any member that turns out to be a pickle
whatever its name, plus ``code/`` scanning), the PyTorch legacy stream and tar formats, and
NumPy ``.npy``/``.npz`` files with object arrays. Weight bytes are skipped by seeking.

Rules (``pickle.<rule>``):

- ``code-execution`` (critical): a global known to run code, reach files/network, or load more.
- ``computed-global`` (critical): a ``STACK_GLOBAL`` whose name is only known at load time.
- ``unknown-global`` (high): a global outside the allow-list (extend it with
  ``models.allow_globals`` in the policy).
- ``extension-opcode`` (high): ``EXT1/2/4`` codes resolve through the loader's copyreg table.
- ``polyglot`` (high): a pickle hidden in front of a zip that loaders read as a checkpoint.
- ``hidden-pickle`` (medium): a pickle in a zip member whose name does not say so.
- ``numpy-object-array`` (medium): an object array that needs ``allow_pickle=True``.
- ``nested-pickle`` (low): a pickle serialized inside another pickle's bytes.
- ``trailing-data`` (low): bytes after the last pickle that no loader reads.
- ``torchscript-file-access`` (high) / ``torchscript-custom-op`` (medium): TorchScript code.
"""

from __future__ import annotations

import ast
import bz2
import io
import lzma
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, BinaryIO, ClassVar

from scanner.analyzers.interface import AnalyzerContext, FileAnalyzer, Output
from scanner.analyzers.models._common import (
    MODEL_MAX_SIZE,
    SliceReader,
    model_finding,
    model_options,
    opt_int,
)
from scanner.analyzers.models._globals import GlobalPolicy, GlobalVerdict
from scanner.analyzers.models._pickle_vm import (
    DEFAULT_MAX_OPS,
    BlobRef,
    Call,
    GlobalRef,
    PickleError,
    PickleScan,
    SymDict,
    looks_like_pickle,
    may_be_pickle,
    scan_pickle,
)
from scanner.models import AnalyzerFailure, Location, Severity, Skipped
from scanner.walk.entry import FileEntry

__all__ = ["PickleAnalyzer", "PickleFormatError"]

_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_NPY_MAGIC = b"\x93NUMPY"
_MAX_NESTING = 4
_MAX_ZIP_MEMBERS = 200_000
_MAX_CODE_BYTES = 16 * 1024**2
_IN_MEMORY = 256 * 1024**2
_MAX_BLOB = 1 << 48  # larger sizes are hostile and would overflow seek()
# Extensions whose files must be a pickle-family format: anything else there fails closed.
_STRICT_SUFFIXES = (
    ".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth", ".ckpt", ".npy", ".npz",
    ".pth.tar", ".pkl.gz", ".pkl.z", ".ptl", ".pt2", ".torchscript",
)  # fmt: skip
_STORAGE_ELEM = {
    "FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "BFloat16Storage": 2,
    "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1,
    "BoolStorage": 1, "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16,
    "QUInt8Storage": 1, "QInt8Storage": 1, "QInt32Storage": 4, "UntypedStorage": 1,
}  # fmt: skip
_STANDARD_OP_NAMESPACES = frozenset(
    {"aten", "prim", "quantized", "_quantized", "prepacked", "_caffe2", "profiler", "cuda",
     "ops", "torch", "quantized_decomposed", "mkldnn", "_c10d_functional", "c10d"}
)  # fmt: skip
_TS_FILE_ACCESS = re.compile(r"\b(?:from_file|_load_for_mobile|load_library|_save_for_mobile)\b")
_TS_OPS = re.compile(r"\bops\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)")


class PickleFormatError(Exception):
    """A file that must be pickle-family data cannot be walked: recorded as a failure."""


class _DecompressError(PickleFormatError):
    """Compressed data that does not decompress."""


@dataclass(slots=True)
class _Ctx:
    """Per-file scan state: where findings point and what was already reported."""

    entry: FileEntry
    policy: GlobalPolicy
    max_ops: int
    max_decompressed: int
    out: list[Output] = field(default_factory=list)
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def location(self) -> Location:
        return self.entry.location()


def _label(member: str) -> str:
    return member or "(file)"


class PickleAnalyzer(FileAnalyzer):
    """Finds code-execution globals in pickle-family model files without loading them."""

    name: ClassVar[str] = "pickle"
    parallel: ClassVar[bool] = True  # heavy: runs in a worker beside the walk
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"model"})
    patterns: ClassVar[tuple[str, ...]] = (
        "**/*.pkl", "**/*.pickle", "**/*.joblib", "**/*.dill", "**/*.pt", "**/*.pth",
        "**/*.ckpt", "**/*.npy", "**/*.npz", "**/*.sav", "**/*.bin", "**/*.pth.tar",
        "**/*.pkl.gz", "**/*.pkl.z", "**/*.ptl", "**/*.pt2", "**/*.torchscript", "**/*.mar",
        "**/*.p", "**/*.dat", "**/*.model", "**/*.pck", "**/*.pcl",
    )  # fmt: skip
    max_size: ClassVar[int] = MODEL_MAX_SIZE

    def __init__(self) -> None:
        super().__init__()
        self._policy = GlobalPolicy()
        self._max_ops = DEFAULT_MAX_OPS
        self._max_decompressed = 8 * 1024**3

    def configure(self, ctx: AnalyzerContext) -> None:
        """Read ``allow_globals``/``deny_globals``/``max_pickle_ops`` from the policy."""
        super().configure(ctx)
        options = model_options(ctx)
        self._policy = GlobalPolicy.from_options(options)
        self._max_ops = opt_int(options, "max_pickle_ops", DEFAULT_MAX_OPS)
        self._max_decompressed = opt_int(options, "max_decompressed_bytes", 8 * 1024**3)

    def analyze(self, entry: FileEntry) -> Iterator[Output]:
        """Walk one file; findings name the file, the inner member and the global."""
        ctx = _Ctx(entry, self._policy, self._max_ops, self._max_decompressed)
        strict = entry.path.lower().endswith(_STRICT_SUFFIXES)
        f = entry.open()
        if isinstance(f, io.RawIOBase):  # a spooled file: buffer the opcode-sized reads
            f = io.BufferedReader(f, 1 << 16)
        try:
            handled = self._scan_any(f, ctx, member="", depth=0, strict=strict)
        except (
            PickleError,
            PickleFormatError,
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            tarfile.TarError,
            EOFError,  # zipfile's reader on a truncated member
            zlib.error,
            lzma.LZMAError,
            NotImplementedError,  # zip compression methods Python cannot read
            RuntimeError,  # encrypted zip members: cannot be inspected, so not approved
            struct.error,
            OverflowError,
            # zipfile/tarfile internals on corrupt indexes (empty names, bad offsets, encodings)
            IndexError,
            KeyError,
            ValueError,
        ) as exc:
            ctx.out.append(
                AnalyzerFailure(self.name, f"cannot walk {entry.path}: {exc}", entry.location())
            )
            handled = True
        finally:
            f.close()
        if not handled and entry.path.lower().endswith((".pth.tar", ".mar", ".ckpt")):
            ctx.out.append(
                Skipped(self.name, "not a pickle, zip, tar or npy file", entry.location())
            )
        # Other opportunistic names (.bin, .dat, .model, .p) that hold something else are
        # simply not model files: no record, or a root filesystem would drown in them.
        yield from ctx.out

    # --- format dispatch -----------------------------------------------------------------

    def _scan_any(self, f: BinaryIO, ctx: _Ctx, *, member: str, depth: int, strict: bool) -> bool:
        """Detect the container format from content and walk it; False if it is none of ours."""
        if depth > _MAX_NESTING:
            raise PickleFormatError(f"{_label(member)}: containers nested deeper than {depth}")
        start = f.tell()
        head = f.read(512)
        f.seek(start)
        if head.startswith(_NPY_MAGIC):
            self._scan_npy(f, ctx, member=member, depth=depth)
            return True
        if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
            self._scan_zip(f, ctx, member=member, depth=depth)
            return True
        if len(head) >= 262 and head[257:262] == b"ustar":
            self._scan_legacy_tar(f, ctx, member=member)
            return True
        if _looks_like_text(head) and head[:1] not in (b"c", b"(", b"]", b"}", b")"):
            strict = False  # a text file under a model name (.pth path files, docs): not ours
        decompressor = _decompressor_for(head)
        if decompressor is not None:
            try:
                with decompressor(f, ctx.max_decompressed) as inner:
                    return self._scan_any(inner, ctx, member=member, depth=depth + 1, strict=strict)
            except _DecompressError:
                if strict:
                    raise
                return False  # bytes that only start like a compression header
        proto_header = len(head) >= 2 and head[0] == 0x80 and head[1] <= 5
        if proto_header or may_be_pickle(head[:64]):
            if not self._scan_lenient(f, ctx, member=member, depth=depth, strict=strict):
                return False
            if _is_zip(f):
                # A pickle in front of a zip: torch.load reads the zip, pickle.load the prefix.
                self._emit_polyglot(ctx, member)
                f.seek(0)
                self._scan_zip(f, ctx, member=member, depth=depth)
            return True
        if _is_zip(f):
            self._scan_zip(f, ctx, member=member, depth=depth)
            return True
        if strict:
            raise PickleFormatError(
                f"{_label(member)}: not a pickle, zip, tar or npy file (starts {head[:8]!r})"
            )
        return False

    # --- raw pickle streams --------------------------------------------------------------

    def _scan_lenient(
        self, f: BinaryIO, ctx: _Ctx, *, member: str, depth: int, strict: bool
    ) -> bool:
        """A file that opens with an unusual but valid opcode: a pickle only if it walks.

        When the walk fails, the globals it named before failing still count if they look like
        real dotted names (random bytes do not form identifiers up to a newline); otherwise the
        file is just not a pickle, unless its name says it must be one.
        """
        try:
            self._scan_pickle_stream(f, ctx, member=member, depth=depth)
        except PickleError as exc:
            partial = exc.partial
            named = [g for g in (partial.globals if partial else []) if _identifier_like(g)]
            if not named and not strict:
                return False
            if partial is not None:
                partial.globals = named
                self._report_globals(partial, ctx, member)
            raise
        return True

    def _scan_pickle_stream(self, f: BinaryIO, ctx: _Ctx, *, member: str, depth: int) -> None:
        """One or more pickles in a row (legacy torch writes five, then raw storage bytes)."""
        first = self._scan_one(f, ctx, member=member, depth=depth)
        if first.result == _TORCH_LEGACY_MAGIC:
            for _ in range(4):  # protocol version, sys_info, the object, storage keys
                self._scan_one(f, ctx, member=member, depth=depth)
            return  # what follows is raw storage data
        while True:
            pos = f.tell()
            head = f.read(64)
            if not head:
                return
            f.seek(pos)
            if not looks_like_pickle(head):
                self._emit_trailing(ctx, member, pos)
                return
            try:
                self._scan_one(f, ctx, member=member, depth=depth)
            except PickleError:
                self._emit_trailing(ctx, member, pos)
                return

    def _scan_one(self, f: BinaryIO, ctx: _Ctx, *, member: str, depth: int) -> PickleScan:
        """Walk one pickle, report its globals, and look inside its bytes constants."""

        def joblib_hook(obj: Call, state: object, stream: BinaryIO, scan: PickleScan) -> None:
            self._skip_joblib_array(obj, state, stream, ctx, member, depth)

        scan = scan_pickle(f, max_ops=ctx.max_ops, build_hook=joblib_hook)
        self._report_globals(scan, ctx, member)
        self._scan_nested(f, scan, ctx, member=member, depth=depth)
        f.seek(scan.end)
        return scan

    def _report_globals(self, scan: PickleScan, ctx: _Ctx, member: str) -> None:
        for g in scan.globals:
            if g.how == "EXT":
                rule, sev = "extension-opcode", Severity.HIGH
                what = f"extension code {g.name} (resolved through copyreg at load time)"
            elif not g.resolved:
                rule, sev = "computed-global", Severity.CRITICAL
                what = f"a global whose name is computed at load time ({g.module}.{g.name})"
            else:
                verdict = ctx.policy.classify(g.module, g.name)
                if verdict is GlobalVerdict.ALLOWED:
                    continue
                if verdict is GlobalVerdict.CRITICAL:
                    rule, sev = "code-execution", Severity.CRITICAL
                    what = f"{g.dotted}, which can run code or touch the system on load"
                else:
                    rule, sev = "unknown-global", Severity.HIGH
                    what = f"{g.dotted}, which is not on the model allow-list"
            key = (rule, member, g.dotted)
            if key in ctx.seen:
                continue
            ctx.seen.add(key)
            where = f"{ctx.entry.path}!{member}" if member else ctx.entry.path
            ctx.out.append(
                model_finding(
                    self.name,
                    rule,
                    sev,
                    f"Pickle in {where} imports {what}; do not load it, re-export the weights "
                    "(e.g. safetensors) or allow-list the global in the policy if it is trusted.",
                    ctx.location(),
                    f"{member}:{g.dotted}",
                    cwe=502,
                    properties={
                        "member": member,
                        "global": g.dotted,
                        "opcode": g.how,
                        "offset": g.offset,
                    },
                )
            )

    def _scan_nested(
        self, f: BinaryIO, scan: PickleScan, ctx: _Ctx, *, member: str, depth: int
    ) -> None:
        """Bytes constants that are themselves pickles or zips are walked too."""
        candidates: list[tuple[int, BinaryIO]] = []
        for offset, data in scan.small_bytes:
            if len(data) >= 4 and (looks_like_pickle(data[:64]) or data.startswith(b"PK\x03\x04")):
                candidates.append((offset, io.BytesIO(data)))
        candidates.extend(
            (ref.offset, _slice(f, ref))
            for ref in scan.blobs
            if looks_like_pickle(ref.prefix) or ref.prefix.startswith(b"PK\x03\x04")
        )
        for offset, stream in candidates:
            inner = f"{member}#bytes@{offset}"
            try:
                found = self._scan_any(stream, ctx, member=inner, depth=depth + 1, strict=False)
            except (PickleError, PickleFormatError, zipfile.BadZipFile):
                continue  # bytes that merely start like a pickle: data, not a nested stream
            if found:
                ctx.out.append(
                    model_finding(
                        self.name,
                        "nested-pickle",
                        Severity.LOW,
                        f"{ctx.entry.path}!{_label(member)} carries a serialized pickle or "
                        f"archive in a bytes constant at offset {offset}; it was scanned too.",
                        ctx.location(),
                        inner,
                        properties={"member": member, "offset": offset},
                    )
                )

    def _skip_joblib_array(
        self, obj: Call, state: object, f: BinaryIO, ctx: _Ctx, member: str, depth: int
    ) -> None:
        """joblib writes array bytes (or a nested pickle for object arrays) right after BUILD."""
        func = obj.func
        if not (isinstance(func, GlobalRef) and func.name == "NumpyArrayWrapper"):
            return
        if not isinstance(state, SymDict):
            raise PickleError("joblib NumpyArrayWrapper without a state dict")
        shape = state.get("shape")
        dtype = state.get("dtype")
        if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise PickleError("joblib array with an unreadable shape")
        descr = _dtype_descr(dtype)
        if descr is None:
            raise PickleError("joblib array with an unreadable dtype")
        if "O" in descr:
            # Object arrays are a whole pickle written inline: the classic hiding place.
            self._scan_one(f, ctx, member=f"{member}#joblib-object-array", depth=depth + 1)
            return
        itemsize = _itemsize(descr)
        if "numpy_array_alignment_bytes" in [k for k, _ in state.pairs]:
            pad = f.read(1)
            if len(pad) != 1:
                raise PickleError("truncated joblib array padding")
            f.seek(pad[0], io.SEEK_CUR)
        count = 1
        for d in shape:
            count *= d
        if count * itemsize > _MAX_BLOB:
            raise PickleError(f"joblib array of {count * itemsize} bytes")
        end = f.tell() + count * itemsize
        if count * itemsize:
            f.seek(end - 1)
            if len(f.read(1)) != 1:
                raise PickleError("truncated joblib array data")
        f.seek(end)

    # --- zip checkpoints, TorchScript, npz ---------------------------------------------------

    def _scan_zip(self, f: BinaryIO, ctx: _Ctx, *, member: str, depth: int) -> None:
        with zipfile.ZipFile(f) as zf:
            infos = zf.infolist()
            if len(infos) > _MAX_ZIP_MEMBERS:
                raise PickleFormatError(f"{_label(member)}: more than {_MAX_ZIP_MEMBERS} members")
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
                    self._scan_zip_member(zf, info, ctx, member=member, depth=depth)
            finally:
                ctx.policy = saved_policy

    def _scan_zip_member(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, ctx: _Ctx, *, member: str, depth: int
    ) -> None:
        name = info.filename
        inner = f"{member}/{name}" if member else name
        lower = name.lower()
        named_pickle = lower.endswith((".pkl", ".pickle", "_pkl"))
        head = _member_head(zf, info, 512)
        if named_pickle:
            self._scan_pickle_stream(_member(zf, info), ctx, member=inner, depth=depth + 1)
            return
        if head.startswith(_NPY_MAGIC):
            with _open_member(zf, info) as mf:
                self._scan_npy(_seekable(mf), ctx, member=inner, depth=depth + 1)
            return
        if ("/code/" in name or name.startswith("code/")) and lower.endswith(".py"):
            with _open_member(zf, info) as mf:
                self._scan_torchscript_code(mf.read(_MAX_CODE_BYTES), ctx, inner)
            return
        if head.startswith(b"PK\x03\x04"):
            with _open_member(zf, info) as mf:
                self._scan_zip(_seekable(mf), ctx, member=inner, depth=depth + 1)
            return
        if looks_like_pickle(head[:64]):
            # A pickle under a name that does not say so (misleading names are a known bypass).
            before = len(ctx.out)
            try:
                self._scan_pickle_stream(_member(zf, info), ctx, member=inner, depth=depth + 1)
            except PickleError:
                del ctx.out[before:]
                return  # weight bytes that happen to start like a pickle
            ctx.out.append(
                model_finding(
                    self.name,
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

    def _scan_torchscript_code(self, data: bytes, ctx: _Ctx, member: str) -> None:
        text = data.decode("utf-8", "replace")
        for m in _TS_FILE_ACCESS.finditer(text):
            key = ("torchscript-file-access", member, m.group(0))
            if key in ctx.seen:
                continue
            ctx.seen.add(key)
            line = text.count("\n", 0, m.start()) + 1
            ctx.out.append(
                model_finding(
                    self.name,
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
                    self.name,
                    "torchscript-custom-op",
                    Severity.MEDIUM,
                    f"TorchScript code {ctx.entry.path}!{member} calls custom operator {op}, "
                    "which needs a native library loaded on the device.",
                    ctx.location(),
                    f"{member}:{op}",
                    properties={"member": member, "op": op},
                )
            )

    # --- numpy -----------------------------------------------------------------------------

    def _scan_npy(self, f: BinaryIO, ctx: _Ctx, *, member: str, depth: int) -> None:
        start = f.tell()
        head = f.read(10)
        if len(head) < 10 or not head.startswith(_NPY_MAGIC):
            raise PickleFormatError(f"{_label(member)}: truncated .npy header")
        major = head[6]
        if major == 1:
            hlen = struct.unpack("<H", head[8:10])[0]
            hstart = start + 10
        elif major in (2, 3):
            hlen = struct.unpack("<I", head[8:10] + f.read(2))[0]
            hstart = start + 12
        else:
            raise PickleFormatError(f"{_label(member)}: unknown .npy version {major}")
        if hlen > 1 << 20:
            raise PickleFormatError(f"{_label(member)}: .npy header of {hlen} bytes")
        f.seek(hstart)
        raw = f.read(hlen)
        text = raw.decode("latin-1").strip()
        # Python 2 wrote long integers as "2L" in headers; numpy reads those files too.
        text = re.sub(r"\b(\d+)L\b", r"\1", text)
        try:
            header = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise PickleFormatError(f"{_label(member)}: .npy header is not a literal") from exc
        if not isinstance(header, dict) or "descr" not in header:
            raise PickleFormatError(f"{_label(member)}: .npy header lacks 'descr'")
        if not _descr_has_object(header["descr"]):
            return
        ctx.out.append(
            model_finding(
                self.name,
                "numpy-object-array",
                Severity.MEDIUM,
                f"{ctx.entry.path}!{_label(member)} holds a NumPy object array: loading it "
                "needs allow_pickle=True, which runs the pickle inside.",
                ctx.location(),
                f"{member}:object-array",
                cwe=502,
                properties={"member": member},
            )
        )
        f.seek(hstart + hlen)
        self._scan_pickle_stream(f, ctx, member=f"{member}#object-array", depth=depth + 1)

    # --- legacy torch tar --------------------------------------------------------------------

    def _scan_legacy_tar(self, f: BinaryIO, ctx: _Ctx, *, member: str) -> None:
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
                stream = _seekable(mf)
                if base in ("sys_info", "pickle") or base.endswith(".pkl"):
                    self._scan_pickle_stream(stream, ctx, member=inner, depth=1)
                elif base == "storages":
                    self._scan_legacy_storages(stream, ctx, inner)
                elif base == "tensors":
                    self._scan_legacy_tensors(stream, ctx, inner)
                elif looks_like_pickle(stream.read(64)):
                    stream.seek(0)
                    self._scan_pickle_stream(stream, ctx, member=inner, depth=1)

    def _scan_legacy_storages(self, f: BinaryIO, ctx: _Ctx, member: str) -> None:
        count = self._scan_one(f, ctx, member=member, depth=1).result
        if not isinstance(count, int) or count < 0:
            raise PickleError(f"{member}: storage count is not an integer")
        for _ in range(count):
            args = self._scan_one(f, ctx, member=member, depth=1).result
            stype = args[2] if isinstance(args, tuple) and len(args) == 3 else None
            if not isinstance(stype, GlobalRef) or stype.name not in _STORAGE_ELEM:
                raise PickleError(f"{member}: storage record without a known storage type")
            numel_raw = f.read(8)
            if len(numel_raw) != 8:
                raise PickleError(f"{member}: truncated storage size")
            numel = struct.unpack("<q", numel_raw)[0]
            if numel < 0 or numel > _MAX_BLOB:
                raise PickleError(f"{member}: storage of {numel} elements")
            f.seek(numel * _STORAGE_ELEM[stype.name], io.SEEK_CUR)

    def _scan_legacy_tensors(self, f: BinaryIO, ctx: _Ctx, member: str) -> None:
        count = self._scan_one(f, ctx, member=member, depth=1).result
        if not isinstance(count, int) or count < 0:
            raise PickleError(f"{member}: tensor count is not an integer")
        for _ in range(count):
            self._scan_one(f, ctx, member=member, depth=1)
            fixed = f.read(16)
            if len(fixed) != 16:
                raise PickleError(f"{member}: truncated tensor record")
            ndim = struct.unpack("<i", fixed[8:12])[0]
            if not 0 <= ndim <= 64:
                raise PickleError(f"{member}: tensor with {ndim} dimensions")
            f.seek(16 * ndim + 8, io.SEEK_CUR)

    # --- findings --------------------------------------------------------------------------

    def _emit_trailing(self, ctx: _Ctx, member: str, offset: int) -> None:
        ctx.out.append(
            model_finding(
                self.name,
                "trailing-data",
                Severity.LOW,
                f"{ctx.entry.path}!{_label(member)} has data after its last pickle (offset "
                f"{offset}) that pickle.load ignores; check what reads it.",
                ctx.location(),
                f"{member}:trailing",
                properties={"member": member, "offset": offset},
            )
        )

    def _emit_polyglot(self, ctx: _Ctx, member: str) -> None:
        ctx.out.append(
            model_finding(
                self.name,
                "polyglot",
                Severity.HIGH,
                f"{ctx.entry.path}!{_label(member)} is both a pickle and a zip: pickle.load and "
                "torch.load read different content; both were scanned.",
                ctx.location(),
                f"{member}:polyglot",
                cwe=434,
                properties={"member": member},
            )
        )


# --- helpers ---------------------------------------------------------------------------------


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


_TEXT_BYTES = bytes(range(0x20, 0x7F)) + b"\t\r\n\f" + bytes(range(0x80, 0x100))


def _looks_like_text(head: bytes) -> bool:
    """No control bytes other than whitespace: a text file (any 8-bit encoding), not a model."""
    return bool(head) and not head.translate(None, _TEXT_BYTES)


def _identifier_like(g: object) -> bool:
    module, name = getattr(g, "module", ""), getattr(g, "name", "")
    return bool(_IDENTIFIER.match(module)) and bool(_IDENTIFIER.match(name))


def _is_zip(f: BinaryIO) -> bool:
    pos = f.tell()
    try:
        return zipfile.is_zipfile(f)
    finally:
        f.seek(pos)


def _slice(f: BinaryIO, ref: BlobRef) -> BinaryIO:
    return io.BufferedReader(SliceReader(f, ref.offset, ref.length))


def _member_head(zf: zipfile.ZipFile, info: zipfile.ZipInfo, n: int) -> bytes:
    """The first ``n`` bytes of a member; stored members are read straight from the file.

    Checkpoints hold thousands of stored tensor members: building a ZipExtFile for each just to
    sniff a few bytes would dominate the scan.
    """
    fp = zf.fp
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1 or fp is None:
        with _open_member(zf, info) as mf:
            return mf.read(n)
    if info.header_offset < 0:
        raise zipfile.BadZipFile(f"negative header offset for {info.filename!r}")
    fp.seek(info.header_offset)
    local = fp.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename!r}")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    fp.seek(info.header_offset + 30 + name_len + extra_len)
    return fp.read(min(n, info.file_size))


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
    mf = _open_member(zf, info)
    if info.file_size <= _IN_MEMORY:
        with mf:
            return io.BytesIO(mf.read(_IN_MEMORY + 1))
    return _seekable(mf)


def _seekable(f: IO[bytes]) -> BinaryIO:
    """Members of zip/tar files: seekable already; buffer them for small reads."""
    if f.seekable():
        return f  # type: ignore[return-value]  # zip/tar member readers are binary streams
    raise PickleFormatError("member stream is not seekable")


def _dtype_descr(dtype: object) -> str | None:
    """The type string of a symbolic ``numpy.dtype(...)`` call."""
    if isinstance(dtype, Call) and isinstance(dtype.args, tuple) and dtype.args:
        first = dtype.args[0]
        if isinstance(first, str):
            state = dtype.state
            # Structured dtypes carry their fields in the BUILD state; any object field counts.
            if isinstance(state, tuple) and len(state) > 3 and state[3] is not None:
                return first + "|O" if _state_has_object(state[3]) else first + "|V"
            return first
    if isinstance(dtype, str):
        return dtype
    return None


def _state_has_object(fields: object) -> bool:
    if isinstance(fields, SymDict):
        return any(_state_has_object(v) for _, v in fields.pairs)
    if isinstance(fields, tuple):
        return any(_state_has_object(v) for v in fields)
    if isinstance(fields, Call):
        return _dtype_descr(fields) in (None, "O", "O8", "|O")
    return False


def _itemsize(descr: str) -> int:
    """Bytes per element of a simple NumPy type string (``<f8``, ``i4``, ``U10``...)."""
    if "|V" in descr[1:]:
        raise PickleError(f"joblib structured array of type {descr!r} cannot be sized safely")
    m = re.fullmatch(r"[<>|=]?([a-zA-Z])(\d*)(?:\[[a-z]+\])?", descr)
    if not m:
        raise PickleError(f"joblib array of unknown type {descr!r}")
    kind, digits = m.group(1), m.group(2)
    n = int(digits) if digits else 0
    if kind in "SaVc" or kind == "b" and n:
        return n if kind != "c" else (n or 1)
    if kind == "U":
        return 4 * n
    if kind == "?":
        return 1
    if kind in "fiuMmb":
        return n or {"f": 8, "i": 8, "u": 8, "b": 1, "M": 8, "m": 8}[kind]
    simple = {"e": 2, "d": 8, "g": 16, "h": 2, "H": 2, "l": 8, "L": 8, "q": 8, "Q": 8,
              "B": 1, "F": 8, "D": 16, "G": 32, "I": 4}  # fmt: skip
    if kind in simple:
        return simple[kind]
    raise PickleError(f"joblib array of unknown type {descr!r}")


def _descr_has_object(descr: object) -> bool:
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, list | tuple):
        return any(_descr_has_object(d) for d in descr)
    return False


class _ForwardDecompressor(io.RawIOBase):
    """Forward-only decompressed view (seeking back restarts), capped in output size."""

    def __init__(self, f: BinaryIO, limit: int, kind: str) -> None:
        self._src = f
        self._start = f.tell()
        self._kind = kind
        self._limit = limit
        self._reset()

    def _reset(self) -> None:
        self._src.seek(self._start)
        self._pos = 0
        self._buf = b""
        if self._kind == "zlib":
            self._d: zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor | None = (
                zlib.decompressobj()
            )
        elif self._kind == "gzip":
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._kind == "bz2":
            self._d = bz2.BZ2Decompressor()
        else:
            self._d = lzma.LZMADecompressor()
        self._eof = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def _fill(self, want: int) -> None:
        while len(self._buf) < want and not self._eof:
            chunk = self._src.read(1 << 20)
            assert self._d is not None
            if not chunk:
                self._eof = True
                break
            try:
                self._buf += self._d.decompress(chunk)
            except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
                raise _DecompressError(f"{self._kind} data does not decompress: {exc}") from exc
            if self._pos + len(self._buf) > self._limit:
                raise PickleFormatError(
                    f"decompressed data exceeds the {self._limit}-byte limit (zip bomb?)"
                )

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        self._fill(len(b))
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            raise OSError("cannot seek from the end of a compressed stream")
        if offset < self._pos:
            self._reset()
        while self._pos < offset:
            step = min(offset - self._pos, 1 << 20)
            self._fill(step)
            if not self._buf:
                break
            n = min(step, len(self._buf))
            self._buf = self._buf[n:]
            self._pos += n
        return self._pos


def _decompressor_for(head: bytes) -> type[_Decompressed] | None:
    if head.startswith(b"\x1f\x8b"):
        return _decompressed("gzip")
    if head.startswith(b"BZh"):
        return _decompressed("bz2")
    if head.startswith(b"\xfd7zXZ\x00") or head.startswith(b"\x5d\x00\x00"):
        return _decompressed("xz")
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return _decompressed("zlib")
    if head.startswith(b"ZF"):  # joblib < 0.10: "ZF" + 16-byte size, then zlib
        return _decompressed("zf")
    return None


class _Decompressed:
    """Context manager giving a buffered, capped decompressed view of ``f``."""

    kind: ClassVar[str] = "zlib"

    def __init__(self, f: BinaryIO, limit: int) -> None:
        kind = self.kind
        if kind == "zf":
            f.seek(f.tell() + 18)
            kind = "zlib"
        self._reader = io.BufferedReader(_ForwardDecompressor(f, limit, kind), 1 << 16)

    def __enter__(self) -> BinaryIO:
        return self._reader

    def __exit__(self, *exc: object) -> None:
        self._reader.close()


def _decompressed(kind: str) -> type[_Decompressed]:
    return type(f"_Decompressed_{kind}", (_Decompressed,), {"kind": kind})
