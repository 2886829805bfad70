"""The symbolic values the pickle machine (``_pickle_vm``) computes with, and what it reports.

Frozen records of what a pickle would import (``GlobalRef``, ``PickleGlobal``), call
(``Call``), reference (``BlobRef``) or could not know (``Unknown``), and the walk's result
(``PickleScan``). Nothing here imports or calls anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "AttributeWrite",
    "BlobRef",
    "Call",
    "GlobalRef",
    "PickleError",
    "PickleGlobal",
    "PickleScan",
    "SymDict",
    "Unknown",
]


class PickleError(Exception):
    """The byte stream is not a well-formed pickle (truncated, unknown opcode, bad stack).

    ``partial`` holds what the walk saw before it failed (globals named so far).
    """

    partial: PickleScan | None = None


@dataclass(frozen=True, slots=True)
class GlobalRef:
    """A symbolic global (``module.name``) as the unpickler would import it."""

    module: str
    name: str

    @property
    def dotted(self) -> str:
        """``module.name``."""
        return f"{self.module}.{self.name}"


@dataclass(slots=True)
class Call:
    """The symbolic result of calling ``func`` (REDUCE, NEWOBJ, OBJ, INST)."""

    func: object
    args: object
    state: object = None


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A long bytes/str constant left in the stream: where it is and how it starts."""

    offset: int
    length: int
    prefix: bytes


class Unknown:
    """A value the symbolic machine cannot know (persistent ids, extension codes, buffers)."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"Unknown({self.what})"


@dataclass(slots=True)
class SymDict:
    """A dict of symbolic values (keys may be unhashable, so pairs are kept in order)."""

    pairs: list[tuple[object, object]] = field(default_factory=list)

    def get(self, key: object, default: object = None) -> object:
        """Last value set for ``key`` (comparison by equality)."""
        for k, v in reversed(self.pairs):
            if type(k) is type(key) and k == key:
                return v
        return default


@dataclass(frozen=True, slots=True)
class PickleGlobal:
    """One global the pickle names.

    ``how`` is the opcode (``GLOBAL``, ``INST``, ``STACK_GLOBAL``); ``resolved`` is False when
    the name could not be computed statically (then ``module``/``name`` describe what is known).
    """

    module: str
    name: str
    offset: int
    how: str
    resolved: bool = True

    @property
    def dotted(self) -> str:
        """``module.name``."""
        return f"{self.module}.{self.name}"


@dataclass(frozen=True, slots=True)
class AttributeWrite:
    """A BUILD that writes attributes of something other than a freshly made instance.

    ``target`` is the global whose attributes are written (a class, function or module
    object), or ``None`` when the target is an instance but the state names dunder attributes
    (``__class__``, ``__dict__``...). ``attrs`` lists the attribute names the state sets.
    """

    offset: int
    target: GlobalRef | None
    attrs: tuple[str, ...]


@dataclass(slots=True)
class PickleScan:
    """What one pickle walk found."""

    globals: list[PickleGlobal] = field(default_factory=list)
    protocol: int = 0
    start: int = 0
    end: int = 0  # offset just after STOP
    opcodes: int = 0
    blobs: list[BlobRef] = field(default_factory=list)  # bytes constants (nested pickle candidates)
    small_bytes: list[tuple[int, bytes]] = field(default_factory=list)
    extensions: list[tuple[int, int]] = field(default_factory=list)  # (offset, code)
    persistent_ids: int = 0
    attribute_writes: list[AttributeWrite] = field(default_factory=list)
    result: object = None  # the symbolic value left by STOP
