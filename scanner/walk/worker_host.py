"""The worker process's side of ``scanner.walk.workers``: build the analyzers, serve batches.

A worker rebuilds its analyzers from their classes and the scan's configuration (``WorkerPlan``),
then reads batches of files from its pipe. For each file it takes the digest the ownership join
needs (when asked) and runs the analyzers that want it. An analyzer that wants every file
(``patterns`` ``**``: secrets) runs as the file arrives, so that the worker keeps pace with the
walk; the others (the model formats: a few files, but some cost seconds) wait in a backlog for
the moments no batch is waiting, so that a burst of them never holds the walk up. Whatever is
left runs when the artifact ends, before ``finish``. Outputs carry the file's sequence number
and the analyzer's slot, so the scanning process merges them in serial order.

Package license texts the walk marks (``extra["license_text"]``) wait in the same idle moments
to be matched as the component stage will match them (``_license_prematch``); the matches go
back with the reply, so the scanning process does not match them after the walk.

Example::

    serve(conn, plan, ("secrets", "onnx"))     # the worker process's target
"""

from __future__ import annotations

import collections
import contextlib
import copyreg
import hashlib
import importlib
import logging
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

from scanner.analyzers._license_prematch import prematch
from scanner.analyzers._license_text import TextMatch, recording
from scanner.analyzers.entry import FileEntry, LazyContent
from scanner.analyzers.interface import AnalyzerContext, FileAnalyzer, Output
from scanner.config import ScanConfig
from scanner.models import AnalyzerFailure, Location, frozen_mapping
from scanner.sources.interface import SourceArtifact
from scanner.sources.sniff import Sniffed
from scanner.timing import Tally, TallyRow
from scanner.walk.ring import Ring, receive_ring

__all__ = [
    "Batch",
    "EntryMeta",
    "WalkResult",
    "WorkerPlan",
    "WorkerReply",
    "hostable",
    "hostable_class",
    "run_safely",
    "serve",
    "worker_modules",
]

log = logging.getLogger(__name__)

# Bytes of model files a worker keeps waiting at most; past that it analyses them at once.
BACKLOG_BYTES = 8 * 1024 * 1024
DIGEST_CHUNK = 1024 * 1024

EntryMeta = tuple[str, str, int, int, int, int, int, str | None, str, dict[str, object]]
"""``(artifact, path, size, mode, uid, gid, layer, layer_id, digest, extra)`` of one file;
``digest`` names the hash the worker takes of the bytes for the ownership join (``""``:
none); ``extra`` is the entry's ``extra`` (what its content was sniffed as)."""
WalkResult = tuple[int, int, list[Output]]
"""``(seq, slot, outputs)``: what one analyzer said about the ``seq``-th file of the walk."""
Batch = list[tuple[int, tuple[tuple[int, str], ...], EntryMeta, Any]]
"""Files as they travel: ``(seq, ((slot, analyzer name), ...), meta, content)``, the content
being the bytes, a place in the ring ``(offset, length)`` or a spool file's path."""


def _reduce_mappingproxy(m: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return frozen_mapping, (dict(m),)


def _reduce_sniffed(s: Sniffed) -> tuple[Any, tuple[Any, ...]]:
    return Sniffed, (s.kind, s.compression, s.detail, s.names)


# Findings, the config and artifacts hold read-only mappings: they cross the pipe as dicts.
copyreg.pickle(MappingProxyType, _reduce_mappingproxy)
# Every file handed over carries what it was sniffed as: by its fields, half the pickling cost
# of a slotted dataclass's default state dict.
copyreg.pickle(Sniffed, _reduce_sniffed)


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
    return hostable_class(type(analyzer))


def hostable_class(cls: type) -> bool:
    """``hostable`` for the analyzers of a class, before any is built."""
    return (
        issubclass(cls, FileAnalyzer)
        and bool(getattr(cls, "parallel", False))
        and "<locals>" not in cls.__qualname__
        and cls.__module__ != "__main__"
    )


def worker_modules(classes: Iterable[type]) -> list[str]:
    """What a worker's fork server imports up front for these analyzer classes: this module
    and the hostable ones' modules. Their heavy libraries (``worker_imports``) are imported by
    each worker as it starts (``_import_heavy``): kept out of the fork server, whose memory
    would otherwise count twice."""
    hosted = [c for c in classes if hostable_class(c)]
    return [__name__, *sorted({c.__module__ for c in hosted})]


def _import_heavy(analyzers: Iterable[FileAnalyzer]) -> threading.Thread:
    """Import the analyzers' heavy libraries on a thread while the first batches arrive, so
    that the first ONNX file does not stop the worker (and the walk behind it) to import."""

    def run() -> None:
        for module in sorted({m for a in analyzers for m in type(a).worker_imports}):
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 - the analyzer's own import says it, as a failure
                log.debug("could not import %s ahead", module, exc_info=True)

    thread = threading.Thread(target=run, name="pg-imports", daemon=True)
    thread.start()
    return thread


@dataclass(frozen=True, slots=True)
class WorkerReply:
    """What a worker says when an artifact ends."""

    results: list[WalkResult]  # each analyzer's outputs per file
    finished: dict[str, list[Output]]  # each analyzer's finish() outputs
    digests: dict[int, str]  # file sequence number -> hex digest taken of its bytes
    analyzers: dict[str, TallyRow]
    stages: dict[str, TallyRow]
    cpu_seconds: float
    texts: dict[str, TextMatch]  # license texts matched (``_license_text.teach``)


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """What a worker needs to build its analyzers as the scan configured them."""

    config: ScanConfig
    work_dir: Path
    classes: Mapping[str, tuple[str, str]]  # analyzer name -> (module, qualified class name)
    preload: tuple[str, ...] = ()  # modules the fork server imports (``worker_modules``)

    @classmethod
    def of(cls, analyzers: Iterable[object], config: ScanConfig, work_dir: Path) -> WorkerPlan:
        """The plan for the hostable ones among ``analyzers``."""
        hosted = [a for a in analyzers if hostable(a)]
        classes = {
            a.name: (type(a).__module__, type(a).__qualname__)  # type: ignore[attr-defined]
            for a in hosted
        }
        return cls(config, work_dir, classes, tuple(worker_modules(type(a) for a in hosted)))


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
    if entry.size <= DIGEST_CHUNK:
        h.update(entry.read())
    else:
        with entry.open() as f:
            while chunk := f.read(DIGEST_CHUNK):
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


@dataclass(slots=True)
class _Waiting:
    seq: int
    entry: FileEntry
    wanted: list[tuple[int, str]]
    data: bytes | str


class _Host:
    """The worker's loop state: its analyzers, the backlog, the outputs and their timings."""

    def __init__(self, analyzers: dict[str, FileAnalyzer]) -> None:
        self.analyzers = analyzers
        # analyzers that see every file keep pace with the walk; the rest may wait
        self.at_once = {n for n, a in analyzers.items() if "**" in type(a).patterns}
        self.backlog: collections.deque[_Waiting] = collections.deque()
        self.backlog_bytes = 0
        self.texts: collections.deque[tuple[str, bytes]] = collections.deque()
        self.pieces: list[bytes] = []  # a big file's pieces so far (``piece``)
        self.learned: dict[str, TextMatch] = {}
        self.results: list[WalkResult] = []
        self.digests: list[tuple[int, str]] = []
        self.tally = Tally()
        self.stages = Tally()
        self.cpu = 0.0  # CPU seconds already reported (the scanning process adds them up)

    def _run(self, seq: int, entry: FileEntry, wanted: Iterable[tuple[int, str]]) -> None:
        for slot, name in wanted:
            a = self.analyzers[name]
            start = time.perf_counter()
            got = run_safely(a, entry.location(), partial(a.analyze, entry))
            self.tally.add(name, time.perf_counter() - start, entry.size, 1)
            if got:
                self.results.append((seq, slot, got))

    def files(self, batch: Batch, ring: Ring | None = None, end: int = 0) -> None:
        """Digest each file when asked, run the analyzers that keep pace, queue the rest.

        Files that came through the ring are copied out first, and their space given back at
        once (``end``), so that the walk can go on filling it while these are analysed.
        """
        if ring is not None:
            batch = [(s, w, m, self._content(ring, d)) for s, w, m, d in batch]
            ring.release(end)
        for seq, wanted, meta, data in batch:
            artifact, path, size, mode, uid, gid, layer, layer_id, algorithm, extra = meta
            entry = FileEntry(
                artifact, path, size, mode, LazyContent(_file_content(data)), layer, uid, gid,
                layer_id, extra,
            )  # fmt: skip
            later = [w for w in wanted if w[1] not in self.at_once]
            try:
                if algorithm:
                    start = time.perf_counter()
                    self.digests.append((seq, _digest(entry, algorithm)))
                    self.stages.add("digest", time.perf_counter() - start, size, 1)
                self._run(seq, entry, (w for w in wanted if w[1] in self.at_once))
            finally:
                if extra.get("license_text") and isinstance(data, bytes):
                    self.texts.append((path, data))
                    self.backlog_bytes += len(data)
                if later:
                    self.backlog.append(_Waiting(seq, entry, later, data))
                    self.backlog_bytes += len(data) if isinstance(data, bytes) else 0
                else:
                    _release(entry, data)
        while self.backlog_bytes > BACKLOG_BYTES:
            self.work()

    def piece(self, data: bytes) -> None:
        """One piece of a big file that came through the ring (the next ``joined`` file)."""
        self.pieces.append(data)

    def _content(self, ring: Ring, item: Any) -> bytes | str:
        if not isinstance(item, tuple):
            return cast(bytes | str, item)
        if item[0] == "joined":
            data, self.pieces = b"".join(self.pieces), []
            return data
        return ring.take(item)

    @property
    def waiting(self) -> bool:
        """Whether files wait for an idle moment."""
        return bool(self.backlog or self.texts)

    def work(self) -> None:
        """Analyse the oldest waiting file (model files first, then license texts)."""
        if not self.backlog:
            self._match_text()
            return
        w = self.backlog.popleft()
        self.backlog_bytes -= len(w.data) if isinstance(w.data, bytes) else 0
        try:
            self._run(w.seq, w.entry, w.wanted)
        finally:
            _release(w.entry, w.data)

    def _match_text(self) -> None:
        path, data = self.texts.popleft()
        self.backlog_bytes -= len(data)
        start = time.perf_counter()
        try:
            with recording() as got:
                prematch(path, data)
        except Exception:  # noqa: BLE001 - the stage matches it again and reports what fails
            log.debug("license text %s not matched ahead", path, exc_info=True)
        self.learned.update(got)
        self.stages.add("license-texts", time.perf_counter() - start, len(data), 1)

    def finish(self, sa: SourceArtifact) -> bytes:
        """Analyse what waits, run each analyzer's finish(), and say it all."""
        while self.waiting:
            self.work()
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
            self.learned,
        )
        self.results, self.digests, self.cpu, self.learned = [], [], cpu, {}
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
    ring = receive_ring(conn)
    _import_heavy(host.analyzers.values())
    while True:
        if host.waiting and not conn.poll(0):
            host.work()  # nothing waiting in the pipe: time for a model file
            continue
        try:
            # our own parent, over a private pipe: not untrusted data
            kind, body = pickle.loads(conn.recv_bytes())  # noqa: S301
        except EOFError:
            return  # the scanning process went away
        if kind == "files":
            batch, end = body
            host.files(batch, ring, end)
        elif kind == "piece" and ring is not None:
            place, end = body
            host.piece(ring.take(place))
            ring.release(end)
        elif kind == "finish":
            conn.send_bytes(host.finish(body))
        else:
            return
