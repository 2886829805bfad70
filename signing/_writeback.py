"""Start writing a large output file to disk while it is still being produced (internal).

A file written in one go and then ``fsync``-ed spends the whole flush at the end: about half a
second per GiB on the project's machine, during which nothing else happens. Asking the kernel
to start writing each completed window (Linux ``sync_file_range`` with
``SYNC_FILE_RANGE_WRITE``) overlaps that flush with the encryption still running, keeps the
page cache from filling with dirty pages, and leaves the final ``fsync`` little to do. The
pages stay cached, so a reader right after (the upload's digest pass) does not go to disk.

Where the call is not available (not Linux, or no C library to load), this does nothing and
the final ``fsync`` does all the work, as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Callable

__all__ = ["WINDOW", "Writeback"]

log = logging.getLogger(__name__)

WINDOW = 16 * 1024 * 1024
"""Bytes per writeback request; each request covers the window before the one just filled."""

_SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        fn = ctypes.CDLL(name, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


class Writeback:
    """Tracks how much of ``fd`` has been written and starts writeback window by window."""

    def __init__(self, fd: int, window: int = WINDOW) -> None:
        self._fd = fd
        self._window = window
        self._written = 0
        self._requested = 0  # everything before this offset has been handed to the kernel
        self._call = _sync_file_range()

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more were written; start writeback of windows now two behind."""
        self._written += nbytes
        if self._call is None:
            return
        # One window of slack: the window just written may still be being appended to by
        # the page cache, and asking for it now would make the next write wait for the disk.
        while self._requested + 2 * self._window <= self._written:
            if self._call(self._fd, self._requested, self._window, _SYNC_FILE_RANGE_WRITE) != 0:
                # Not fatal (a file system that refuses it): the final fsync flushes anyway.
                log.debug("sync_file_range failed (errno %d); relying on fsync", ctypes.get_errno())
                self._call = None
                return
            self._requested += self._window
