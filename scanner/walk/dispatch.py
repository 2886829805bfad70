"""The dispatcher: each file only to the analyzers that declared interest, content read once.

Example::

    d = Dispatcher(analyzers, work_dir)
    d.begin(source_artifact)
    for member in reader:
        d.handle(member, layer=0)
    outputs = d.finish(source_artifact)
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import IO, cast

from scanner.analyzers.entry import FileEntry, LazyContent
from scanner.analyzers.interface import (
    Analyzer,
    ComponentAnalyzer,
    FileAnalyzer,
    ImageConfigAnalyzer,
    Output,
    TargetAnalyzer,
    TreeAnalyzer,
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
from scanner.walk.components import ComponentStage
from scanner.walk.digesting import DigestTap
from scanner.walk.ownership import Ownership, OwnershipIndex
from scanner.walk.peek import PeekedMember

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
    """
    try:
        return list(call())
    except ArchiveStreamError:
        raise  # the archive itself broke: the walk stops and reports it, not this analyzer
    except Exception as exc:  # noqa: BLE001 - recorded as data; the verdict becomes incomplete
        log.debug("analyzer %s failed at %s", analyzer.name, location, exc_info=True)
        reason = f"{type(exc).__name__}: {exc}"[:500]
        return [AnalyzerFailure(analyzer.name, reason, location)]


class Dispatcher:
    """Routes walked members to FileAnalyzers and TreeAnalyzers and gathers their outputs."""

    def __init__(self, analyzers: Iterable[Analyzer], work_dir: Path) -> None:
        self.analyzers = list(analyzers)
        self.work_dir = work_dir
        self.file_analyzers = [a for a in self.analyzers if isinstance(a, FileAnalyzer)]
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
        self._trees: dict[str, Path] = {}
        self._artifact = ""
        self._model_artifact = False
        self.ownership: OwnershipIndex | None = None
        self.files_seen = 0
        self.files_dispatched = 0

    def begin(self, sa: SourceArtifact, fmt: ArtifactFormat | None = None) -> None:
        """Start an artifact: fresh tree folders; ownership tracking for root filesystems.

        ``fmt`` is the format sniffed from the bytes when it differs from the source's guess.
        """
        self._artifact = sa.artifact.name
        self._model_artifact = sa.artifact.kind is ArtifactKind.MODEL
        self.outputs = []
        self._trees = {}
        rootfs = (fmt or sa.format) in ROOTFS_FORMATS
        self.ownership = OwnershipIndex(sa.artifact.name) if rootfs else None
        for t in self.tree_analyzers:
            self._trees[t.name] = Path(
                tempfile.mkdtemp(prefix=f"tree-{t.name}-", dir=self.work_dir)
            )

    def _loader(self, member: PeekedMember) -> IO[bytes] | bytes:
        try:
            return self._read(member)
        except ArchiveStreamError:
            raise
        except READ_ERRORS as exc:
            raise ArchiveStreamError.from_read_error(exc) from exc

    def _read(self, member: PeekedMember) -> IO[bytes] | bytes:
        with member.open() as src:
            if member.size <= MEMORY_LIMIT:
                return src.read()
            # the spool lives as long as the entry (closed when garbage-collected)
            spool = tempfile.SpooledTemporaryFile(max_size=MEMORY_LIMIT, dir=str(self.work_dir))  # noqa: SIM115
            shutil.copyfileobj(src, spool, CHUNK)
            spool.seek(0)
            return cast(IO[bytes], spool)

    def interested(
        self, path: str, size: int, mode: int, sniffed: Sniffed | None
    ) -> list[FileAnalyzer]:
        """The FileAnalyzers that want a file: by name, then by what its content is."""
        chosen = [a for a in self.file_analyzers if a.wants(path, size, mode)]
        if sniffed is not None:
            chosen += [
                a
                for a in self.content_analyzers
                if a not in chosen and a.wants_content(path, size, sniffed)
            ]
        return chosen

    def prepare(self, member: ArchiveMember | PeekedMember, path_prefix: str = "") -> PeekedMember:
        """A member ready to be sniffed and handed on: its head can be read first, and in a root
        filesystem every byte that passes (head included) feeds its digest (``DigestTap``)."""
        if isinstance(member, PeekedMember):
            return member
        index = self.ownership if not path_prefix else None
        if index is None:
            return PeekedMember(member)
        tap = DigestTap(member, index.algorithm_for(path_prefix + member.path))
        return PeekedMember(tap.member, tap)

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
        filesystem every top-level file is also digested on its single way through
        (``DigestTap``) for the ownership join, whether or not an analyzer wanted it.
        """
        self.files_seen += 1
        peek = self.prepare(member, path_prefix)
        path = path_prefix + peek.path
        index = self.ownership if not path_prefix else None
        tap = peek.tap
        if index is None or not isinstance(tap, DigestTap):
            return self._dispatch(peek, path, layer, layer_id, False)
        entry = self._dispatch(peek, path, layer, layer_id, index.wants_content(path))
        if entry is not None and index.wants_content(path):
            index.add_content(path, entry.read())
        try:
            peek.finish()  # a head read ahead that nobody wanted: the rest still feeds the digest
            index.add_file(path, index.algorithm_for(path), tap.hexdigest())
        except ArchiveStreamError:
            raise
        except READ_ERRORS as exc:
            raise ArchiveStreamError.from_read_error(exc) from exc
        return entry

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
    ) -> FileEntry | None:
        m = peek.member
        sniffed = peek.sniffed
        if sniffed is None and self.content_analyzers and m.size > 0:
            sniffed = peek.sniff(path)
        interested = self.interested(path, m.size, m.mode, sniffed)
        trees = [t for t in self.tree_analyzers if t.wants(path, m.size, m.mode)]
        inventory = self.stage is not None and self.stage.wants(path, m.size)
        if not interested and not trees and not inventory and not needed:
            return None
        self.files_dispatched += 1
        content = LazyContent(lambda: self._loader(peek))  # type: ignore[arg-type, return-value]
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
        if inventory:
            assert self.stage is not None
            self._stage_add(self.stage, entry)
        for a in interested:
            self.outputs.extend(run_safely(a, entry.location(), partial(a.analyze, entry)))
        for t in trees:
            self._materialise(t, entry)
        return entry

    def _stage_add(self, stage: ComponentStage, entry: FileEntry) -> None:
        try:
            stage.add(entry)
        except ArchiveStreamError:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded as data; the verdict becomes incomplete
            log.debug("component stage failed at %s", entry.location(), exc_info=True)
            reason = f"cannot inventory: {type(exc).__name__}: {exc}"[:500]
            self.outputs.append(AnalyzerFailure("packages", reason, entry.location()))

    def remove(self, path: str) -> None:
        """A whiteout in a later layer: the file leaves the merged trees."""
        if self.ownership is not None:
            self.ownership.remove(path)
        for root in self._trees.values():
            target = root / path
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            elif target.exists() or target.is_symlink():
                target.unlink()

    def _materialise(self, t: TreeAnalyzer, entry: FileEntry) -> None:
        root = self._trees[t.name]
        dest = root / entry.path
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_symlink() or dest.is_file():
                dest.unlink()
            with entry.open() as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            os.chmod(dest, 0o444)
        except OSError as exc:
            self.outputs.append(
                AnalyzerFailure(
                    t.name,
                    f"cannot copy file for analysis: {exc.strerror or exc}",
                    entry.location(),
                )
            )

    def analyze_config(self, config: dict[str, object], sa: SourceArtifact) -> None:
        """Hand an image config to every ImageConfigAnalyzer."""
        loc = Location(sa.artifact.name, "config.json")
        for a in self.config_analyzers:
            self.outputs.extend(run_safely(a, loc, partial(a.analyze_config, config, sa)))

    def finish(self, sa: SourceArtifact) -> list[Output]:
        """End an artifact: FileAnalyzer.finish, ownership, components, then TreeAnalyzers."""
        loc = Location(sa.artifact.name)
        for a in self.file_analyzers:
            self.outputs.extend(run_safely(a, loc, partial(a.finish, sa)))
        ownership: Ownership | None = None
        if self.ownership is not None:
            ownership = self.ownership.resolve()
            self.ownership = None
            self.outputs.extend(ownership.findings)
            self.outputs.append(ArtifactFacts(sa.artifact.name, ownership.facts()))
        if self.stage is not None:
            components = self.stage.finish(sa.artifact.name, ownership)
            self.outputs.extend(components.failures)
            for c in self.component_analyzers:
                self.outputs.extend(
                    run_safely(c, loc, partial(c.analyze_components, components, sa))
                )
        for t in self.tree_analyzers:
            root = self._trees.pop(t.name)
            try:
                self.outputs.extend(run_safely(t, loc, partial(t.analyze_tree, root, sa)))
            finally:
                shutil.rmtree(root, ignore_errors=True)
        out, self.outputs = self.outputs, []
        if ownership is not None:
            # findings in package-owned files name their owner; verified ones are re-rated
            out = [ownership.rate(o) if isinstance(o, Finding) else o for o in out]
        return out


def _overrides_content(a: FileAnalyzer) -> bool:
    return type(a).wants_content is not FileAnalyzer.wants_content
