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
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from scanner import TOOL_NAME, __version__
from scanner.analyzers import load_analyzers, select
from scanner.analyzers.interface import Analyzer, AnalyzerContext, Output
from scanner.cache import ResultCache, cache_key
from scanner.config import ScanConfig
from scanner.errors import ScannerError, SourceError
from scanner.models import (
    AnalyzerFailure,
    Artifact,
    ArtifactFacts,
    Category,
    Component,
    Digest,
    Finding,
    Location,
    Report,
    ResourceProfile,
    Severity,
    Skipped,
    Timings,
    frozen_mapping,
)
from scanner.sources.detect import detect_target, sniff_file
from scanner.sources.interface import ArtifactFormat, ScanTarget, SourceArtifact
from scanner.sources.prehash import big_files, prehashing, sha256_file
from scanner.treedigest import tree_manifest
from scanner.walk.dispatch import Dispatcher, run_safely
from scanner.walk.walker import ArtifactWalker, Progress, entry_of, mark_shadowed
from scanner.walk.workers import PARALLEL_MIN_BYTES, WorkerPlan, WorkerPool, warm_up

__all__ = ["Progress", "scan"]

log = logging.getLogger(__name__)


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


def _warm_up_workers(config: ScanConfig, analyzers: list[Analyzer] | None) -> None:
    """Start the workers' fork server while the target is read (``warm_up``)."""
    if analyzers is not None:
        warm_up(type(a) for a in analyzers)
        return
    try:
        classes = select(load_analyzers(), config.analyzers)
    except ScannerError:
        return  # a selection naming no analyzer: _instantiate reports it, after the target
    warm_up(classes)


def _name(a: Analyzer) -> str:
    return a.name


def _file_digest(path: Path) -> str:
    return sha256_file(path)[0]


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
    started = time.perf_counter(), _cpu_seconds()
    big = big_files(target, PARALLEL_MIN_BYTES)
    # the big files' digests are taken by a child while the scan starts (imports, workers'
    # start, manifests): the walk needs them first
    with _work_dir(config) as work, prehashing(big):
        if config.effective_jobs() > 1 and big:
            _warm_up_workers(config, analyzers)
        st = detect_target(target)
        if analyzers is None:
            analyzers = _instantiate(config, work)
        else:
            for a in analyzers:
                a.configure(AnalyzerContext(a.name, config.analyzer_options(a.name), config, work))
        # a worker rebuilds its analyzers from their classes and this configuration: only those
        # it can import by name (hostable) go to one
        plan = WorkerPlan.of(analyzers, config, work)
        # the walk keeps one core busy; a worker takes another, a second one only on machines
        # with three cores or more (a worker's own start costs some 60 MB and 0.3 s of CPU)
        pool = WorkerPool(plan, min(config.effective_jobs() - 1, 2))
        dispatcher = Dispatcher(analyzers, work, pool, ownership=config.ownership)
        if any(a.artifact.size >= PARALLEL_MIN_BYTES for a in st.artifacts):
            # the workers start while the first artifact is sniffed and its digest taken
            pool.start({a.name: a for a in dispatcher.file_analyzers})
        try:
            report = _scan_target(
                st, analyzers, dispatcher, config, work, progress, clock, tool_version
            )
        finally:
            dispatcher.close()
    return dataclasses.replace(report, timings=_timings(dispatcher, config, started))


def _scan_target(
    st: ScanTarget,
    analyzers: list[Analyzer],
    dispatcher: Dispatcher,
    config: ScanConfig,
    work: Path,
    progress: Progress | None,
    clock: Callable[[], str],
    tool_version: str,
) -> Report:
    """Walk every artifact of the detected target, then run the target analyzers."""
    versions = {a.name: a.version for a in analyzers}
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
        with dispatcher.analyzer_tally.timed(a.name):
            outputs.extend(run_safely(a, None, partial(a.analyze_target, st)))
    return _build_report(st, artifacts, outputs, versions, config, clock, tool_version, cache)


def _cpu_seconds() -> float:
    """User and system time of this process and of the children it waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _timings(dispatcher: Dispatcher, config: ScanConfig, started: tuple[float, float]) -> Timings:
    return Timings(
        wall_seconds=round(time.perf_counter() - started[0], 3),
        cpu_seconds=round(_cpu_seconds() - started[1] + dispatcher.worker_cpu_seconds, 3),
        jobs=config.effective_jobs(),
        stages=dispatcher.stage_tally.timings(),
        analyzers=dispatcher.analyzer_tally.timings(),
    )


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
            f"{fmt.value}:{digest}:{sa.artifact.name}:{entry_of(sa)}", versions, config_digest
        )
        cached = cache.get(key)
        if cached is not None:
            log.info("cache hit for %s", sa.artifact.name)
            return list(cached)
    walker = ArtifactWalker(dispatcher, config, work, progress)
    dispatcher.begin(sa, fmt)
    out: list[Output] = []
    try:
        with dispatcher.stage_tally.timed("walk", sa.artifact.size, 1):
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
    # not in a ``finally``: an interrupted walk stops here, without finishing the analyzers
    out.extend(dispatcher.finish(sa))
    out.extend(walker.findings)
    if walker.deletions:
        found = [o for o in out if isinstance(o, Finding)]
        rest = [o for o in out if not isinstance(o, Finding)]
        out = [*mark_shadowed(found, walker.deletions, walker.layer_index), *rest]
    if key is not None:
        cache.put(key, out)
    return out


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
    facts: dict[str, dict[str, Any]] = {}
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
        elif isinstance(o, ArtifactFacts):
            facts.setdefault(o.artifact, {}).update(o.facts)
    artifacts = [
        dataclasses.replace(a, properties=frozen_mapping({**a.properties, **facts[a.name]}))
        if a.name in facts
        else a
        for a in artifacts
    ]
    audit: dict[str, Any] = {
        "analyzers": sorted(versions),
        "offline": config.offline,
        "profile": config.profile,
        "limits": {k: getattr(config.limits, k) for k in config.limits.__slots__},
        "config_sha256": config.digest(),
        # which components the license lists judged (the license exports say "not judged")
        "license_scopes": sorted(config.analyzer_options("licenses").get("scopes", ["app"])),
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
