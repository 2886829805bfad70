"""Analyzers in a worker process: the walk hands each wanted file's bytes over, in batches.

Python analyzers hold the GIL, so threads cannot run them beside the walk. A worker process
can: the walk (decompression, tar headers, digests, the package inventory) stays in the
scanning process and the heavy file analyzers (secrets, the model formats; those that declare
``FileAnalyzer.parallel``) run in a worker, each one in exactly one process, so the state an
analyzer keeps for ``finish`` stays whole. Its results come back when the artifact ends, with
the keys the dispatcher orders outputs by, so a parallel scan reports exactly what a serial
one does.

The hand-off costs one copy of each file's bytes into a pipe: small files travel in batches of
about a MiB (pickled in the walk's thread, written by a sender thread that waits in the kernel
without the GIL); a file too big to keep in memory travels as the path of its spool file,
which the worker deletes when done. At most ``INFLIGHT_BYTES`` of batches wait, so memory stays
flat whatever the artifact's size. For files it is sent anyway, the worker also takes the digest
the ownership join needs (``EntryMeta``'s last field), off the walk's thread.

Fail closed: a worker that dies (a crash in a native parser, the OOM killer) makes every
analyzer it hosted fail for that artifact (``AnalyzerFailure``: the verdict is incomplete).

Example::

    worker = AnalyzerWorker(plan, ("secrets",))
    worker.submit(seq, ((3, "secrets"),), meta, data)
    walk_outputs, finish_outputs, tally = worker.finish(source_artifact)
    worker.close()
"""

from __future__ import annotations

import collections
import contextlib
import copyreg
import hashlib
import importlib
import logging
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO, cast

from scanner.analyzers.entry import FileEntry, LazyContent
from scanner.analyzers.interface import AnalyzerContext, FileAnalyzer, Output
from scanner.config import ScanConfig
from scanner.models import AnalyzerFailure, Location, frozen_mapping
from scanner.sources.interface import SourceArtifact
from scanner.sources.sniff import Sniffed
from scanner.timing import Tally, TallyRow

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
]

log = logging.getLogger(__name__)

BATCH_BYTES = 1024 * 1024  # a batch is sent once it holds this many bytes of content...
BATCH_FILES = 512  # ...or this many files
# Bytes of batches waiting for the sender thread; the walk blocks beyond that. Counted in bytes,
# not batches: a batch of 512 tiny models is seconds of work, so the walk must be able to run
# ahead of a worker busy with it.
INFLIGHT_BYTES = 16 * 1024 * 1024
# Below this many bytes waiting, a worker is keeping up and also takes the files' digests; above,
# the walk's thread takes them: the two share the work whatever the machine's other load.
SPARE_BELOW_BYTES = 8 * 1024 * 1024
READY_TIMEOUT = 60.0  # seconds a worker may take to start (a cold fork server imports a lot)
# Smaller artifacts are analysed in the scanning process: a worker's start costs more than it
# saves on a few MiB (a code folder, a model archive of a few files).
PARALLEL_MIN_BYTES = 16 * 1024 * 1024

EntryMeta = tuple[str, str, int, int, int, int, int, str | None, str, dict[str, object]]
"""``(artifact, path, size, mode, uid, gid, layer, layer_id, digest, extra)`` of one file;
``digest`` names the hash the worker takes of the bytes for the ownership join (``""``:
none); ``extra`` is the entry's ``extra`` (what its content was sniffed as)."""
WalkResult = tuple[int, int, list[Output]]
"""``(seq, slot, outputs)``: what one analyzer said about the ``seq``-th file of the walk."""


def _reduce_mappingproxy(m: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return frozen_mapping, (dict(m),)


def _reduce_sniffed(s: Sniffed) -> tuple[Any, tuple[Any, ...]]:
    return Sniffed, (s.kind, s.compression, s.detail, s.names)


# Findings, the config and artifacts hold read-only mappings: they cross the pipe as dicts.
copyreg.pickle(MappingProxyType, _reduce_mappingproxy)
# Every file handed over carries what it was sniffed as: by its fields, half the pickling cost
# of a slotted dataclass's default state dict.
copyreg.pickle(Sniffed, _reduce_sniffed)


class WorkerDiedError(Exception):
    """The worker process ended (or could not be reached) before it answered."""


def run_safely(
    analyzer: FileAnalyzer | Any,
    location: Location | None,
    call: Callable[[], Iterable[Output]],
    reraise: tuple[type[BaseException], ...] = (),
) -> list[Output]:
    """Call an analyzer and drain its outputs; an exception becomes an AnalyzerFailure.

    ``call`` is invoked inside the ``try``: an analyze() that raises before returning an
    iterable (not a generator) is caught the same way as one that raises while iterating.
    ``reraise`` are let through (the walk's own stream errors).
    """
    try:
        return list(call())
    except reraise:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded as data; the verdict becomes incomplete
        log.debug("analyzer %s failed at %s", analyzer.name, location, exc_info=True)
        reason = f"{type(exc).__name__}: {exc}"[:500]
        return [AnalyzerFailure(analyzer.name, reason, location)]


def hostable(analyzer: object) -> bool:
    """Whether a worker can build and run this analyzer (a parallel FileAnalyzer whose class
    it can import by name)."""
    cls = type(analyzer)
    return (
        isinstance(analyzer, FileAnalyzer)
        and bool(getattr(cls, "parallel", False))
        and "<locals>" not in cls.__qualname__
        and cls.__module__ != "__main__"
    )


@dataclass(frozen=True, slots=True)
class WorkerReply:
    """What a worker says when an artifact ends."""

    results: list[WalkResult]  # each analyzer's outputs per file
    finished: dict[str, list[Output]]  # each analyzer's finish() outputs
    digests: dict[int, str]  # file sequence number -> hex digest taken of its bytes
    analyzers: dict[str, TallyRow]
    stages: dict[str, TallyRow]
    cpu_seconds: float


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """What a worker needs to build its analyzers as the scan configured them."""

    config: ScanConfig
    work_dir: Path
    classes: Mapping[str, tuple[str, str]]  # analyzer name -> (module, qualified class name)

    @classmethod
    def of(cls, analyzers: Iterable[object], config: ScanConfig, work_dir: Path) -> WorkerPlan:
        """The plan for the hostable ones among ``analyzers``."""
        classes = {
            a.name: (type(a).__module__, type(a).__qualname__)  # type: ignore[attr-defined]
            for a in analyzers
            if hostable(a)
        }
        return cls(config, work_dir, classes)


# --- the worker side ------------------------------------------------------------------------


def _build(plan: WorkerPlan, names: Iterable[str]) -> dict[str, FileAnalyzer]:
    out: dict[str, FileAnalyzer] = {}
    for name in names:
        module, qualname = plan.classes[name]
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        analyzer = cast(FileAnalyzer, obj())
        ctx = AnalyzerContext(name, plan.config.analyzer_options(name), plan.config, plan.work_dir)
        analyzer.configure(ctx)
        out[name] = analyzer
    return out


def _digest(entry: FileEntry, algorithm: str) -> str:
    h = hashlib.new(algorithm, usedforsecurity=False)
    if entry.size <= BATCH_BYTES:
        h.update(entry.read())
    else:
        with entry.open() as f:
            while chunk := f.read(BATCH_BYTES):
                h.update(chunk)
    return h.hexdigest()


def _file_content(data: bytes | str) -> Callable[[], bytes | BinaryIO]:
    if isinstance(data, bytes):
        return lambda: data
    return lambda: open(data, "rb")  # noqa: SIM115 - closed by _release


def _release(entry: FileEntry, data: bytes | str) -> None:
    """Close and delete a spooled big file once every analyzer has seen it."""
    if isinstance(data, str):
        if entry.content.loaded:
            with contextlib.suppress(OSError):
                entry.content.close()
        with contextlib.suppress(OSError):
            os.unlink(data)


class _Host:
    """The worker's loop state: its analyzers, the outputs and the time they took."""

    def __init__(self, analyzers: dict[str, FileAnalyzer]) -> None:
        self.analyzers = analyzers
        self.results: list[WalkResult] = []
        self.digests: list[tuple[int, str]] = []
        self.tally = Tally()
        self.stages = Tally()
        self.cpu = 0.0  # CPU seconds already reported (the scanning process adds them up)

    def files(self, batch: list[tuple[int, tuple[tuple[int, str], ...], EntryMeta, Any]]) -> None:
        for seq, wanted, meta, data in batch:
            artifact, path, size, mode, uid, gid, layer, layer_id, algorithm, extra = meta
            entry = FileEntry(
                artifact, path, size, mode, LazyContent(_file_content(data)), layer, uid, gid,
                layer_id, extra,
            )  # fmt: skip
            try:
                if algorithm:
                    start = time.perf_counter()
                    self.digests.append((seq, _digest(entry, algorithm)))
                    self.stages.add("digest", time.perf_counter() - start, size, 1)
                for slot, name in wanted:
                    a = self.analyzers[name]
                    start = time.perf_counter()
                    got = run_safely(a, entry.location(), partial(a.analyze, entry))
                    self.tally.add(name, time.perf_counter() - start, size, 1)
                    if got:
                        self.results.append((seq, slot, got))
            finally:
                _release(entry, data)

    def finish(self, sa: SourceArtifact) -> bytes:
        loc = Location(sa.artifact.name)
        finished: dict[str, list[Output]] = {}
        for name, a in self.analyzers.items():
            start = time.perf_counter()
            finished[name] = run_safely(a, loc, partial(a.finish, sa))
            self.tally.add(name, time.perf_counter() - start)
        t = os.times()
        cpu = t.user + t.system
        reply = WorkerReply(
            self.results,
            finished,
            dict(self.digests),
            self.tally.export(),
            self.stages.export(),
            cpu - self.cpu,
        )
        self.results, self.digests, self.cpu = [], [], cpu
        self.tally, self.stages = Tally(), Tally()
        return pickle.dumps(reply, protocol=5)


def serve(conn: Connection, plan: WorkerPlan, names: tuple[str, ...]) -> None:
    """The worker's main loop: build the analyzers, then serve batches until told to stop."""
    # Ctrl-C reaches the whole process group: the scanning process handles it and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        host = _Host(_build(plan, names))
    except Exception as exc:  # noqa: BLE001 - said to the parent, which analyses in process
        conn.send_bytes(pickle.dumps(("failed", f"{type(exc).__name__}: {exc}"), protocol=5))
        return
    conn.send_bytes(pickle.dumps(("ready", os.getpid()), protocol=5))
    while True:
        try:
            # our own parent, over a private pipe: not untrusted data
            kind, body = pickle.loads(conn.recv_bytes())  # noqa: S301
        except EOFError:
            return  # the scanning process went away
        if kind == "files":
            host.files(body)
        elif kind == "finish":
            conn.send_bytes(host.finish(body))
        else:
            return


# --- the scanning side ----------------------------------------------------------------------


def _start_forkserver(preload: Iterable[str]) -> None:
    """Start multiprocessing's fork server with SIGINT blocked, its workers' modules loaded.

    Workers fork from the server, a clean single-threaded process (never from the scanning
    process, which may run threads). They inherit the blocked SIGINT, so a Ctrl-C that lands
    while one is starting cannot kill it with a traceback before it ignores SIGINT; the
    scanning process handles Ctrl-C and stops them. The resource tracker is started first and
    on its own: it unblocks SIGINT after starting (rather than restoring the mask).
    """
    multiprocessing.set_forkserver_preload([__name__, *preload])
    for start in (
        multiprocessing.resource_tracker.ensure_running,
        multiprocessing.forkserver.ensure_running,
    ):
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


class AnalyzerWorker:
    """A worker process hosting some analyzers, and the thread that feeds it."""

    def __init__(self, plan: WorkerPlan, names: tuple[str, ...]) -> None:
        self.names = names
        ctx = multiprocessing.get_context("forkserver")
        _start_forkserver(sorted({plan.classes[n][0] for n in names}))
        self._conn, child = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(
            target=serve, args=(child, plan, names), name="panorama-gate-analyzers", daemon=True
        )
        self._proc.start()
        child.close()
        self._pending: collections.deque[bytes] = collections.deque()
        self._inflight = 0
        self._closing = False
        self._cond = threading.Condition()
        self._broken: BaseException | None = None
        self._ready = False
        self._batch: list[tuple[int, tuple[tuple[int, str], ...], EntryMeta, Any]] = []
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
                    return self._ready
            except (EOFError, OSError) as exc:
                self._broken = exc
            if not self._proc.is_alive():
                self._broken = WorkerDiedError(f"exit code {self._proc.exitcode}")
        return False

    @property
    def keeping_up(self) -> bool:
        """Whether the worker reads batches about as fast as they come (little is waiting):
        then it can take on more, such as the digests the walk would otherwise take."""
        return self._inflight < SPARE_BELOW_BYTES

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
        self._batch.append((seq, wanted, meta, data))
        self._batch_bytes += len(data) if isinstance(data, bytes) else 0
        if self._batch_bytes >= BATCH_BYTES or len(self._batch) >= BATCH_FILES:
            self.flush()

    def flush(self) -> None:
        """Send what is batched."""
        if self._batch:
            batch, self._batch, self._batch_bytes = self._batch, [], 0
            self._put(("files", batch))

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
        code = self._proc.exitcode
        raise WorkerDiedError(f"the analyzer worker process died (exit code {code})")

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


class WorkerPool:
    """The worker processes of one scan, started when the first big artifact needs them.

    ``size`` workers at most. With one, it hosts every parallel analyzer; with more, an
    analyzer that wants every file (``patterns`` ``**``: secrets) gets a worker of its own and
    the others share the rest. An artifact under ``PARALLEL_MIN_BYTES`` is analysed in the
    scanning process.
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
