"""Small filesystem helpers shared by every layer: atomic writes, full reads."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

__all__ = [
    "PRIVATE",
    "PUBLIC",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_full",
]


# Files written private (0600 whatever the umask) because they may carry what a scan saw:
# the cache (findings, component inventories of private applications). Reports are written
# with the umask like any other output: they never hold a secret (messages are redacted), and
# a report written in the tool's container must be readable by the CI user on the host.
PRIVATE = 0o600
PUBLIC = 0o666  # the umask decides, as for any program's output


@overload
@contextlib.contextmanager
def atomic_open(
    path: Path, mode: Literal["w"] = "w", *, private: bool = False
) -> Iterator[IO[str]]: ...
@overload
@contextlib.contextmanager
def atomic_open(
    path: Path, mode: Literal["wb"], *, private: bool = False
) -> Iterator[IO[bytes]]: ...


@contextlib.contextmanager  # type: ignore[misc, unused-ignore]
def atomic_open(
    path: Path, mode: str = "w", *, private: bool = False
) -> Iterator[IO[str] | IO[bytes]]:
    """Write to a temporary file beside ``path`` and rename it into place only on success.

    A reader never sees a half-written file; on any error (or KeyboardInterrupt) the temporary
    file is removed and ``path`` is left as it was. The file gets the process umask (0644
    under the usual 022), or 0600 when ``private``.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = _create_temp(parent, path.name, PRIVATE if private else PUBLIC)
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


def _create_temp(parent: Path, name: str, perms: int) -> tuple[int, str]:
    """A new, exclusive temporary file in ``parent`` created with ``perms`` (umask applied).

    Not ``tempfile.mkstemp``, which always creates 0600: the kernel applies the umask to the
    mode given to ``open``, without reading or changing the process umask (which is not
    thread-safe).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = str(parent / f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, perms), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{parent}: no free temporary name for {name}")


def atomic_write_bytes(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (umask applied, or 0600 when ``private``)."""
    with atomic_open(path, "wb", private=private) as f:
        f.write(data)


def atomic_write_text(path: Path, text: str, *, private: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (umask applied, or 0600 when ``private``)."""
    with atomic_open(path, "w", private=private) as f:
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
