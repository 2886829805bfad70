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
which the worker deletes when done. At most ``QUEUE_BATCHES`` batches wait, so memory stays
flat whatever the artifact's size.

Fail closed: a worker that dies (a crash in a native parser, the OOM killer) makes every
analyzer it hosted fail for that artifact (``AnalyzerFailure``: the verdict is incomplete).

Example::

    worker = AnalyzerWorker(plan, ("secrets",))
    worker.submit(seq, ((3, "secrets"),), meta, data)
    walk_outputs, finish_outputs, tally = worker.finish(source_artifact)
    worker.close()
"""

from __future__ import annotations

import contextlib
import copyreg
import importlib
import logging
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import pickle
import queue
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

from scanner.analyzers.interface import AnalyzerContext, FileAnalyzer, Output
from scanner.config import ScanConfig
from scanner.models import AnalyzerFailure, Location, frozen_mapping
from scanner.sources.interface import SourceArtifact
from scanner.timing import Tally, TallyRow
from scanner.walk.entry import FileEntry, LazyContent

__all__ = [
    "PARALLEL_MIN_BYTES",
    "AnalyzerWorker",
    "EntryMeta",
    "WalkResult",
    "WorkerDiedError",
    "WorkerPlan",
    "WorkerPool",
    "hostable",
    "run_safely",
]

log = logging.getLogger(__name__)

BATCH_BYTES = 1024 * 1024  # a batch is sent once it holds this many bytes of content...
BATCH_FILES = 512  # ...or this many files
QUEUE_BATCHES = 4  # batches waiting for the sender thread (the walk blocks beyond that)
# Smaller artifacts are analysed in the scanning process: a worker's start costs more than it
# saves on a few MiB (a code folder, a model archive of a few files).
PARALLEL_MIN_BYTES = 16 * 1024 * 1024

EntryMeta = tuple[str, str, int, int, int, int, int, str | None]
"""``(artifact, path, size, mode, uid, gid, layer, layer_id)`` of one file."""
WalkResult = tuple[int, int, list[Output]]
"""``(seq, slot, outputs)``: what one analyzer said about the ``seq``-th file of the walk."""


def _reduce_mappingproxy(m: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return frozen_mapping, (dict(m),)


# Findings, the config and artifacts hold read-only mappings: they cross the pipe as dicts.
copyreg.pickle(MappingProxyType, _reduce_mappingproxy)


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
        self.tally = Tally()
        self.cpu = 0.0  # CPU seconds already reported (the scanning process adds them up)

    def files(self, batch: list[tuple[int, tuple[tuple[int, str], ...], EntryMeta, Any]]) -> None:
        for seq, wanted, meta, data in batch:
            artifact, path, size, mode, uid, gid, layer, layer_id = meta
            entry = FileEntry(
                artifact, path, size, mode, LazyContent(_file_content(data)), layer, uid, gid,
                layer_id,
            )  # fmt: skip
            try:
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
        reply = (self.results, finished, self.tally.export(), cpu - self.cpu)
        self.results, self.tally, self.cpu = [], Tally(), cpu
        return pickle.dumps(reply, protocol=5)


def serve(conn: Connection, plan: WorkerPlan, names: tuple[str, ...]) -> None:
    """The worker's main loop: build the analyzers, then serve batches until told to stop."""
    # Ctrl-C reaches the whole process group: the scanning process handles it and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    host = _Host(_build(plan, names))
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
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_BATCHES)
        self._broken: BaseException | None = None
        self._batch: list[tuple[int, tuple[tuple[int, str], ...], EntryMeta, Any]] = []
        self._batch_bytes = 0
        self._sender = threading.Thread(target=self._send_loop, name="pg-send", daemon=True)
        self._sender.start()

    @property
    def alive(self) -> bool:
        """False once the worker is known to have died."""
        return self._broken is None

    def _send_loop(self) -> None:
        while True:
            blob = self._queue.get()
            if blob is None:
                return
            if self._broken is not None:
                continue  # drain, so that the walk never blocks on a dead worker
            try:
                self._conn.send_bytes(blob)
            except (OSError, ValueError) as exc:
                self._broken = exc

    def _put(self, message: object) -> None:
        blob = pickle.dumps(message, protocol=5)
        while self._broken is None:
            try:
                self._queue.put(blob, timeout=1.0)
                return
            except queue.Full:
                if not self._proc.is_alive():
                    self._broken = WorkerDiedError(f"exit code {self._proc.exitcode}")

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

    def finish(
        self, sa: SourceArtifact
    ) -> tuple[list[WalkResult], dict[str, list[Output]], dict[str, TallyRow], float]:
        """End the artifact: walk results, each analyzer's finish() outputs, timings, CPU seconds.

        Raises ``WorkerDiedError`` when the worker is gone.
        """
        self.flush()
        self._put(("finish", sa))
        while self._broken is None:
            try:
                if self._conn.poll(1.0):
                    reply = self._conn.recv_bytes()
                    # our own worker, over a private pipe: not untrusted data
                    results, finished, rows, cpu = pickle.loads(reply)  # noqa: S301
                    return results, finished, rows, cpu
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
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
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
        if self.plan is None or self.size < 1 or nbytes < PARALLEL_MIN_BYTES:
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
                    # slower, never wrong: the analyzers run in this process instead
                    log.debug("no analyzer worker (%s); analysing in process", exc)
                    return {}
                self._workers[group] = worker
            hosted.update(dict.fromkeys(group, worker))
        return hosted

    def close(self) -> None:
        """Stop every worker."""
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()
