"""The pickle walk behind the ``pickle`` analyzer: every stream in a file, to its end.

``PickleWalker`` sniffs what a stream is (``scanner.sources.sniff``) and walks it: raw pickles
(each one after another until the data ends, whatever the next one starts with: ``pickle.load``
called again runs it), compressed streams, zip checkpoints, ``.npy``, legacy PyTorch tars, and
pickles hidden in bytes constants. It reports globals (``_globals``), module objects, attribute
writes and trailing data; the container formats live in their own modules and call back here.
"""

from __future__ import annotations

import io
import zipfile
from typing import BinaryIO

from scanner.analyzers.ml._common import SliceReader, model_finding
from scanner.analyzers.ml._decompress import DecompressError, decompressor_for
from scanner.analyzers.ml._globals import GlobalVerdict
from scanner.analyzers.ml._numpy_arrays import scan_npy, skip_joblib_array
from scanner.analyzers.ml._pickle_ctx import (
    PickleFormatError,
    ScanCtx,
    identifier_like,
    label,
)
from scanner.analyzers.ml._pickle_sniff import looks_like_pickle
from scanner.analyzers.ml._pickle_vm import (
    BlobRef,
    Call,
    PickleError,
    PickleScan,
    scan_pickle,
)
from scanner.analyzers.ml._torch_legacy import TORCH_LEGACY_MAGIC, scan_legacy_tar
from scanner.analyzers.ml._zip_checkpoint import scan_zip
from scanner.models import Severity
from scanner.sources.sniff import SNIFF_BYTES, ContentKind, sniff_head

__all__ = ["PickleWalker"]

_MAX_NESTING = 4
_ZIP_KINDS = frozenset(
    {ContentKind.ZIP, ContentKind.TORCH_ZIP, ContentKind.NPZ, ContentKind.KERAS_ZIP}
)
_TAR_KINDS = frozenset({ContentKind.TAR, ContentKind.TORCH_LEGACY_TAR})


class PickleWalker:
    """Walks pickle-family streams and reports what a loader would import and run."""

    def __init__(self, name: str) -> None:
        self.name = name

    # --- format dispatch -----------------------------------------------------------------------

    def scan_any(self, f: BinaryIO, ctx: ScanCtx, *, member: str, depth: int, strict: bool) -> bool:
        """Sniff the stream's format and walk it; False if it is none of ours."""
        if depth > _MAX_NESTING:
            raise PickleFormatError(f"{label(member)}: containers nested deeper than {depth}")
        start = f.tell()
        head = f.read(SNIFF_BYTES)
        f.seek(start)
        what = sniff_head(head, member or ctx.entry.path)
        if not what.compression:
            if what.kind is ContentKind.NUMPY:
                scan_npy(self, f, ctx, member=member, depth=depth)
                return True
            if what.kind in _ZIP_KINDS:
                scan_zip(self, f, ctx, member=member, depth=depth)
                return True
            if what.kind in _TAR_KINDS:
                scan_legacy_tar(self, f, ctx, member=member)
                return True
        if what.compression:
            return self._scan_compressed(f, ctx, head, member=member, depth=depth, strict=strict)
        if what.kind is ContentKind.PICKLE:
            if not self._scan_lenient(f, ctx, member=member, depth=depth, strict=strict):
                return False
            if _is_zip(f):
                # A pickle in front of a zip: torch.load reads the zip, pickle.load the prefix.
                self._emit_polyglot(ctx, member)
                f.seek(start)
                scan_zip(self, f, ctx, member=member, depth=depth)
            return True
        if _is_zip(f):  # data in front of a zip (self-extracting layout): loaders find the zip
            scan_zip(self, f, ctx, member=member, depth=depth)
            return True
        if strict:
            raise PickleFormatError(
                f"{label(member)}: not a pickle, zip, tar or npy file ({what.describe()}, "
                f"starts {head[:8]!r})"
            )
        return False

    def _scan_compressed(
        self, f: BinaryIO, ctx: ScanCtx, head: bytes, *, member: str, depth: int, strict: bool
    ) -> bool:
        decompressor = decompressor_for(head)
        if decompressor is None:
            if strict:
                raise PickleFormatError(f"{label(member)}: compression this walk cannot read")
            return False
        try:
            with decompressor(f, ctx.max_decompressed) as inner:
                return self.scan_any(inner, ctx, member=member, depth=depth + 1, strict=strict)
        except DecompressError:
            if strict:
                raise
            return False  # bytes that only start like a compression header

    # --- raw pickle streams --------------------------------------------------------------------

    def _scan_lenient(
        self, f: BinaryIO, ctx: ScanCtx, *, member: str, depth: int, strict: bool
    ) -> bool:
        """A stream that sniffs as a pickle: a pickle only if it walks (or must be one).

        When the walk fails, the globals it named before failing still count if they look like
        real dotted names (random bytes do not form identifiers up to a newline); otherwise the
        stream is just not a pickle, unless it must be one.
        """
        try:
            self.scan_pickle_stream(f, ctx, member=member, depth=depth)
        except PickleError as exc:
            partial = exc.partial
            named = [g for g in (partial.globals if partial else []) if identifier_like(g)]
            if not named and not strict:
                return False
            if partial is not None:
                partial.globals = named
                self._report(partial, ctx, member)
            raise
        return True

    def scan_pickle_stream(self, f: BinaryIO, ctx: ScanCtx, *, member: str, depth: int) -> None:
        """Every pickle in the stream, one after another, to the end of the data.

        ``pickle.load`` called twice on a file reads the second pickle whatever its first
        opcode, and runs what it names up to the point where it breaks: so each further
        stream is walked, and what a broken one named before breaking is reported too.
        Legacy PyTorch files write five pickles, then raw storage bytes.
        """
        first = self.scan_one(f, ctx, member=member, depth=depth)
        if first.result == TORCH_LEGACY_MAGIC:
            for _ in range(4):  # protocol version, sys_info, the object, storage keys
                self.scan_one(f, ctx, member=member, depth=depth)
            return  # what follows is raw storage data
        while True:
            pos = f.tell()
            head = f.read(8)
            if not head:
                return
            f.seek(pos)
            if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
                return  # a zip after the pickle: the caller reports the polyglot
            try:
                self.scan_one(f, ctx, member=member, depth=depth)
            except PickleError as exc:
                partial = exc.partial
                if partial is not None:
                    partial.globals = [g for g in partial.globals if identifier_like(g)]
                    self._report(partial, ctx, member)
                self._emit_trailing(ctx, member, pos, str(exc))
                return

    def scan_one(self, f: BinaryIO, ctx: ScanCtx, *, member: str, depth: int) -> PickleScan:
        """Walk one pickle, report what it does, and look inside its bytes constants."""

        def joblib_hook(obj: Call, state: object, stream: BinaryIO, scan: PickleScan) -> None:
            skip_joblib_array(self, obj, state, stream, ctx, member, depth)

        scan = scan_pickle(f, max_ops=ctx.max_ops, build_hook=joblib_hook)
        self._report(scan, ctx, member)
        self._scan_nested(f, scan, ctx, member=member, depth=depth)
        f.seek(scan.end)
        return scan

    # --- what a pickle does ----------------------------------------------------------------------

    def _report(self, scan: PickleScan, ctx: ScanCtx, member: str) -> None:
        self._report_globals(scan, ctx, member)
        self._report_attribute_writes(scan, ctx, member)

    def _report_globals(self, scan: PickleScan, ctx: ScanCtx, member: str) -> None:
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
                elif verdict is GlobalVerdict.MODULE:
                    rule, sev = "module-object", Severity.CRITICAL
                    what = (
                        f"the module object {g.dotted}, through which every attribute of "
                        "that module can be read or rewritten"
                    )
                else:
                    rule, sev = "unknown-global", Severity.HIGH
                    what = f"{g.dotted}, which is not on the model allow-list"
            if not ctx.first_time((rule, member, g.dotted)):
                continue
            ctx.out.append(
                model_finding(
                    self.name,
                    rule,
                    sev,
                    f"Pickle in {ctx.where(member)} imports {what}; do not load it, re-export "
                    "the weights (e.g. safetensors) or allow-list the exact global in the "
                    "policy if it is trusted.",
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

    def _report_attribute_writes(self, scan: PickleScan, ctx: ScanCtx, member: str) -> None:
        for w in scan.attribute_writes:
            attrs = ", ".join(w.attrs[:8]) or "(no named attributes)"
            if w.target is not None:
                target = w.target.dotted
                sev = Severity.CRITICAL
                what = (
                    f"sets attributes ({attrs}) of {target} itself, a class, function or module "
                    "the whole process shares, not of a new object: loading it changes how "
                    "other code behaves"
                )
            else:
                target = "(instance)"
                sev = Severity.HIGH
                what = (
                    f"sets special attributes ({attrs}) on an object as it is rebuilt, which "
                    "changes its class or behaviour"
                )
            if not ctx.first_time(("attribute-write", member, f"{target}:{attrs}")):
                continue
            ctx.out.append(
                model_finding(
                    self.name,
                    "attribute-write",
                    sev,
                    f"Pickle in {ctx.where(member)} {what}; do not load it.",
                    ctx.location(),
                    f"{member}:{target}:{attrs}",
                    cwe=502,
                    properties={
                        "member": member,
                        "target": target,
                        "attributes": list(w.attrs[:32]),
                        "offset": w.offset,
                    },
                )
            )

    def _scan_nested(
        self, f: BinaryIO, scan: PickleScan, ctx: ScanCtx, *, member: str, depth: int
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
                found = self.scan_any(stream, ctx, member=inner, depth=depth + 1, strict=False)
            except (PickleError, PickleFormatError, zipfile.BadZipFile):
                continue  # bytes that merely start like a pickle: data, not a nested stream
            if found:
                ctx.out.append(
                    model_finding(
                        self.name,
                        "nested-pickle",
                        Severity.LOW,
                        f"{ctx.entry.path}!{label(member)} carries a serialized pickle or "
                        f"archive in a bytes constant at offset {offset}; it was scanned too.",
                        ctx.location(),
                        inner,
                        properties={"member": member, "offset": offset},
                    )
                )

    # --- findings about the stream itself ---------------------------------------------------------

    def _emit_trailing(self, ctx: ScanCtx, member: str, offset: int, why: str) -> None:
        ctx.out.append(
            model_finding(
                self.name,
                "trailing-data",
                Severity.LOW,
                f"{ctx.entry.path}!{label(member)} has data after its last complete pickle "
                f"(offset {offset}) that does not walk as a pickle ({why[:120]}); it was read "
                "as far as a loader would, check what reads the rest.",
                ctx.location(),
                f"{member}:trailing",
                properties={"member": member, "offset": offset},
            )
        )

    def _emit_polyglot(self, ctx: ScanCtx, member: str) -> None:
        ctx.out.append(
            model_finding(
                self.name,
                "polyglot",
                Severity.HIGH,
                f"{ctx.entry.path}!{label(member)} is both a pickle and a zip: pickle.load and "
                "torch.load read different content; both were scanned.",
                ctx.location(),
                f"{member}:polyglot",
                cwe=434,
                properties={"member": member},
            )
        )


def _is_zip(f: BinaryIO) -> bool:
    pos = f.tell()
    try:
        return zipfile.is_zipfile(f)
    finally:
        f.seek(pos)


def _slice(f: BinaryIO, ref: BlobRef) -> BinaryIO:
    return io.BufferedReader(SliceReader(f, ref.offset, ref.length))
