"""State shared by the pickle-family walkers: the per-file context, errors and stream helpers.

The pickle analyzer (``pickle_family``) walks several container formats, one module each
(``_zip_checkpoint``, ``_numpy_arrays``, ``_torch_legacy``, ``_decompress``); they all report
into one ``ScanCtx`` and raise ``PickleFormatError`` for content they cannot walk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, BinaryIO, Protocol

from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import Output
from scanner.analyzers.ml._globals import GlobalPolicy
from scanner.models import Location

if TYPE_CHECKING:
    from scanner.analyzers.ml._pickle_vm import PickleScan

__all__ = ["PickleFormatError", "ScanCtx", "Walker", "identifier_like", "label", "seekable"]

MAX_BLOB = 1 << 48  # larger sizes are hostile and would overflow seek()


class PickleFormatError(Exception):
    """A file that must be pickle-family data cannot be walked: recorded as a failure."""


@dataclass(slots=True)
class ScanCtx:
    """Per-file scan state: where findings point and what was already reported."""

    entry: FileEntry
    policy: GlobalPolicy
    max_ops: int
    max_decompressed: int
    out: list[Output] = field(default_factory=list)
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def location(self) -> Location:
        """Where this file's findings point."""
        return self.entry.location()

    def where(self, member: str) -> str:
        """``path!member`` (or the path alone) for messages."""
        return f"{self.entry.path}!{member}" if member else self.entry.path

    def first_time(self, key: tuple[str, str, str]) -> bool:
        """Whether ``key`` (rule, member, evidence) is reported for the first time."""
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class Walker(Protocol):
    """What a container-format module calls back into: the pickle walk itself."""

    name: str

    def scan_any(self, f: BinaryIO, ctx: ScanCtx, *, member: str, depth: int, strict: bool) -> bool:
        """Detect a container format from content and walk it; False if none of ours."""

    def scan_pickle_stream(self, f: BinaryIO, ctx: ScanCtx, *, member: str, depth: int) -> None:
        """Walk every pickle in a stream, to its end."""

    def scan_one(self, f: BinaryIO, ctx: ScanCtx, *, member: str, depth: int) -> PickleScan:
        """Walk exactly one pickle and report it."""


def label(member: str) -> str:
    """A member name for messages (``(file)`` for the file itself)."""
    return member or "(file)"


def seekable(f: IO[bytes]) -> BinaryIO:
    """Members of zip/tar files: seekable already; anything else cannot be walked."""
    if f.seekable():
        return f  # type: ignore[return-value]  # zip/tar member readers are binary streams
    raise PickleFormatError("member stream is not seekable")


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


def identifier_like(g: object) -> bool:
    """A global whose module and name read like Python names (random bytes rarely do)."""
    module, name = getattr(g, "module", ""), getattr(g, "name", "")
    return bool(_IDENTIFIER.match(module)) and bool(_IDENTIFIER.match(name))
