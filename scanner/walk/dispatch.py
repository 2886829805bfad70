"""The dispatcher: each file only to the analyzers that declared interest, content read once.

Example::

    d = Dispatcher(analyzers, work_dir)
    d.begin(source_artifact)
    for member in reader:
        d.handle(member, layer=0)
    outputs = d.finish(source_artifact)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import IO

from scanner.analyzers._license_prematch import is_prematched
from scanner.analyzers._license_text import teach
from scanner.analyzers.entry import FileEntry, LazyContent
from scanner.analyzers.interface import (
    Analyzer,
    ComponentAnalyzer,
    FileAnalyzer,
    ImageConfigAnalyzer,
    Output,
    TargetAnalyzer,
    TreeAnalyzer,
    compile_globs,
)
from scanner.models import AnalyzerFailure, ArtifactFacts, ArtifactKind, Finding, Location
from scanner.sources.interface import ArtifactFormat, SourceArtifact
from scanner.sources.safe_archive import (
    CHUNK,
    READ_ERRORS,
    ArchiveMember,
    ArchiveStreamError,
    MemberType,
    normalise_path,
)
from scanner.sources.sniff import Sniffed
from scanner.timing import Tally
from scanner.walk.components import ComponentStage
from scanner.walk.digesting import DigestTap
from scanner.walk.ownership import Ownership, OwnershipIndex
from scanner.walk.peek import PeekedMember
from scanner.walk.trees import TreeFolders
from scanner.walk.workers import AnalyzerWorker, WalkResult, WorkerDiedError, WorkerPool
from scanner.walk.workers import run_safely as _run_safely

__all__ = ["Dispatcher", "run_safely"]

log = logging.getLogger(__name__)

MEMORY_LIMIT = 8 * 1024 * 1024  # content up to this size stays in memory; larger is spooled

# Formats that are root filesystems: their files are attributed to the packages that own them.
ROOTFS_FORMATS = frozenset(
    {
        ArtifactFormat.ROOTFS,
        ArtifactFormat.DOCKER_SAVE,
        ArtifactFormat.OCI_ARCHIVE,
        ArtifactFormat.OCI_DIR,
    }
)


def run_safely(
    analyzer: Analyzer, location: Location | None, call: Callable[[], Iterable[Output]]
) -> list[Output]:
    """Call an analyzer and drain its outputs; an exception becomes an AnalyzerFailure.

    ``call`` is invoked inside the ``try``: an analyze() that raises before returning an
    iterable (not a generator) is caught the same way as one that raises while iterating.
    An ``ArchiveStreamError`` passes: the archive itself broke, and the walk reports it.
    """
    return _run_safely(analyzer, location, call, (ArchiveStreamError,))


class Dispatcher:
    """Routes walked members to FileAnalyzers and TreeAnalyzers and gathers their outputs.

    ``pool`` runs the parallel FileAnalyzers of big artifacts in worker processes; their
    outputs are merged back in walk order (by the file's sequence number, then the analyzer's
    place), so a parallel scan reports exactly what a serial one does. ``ownership`` False
    skips attributing and verifying root-filesystem files (the benchmark's baseline).
    """

    def __init__(
        self,
        analyzers: Iterable[Analyzer],
        work_dir: Path,
        pool: WorkerPool | None = None,
        *,
        ownership: bool = True,
    ) -> None:
        self.analyzers = list(analyzers)
        self.work_dir = work_dir
        self.pool = pool
        self.track_ownership = ownership
        self.file_analyzers = [a for a in self.analyzers if isinstance(a, FileAnalyzer)]
        # FileAnalyzers that keep the default wants() (their patterns, a size limit): one
        # combined pattern rules them all out at once for a file none of their patterns match
        self._plain = [a for a in self.file_analyzers if type(a).wants is Analyzer.wants]
        self._plain_rx = compile_globs(g for a in self._plain for g in type(a).patterns)
        self.tree_analyzers = [a for a in self.analyzers if isinstance(a, TreeAnalyzer)]
        self.config_analyzers = [a for a in self.analyzers if isinstance(a, ImageConfigAnalyzer)]
        # Analyzers offered files by content: every file's head is sniffed when there are any.
        self.content_analyzers = [
            a for a in self.file_analyzers if a.content_kinds or _overrides_content(a)
        ]
        self.target_analyzers = [a for a in self.analyzers if isinstance(a, TargetAnalyzer)]
        self.component_analyzers = [a for a in self.analyzers if isinstance(a, ComponentAnalyzer)]
        # the component stage runs only when something consumes the inventory
        self.stage: ComponentStage | None = None
        if self.component_analyzers:
            texts = any(a.needs_license_texts() for a in self.component_analyzers)
            self.stage = ComponentStage(license_texts=texts)
        self.outputs: list[Output] = []
        # outputs of the walk, keyed (file sequence number, slot) so that outputs coming back
        # from workers merge in the order a serial walk produces: slot 0 the inventory, then
        # each FileAnalyzer in order, then each TreeAnalyzer's copy
        self._walk: list[WalkResult] = []
        self._seq = 0
        self._slot = {a.name: i + 1 for i, a in enumerate(self.file_analyzers)}
        self._tree_slot = len(self.file_analyzers) + 1
        self._hosted: dict[str, AnalyzerWorker] = {}
        # files whose digest a worker takes: (path, algorithm, token, seq)
        self._pending: list[tuple[str, str, str, int]] = []
        self.trees = TreeFolders(work_dir)
        self._artifact = ""
        self._model_artifact = False
        self.ownership: OwnershipIndex | None = None
        self.files_seen = 0
        self.files_dispatched = 0
        # where the time goes: each analyzer's own calls (content reads excluded) and stages
        self.analyzer_tally = Tally()
        self.stage_tally = Tally()
        self._read_seconds = 0.0
        self.worker_cpu_seconds = 0.0  # workers are the fork server's children, not ours

    def begin(self, sa: SourceArtifact, fmt: ArtifactFormat | None = None) -> None:
        """Start an artifact: fresh tree folders; ownership tracking for root filesystems.

        ``fmt`` is the format sniffed from the bytes when it differs from the source's guess.
        """
        self._artifact = sa.artifact.name
        self._model_artifact = sa.artifact.kind is ArtifactKind.MODEL
        self.outputs = []
        self._walk = []
        self._seq = 0
        rootfs = (fmt or sa.format) in ROOTFS_FORMATS
        self.ownership = (
            OwnershipIndex(sa.artifact.name) if rootfs and self.track_ownership else None
        )
        self._hosted = {}
        if self.pool is not None:
            self._hosted = self.pool.for_artifact(
                sa.artifact.size, {a.name: a for a in self.file_analyzers}
            )
        self.trees.begin(t.name for t in self.tree_analyzers)

    def _loader(self, member: PeekedMember, named: bool) -> IO[bytes] | bytes:
        start = time.perf_counter()
        try:
            return self._read(member, named)
        except ArchiveStreamError:
            raise
        except READ_ERRORS as exc:
            raise ArchiveStreamError.from_read_error(exc) from exc
        finally:
            spent = time.perf_counter() - start
            self._read_seconds += spent
            self.stage_tally.add("read", spent, member.size, 1)

    def _timed(
        self,
        a: Analyzer,
        location: Location | None,
        call: Callable[[], Iterable[Output]],
        nbytes: int = 0,
        files: int = 0,
    ) -> list[Output]:
        """``run_safely``, adding the time spent (content reads excluded) to ``a``'s row."""
        start, read = time.perf_counter(), self._read_seconds
        try:
            return run_safely(a, location, call)
        finally:
            spent = time.perf_counter() - start - (self._read_seconds - read)
            self.analyzer_tally.add(a.name, spent, nbytes, files)

    def _read(self, member: PeekedMember, named: bool) -> IO[bytes] | bytes:
        with member.open() as src:
            if member.size <= MEMORY_LIMIT:
                return src.read()
            # the spool lives as long as the entry (closed when garbage-collected); a named
            # one is handed to a worker by path, and the worker deletes it
            spool: IO[bytes]
            if named:
                spool = tempfile.NamedTemporaryFile(dir=self.work_dir, delete=False)  # noqa: SIM115
            else:
                spool = tempfile.SpooledTemporaryFile(max_size=MEMORY_LIMIT, dir=str(self.work_dir))  # noqa: SIM115
            shutil.copyfileobj(src, spool, CHUNK)
            spool.seek(0)
            return spool

    def interested(
        self, path: str, size: int, mode: int, sniffed: Sniffed | None
    ) -> list[FileAnalyzer]:
        """The FileAnalyzers that want a file: by name, then by what its content is."""
        # one regex over the name-pattern analyzers first: most files match none of them
        plain = self._plain_rx is not None and self._plain_rx.match(path)
        chosen = [
            a
            for a in self.file_analyzers
            if (plain or a not in self._plain) and a.wants(path, size, mode)
        ]
        if sniffed is not None:
            chosen += [
                a
                for a in self.content_analyzers
                if a not in chosen and a.wants_content(path, size, sniffed)
            ]
        return chosen

    def prepare(self, member: ArchiveMember | PeekedMember, path_prefix: str = "") -> PeekedMember:
        """A member ready to be sniffed and handed on: its head can be read first. In a root
        filesystem a file too big to hold in memory feeds its digest as its bytes pass
        (``DigestTap``); smaller ones are hashed whole once read (``handle``)."""
        if isinstance(member, PeekedMember):
            return member
        index = self.ownership if not path_prefix else None
        if index is None or member.size <= MEMORY_LIMIT:
            return PeekedMember(member)
        return PeekedMember(member, DigestTap(member, index.algorithm_for(member.path)))

    def handle(
        self,
        member: ArchiveMember | PeekedMember,
        *,
        layer: int = 0,
        layer_id: str | None = None,
        path_prefix: str = "",
    ) -> FileEntry | None:
        """Offer one regular-file member to the analyzers; returns the entry if any wanted it.

        When some analyzer reads files by content, the member's head is sniffed first (the
        walker may have done it already: a ``PeekedMember`` keeps its result). In a root
        filesystem every top-level file is also digested for the ownership join, whether or
        not an analyzer wanted it, from the one read of its bytes: by the worker it is handed
        to when that keeps up, else here (``_digest``).
        """
        self.files_seen += 1
        peek = self.prepare(member, path_prefix)
        path = path_prefix + peek.path
        index = self.ownership if not path_prefix else None
        if index is None:
            return self._dispatch(peek, path, layer, layer_id, False, "")[0]
        algorithm = index.algorithm_for(path)
        needed = index.wants_content(path)
        tap = peek.tap
        # a worker may take the digest of a file it is handed, unless a tap takes it already
        entry, handed = self._dispatch(
            peek, path, layer, layer_id, needed, algorithm if tap is None else ""
        )
        if entry is not None and needed:
            index.add_content(path, entry.read())
        if handed:
            # a worker hashes the bytes it was handed; the token keeps the walk's order
            digest = f"\0pending:{self._seq}"
            self._pending.append((path, algorithm, digest, self._seq))
        else:
            digest = self._digest(peek, entry, algorithm)
        index.add_file(path, algorithm, digest)
        return entry

    def _digest(self, peek: PeekedMember, entry: FileEntry | None, algorithm: str) -> str:
        """The digest of a file's bytes taken here: read whole and hashed in one call, or, for
        a file too big to hold, from its tap once the rest of it has passed."""
        tap = peek.tap
        # the analyzers' copy, when they have one (a file without a tap is held whole); read
        # before the clock starts, as reading it is the analyzers' ``read`` time
        data = entry.read() if entry is not None and tap is None else None
        start = time.perf_counter()
        try:
            if isinstance(tap, DigestTap):
                peek.finish()  # a head read ahead that nobody wanted: the rest feeds the tap
                return tap.hexdigest(peek.member)
            if data is None:
                with peek.open() as f:
                    data = f.read()
            return hashlib.new(algorithm, data, usedforsecurity=False).hexdigest()
        except ArchiveStreamError:
            raise
        except READ_ERRORS as exc:
            raise ArchiveStreamError.from_read_error(exc) from exc
        finally:
            self.stage_tally.add("digest", time.perf_counter() - start, peek.size, 1)

    def note(self, member: ArchiveMember, path_prefix: str = "") -> None:
        """A member without content to dispatch (link, oversized file): kept for ownership."""
        if self.ownership is None or path_prefix:
            return
        if member.type is MemberType.SYMLINK:
            self.ownership.add_symlink(member.path, member.linkname)
        elif member.type is MemberType.HARDLINK:
            self.ownership.add_hardlink(member.path, normalise_path(member.linkname)[0])
        elif member.type is MemberType.FILE:
            # too large to read: owned or not, it cannot be verified
            self.ownership.add_file(member.path, self.ownership.algorithm_for(member.path), "")

    def _dispatch(
        self,
        peek: PeekedMember,
        path: str,
        layer: int,
        layer_id: str | None,
        needed: bool,
        algorithm: str,
    ) -> tuple[FileEntry | None, bool]:
        """The entry handed to the analyzers that want the file (None: nobody), and whether
        a worker takes its ``algorithm`` digest (``""``: no digest wanted)."""
        m = peek.member
        sniffed = peek.sniffed
        if sniffed is None and self.content_analyzers and m.size > 0:
            with self.stage_tally.timed("sniff", m.size, 1):
                sniffed = peek.sniff(path)
        interested = self.interested(path, m.size, m.mode, sniffed)
        trees = [t for t in self.tree_analyzers if t.wants(path, m.size, m.mode)]
        inventory = self.stage is not None and self.stage.wants(path, m.size)
        if not interested and not trees and not inventory and not needed:
            return None, False
        self.files_dispatched += 1
        self._seq += 1
        seq = self._seq
        remote: dict[AnalyzerWorker, list[tuple[int, str]]] = {}
        local: list[FileAnalyzer] = []
        for a in interested:
            worker = self._hosted.get(a.name)
            if worker is None:
                local.append(a)
            elif worker.alive:  # a dead worker's analyzers fail for the artifact at finish
                remote.setdefault(worker, []).append((self._slot[a.name], a.name))
        named = bool(remote) and m.size > MEMORY_LIMIT
        # the worker takes the digest when it keeps up with the walk, this thread when not
        handed = bool(algorithm) and bool(remote) and next(iter(remote)).keeping_up
        content = LazyContent(lambda: self._loader(peek, named))  # type: ignore[arg-type, return-value]
        entry = FileEntry(
            self._artifact,
            path,
            m.size,
            m.mode,
            content,
            layer,
            m.uid,
            m.gid,
            layer_id,
        )
        if sniffed is not None:
            entry.extra["sniffed"] = sniffed
        entry.extra["model_artifact"] = self._model_artifact
        if remote:
            if inventory and is_prematched(path):
                entry.extra["license_text"] = True  # matched in the worker's idle moments
            self._hand_over(seq, entry, remote, algorithm if handed else "")
        if inventory:
            assert self.stage is not None
            self._stage_add(self.stage, entry, seq)
        for a in local:
            got = self._timed(a, entry.location(), partial(a.analyze, entry), m.size, 1)
            if got:
                self._walk.append((seq, self._slot[a.name], got))
        for i, t in enumerate(trees):
            start, read = time.perf_counter(), self._read_seconds
            failure = self.trees.add(t.name, entry)
            spent = time.perf_counter() - start - (self._read_seconds - read)
            self.analyzer_tally.add(t.name, spent, m.size, 1)
            if failure is not None:
                self._walk.append((seq, self._tree_slot + i, [failure]))
        return entry, handed

    def _hand_over(
        self,
        seq: int,
        entry: FileEntry,
        remote: dict[AnalyzerWorker, list[tuple[int, str]]],
        algorithm: str,
    ) -> None:
        """Send the file to the workers hosting analyzers that want it (the first one also
        takes its ``algorithm`` digest, when one is named)."""
        content = entry.content
        data = content.read() if entry.size <= MEMORY_LIMIT else content.name()
        start = time.perf_counter()
        for worker, wanted in remote.items():
            meta = (
                entry.artifact, entry.path, entry.size, entry.mode, entry.uid, entry.gid,
                entry.layer, entry.layer_id, algorithm, entry.extra,
            )  # fmt: skip
            worker.submit(seq, tuple(wanted), meta, data)
            algorithm = ""
        self.stage_tally.add("hand-off", time.perf_counter() - start, entry.size, 1)

    def _stage_add(self, stage: ComponentStage, entry: FileEntry, seq: int) -> None:
        try:
            with self.stage_tally.timed("components", entry.size, 1):
                stage.add(entry)
        except ArchiveStreamError:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded as data; the verdict becomes incomplete
            log.debug("component stage failed at %s", entry.location(), exc_info=True)
            reason = f"cannot inventory: {type(exc).__name__}: {exc}"[:500]
            self._walk.append((seq, 0, [AnalyzerFailure("packages", reason, entry.location())]))

    def remove(self, path: str) -> None:
        """A whiteout in a later layer: the file leaves the merged trees."""
        if self.ownership is not None:
            self.ownership.remove(path)
        self.trees.remove(path)

    def analyze_config(self, config: dict[str, object], sa: SourceArtifact) -> None:
        """Hand an image config to every ImageConfigAnalyzer."""
        loc = Location(sa.artifact.name, "config.json")
        self._seq += 1
        for i, a in enumerate(self.config_analyzers):
            got = self._timed(a, loc, partial(a.analyze_config, config, sa))
            self._walk.append((self._seq, i, got))

    def _gather(self, sa: SourceArtifact) -> tuple[list[Output], dict[str, list[Output]]]:
        """The walk's outputs in serial order, and the hosted analyzers' finish() outputs.

        A worker that died fails every analyzer it hosted for this artifact.
        """
        walk, self._walk = self._walk, []
        finished: dict[str, list[Output]] = {}
        digests: dict[int, str] = {}
        for worker in dict.fromkeys(self._hosted.values()):
            names = [n for n, w in self._hosted.items() if w is worker]
            try:
                reply = worker.finish(sa)
            except WorkerDiedError as exc:
                loc = Location(sa.artifact.name)
                for name in names:
                    reason = f"{exc}: its findings for this artifact are unknown"
                    finished[name] = [AnalyzerFailure(name, reason, loc)]
                continue
            walk.extend(reply.results)
            finished.update(reply.finished)
            digests.update(reply.digests)
            teach(reply.texts)
            self.analyzer_tally.merge(reply.analyzers)
            self.stage_tally.merge(reply.stages)
            self.worker_cpu_seconds += reply.cpu_seconds
        if self.ownership is not None:
            for path, algorithm, token, seq in self._pending:
                # a digest a dead worker never sent stays unknown: the file is unverified
                self.ownership.settle(path, algorithm, token, digests.get(seq, ""))
        self._pending = []
        walk.sort(key=lambda r: (r[0], r[1]))
        return [o for _, _, outs in walk for o in outs], finished

    def close(self) -> None:
        """Stop the worker processes (the end of the scan, or an interruption)."""
        if self.pool is not None:
            self.pool.close()

    def _resolve_ownership(self, index: OwnershipIndex, loc: Location) -> Ownership | None:
        """The ownership join; a failure (package databases nothing anticipated) fails closed:
        the files' owners are unknown and the verdict cannot be approved."""
        try:
            return index.resolve()
        except Exception as exc:  # noqa: BLE001 - recorded as data; the verdict becomes incomplete
            log.debug("ownership failed for %s", loc.artifact, exc_info=True)
            reason = f"cannot attribute files to packages: {type(exc).__name__}: {exc}"[:500]
            self.outputs.append(AnalyzerFailure("ownership", reason, loc))
            return None

    def finish(self, sa: SourceArtifact) -> list[Output]:
        """End an artifact: FileAnalyzer.finish, ownership, components, then TreeAnalyzers."""
        loc = Location(sa.artifact.name)
        if self.ownership is not None and self._hosted:
            with self.stage_tally.timed("ownership"), contextlib.suppress(Exception):
                # while the workers finish what they were handed; a failure here is not lost:
                # nothing was kept, so ``resolve`` reads the databases again and reports it
                self.ownership.prepare()
        walked, finished = self._gather(sa)
        self.outputs[:0] = walked
        for a in self.file_analyzers:
            if a.name in self._hosted:
                self.outputs.extend(finished.get(a.name, []))
            else:
                self.outputs.extend(self._timed(a, loc, partial(a.finish, sa)))
        self._hosted = {}
        ownership: Ownership | None = None
        if self.ownership is not None:
            with self.stage_tally.timed("ownership"):
                ownership = self._resolve_ownership(self.ownership, loc)
            self.ownership = None
            if ownership is not None:
                self.outputs.extend(ownership.findings)
                self.outputs.append(ArtifactFacts(sa.artifact.name, ownership.facts()))
        if self.stage is not None:
            with self.stage_tally.timed("components"):
                components = self.stage.finish(sa.artifact.name, ownership)
            self.outputs.extend(components.failures)
            for c in self.component_analyzers:
                self.outputs.extend(
                    self._timed(c, loc, partial(c.analyze_components, components, sa))
                )
        for t in self.tree_analyzers:
            root = self.trees.take(t.name)
            try:
                self.outputs.extend(self._timed(t, loc, partial(t.analyze_tree, root, sa)))
            finally:
                shutil.rmtree(root, ignore_errors=True)
        out, self.outputs = self.outputs, []
        if ownership is not None:
            # findings in package-owned files name their owner; verified ones are re-rated
            with self.stage_tally.timed("ownership"):
                out = [ownership.rate(o) if isinstance(o, Finding) else o for o in out]
        return out


def _overrides_content(a: FileAnalyzer) -> bool:
    return type(a).wants_content is not FileAnalyzer.wants_content
