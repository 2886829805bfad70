"""The walker: one forward pass over an artifact's bytes, feeding the dispatcher.

Every artifact format ends here as a stream of regular-file members: a root-filesystem or
model tar (plain or compressed), the layers of a ``docker save``/OCI image (merged with their
whiteouts), a model zip, one loose file, or a folder on disk. Each member's head is sniffed
once; nested archives (by content: ``scanner.walk.nesting``) are spooled once and walked in
turn, within the depth limit: every archive inside model archives and code packages, and the
model containers inside root filesystems.

Example::

    walker = ArtifactWalker(dispatcher, config, work_dir, progress=None)
    walker.walk(source_artifact, ArtifactFormat.ROOTFS)
    findings = walker.findings
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

from scanner.config import ScanConfig
from scanner.models import Category, Finding, Location, Severity, frozen_mapping
from scanner.sources.image import read_image
from scanner.sources.interface import ArtifactFormat, SourceArtifact
from scanner.sources.safe_archive import (
    CHUNK,
    READ_ERRORS,
    ArchiveMember,
    ArchiveStreamError,
    Compression,
    LinkContext,
    MemberType,
    SafeTarReader,
    SafeZipReader,
    decompressing_reader,
    normalise_path,
    sniff_compression,
)
from scanner.sources.sniff import ContentKind, Sniffed, zip_kind
from scanner.walk.dispatch import Dispatcher
from scanner.walk.nesting import opens_nested
from scanner.walk.peek import PeekedMember

__all__ = ["ArtifactWalker", "Progress", "entry_of", "mark_shadowed"]

Progress = Callable[[str, int, int], None]
"""``progress(artifact_name, bytes_done, bytes_total)``."""

# Compressed streams at least this big decompress in a thread beside the walk (a thread costs
# more than it saves on a few MiB).
READAHEAD_MIN_BYTES = 16 * 1024 * 1024


class ArtifactWalker:
    """Walks one artifact's bytes and feeds the dispatcher."""

    def __init__(
        self, dispatcher: Dispatcher, config: ScanConfig, work_dir: Path, progress: Progress | None
    ) -> None:
        self.d = dispatcher
        self.config = config
        self.work_dir = work_dir
        self.progress = progress
        self.findings: list[Finding] = []
        self.seen_entry = False
        self.entry_path = ""
        # image layers: whiteouts seen (layer, path, opaque) and layer digest -> index
        self.deletions: list[tuple[int, str, bool]] = []
        self.layer_index: dict[str, int] = {}

    # -- helpers ---------------------------------------------------------------------------
    def _progress_cb(self, name: str, total: int) -> Callable[[int], None] | None:
        if self.progress is None:
            return None
        done = 0
        last = 0
        cb = self.progress

        def on_read(n: int) -> None:
            nonlocal done, last
            done += n
            if done - last >= 8 * CHUNK or n == 0:
                last = done
                cb(name, done, total)

        return on_read

    def _members(
        self,
        reader: SafeTarReader | SafeZipReader,
        sa: SourceArtifact,
        depth: int,
        prefix: str,
        layer: int = 0,
        layer_id: str | None = None,
    ) -> None:
        try:
            self._each_member(reader, sa, depth, prefix, layer, layer_id)
        except ArchiveStreamError as exc:
            reader.fail(exc)
        self.findings.extend(reader.findings)

    def _each_member(
        self,
        reader: SafeTarReader | SafeZipReader,
        sa: SourceArtifact,
        depth: int,
        prefix: str,
        layer: int,
        layer_id: str | None,
    ) -> None:
        for member in reader:
            if member.type is not MemberType.FILE or member._opener is None:
                self.d.note(member, prefix)
                continue
            self._offer(member, sa, depth, prefix, layer, layer_id, reader.context)

    def _offer(
        self,
        member: ArchiveMember,
        sa: SourceArtifact,
        depth: int,
        prefix: str,
        layer: int,
        layer_id: str | None,
        context: LinkContext,
    ) -> None:
        """One regular file: walked inside when it is an archive to open, else dispatched."""
        path = prefix + member.path
        if self.entry_path and path == self.entry_path:
            self.seen_entry = True
        peek = self.d.prepare(member, prefix)
        # Sniffing costs a head read per file: in a root filesystem only when some analyzer
        # reads files by content (the model analyzers), whose containers are then opened too.
        sniffs = context is LinkContext.EXTRACT or bool(self.d.content_analyzers)
        if member.size > 0 and sniffs:
            with self.d.stage_tally.timed("sniff", member.size, 1):
                sniffed = peek.sniff(path)
            if opens_nested(sniffed, path, context):
                self._nested(peek, sa, depth, path, layer, layer_id)
                return
        self.d.handle(peek, layer=layer, layer_id=layer_id, path_prefix=prefix)

    def _nested(
        self,
        member: PeekedMember,
        sa: SourceArtifact,
        depth: int,
        path: str,
        layer: int,
        layer_id: str | None,
    ) -> None:
        """Spool a nested archive once, offer it to analyzers, then walk inside it."""
        with tempfile.TemporaryFile(dir=self.work_dir) as spool:
            _spool(member, spool)
            m = member.member
            copy = ArchiveMember(
                m.path, m.raw_name, MemberType.FILE, m.size, m.mode, _opener=lambda: _shared(spool)
            )
            prefix = path[: len(path) - len(m.path)]
            whole = _zip_model_kind(spool)
            peek = self.d.prepare(copy, prefix)
            if whole is not None:
                # a checkpoint, .npz or .keras (its central directory says so): one model file
                peek.sniffed_as(
                    Sniffed(whole, names=member.sniffed.names if member.sniffed else ())
                )
            self.d.handle(peek, layer=layer, layer_id=layer_id, path_prefix=prefix)
            if whole is not None:
                return
            spool.seek(0)
            if depth + 1 > self.config.limits.max_depth:
                self.findings.append(
                    Finding.create(
                        rule_id="archive.nesting-too-deep",
                        category=Category.ARCHIVE,
                        severity=Severity.HIGH,
                        message=f"archive nested {depth + 1} levels deep (limit "
                        f"{self.config.limits.max_depth}); its content was not scanned",
                        location=Location(sa.artifact.name, path),
                    )
                )
                return
            head = spool.read(6)
            spool.seek(0)
            inner_prefix = path + "!/"
            if head[:4] == b"PK\x03\x04":
                self._members(
                    SafeZipReader(
                        _shared(spool),
                        artifact=sa.artifact.name,
                        limits=self.config.limits,
                        path_prefix=inner_prefix,
                    ),
                    sa,
                    depth + 1,
                    inner_prefix,
                    layer,
                    layer_id,
                )
            else:
                self._members(
                    SafeTarReader(
                        _shared(spool),
                        artifact=sa.artifact.name,
                        limits=self.config.limits,
                        context=LinkContext.EXTRACT,
                        path_prefix=inner_prefix,
                    ),
                    sa,
                    depth + 1,
                    inner_prefix,
                    layer,
                    layer_id,
                )

    # -- per format ------------------------------------------------------------------------
    def walk(self, sa: SourceArtifact, fmt: ArtifactFormat) -> None:
        assert sa.file is not None
        self.entry_path = normalise_path(entry_of(sa))[0]
        size = sa.file.stat().st_size if sa.file.is_file() else 0
        if fmt in (ArtifactFormat.ROOTFS, ArtifactFormat.MODEL_ARCHIVE):
            ctx = LinkContext.ROOTFS if fmt is ArtifactFormat.ROOTFS else LinkContext.EXTRACT
            with sa.file.open("rb") as raw:
                reader = SafeTarReader(
                    raw,
                    artifact=sa.artifact.name,
                    limits=self.config.limits,
                    context=ctx,
                    on_progress=self._progress_cb(sa.artifact.name, size),
                    # a big stream decompresses in a thread of its own, beside the walk
                    readahead=size >= READAHEAD_MIN_BYTES and self.config.effective_jobs() > 1,
                )
                self._members(reader, sa, 0, "")
        elif fmt in (
            ArtifactFormat.DOCKER_SAVE,
            ArtifactFormat.OCI_ARCHIVE,
            ArtifactFormat.OCI_DIR,
        ):
            self._walk_image(sa)
        elif fmt is ArtifactFormat.MODEL_ZIP:
            with sa.file.open("rb") as raw:
                self._members(
                    SafeZipReader(raw, artifact=sa.artifact.name, limits=self.config.limits),
                    sa,
                    0,
                    "",
                )
        elif fmt is ArtifactFormat.MODEL_FILE:
            self._walk_single_file(sa)
        elif fmt is ArtifactFormat.DIRECTORY:
            self._walk_directory(sa)
        if self.entry_path and fmt is not ArtifactFormat.DIRECTORY and not self.seen_entry:
            self.findings.append(
                Finding.create(
                    rule_id="integrity.entry-point-missing",
                    category=Category.INTEGRITY,
                    severity=Severity.HIGH,
                    message=(
                        f"descriptor entry point /{self.entry_path} is not in the container asset"
                    ),
                    location=Location(sa.artifact.name, self.entry_path),
                )
            )

    def _walk_single_file(self, sa: SourceArtifact) -> None:
        assert sa.file is not None
        path = sa.file
        with path.open("rb") as f:
            compression = sniff_compression(f.read(6))
        size = path.stat().st_size
        if size > self.config.limits.max_member_bytes:
            self.findings.append(
                Finding.create(
                    rule_id="archive.member-too-large",
                    category=Category.ARCHIVE,
                    severity=Severity.HIGH,
                    message=f"file of {size} bytes is over the size limit; "
                    "its content was not scanned",
                    location=Location(sa.artifact.name, path.name),
                )
            )
            return

        def opener() -> IO[bytes]:
            raw = path.open("rb")
            if compression is Compression.NONE:
                return raw
            return decompressing_reader(raw, compression)

        member = ArchiveMember(path.name, path.name, MemberType.FILE, size, 0o644, _opener=opener)
        self.d.handle(member)

    def _walk_directory(self, sa: SourceArtifact) -> None:
        assert sa.file is not None
        root = sa.file.resolve()
        count = 0
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            for name in sorted(filenames):
                full = Path(dirpath) / name
                rel = full.relative_to(root).as_posix()
                count += 1
                if count > self.config.limits.max_members:
                    self.findings.append(
                        Finding.create(
                            rule_id="archive.too-many-members",
                            category=Category.ARCHIVE,
                            severity=Severity.HIGH,
                            message="folder holds too many files; walk stopped",
                            location=Location(sa.artifact.name),
                        )
                    )
                    return
                if full.is_symlink():
                    target = os.readlink(full)
                    resolved = (full.parent / target).resolve()
                    if not resolved.is_relative_to(root):
                        self.findings.append(
                            Finding.create(
                                rule_id="archive.symlink-escape",
                                category=Category.ARCHIVE,
                                severity=Severity.HIGH,
                                message=f"symlink {rel!r} points outside the folder; not followed",
                                location=Location(sa.artifact.name, rel),
                            )
                        )
                    continue
                if not full.is_file():
                    continue
                st = full.stat()

                def opener(full: Path = full) -> IO[bytes]:
                    return full.open("rb")

                member = ArchiveMember(
                    rel, rel, MemberType.FILE, st.st_size, st.st_mode & 0o7777, _opener=opener
                )
                self._offer(member, sa, 0, "", 0, None, LinkContext.EXTRACT)

    def _walk_image(self, sa: SourceArtifact) -> None:
        assert sa.file is not None
        layout = read_image(sa.file, self.work_dir, self.config.limits, sa.artifact.name)
        try:
            if layout.config is not None:
                self.d.analyze_config(layout.config, sa)
            for layer in layout.layers:
                layer_id = layer.digest
                with layer.open() as blob:
                    reader = SafeTarReader(
                        blob,
                        artifact=sa.artifact.name,
                        limits=self.config.limits,
                        context=LinkContext.ROOTFS,
                    )
                    try:
                        for member in reader:
                            base = member.path.rsplit("/", 1)[-1]
                            if base.startswith(".wh."):
                                parent = member.path[: -len(base)].rstrip("/")
                                if base == ".wh..wh..opq":
                                    self.deletions.append((layer.index, parent, True))
                                else:
                                    gone = (parent + "/" if parent else "") + base[4:]
                                    self.deletions.append((layer.index, gone, False))
                                    self.d.remove(gone)
                                continue
                            if member.type is not MemberType.FILE or member._opener is None:
                                self.d.note(member)
                                continue
                            self._offer(
                                member, sa, 0, "", layer.index, layer_id, LinkContext.ROOTFS
                            )
                    except ArchiveStreamError as exc:
                        reader.fail(exc)
                    self.findings.extend(reader.findings)
                    _drain(blob)  # the content-address check fires at EOF
            self.findings.extend(layout.findings)
            self.layer_index = {la.digest: la.index for la in layout.layers}
        finally:
            layout.close()


class _Unclosable:
    """A view of a shared temporary file whose close() does not close it."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def __enter__(self) -> _Unclosable:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _shared(f: IO[bytes]) -> IO[bytes]:
    return cast(IO[bytes], _Unclosable(f))


def _spool(member: PeekedMember, spool: IO[bytes]) -> None:
    """Copy a member into the spool; a read error is the archive's, a write error the tool's."""
    with member.open() as src:
        while True:
            try:
                chunk = src.read(CHUNK)
            except ArchiveStreamError:
                raise
            except READ_ERRORS as exc:
                raise ArchiveStreamError.from_read_error(exc) from exc
            if not chunk:
                break
            # outside the try: a full work folder is the tool's problem (an I/O failure,
            # verdict incomplete), not a corrupt archive (a finding)
            spool.write(chunk)
    spool.seek(0)


def _zip_model_kind(spool: IO[bytes]) -> ContentKind | None:
    """What a spooled zip is when its central directory makes it one model file, else None."""
    try:
        if spool.read(4) != b"PK\x03\x04":
            return None
        spool.seek(0)
        with zipfile.ZipFile(_shared(spool)) as zf:
            kind = zip_kind(zf.namelist()[:2000])
        return None if kind is ContentKind.ZIP else kind
    except READ_ERRORS:
        return None  # a broken zip is walked (and reported) as an archive
    finally:
        spool.seek(0)


def _drain(f: Any) -> None:
    while f.read(CHUNK):
        pass


def mark_shadowed(
    findings: list[Finding], deletions: list[tuple[int, str, bool]], layer_index: dict[str, int]
) -> list[Finding]:
    """Findings in files a later layer deleted stay in the report, marked ``shadowed``."""
    if not deletions:
        return findings
    out = []
    for f in findings:
        idx = layer_index.get(f.location.layer or "")
        if idx is not None and any(
            d_layer > idx
            and (
                f.location.path == p or f.location.path.startswith(p + "/") or (opaque and p == "")
            )
            for d_layer, p, opaque in deletions
        ):
            props = dict(f.properties)
            props["shadowed"] = "true"
            f = dataclasses.replace(f, properties=frozen_mapping(props))
        out.append(f)
    return out


def entry_of(sa: SourceArtifact) -> str:
    """The descriptor's entry-point script (``""`` for non-code artifacts)."""
    entry = ((sa.descriptor or {}).get("runtimeDescriptor") or {}).get("entry") or {}
    return str(entry.get("name") or "")
