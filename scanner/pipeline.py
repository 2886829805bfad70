"""The library entry point: ``scan(target, config) -> Report``.

Source detection, one streaming pass per artifact (or per layer), dispatch to analyzers, the
cache, target-level analyzers, and a deterministic Report. No policy here: see
``scanner.gate`` for the verdict.

Example::

    from scanner.pipeline import scan
    report = scan(Path("examples/shelf-monitor"), ScanConfig(cache_dir=None))
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any, cast

from scanner import TOOL_NAME, __version__
from scanner.analyzers import load_analyzers, select
from scanner.analyzers.interface import Analyzer, AnalyzerContext, Output
from scanner.cache import ResultCache, cache_key
from scanner.config import ScanConfig
from scanner.errors import ScannerError, SourceError
from scanner.models import (
    AnalyzerFailure,
    Artifact,
    Category,
    Component,
    Digest,
    Finding,
    Location,
    Report,
    ResourceProfile,
    Severity,
    Skipped,
    frozen_mapping,
)
from scanner.sources.detect import detect_target, sniff_file
from scanner.sources.image import read_image
from scanner.sources.interface import ArtifactFormat, ScanTarget, SourceArtifact
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
from scanner.treedigest import tree_manifest
from scanner.walk.dispatch import Dispatcher, run_safely

__all__ = ["Progress", "scan"]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""``progress(artifact_name, bytes_done, bytes_total)``."""

NESTED_SUFFIXES = (
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.zst",
    ".tar.zstd",
    ".tar.xz",
    ".tar.bz2",
    ".zip",
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _instantiate(config: ScanConfig, work_dir: Path) -> list[Analyzer]:
    classes = select(load_analyzers(), config.analyzers)
    analyzers: list[Analyzer] = []
    for cls in classes:
        a = cls()
        a.configure(AnalyzerContext(cls.name, config.analyzer_options(cls.name), config, work_dir))
        analyzers.append(a)
    return analyzers


class _Walk:
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
                continue
            path = prefix + member.path
            if self.entry_path and path == self.entry_path:
                self.seen_entry = True
            if reader.context is LinkContext.EXTRACT and path.lower().endswith(NESTED_SUFFIXES):
                self._nested(member, sa, depth, path, layer, layer_id)
                continue
            self.d.handle(member, layer=layer, layer_id=layer_id, path_prefix=prefix)

    def _nested(
        self,
        member: ArchiveMember,
        sa: SourceArtifact,
        depth: int,
        path: str,
        layer: int,
        layer_id: str | None,
    ) -> None:
        """Spool a nested archive once, offer it to analyzers, then walk inside it."""
        with tempfile.TemporaryFile(dir=self.work_dir) as spool:
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
                    # outside the try: a full work folder is the tool's problem (an I/O
                    # failure, verdict incomplete), not a corrupt archive (a finding)
                    spool.write(chunk)
            spool.seek(0)
            copy = ArchiveMember(
                member.path,
                member.raw_name,
                MemberType.FILE,
                member.size,
                member.mode,
                _opener=lambda: _shared(spool),
            )
            prefix = path[: len(path) - len(member.path)]
            self.d.handle(copy, layer=layer, layer_id=layer_id, path_prefix=prefix)
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
        self.entry_path = normalise_path(_entry_of(sa))[0]
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

                self.d.handle(
                    ArchiveMember(
                        rel, rel, MemberType.FILE, st.st_size, st.st_mode & 0o7777, _opener=opener
                    )
                )

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
                                continue
                            if self.entry_path and member.path == self.entry_path:
                                self.seen_entry = True
                            self.d.handle(member, layer=layer.index, layer_id=layer_id)
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


def _drain(f: Any) -> None:
    while f.read(CHUNK):
        pass


def _mark_shadowed(
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


def _name(a: Analyzer) -> str:
    return a.name


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _with_tree_digest(sa: SourceArtifact) -> tuple[SourceArtifact, list[Output]]:
    """``sa`` with its folder's tree digest and total size; a failure when unreadable."""
    assert sa.file is not None
    try:
        tree = tree_manifest(sa.file)
    except OSError as exc:
        reason = f"cannot take the folder's digest: {exc.strerror or exc}"
        return sa, [AnalyzerFailure("integrity", reason, Location(sa.artifact.name))]
    artifact = dataclasses.replace(sa.artifact, digest=Digest.from_hex(tree.digest), size=tree.size)
    return dataclasses.replace(sa, artifact=artifact), []


@contextlib.contextmanager
def _work_dir(config: ScanConfig) -> Iterator[Path]:
    if config.work_dir is not None:
        config.work_dir.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="scan-", dir=config.work_dir))
    else:
        path = Path(tempfile.mkdtemp(prefix="panorama-gate-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def scan(
    target: Path,
    config: ScanConfig,
    *,
    clock: Callable[[], str] = _now,
    tool_version: str = __version__,
    progress: Progress | None = None,
    analyzers: list[Analyzer] | None = None,
) -> Report:
    """Scan ``target`` and return the Report (no verdict).

    ``analyzers`` replaces the registry's selection with ready instances (tests, embedding);
    they are configured here like registry ones.
    """
    target = Path(target)
    with _work_dir(config) as work:
        st = detect_target(target)
        if analyzers is None:
            analyzers = _instantiate(config, work)
        else:
            for a in analyzers:
                a.configure(AnalyzerContext(a.name, config.analyzer_options(a.name), config, work))
        versions = {a.name: a.version for a in analyzers}
        dispatcher = Dispatcher(analyzers, work)
        cache = ResultCache(config.cache_dir)
        tokens = "".join(f"{a.name}={a.cache_token()};" for a in sorted(analyzers, key=_name))
        config_digest = hashlib.sha256(f"{config.digest()}|{tokens}".encode()).hexdigest()
        outputs: list[Output] = [*st.findings, *st.failures]
        artifacts: list[Artifact] = []
        verified: dict[str, str] = {}
        for i, sa in enumerate(st.artifacts):
            if sa.digest_verified and sa.artifact.digest is not None:
                verified[sa.artifact.name] = sa.artifact.digest.hex
            if sa.artifact.digest is None and sa.file is not None and sa.file.is_file():
                # every artifact carries its digest: signing and the cache key depend on it
                sa = dataclasses.replace(
                    sa,
                    artifact=dataclasses.replace(
                        sa.artifact, digest=Digest.from_hex(_file_digest(sa.file))
                    ),
                )
                st.artifacts[i] = sa
                assert sa.artifact.digest is not None
                verified[sa.artifact.name] = sa.artifact.digest.hex
            elif sa.format is ArtifactFormat.DIRECTORY and sa.file is not None:
                # a folder's digest is that of its exact file set (scanner.treedigest), so
                # `sign` can refuse a folder that changed after the scan
                sa, failure = _with_tree_digest(sa)
                st.artifacts[i] = sa
                outputs.extend(failure)
            artifacts.append(sa.artifact)
            outputs.extend(
                _scan_artifact(
                    sa, dispatcher, cache, versions, config_digest, config, work, progress, verified
                )
            )
        for a in dispatcher.target_analyzers:
            outputs.extend(run_safely(a, None, partial(a.analyze_target, st)))
        return _build_report(st, artifacts, outputs, versions, config, clock, tool_version, cache)


def _scan_artifact(
    sa: SourceArtifact,
    dispatcher: Dispatcher,
    cache: ResultCache,
    versions: dict[str, int],
    config_digest: str,
    config: ScanConfig,
    work: Path,
    progress: Progress | None,
    verified: dict[str, str],
) -> list[Output]:
    if sa.format is ArtifactFormat.DESCRIPTOR or sa.file is None or not sa.file.exists():
        return []
    fmt: ArtifactFormat = sa.format
    if sa.file.is_file() and not sa.sniffed:
        # project assets arrive with a guess from their manifest: the bytes decide
        try:
            fmt = sniff_file(sa.file)
        except SourceError as exc:
            return [
                Finding.create(
                    rule_id="archive.unrecognised",
                    category=Category.ARCHIVE,
                    severity=Severity.HIGH,
                    message=f"asset is not a readable archive or model: {exc.message}",
                    location=Location(sa.artifact.name),
                )
            ]
    key = None
    if sa.file.is_file() and cache.root is not None:
        # Never key the cache on a digest taken from a file name: a hostile asset could claim
        # the name of a clean one and be served its cached results.
        digest = verified.get(sa.artifact.name) or _file_digest(sa.file)
        key = cache_key(
            f"{fmt.value}:{digest}:{sa.artifact.name}:{_entry_of(sa)}", versions, config_digest
        )
        cached = cache.get(key)
        if cached is not None:
            log.info("cache hit for %s", sa.artifact.name)
            return list(cached)
    walker = _Walk(dispatcher, config, work, progress)
    dispatcher.begin(sa)
    out: list[Output] = []
    try:
        walker.walk(sa, fmt)
    except ScannerError as exc:
        out.append(
            Finding.create(
                rule_id="archive.unreadable",
                category=Category.ARCHIVE,
                severity=Severity.HIGH,
                message=f"artifact could not be read: {exc.message}",
                location=Location(sa.artifact.name),
            )
        )
    except OSError as exc:
        out.append(
            AnalyzerFailure(
                "archive",
                f"I/O error while reading: {exc.strerror or exc}",
                Location(sa.artifact.name),
            )
        )
    finally:
        out.extend(dispatcher.finish(sa))
    out.extend(walker.findings)
    if walker.deletions:
        found = [o for o in out if isinstance(o, Finding)]
        rest = [o for o in out if not isinstance(o, Finding)]
        out = [*_mark_shadowed(found, walker.deletions, walker.layer_index), *rest]
    if key is not None:
        cache.put(key, out)
    return out


def _entry_of(sa: SourceArtifact) -> str:
    """The descriptor's entry-point script (``""`` for non-code artifacts)."""
    entry = ((sa.descriptor or {}).get("runtimeDescriptor") or {}).get("entry") or {}
    return str(entry.get("name") or "")


def _build_report(
    st: ScanTarget,
    artifacts: list[Artifact],
    outputs: Iterable[Output],
    versions: dict[str, int],
    config: ScanConfig,
    clock: Callable[[], str],
    tool_version: str,
    cache: ResultCache,
) -> Report:
    findings: dict[str, Finding] = {}
    components: dict[tuple[str, str, str, str, str], Component] = {}
    failures: list[AnalyzerFailure] = []
    skipped: list[Skipped] = []
    resources: ResourceProfile | None = None
    for o in outputs:
        if isinstance(o, Finding):
            findings.setdefault(o.fingerprint, o)
        elif isinstance(o, Component):
            components.setdefault(
                (o.ecosystem, o.name, o.version, o.location.artifact, o.location.path), o
            )
        elif isinstance(o, AnalyzerFailure):
            failures.append(o)
        elif isinstance(o, Skipped):
            skipped.append(o)
        elif isinstance(o, ResourceProfile):
            resources = o
    audit: dict[str, Any] = {
        "analyzers": sorted(versions),
        "offline": config.offline,
        "profile": config.profile,
        "limits": {k: getattr(config.limits, k) for k in config.limits.__slots__},
        "config_sha256": config.digest(),
        "cache": {"enabled": config.cache_dir is not None, "hits": cache.hits},
    }
    return Report(
        tool_name=TOOL_NAME,
        tool_version=tool_version,
        created_at=clock(),
        target=st.target,
        artifacts=tuple(sorted(artifacts, key=lambda a: (a.kind.value, a.name))),
        findings=tuple(sorted(findings.values(), key=Finding.sort_key)),
        components=tuple(sorted(components.values(), key=Component.sort_key)),
        failures=tuple(sorted(failures, key=AnalyzerFailure.sort_key)),
        skipped=tuple(sorted(skipped, key=lambda s: (s.analyzer, str(s.location), s.reason))),
        resources=resources,
        analyzers=frozen_mapping(versions),
        config_audit=frozen_mapping(audit),
    )
