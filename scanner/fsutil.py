"""Small filesystem helpers shared by every layer: atomic writes, full reads."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "read_full"]


@overload
@contextlib.contextmanager
def atomic_open(path: Path, mode: Literal["w"] = "w") -> Iterator[IO[str]]: ...
@overload
@contextlib.contextmanager
def atomic_open(path: Path, mode: Literal["wb"]) -> Iterator[IO[bytes]]: ...


@contextlib.contextmanager  # type: ignore[misc, unused-ignore]
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[str] | IO[bytes]]:
    """Write to a temporary file beside ``path`` and rename it into place only on success.

    A reader never sees a half-written file; on any error (or KeyboardInterrupt) the temporary
    file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        if mode == "wb":
            with os.fdopen(fd, "wb") as fb:
                yield fb
                fb.flush()
                os.fsync(fb.fileno())
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as ft:
                yield ft
                ft.flush()
                os.fsync(ft.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)


def read_full(stream: Any, view: memoryview) -> int:
    """Read from ``stream`` into ``view`` until it is full or the stream ends; bytes read.

    A short read is not the end of a pipe or a raw file (only an empty read is), so a caller
    that needs whole records (a frame, a part) gets fewer bytes only at the very end.
    """
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])
        if not n:
            break
        got += n
    return got
