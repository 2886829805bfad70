"""``pickle``: pickle-family model files, judged without ever unpickling.

Files come here by content (``scanner.sources.sniff``), whatever they are named: raw pickles
(protocols 0-5, every stream in the file), joblib files (arrays written inline, nested
object-array pickles, zlib/gzip/bz2/xz/lzma compression), PyTorch zip checkpoints and
TorchScript archives (every member that is a pickle, plus ``code/`` scanning), the PyTorch
legacy stream and tar formats, and NumPy ``.npy``/``.npz`` files with object arrays. Weight bytes
are skipped by seeking. The walk itself is ``_pickle_scan``; each container format has its own
module.

Rules (``pickle.<rule>``):

- ``code-execution`` (critical): a global known to run code, reach files/network, or load more
  (also under another module's name: ``torch.nn.modules.conv.partial``).
- ``computed-global`` (critical): a ``STACK_GLOBAL`` whose name is only known at load time.
- ``module-object`` (critical): a module itself (``torch``, ``operator``, ``torch.nn.modules``).
- ``attribute-write`` (critical; high on an instance): BUILD writing attributes of a class,
  function or module, or special attributes (``__class__``) of an object.
- ``unknown-global`` (high): a global outside the exact allow-list (extend it with
  ``models.allow_globals`` in the policy, one exact name per entry).
- ``extension-opcode`` (high): ``EXT1/2/4`` codes resolve through the loader's copyreg table.
- ``polyglot`` (high): a pickle hidden in front of a zip that loaders read as a checkpoint.
- ``hidden-pickle`` (medium): a pickle in a zip member whose name does not say so.
- ``numpy-object-array`` (medium): an object array that needs ``allow_pickle=True``.
- ``nested-pickle`` (low): a pickle serialized inside another pickle's bytes.
- ``trailing-data`` (low): bytes after the last complete pickle that do not walk as one.
- ``torchscript-file-access`` (high) / ``torchscript-custom-op`` (medium): TorchScript code.
"""

from __future__ import annotations

import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import ClassVar

from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import AnalyzerContext, FileAnalyzer, Output
from scanner.analyzers.ml._common import (
    MODEL_MAX_SIZE,
    model_options,
    opt_int,
    sniffed_of,
)
from scanner.analyzers.ml._globals import GlobalPolicy
from scanner.analyzers.ml._pickle_ctx import PickleFormatError, ScanCtx
from scanner.analyzers.ml._pickle_scan import PickleWalker
from scanner.analyzers.ml._pickle_vm import DEFAULT_MAX_OPS, PickleError
from scanner.models import AnalyzerFailure, Skipped
from scanner.sources.sniff import ContentKind, Sniffed

__all__ = ["PickleAnalyzer", "PickleFormatError"]

_PICKLE_KINDS = frozenset(
    {
        ContentKind.PICKLE,
        ContentKind.TORCH_ZIP,
        ContentKind.TORCH_LEGACY_TAR,
        ContentKind.NUMPY,
        ContentKind.NPZ,
    }
)
# Names that say "pickle family": they decide only what the bytes cannot (a bzip2 stream too
# long to sniff inside) and how strictly a broken stream is judged.
_PICKLE_NAMES = (
    ".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth", ".ckpt", ".npy", ".npz", ".ptl",
    ".pt2", ".torchscript", ".sav", ".p", ".gpickle",
)  # fmt: skip
_COMPRESSED_SUFFIXES = ("", ".gz", ".xz", ".bz2", ".lzma", ".z", ".zlib")
_WALK_ERRORS = (
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
)


def _pickle_name(path: str) -> bool:
    low = path.lower()
    return any(low.endswith(n + c) for n in _PICKLE_NAMES for c in _COMPRESSED_SUFFIXES)


class PickleAnalyzer(FileAnalyzer):
    """Finds code-execution globals in pickle-family files without loading them."""

    name: ClassVar[str] = "pickle"
    version: ClassVar[int] = 2
    tags: ClassVar[frozenset[str]] = frozenset({"model"})
    content_kinds: ClassVar[frozenset[str]] = frozenset(k.value for k in _PICKLE_KINDS)
    max_size: ClassVar[int] = MODEL_MAX_SIZE

    def __init__(self) -> None:
        super().__init__()
        self._policy = GlobalPolicy()
        self._max_ops = DEFAULT_MAX_OPS
        self._max_decompressed = 8 * 1024**3
        self._walker = PickleWalker(self.name)

    def configure(self, ctx: AnalyzerContext) -> None:
        """Read ``allow_globals``/``deny_globals``/``max_pickle_ops`` from the policy."""
        super().configure(ctx)
        options = model_options(ctx)
        self._policy = GlobalPolicy.from_options(options)
        self._max_ops = opt_int(options, "max_pickle_ops", DEFAULT_MAX_OPS)
        self._max_decompressed = opt_int(options, "max_decompressed_bytes", 8 * 1024**3)

    def wants_content(self, path: str, size: int, sniffed: Sniffed) -> bool:
        """Pickle-family content, and compressed streams too long to sniff under such names."""
        if size > self.max_size:
            return False
        if sniffed.kind in _PICKLE_KINDS:
            return True
        return sniffed.kind is ContentKind.COMPRESSED and _pickle_name(path)

    def analyze(self, entry: FileEntry) -> Iterator[Output]:
        """Walk one file; findings name the file, the inner member and the global."""
        ctx = ScanCtx(entry, self._policy, self._max_ops, self._max_decompressed)
        what = sniffed_of(entry)
        # Content that announces itself (a protocol header, an npy or zip signature) must walk;
        # a protocol 0/1 guess may turn out to be other bytes, unless the name says pickle.
        strict = what.detail != "protocol 0/1" or _pickle_name(entry.path)
        f = entry.open()
        if isinstance(f, io.RawIOBase):  # a spooled file: buffer the opcode-sized reads
            f = io.BufferedReader(f, 1 << 16)
        try:
            handled = self._walker.scan_any(f, ctx, member="", depth=0, strict=strict)
        except _WALK_ERRORS as exc:
            ctx.out.append(
                AnalyzerFailure(self.name, f"cannot walk {entry.path}: {exc}", entry.location())
            )
            handled = True
        finally:
            f.close()
        if not handled:
            ctx.out.append(
                Skipped(
                    self.name,
                    f"looked like a pickle ({what.describe()}) but does not walk as one",
                    entry.location(),
                )
            )
        yield from ctx.out
