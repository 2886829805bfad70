"""Analyzers in a worker process: the walk hands each wanted file's bytes over, in batches.

Python analyzers hold the GIL, so threads cannot run them beside the walk. A worker process
can: the walk (decompression, tar headers, digests, the package inventory) stays in the
scanning process and the heavy file analyzers (secrets, the model formats; those that declare
``FileAnalyzer.parallel``) run in a worker, each one in exactly one process, so the state an
analyzer keeps for ``finish`` stays whole. Its results come back when the artifact ends, with
the keys the dispatcher orders outputs by, so a parallel scan reports exactly what a serial
one does. The worker's side is ``scanner.walk.worker_host``.

The hand-off costs one copy of each file's bytes: files are copied into a ring of shared
memory (``scanner.walk.ring``; the walk waits when it is full), those over a MiB in pieces
sent ahead one by one, and their places travel in batches of about a MiB of content (pickled in
the walk's thread, written by a sender thread that waits in the kernel without the GIL); where
there is no ring the bytes travel in the pickle itself; a file too big to keep in memory
travels as the path of its spool file, which the worker deletes when done. At most
``INFLIGHT_BYTES`` of batches wait, so memory stays flat whatever the artifact's size. For
files it is sent anyway, the worker also takes the digest the ownership join needs
(``EntryMeta``'s last field), off the walk's thread.

Fail closed: a worker that dies (a crash in a native parser, the OOM killer) makes every
analyzer it hosted fail for that artifact (``AnalyzerFailure``: the verdict is incomplete).

Example::

    worker = AnalyzerWorker(plan, ("secrets",))
    worker.submit(seq, ((3, "secrets"),), meta, data)
    reply = worker.finish(source_artifact)     # WorkerReply: outputs, digests, timings
    worker.close()
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Iterable, Mapping
from typing import cast

from scanner.analyzers.interface import FileAnalyzer
from scanner.forkserver import start_forkserver
from scanner.sources.interface import SourceArtifact
from scanner.walk.ring import MAX_FILE, Ring, send_ring
from scanner.walk.worker_host import (
    Batch,
    EntryMeta,
    WalkResult,
    WorkerPlan,
    WorkerReply,
    hostable,
    run_safely,
    serve,
    worker_modules,
)

__all__ = [
    "PARALLEL_MIN_BYTES",
    "AnalyzerWorker",
    "EntryMeta",
    "WalkResult",
    "WorkerDiedError",
    "WorkerPlan",
    "WorkerPool",
    "WorkerReply",
    "hostable",
    "run_safely",
    "warm_up",
]

log = logging.getLogger(__name__)


class WorkerDiedError(Exception):
    """The worker process ended (or could not be reached) before it answered."""


BATCH_BYTES = 1024 * 1024  # a batch is sent once it holds this many bytes of content...
BATCH_FILES = 512  # ...or this many files
# Bytes of batches waiting for the sender thread; the walk blocks beyond that.
INFLIGHT_BYTES = 8 * 1024 * 1024
# Below this many bytes waiting, a worker is keeping up and also takes the files' digests; above,
# the walk's thread takes them: the two share the work whatever the machine's other load.
SPARE_BELOW_BYTES = 4 * 1024 * 1024
RING_POLL = 0.05  # seconds a full ring is waited on before the worker's life is checked
READY_TIMEOUT = 60.0  # seconds a worker may take to start (a cold fork server imports a lot)
# Smaller artifacts are analysed in the scanning process: a worker's start costs more than it
# saves on a few MiB (a code folder, a model archive of a few files).
PARALLEL_MIN_BYTES = 16 * 1024 * 1024


# --- the scanning side ----------------------------------------------------------------------


def warm_up(classes: Iterable[type]) -> None:
    """Start the fork server now, importing what workers of these analyzer classes need.

    Called while the scan is still reading its target: the server's imports (the analyzers'
    modules, onnx) then run on another core, and the first worker forks from a ready server
    instead of holding the walk up while it starts. Starting it is all this does: which
    artifacts get workers is still decided per artifact (``WorkerPool.for_artifact``).
    """
    start_forkserver(worker_modules(classes))


class AnalyzerWorker:
    """A worker process hosting some analyzers, and the thread that feeds it."""

    def __init__(self, plan: WorkerPlan, names: tuple[str, ...]) -> None:
        self.names = names
        ctx = multiprocessing.get_context("forkserver")
        # SIGINT blocked, stderr quiet, the analyzers' modules loaded: see scanner.forkserver
        start_forkserver(plan.preload)
        self._conn, child = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(
            target=serve, args=(child, plan, names), name="panorama-gate-analyzers", daemon=True
        )
        self._proc.start()
        child.close()
        try:
            self._ring = Ring.create()
        except OSError as exc:  # no shared memory to be had: the bytes go in the pickle
            log.debug("no shared-memory ring (%s)", exc)
            self._ring = None
        self._pending: collections.deque[bytes] = collections.deque()
        self._inflight = 0
        self._closing = False
        self._cond = threading.Condition()
        self._broken: BaseException | None = None
        self._ready = False
        self._batch: Batch = []
        self._batch_bytes = 0
        self._sender = threading.Thread(target=self._send_loop, name="pg-send", daemon=True)
        self._sender.start()

    @property
    def alive(self) -> bool:
        """False once the worker is known to have died."""
        return self._broken is None

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> bool:
        """Wait until the worker has built its analyzers; False if it could not.

        Asked before the first file is handed over, so that a worker that cannot start (its
        imports fail, the main module cannot be re-imported) costs nothing but its help.
        """
        if self._ready:
            return True
        deadline = time.monotonic() + timeout
        while self._broken is None and time.monotonic() < deadline:
            try:
                if self._conn.poll(0.05):
                    kind, _ = pickle.loads(self._conn.recv_bytes())  # noqa: S301 - our child
                    self._ready = kind == "ready"
                    if self._ready:
                        send_ring(self._conn, self._ring)
                    return self._ready
            except (EOFError, OSError) as exc:
                self._broken = exc
            if not self._proc.is_alive():
                self._broken = WorkerDiedError(f"exit code {self._proc.exitcode}")
        return False

    def _ring_wait(self) -> bool:
        """The ring is full: send what is batched (its files hold ring space the worker can
        only free once it has them), wait a moment; False once the worker is gone."""
        self.flush()
        assert self._ring is not None
        self._ring.wait_for_space(RING_POLL)
        if self._broken is None and not self._proc.is_alive():
            self._broken = WorkerDiedError(f"exit code {self._proc.exitcode}")
        return self._broken is None

    @property
    def keeping_up(self) -> bool:
        """Whether the worker reads batches about as fast as they come (little is waiting):
        then it can take on more, such as the digests the walk would otherwise take."""
        waiting = self._inflight + (self._ring.backlog() if self._ring is not None else 0)
        return waiting < SPARE_BELOW_BYTES

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return
                blob = self._pending.popleft()
            if self._broken is None:  # after a failure: drain, so that the walk never blocks
                try:
                    self._conn.send_bytes(blob)
                except (OSError, ValueError) as exc:
                    self._broken = exc
            with self._cond:
                self._inflight -= len(blob)
                self._cond.notify_all()

    def _put(self, message: object) -> None:
        blob = pickle.dumps(message, protocol=5)
        with self._cond:
            while self._inflight and self._inflight + len(blob) > INFLIGHT_BYTES:
                if self._broken is not None:
                    return
                if not self._cond.wait(timeout=1.0) and not self._proc.is_alive():
                    self._broken = WorkerDiedError(f"exit code {self._proc.exitcode}")
            if self._broken is not None:
                return
            self._pending.append(blob)
            self._inflight += len(blob)
            self._cond.notify_all()

    def submit(
        self, seq: int, wanted: tuple[tuple[int, str], ...], meta: EntryMeta, data: bytes | str
    ) -> None:
        """Queue one file for the analyzers named in ``wanted`` (``(slot, name)`` pairs)."""
        if self._broken is not None:
            if isinstance(data, str):
                with contextlib.suppress(OSError):
                    os.unlink(data)
            return
        size = len(data) if isinstance(data, bytes) else 0
        item: bytes | str | tuple[int, int] | tuple[str, int] = data
        if self._ring is not None and isinstance(data, bytes) and size > 0:
            got = self._through_ring(data)
            if got is None:
                return  # the worker died while the ring was full
            item = got
        self._batch.append((seq, wanted, meta, item))
        self._batch_bytes += size
        if self._batch_bytes >= BATCH_BYTES or len(self._batch) >= BATCH_FILES:
            self.flush()

    def _through_ring(self, data: bytes) -> tuple[int, int] | tuple[str, int] | None:
        """Copy a file into the ring: its place, or for a file bigger than ``MAX_FILE``, its
        pieces sent ahead one by one (``("joined", size)``: the worker joins what came)."""
        assert self._ring is not None
        if len(data) <= MAX_FILE:
            return self._ring.put(data, self._ring_wait)
        self.flush()  # the pieces must follow every file batched before this one
        view = memoryview(data)
        for off in range(0, len(data), MAX_FILE):
            place = self._ring.put(view[off : off + MAX_FILE], self._ring_wait)
            if place is None:
                return None
            self._put(("piece", (place, self._ring.written)))
        return ("joined", len(data))

    def flush(self) -> None:
        """Send what is batched."""
        if self._batch:
            batch, self._batch, self._batch_bytes = self._batch, [], 0
            end = self._ring.written if self._ring is not None else 0
            self._put(("files", (batch, end)))

    def finish(self, sa: SourceArtifact) -> WorkerReply:
        """End the artifact: what the worker found, digests and timings.

        Raises ``WorkerDiedError`` when the worker is gone.
        """
        self.flush()
        self._put(("finish", sa))
        while self._broken is None:
            try:
                if self._conn.poll(1.0):
                    reply = self._conn.recv_bytes()
                    # our own worker, over a private pipe: not untrusted data
                    return cast(WorkerReply, pickle.loads(reply))  # noqa: S301
            except (EOFError, OSError) as exc:
                self._broken = exc
                break
            if not self._proc.is_alive():
                self._broken = WorkerDiedError(f"exit code {self._proc.exitcode}")
        raise WorkerDiedError(f"the analyzer worker process died ({self._how_it_ended()})")

    def _how_it_ended(self) -> str:
        # the pipe breaks a moment before the process can be reaped: wait for its exit status
        self._proc.join(timeout=2)
        code = self._proc.exitcode
        if code is None:
            return "it stopped answering"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def close(self) -> None:
        """Stop the worker and the sender thread (at the end, or when interrupted)."""
        self._broken = self._broken or WorkerDiedError("closed")
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join(timeout=5)
        if self._proc.is_alive():  # pragma: no cover - SIGTERM is not ignored by the worker
            self._proc.kill()
            self._proc.join()
        self._conn.close()
        self._sender.join(timeout=5)
        if self._ring is not None:
            self._ring.close()
            self._ring = None


class WorkerPool:
    """The worker processes of one scan, started when the first big artifact needs them.

    ``size`` workers at most. With one, it hosts every parallel analyzer (the model formats
    wait for its idle moments: ``worker_host``); with two, an analyzer that wants every file
    (``patterns`` ``**``: secrets) gets a worker of its own and the others share the other.
    An artifact under ``PARALLEL_MIN_BYTES`` is analysed in the scanning process.
    """

    def __init__(self, plan: WorkerPlan | None, size: int) -> None:
        self.plan = plan
        self.size = size if plan is not None and plan.classes else 0
        self._workers: dict[tuple[str, ...], AnalyzerWorker] = {}
        self._failed = False

    def start(self, analyzers: Mapping[str, FileAnalyzer]) -> None:
        """Start the workers now, so that they are ready when the first big artifact is:
        for a target that holds one (the walk asks ``for_artifact`` anyway)."""
        if self.plan is None or self.size < 1:
            return
        for group in self._groups(analyzers):
            if group not in self._workers:
                try:
                    self._workers[group] = AnalyzerWorker(self.plan, group)
                except (OSError, ValueError, RuntimeError) as exc:
                    log.debug("no analyzer worker (%s); analysing in process", exc)
                    self._failed = True
                    return

    def _groups(self, analyzers: Mapping[str, FileAnalyzer]) -> list[tuple[str, ...]]:
        names = [n for n in analyzers if self.plan is not None and n in self.plan.classes]
        broad = [n for n in names if "**" in type(analyzers[n]).patterns]
        if self.size >= 2 and broad and len(broad) < len(names):
            return [tuple(broad), tuple(n for n in names if n not in broad)]
        return [tuple(names)] if names else []

    def for_artifact(
        self, nbytes: int, analyzers: Mapping[str, FileAnalyzer]
    ) -> dict[str, AnalyzerWorker]:
        """Which worker hosts which analyzer for an artifact of ``nbytes`` (``{}``: none)."""
        if self.plan is None or self.size < 1 or nbytes < PARALLEL_MIN_BYTES or self._failed:
            return {}
        hosted: dict[str, AnalyzerWorker] = {}
        for group in self._groups(analyzers):
            worker = self._workers.get(group)
            if worker is None or not worker.alive:
                if worker is not None:
                    worker.close()
                try:
                    worker = AnalyzerWorker(self.plan, group)
                except (OSError, ValueError, RuntimeError) as exc:
                    log.debug("no analyzer worker (%s); analysing in process", exc)
                    worker = None
                if worker is not None:
                    self._workers[group] = worker
            if worker is None or not worker.wait_ready():
                # slower, never wrong: the analyzers run in this process instead
                log.debug("analyzer worker did not start; analysing in process")
                self._failed = True
                return {}
            hosted.update(dict.fromkeys(group, worker))
        return hosted

    def close(self) -> None:
        """Stop every worker."""
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()
