"""``code``: bandit on the application's own Python code (category ``code``).

App code is the ``panorama/`` tree of a container, the files of a code package folder that its
Dockerfile copies into the image (``COPY src /panorama``: ``src/``; ``COPY . .``: all of them),
and every module the descriptor's entry point reaches through local imports. Third-party
site-packages and the standard library are scanned only with ``--code-scope all``.

Bandit runs through its Python API. Files are sorted largest first and cut into small chunks
that a process pool hands out as workers free up, so one big file never holds up a fixed share
of the work; results are sorted, so a parallel run equals a serial one. ``# nosec`` works as in
bandit (bandit's own manager handles it). Files bandit cannot parse are failures for app code
(the verdict becomes incomplete) and recorded skips for third-party code. A few checks bandit
lacks (``_code_checks``: the whole environment written to a log, a server bound to the empty
host) run on the same files and report in the same form.

Example::

    analyzer = CodeAnalyzer()
    analyzer.configure(AnalyzerContext("code", {"scope": "app"}))
    outputs = list(analyzer.analyze_tree(Path("/tmp/tree"), source_artifact))
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import logging
import multiprocessing
import os
import re
import signal
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from scanner.analyzers._app_code import (
    LIBRARY,
    app_files_of_folder,
    descriptor_of,
    entry_candidates,
    entry_names,
    reached_from,
)
from scanner.analyzers._code_checks import check_source
from scanner.analyzers._input_sinks import input_sink_findings
from scanner.analyzers.interface import Output, TreeAnalyzer
from scanner.errors import ConfigError
from scanner.forkserver import start_forkserver
from scanner.models import AnalyzerFailure, Category, Finding, Location, Severity, Skipped
from scanner.redact import redact
from scanner.sources.interface import ArtifactFormat, SourceArtifact

__all__ = ["BanditIssue", "CodeAnalyzer", "reached_from", "run_bandit"]

# Tests whose message quotes the literal they found (a password): only a redacted form is kept.
_QUOTES_LITERAL = frozenset({"B105", "B106", "B107"})
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_SEVERITY = {"LOW": Severity.LOW, "MEDIUM": Severity.MEDIUM, "HIGH": Severity.HIGH}
# Files per chunk: small, so that the pool balances well; the last chunks finish together.
CHUNK_FILES = 4
# Below this many files a pool costs more than it saves.
PARALLEL_MIN_FILES = 24


@dataclass(frozen=True, slots=True)
class BanditIssue:
    """One bandit result, with a path relative to the scanned root."""

    path: str
    line: int
    col: int
    test_id: str
    test_name: str
    severity: str
    confidence: str
    cwe: int | None
    text: str
    line_range: tuple[int, ...]
    more_info: str
    source_line: str

    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Deterministic order, independent of how the work was split."""
        return (self.path, self.line, self.col, self.test_id, self.text)


# --- the worker side (runs in pool processes, or in-process for a serial run) -------------------

_MANAGER: Any = None


def _install_fast_nosec_lookup() -> None:
    """Make bandit's ``utils.get_nosec`` return at once when a file has no comments to check.

    Bandit asks for the ``# nosec`` of every line range of every node for every test: on a
    file without any nosec comment that is a long walk over empty results (a third of bandit's
    time). The replacement answers ``None`` for an empty table, exactly what the original
    returns, and defers to the original otherwise.
    """
    from bandit.core import utils as b_utils

    original = b_utils.get_nosec
    if getattr(original, "_panorama_gate_fast", False):
        return

    def get_nosec(nosec_lines: Mapping[int, Any], context: Mapping[str, Any]) -> Any:
        if not nosec_lines:
            return None
        return original(nosec_lines, context)

    get_nosec._panorama_gate_fast = True  # type: ignore[attr-defined]
    b_utils.get_nosec = get_nosec


def _new_manager() -> Any:
    # Importing bandit loads its report formatters through stevedore, which logs an ERROR for
    # each optional one whose dependency is missing (sarif needs sarif_om). We use no
    # formatter, so that message is noise in our output.
    stevedore_log = logging.getLogger("stevedore.extension")
    level = stevedore_log.level
    stevedore_log.setLevel(logging.CRITICAL)
    try:
        from bandit.core import config as b_config
        from bandit.core import manager as b_manager
    finally:
        stevedore_log.setLevel(level)

    _install_fast_nosec_lookup()

    class _Manager(b_manager.BanditManager):  # type: ignore[misc]
        """Bandit's manager, skipping the tokenizer pass on files without any ``nosec``.

        Bandit tokenizes every file only to collect ``# nosec`` comments; a file whose bytes
        never contain ``nosec`` yields no such comment, so skipping that pass gives the same
        results, faster.
        """

        def _parse_file(self, fname: str, fdata: Any, new_files_list: list[str]) -> None:
            head = fdata.read()
            fdata.seek(0)
            self.ignore_nosec = b"nosec" not in head
            super()._parse_file(fname, fdata, new_files_list)

    return _Manager(b_config.BanditConfig(), "file", quiet=True)


def _worker_init() -> None:
    global _MANAGER
    # Ctrl-C reaches the whole process group: the parent handles it and stops the pool;
    # a worker must not die mid-task printing its own KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Bandit logs per-file errors itself; they come back as data, so keep workers quiet.
    logging.getLogger("bandit").setLevel(logging.CRITICAL)
    _MANAGER = _new_manager()


def _reset(manager: Any) -> None:
    from bandit.core import meta_ast, metrics

    manager.results = []
    manager.skipped = []
    manager.scores = []
    manager.b_ma = meta_ast.BanditMetaAst()
    manager.metrics = metrics.Metrics()


def _scan_chunk(
    root: str, files: Sequence[str], manager: Any = None
) -> tuple[list[BanditIssue], list[tuple[str, str]]]:
    """Run bandit on ``files`` (relative to ``root``): issues and (path, reason) errors.

    The manager (and its test set, costly to build) is made once per process and reused.
    """
    if manager is None:
        manager = _MANAGER if _MANAGER is not None else _new_manager()
    _reset(manager)
    manager.files_list = [os.path.join(root, f) for f in files]
    manager.run_tests()
    issues: list[BanditIssue] = []
    for issue in manager.results:
        rel = os.path.relpath(issue.fname, root).replace(os.sep, "/")
        cwe_id = getattr(getattr(issue, "cwe", None), "id", 0) or None
        lines = issue.get_code(max_lines=1, tabbed=False) or ""
        issues.append(
            BanditIssue(
                path=rel,
                line=int(issue.lineno),
                col=int(getattr(issue, "col_offset", 0) or 0),
                test_id=str(issue.test_id),
                test_name=str(issue.test),
                severity=str(issue.severity),
                confidence=str(issue.confidence),
                cwe=int(cwe_id) if cwe_id else None,
                text=str(issue.text),
                line_range=tuple(int(x) for x in (issue.linerange or [issue.lineno])),
                more_info=str(getattr(issue, "more_info", "") or ""),
                source_line=lines.split("\n", 1)[0].split(" ", 1)[-1].strip(),
            )
        )
    errors = [
        (
            os.path.relpath(fname.decode() if isinstance(fname, bytes) else fname, root).replace(
                os.sep, "/"
            ),
            str(reason),
        )
        for fname, reason in manager.skipped
    ]
    return issues, errors


@contextlib.contextmanager
def _quiet_bandit() -> Iterator[None]:
    log = logging.getLogger("bandit")
    old = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(old)


def _chunks(root: Path, files: Sequence[str], size: int) -> list[list[str]]:
    # Largest first: the long files start early and the small ones fill the gaps at the end.
    by_size = sorted(files, key=lambda f: (-(root / f).stat().st_size, f))
    return [by_size[i : i + size] for i in range(0, len(by_size), size)]


def run_bandit(
    root: Path, files: Sequence[str], *, jobs: int = 0, chunk: int = CHUNK_FILES
) -> tuple[list[BanditIssue], list[tuple[str, str]]]:
    """Bandit over ``files`` (relative to ``root``); ``jobs`` 1 is serial, 0 one per core.

    Returns issues and per-file errors, both sorted, so the result does not depend on
    ``jobs`` or ``chunk``. A worker that dies raises ``concurrent.futures`` errors.
    """
    workers = jobs or os.cpu_count() or 1
    chunks = _chunks(root, files, max(1, chunk))
    issues: list[BanditIssue] = []
    errors: list[tuple[str, str]] = []
    if workers <= 1 or len(files) < PARALLEL_MIN_FILES:
        with _quiet_bandit():
            manager = _new_manager()
            for part in chunks:
                got, errs = _scan_chunk(str(root), part, manager)
                issues.extend(got)
                errors.extend(errs)
    else:
        # forkserver: a clean process to fork from, never a copy of a threaded parent.
        ctx = multiprocessing.get_context("forkserver")
        start_forkserver()  # SIGINT blocked, stderr quiet: see scanner.forkserver
        pool = cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init)
        try:
            futures = [pool.submit(_scan_chunk, str(root), part) for part in chunks]
            for fut in futures:
                got, errs = fut.result()
                issues.extend(got)
                errors.extend(errs)
        except BaseException:
            # Interrupted or failed: drop the queued chunks instead of scanning them all first.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    issues.sort(key=BanditIssue.sort_key)
    errors.sort()
    return issues, errors


_OWN_TEST_NAMES = {"log-environment": "log_environment", "B104": "hardcoded_bind_all_interfaces"}


def _own_checks(root: Path, files: Sequence[str]) -> list[BanditIssue]:
    """The checks bandit lacks (``_code_checks``), in bandit's shape; ``# nosec`` honoured."""
    out: list[BanditIssue] = []
    for rel in files:
        try:
            source = (root / rel).read_bytes()
        except OSError:
            continue  # bandit reports an unreadable file
        for issue in check_source(source):
            if "nosec" in issue.source_line:
                continue
            out.append(
                BanditIssue(
                    path=rel,
                    line=issue.line,
                    col=0,
                    test_id=issue.rule,
                    test_name=_OWN_TEST_NAMES.get(issue.rule, issue.rule.replace("-", "_")),
                    severity=issue.severity,
                    confidence="MEDIUM",
                    cwe=issue.cwe,
                    text=issue.text,
                    line_range=(issue.line,),
                    more_info="",
                    source_line=issue.source_line,
                )
            )
    return out


class CodeAnalyzer(TreeAnalyzer):
    """bandit on the app's Python code; options: ``scope`` ``app`` (default) or ``all``."""

    name: ClassVar[str] = "code"
    version: ClassVar[int] = 3
    tags: ClassVar[frozenset[str]] = frozenset({"code"})
    patterns: ClassVar[tuple[str, ...]] = ("**/*.py", "**/*.pyw")
    max_size: ClassVar[int] = 8 * 1024**2

    @property
    def scope(self) -> str:
        """``app`` or ``all`` (validated in ``configure``)."""
        return str(self.ctx.options.get("scope", "app"))

    def configure(self, ctx: Any) -> None:
        """Validate the ``scope`` option."""
        super().configure(ctx)
        if self.scope not in ("app", "all"):
            raise ConfigError(f"code analyzer: scope must be 'app' or 'all', not {self.scope!r}")

    def wants(self, path: str, size: int, mode: int = 0o644) -> bool:
        """Python files; installed libraries only with scope ``all``."""
        if not super().wants(path, size, mode):
            return False
        return self.scope == "all" or LIBRARY.search(path) is None

    def _jobs(self) -> int:
        cfg = self.ctx.config
        return int(getattr(cfg, "jobs", 0) or 0)

    def select(self, root: Path, artifact: SourceArtifact) -> tuple[list[str], list[str]]:
        """(app files to scan, other files handed over) under ``root``."""
        available = {
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and p.suffix in (".py", ".pyw")
        }
        if self.scope == "all":
            return sorted(available), []
        if artifact.format == ArtifactFormat.DIRECTORY:
            app = app_files_of_folder(artifact, available)
        else:
            app = {f for f in available if f.startswith("panorama/")}
        for name in entry_names(descriptor_of(artifact)):
            for cand in entry_candidates(name):
                app |= reached_from(root, cand, available)
        return sorted(app), sorted(available - app)

    def analyze_tree(self, root: Path, artifact: SourceArtifact) -> Iterable[Output]:
        """Run bandit on the app files under ``root`` and map the results."""
        name = artifact.artifact.name
        app, other = self.select(root, artifact)
        out: list[Output] = []
        if other:
            out.append(
                Skipped(
                    self.name,
                    f"{len(other)} Python file(s) outside the app code not scanned "
                    "(scope 'app'; --code-scope all scans them)",
                    Location(name, ""),
                )
            )
        if not app:
            return out
        try:
            issues, errors = run_bandit(root, app, jobs=self._jobs())
        except (cf.process.BrokenProcessPool, OSError, RuntimeError) as exc:
            return [*out, AnalyzerFailure(self.name, f"bandit run failed: {exc}", Location(name))]
        for path, reason in errors:
            loc = Location(name, path)
            if LIBRARY.search(path):
                out.append(Skipped(self.name, f"bandit could not scan: {reason}", loc))
            else:
                out.append(AnalyzerFailure(self.name, f"bandit could not scan: {reason}", loc))
        out.extend(self._finding(name, i) for i in issues)
        out.extend(self._finding(name, i) for i in _own_checks(root, app))
        # eval/pickle/yaml sinks that outside data reaches (bandit sees each call on its own)
        out.extend(input_sink_findings(root, app, name))
        return out

    def _finding(self, artifact: str, issue: BanditIssue) -> Finding:
        severity = _SEVERITY.get(issue.severity.upper(), Severity.MEDIUM)
        if issue.confidence.upper() == "LOW" and severity > Severity.LOW:
            severity = Severity(severity - 1)  # a guess is worth a step less than a certainty
        text = issue.text
        evidence = hashlib.sha256(issue.source_line.encode()).hexdigest()[:16]
        if issue.test_id in _QUOTES_LITERAL:
            text = _QUOTED.sub(lambda m: "'" + redact(m.group(1) or m.group(2) or "") + "'", text)
            evidence = text
        props: dict[str, Any] = {
            "test_id": issue.test_id,
            "test_name": issue.test_name,
            "bandit_severity": issue.severity,
            "bandit_confidence": issue.confidence,
            "column": issue.col,
            "line_range": list(issue.line_range),
        }
        if issue.more_info:
            props["more_info"] = issue.more_info
        if LIBRARY.search(issue.path):
            props["third_party"] = True
        return Finding.create(
            rule_id=f"code.{issue.test_id}",
            category=Category.CODE,
            severity=severity,
            message=f"{text} ({issue.test_id} {issue.test_name})",
            location=Location(artifact, issue.path, issue.line),
            evidence=f"{issue.test_id}:{evidence}",
            title=issue.test_name,
            cwe=issue.cwe,
            properties=props,
        )
