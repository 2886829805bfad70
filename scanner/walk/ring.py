"""``Ring``: shared memory the walk copies files' bytes into and an analyzer worker copies out.

Handing a file to a worker through a pickled pipe copies its bytes four times (into the pickle,
into the kernel, out of it, into the unpickled object) and wakes both processes per 64 KiB the
socket holds: on a stock Debian image (365 MiB in 18,800 files) that was about a CPU-second,
between the two processes, of a scan that has two cores. Through the ring a file's bytes are
copied twice (in here, out there) and the pipe carries only their place (``benchmarks/scan.py``).

The ring is a ``memfd`` (anonymous shared memory, freed when both ends close it) passed to the
worker over the pipe's socket (``socket.send_fds``). Its first 8 bytes say how far the worker
has copied out (a count that only grows); the walk reserves space behind that and, when the
ring is full, sleeps on a pipe the worker writes a byte to as it gives space back (the
worker's death checked between sleeps). Files bigger than ``MAX_FILE`` travel
in pieces, each sent (and copied out, and its space given back) on its own, and the worker
joins them: the ring never has to hold more than a batch of small files or one piece.

Example::

    ring = Ring.create(8 << 20)              # the scanning side; None where there is no memfd
    place = ring.put(data, wait=lambda: True) # (offset, length), sent in the batch
    # the worker's side, with the descriptors ring.for_worker() sent it:
    view = Ring.attach(fds)
    data = view.take(place); view.release(end)
"""

from __future__ import annotations

import contextlib
import mmap
import os
import select
import socket
import struct
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection

__all__ = ["HEADER", "MAX_FILE", "RING_BYTES", "Ring", "receive_ring", "send_ring"]

RING_BYTES = 8 * 1024 * 1024  # shared memory: counted in both processes' RSS once touched
MAX_FILE = 1024 * 1024  # bigger files travel in pieces of this size
HEADER = 64  # the copied-out count, on its own cache line
_COUNT = struct.Struct("<Q")


class Ring:
    """One direction of shared memory: the scanning side puts, the worker takes.

    A pipe goes with it: the worker writes a byte to it each time it gives space back, so that
    the scanning side, when the ring is full, sleeps until then (``wait_for_space``) instead of
    polling.
    """

    def __init__(self, fd: int, size: int, wake_r: int = -1, wake_w: int = -1) -> None:
        self.fd = fd
        self.size = size
        self._map = mmap.mmap(fd, HEADER + size)
        self.written = 0  # bytes reserved so far, wrap-around waste included (scanning side)
        self._wake_r = wake_r  # the scanning side's end of the pipe
        self._wake_w = wake_w  # the worker's end (the scanning side's until it is sent)

    @classmethod
    def create(cls, size: int | None = None) -> Ring | None:
        """A new ring (``RING_BYTES`` by default), or ``None`` where the system has no
        ``memfd_create`` (not Linux)."""
        if not hasattr(os, "memfd_create"):
            return None
        size = size or RING_BYTES
        fd = os.memfd_create("panorama-gate-ring", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, HEADER + size)
            wake_r, wake_w = os.pipe()
        except OSError:
            os.close(fd)
            raise
        os.set_blocking(wake_r, False)
        return cls(fd, size, wake_r, wake_w)

    @classmethod
    def attach(cls, fds: list[int]) -> Ring:
        """The worker's view of a ring whose descriptors (``for_worker``) it received."""
        fd, wake_w = fds
        os.set_blocking(wake_w, False)
        return cls(fd, os.fstat(fd).st_size - HEADER, -1, wake_w)

    def for_worker(self) -> list[int]:
        """The descriptors to send the worker (then ``sent``)."""
        return [self.fd, self._wake_w]

    def sent(self) -> None:
        """The worker has its descriptors: close the pipe's far end here."""
        if self._wake_w != -1:
            os.close(self._wake_w)
            self._wake_w = -1

    def copied(self) -> int:
        """How far the worker has copied out (the count it last released)."""
        return int(_COUNT.unpack_from(self._map, 0)[0])

    def backlog(self) -> int:
        """Bytes put but not yet copied out."""
        return self.written - self.copied()

    def put(self, data: bytes | memoryview, wait: Callable[[], bool]) -> tuple[int, int] | None:
        """Copy ``data`` (at most ``size`` bytes) in; its ``(offset, length)``. ``wait`` is
        called while the ring is full (it sleeps a little and says whether to go on); ``None``
        when it said not to."""
        n = len(data)
        if n > self.size:
            raise ValueError(f"{n} bytes do not fit a ring of {self.size}")
        pos = self.written % self.size
        skip = self.size - pos if pos + n > self.size else 0  # a file never wraps
        need = skip + n
        # the new bytes must not reach the oldest byte not yet copied out (none: the ring is
        # empty, and any file up to its size fits at the start of the next lap)
        while (copied := self.copied()) < self.written and self.written + need - copied > self.size:
            if not wait():
                return None
        start = (self.written + skip) % self.size
        self._map[HEADER + start : HEADER + start + n] = data
        self.written += need
        return start, n

    def take(self, place: tuple[int, int]) -> bytes:
        """The bytes at ``place`` (the worker's side), copied out."""
        start, n = place
        return self._map[HEADER + start : HEADER + start + n]

    def release(self, end: int) -> None:
        """Say that everything put before ``end`` (a ``written`` count) is copied out, and
        wake the scanning side if it waits (the pipe full means it has wake-ups to read)."""
        _COUNT.pack_into(self._map, 0, end)
        if self._wake_w != -1:
            with contextlib.suppress(BlockingIOError, BrokenPipeError):
                os.write(self._wake_w, b"\0")

    def wait_for_space(self, timeout: float) -> None:
        """Sleep until the worker gives space back (or ``timeout`` seconds pass); a wake-up
        from before only makes the caller look again."""
        ready, _, _ = select.select([self._wake_r], [], [], timeout)
        if ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 65536)

    def close(self) -> None:
        """Unmap and close this end (the memory goes when both ends are closed)."""
        self._map.close()
        for fd in (self.fd, self._wake_r, self._wake_w):
            if fd != -1:
                os.close(fd)
        self._wake_r = self._wake_w = -1


@contextlib.contextmanager
def _socket_of(conn: Connection) -> Iterator[socket.socket]:
    # the pipe to a worker is a socket pair: descriptors travel over it (SCM_RIGHTS)
    sock = socket.socket(fileno=os.dup(conn.fileno()))
    try:
        yield sock
    finally:
        sock.close()


def send_ring(conn: Connection, ring: Ring | None) -> None:
    """Pass the ring's descriptors to the worker at the other end of ``conn`` (``b"N"`` and
    none when there is no ring). Sent right after the worker says it is ready, before any
    batch; the worker reads it with ``receive_ring``."""
    with _socket_of(conn) as sock:
        if ring is None:
            sock.sendall(b"N")
            return
        socket.send_fds(sock, [b"R"], ring.for_worker())
    ring.sent()


def receive_ring(conn: Connection) -> Ring | None:
    """The worker's side of ``send_ring``: its view of the ring, or ``None``."""
    with _socket_of(conn) as sock:
        _, fds, _, _ = socket.recv_fds(sock, 1, 2)
    return Ring.attach(fds) if fds else None
