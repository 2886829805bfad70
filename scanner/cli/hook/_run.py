"""``hook run``: scan each commit a push sends, and block it when one holds a rejected part.

A secret committed and deleted again inside one push still reaches the remote's history, so
every commit of the pushed range is checked (as gitleaks-style hooks do), oldest first, each
scanning only the Panorama parts that commit changes. Each target is materialised from its
commit (``git archive``), never from the working tree. Content already scanned at an earlier
commit (same git object id) is not scanned again. The output names the commit holding each
blocking finding, and says so when a later commit of the push no longer has it.

The push is blocked (exit 1) only when a verdict is *rejected*; an incomplete scan is reported
loudly and lets the push through unless ``--strict`` (CI is the fail-closed gate).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from scanner import TOOL_NAME
from scanner.cli.hook._git import (
    PushedCommit,
    RefUpdate,
    changed_paths,
    commit_changes,
    git,
    materialise,
    pushed_commits,
    subjects,
    tree_files,
)
from scanner.cli.hook._plan import HookTarget, plan_targets
from scanner.errors import ScannerError, UsageError

if TYPE_CHECKING:  # the scanning machinery is imported only when something needs scanning
    from scanner.config import ScanConfig
    from scanner.models import Finding, Report
    from scanner.policy import Policy

__all__ = ["DEFAULT_MAX_COMMITS", "PushPlan", "hook_config", "plan_push", "run_hook"]

MAX_SHOWN = 8
# Past this many commits in one ref update (a first push of a long history), the hook checks
# the tip's changes only and calls the result incomplete: CI's full scan decides.
DEFAULT_MAX_COMMITS = 200


@dataclasses.dataclass
class PushPlan:
    """What to scan: targets per commit (oldest first), the pushed tips, and what was cut."""

    targets: dict[str, list[HookTarget]] = dataclasses.field(default_factory=dict)
    tips: set[str] = dataclasses.field(default_factory=set)
    commits: int = 0
    partial: list[str] = dataclasses.field(default_factory=list)


def plan_push(repo: Path, updates: Sequence[RefUpdate], remote: str, limit: int) -> PushPlan:
    """The targets each pushed commit changes, across every ref update of the push."""
    plan = PushPlan()
    for u in updates:
        if u.deletes:
            continue
        plan.tips.add(u.local_sha)
        shas = pushed_commits(repo, u, remote, limit)
        if shas is None:
            plan.partial.append(
                f"{u.local_ref} sends more than {limit} commits: only the changes up to its tip "
                "were checked, not each commit (--max-commits)"
            )
            changes = [PushedCommit(u.local_sha, frozenset(changed_paths(repo, u, remote)))]
        else:
            changes = commit_changes(repo, shas)
        plan.commits += len(changes)
        for pc in changes:
            if not pc.changed:
                continue
            targets = plan_targets(pc.changed, tree_files(repo, pc.sha))
            if targets:
                known = set(plan.targets.get(pc.sha, []))
                plan.targets[pc.sha] = sorted(known | set(targets))
    return plan


@dataclasses.dataclass
class _Outcome:
    target: HookTarget
    commit: str
    report: Report | None = None
    error: str = ""

    @property
    def rejected(self) -> bool:
        return self.report is not None and _decision(self.report) == "rejected"


def _decision(report: Report) -> str:
    assert report.verdict is not None
    return report.verdict.decision.value


def _scan_targets(
    repo: Path, commit: str, targets: Sequence[HookTarget], args: argparse.Namespace
) -> list[_Outcome]:
    # Imported here: a push that touches nothing relevant never pays for these imports.
    from scanner.gate import run_gate
    from scanner.models import TargetKind
    from scanner.policy import resolve_policy
    from scanner.sources.detect import detect_target

    policy = resolve_policy(args.policy, repo)
    config = hook_config(args, policy)
    outcomes: list[_Outcome] = []
    with tempfile.TemporaryDirectory(prefix="panorama-gate-hook-") as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        materialise(repo, commit, [t.path for t in targets], root)
        for t in targets:
            path = root / t.path if t.path else root
            try:
                if t.kind == "archive":
                    kind = detect_target(path).target.kind
                    if kind not in (TargetKind.MODEL, TargetKind.CONTAINER):
                        continue  # some other archive: not something the gate ships
                report = run_gate(path, config, policy, waivers=args.waivers)
            except ScannerError as exc:
                if t.kind == "archive":
                    continue  # not a model or container: no business of the gate
                outcomes.append(_Outcome(t, commit, error=exc.diagnostics()))
                continue
            outcomes.append(_Outcome(t, commit, report=report))
    return outcomes


def hook_config(args: argparse.Namespace, policy: Policy) -> ScanConfig:
    """The ScanConfig ``scan`` would build from the same flags (``config_from_args``).

    Built here rather than through ``scanner.cli._options``, which imports every report writer
    (SPDX, CycloneDX: over a second) that the hook never uses; a test keeps the two equal.
    """
    from scanner.config import ArchiveLimits, ScanConfig, default_cache_dir

    options: dict[str, dict[str, Any]] = policy.analyzer_options()
    if args.vuln_db:
        options.setdefault("vulns", {})["vuln_db"] = str(args.vuln_db)
    options.setdefault("code", {})["scope"] = args.code_scope
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    try:
        limits = ArchiveLimits.from_mapping(options.get("archive", {}))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"policy archive limits: {exc}") from exc
    return ScanConfig(
        analyzers=tuple(s for s in str(args.analyzers or "").split(",") if s.strip()),
        offline=bool(args.offline),
        cache_dir=cache_dir,
        work_dir=args.work_dir,
        jobs=int(args.jobs or 0),
        limits=limits,
        profile=not args.no_profile,
        options=options,
        progress=False,  # a hook prints a short verdict, not progress bars
    )


def _describe(f: Finding, target: HookTarget, report: Report) -> str:
    """One finding as a repository path the developer can open."""
    # Imported here: scanner.report's package imports every writer (half a second).
    from scanner.report._paths import SourceRoot, repo_location

    paths = {a.name: a.path for a in report.artifacts}
    where = repo_location(f.location, paths, SourceRoot.from_report(report, target.path))
    return f"{f.severity.name.lower():8} {f.rule_id}  {where.describe()}\n             {f.message}"


def _printable(text: str, limit: int = 60) -> str:
    """A commit subject made safe for a terminal: control characters (escapes) replaced."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _blocking(report: Report) -> list[Finding]:
    verdict = report.verdict
    assert verdict is not None
    by_fp = {f.fingerprint: f for f in report.findings}
    found = {
        by_fp[fp]
        for r in verdict.reasons
        if r.level == "reject"
        for fp in r.fingerprints
        if fp in by_fp
    }
    return sorted(found, key=lambda f: (-int(f.severity), f.rule_id, str(f.location)))


class _Printer:
    """Writes each outcome once, naming its commit; a finding shown before is only counted."""

    def __init__(self, out: TextIO, names: dict[str, str]) -> None:
        self.out = out
        self.names = names
        self.shown: set[str] = set()

    def commit(self, sha: str) -> str:
        subject = self.names.get(sha)
        return f'{sha[:10]} "{_printable(subject)}"' if subject is not None else sha[:10]

    def outcome(self, o: _Outcome) -> None:
        at = f"at {self.commit(o.commit)}"
        if o.report is None:
            print(f"  {o.target.display} ({o.target.kind}): ERROR {at}: {o.error}", file=self.out)
            return
        kind = o.report.target.kind.value
        verdict = _decision(o.report).upper()
        print(f"  {o.target.display} ({kind}): {verdict}  {at}", file=self.out)
        blocking = _blocking(o.report)
        fresh = [f for f in blocking if f.fingerprint not in self.shown]
        self.shown.update(f.fingerprint for f in blocking)
        for f in fresh[:MAX_SHOWN]:
            print(f"    {_describe(f, o.target, o.report)}", file=self.out)
        if len(fresh) > MAX_SHOWN:
            print(f"    ... and {len(fresh) - MAX_SHOWN} more", file=self.out)
        if len(blocking) > len(fresh):
            print(
                f"    ({len(blocking) - len(fresh)} blocking finding(s) as at an earlier commit)",
                file=self.out,
            )
        assert o.report.verdict is not None
        for r in o.report.verdict.reasons:
            if r.level == "incomplete":
                print(f"    ! {r.message}", file=self.out)


def _cleaned_later(outcomes: Sequence[_Outcome], last: dict[str, _Outcome]) -> list[_Outcome]:
    """Rejected outcomes whose target is clean at the last commit of the push that changed it."""
    return [
        o
        for o in outcomes
        if o.rejected
        and last[o.target.path].commit != o.commit
        and last[o.target.path].report is not None
        and not last[o.target.path].rejected
    ]


def _scan_plan(
    repo: Path, plan: PushPlan, args: argparse.Namespace
) -> tuple[list[_Outcome], dict[str, _Outcome]]:
    """Scan each commit's targets, oldest first.

    Content scanned at an earlier commit (same git object id) is not scanned again; its
    outcome stands for the later commit too. Returns the outcomes scanned, and the state of
    each target path at the last commit that changed it.
    """
    by_oid: dict[str, _Outcome] = {}
    outcomes: list[_Outcome] = []
    last: dict[str, _Outcome] = {}
    for commit, targets in plan.targets.items():
        specs = [f"{commit}:{t.path}" if t.path else f"{commit}^{{tree}}" for t in targets]
        ids = git(["rev-parse", *specs], repo).decode().split()
        pairs = list(zip(targets, ids, strict=True))
        fresh = [t for t, oid in pairs if oid not in by_oid]
        scanned = {o.target: o for o in _scan_targets(repo, commit, fresh, args)} if fresh else {}
        outcomes.extend(scanned.values())
        for t, oid in pairs:
            if t in scanned:
                by_oid[oid] = scanned[t]
            state = by_oid.get(oid)
            if state is not None:
                last[t.path] = dataclasses.replace(state, commit=commit)
    return outcomes, last


def run_hook(
    repo: Path,
    updates: Sequence[RefUpdate],
    remote: str,
    args: argparse.Namespace,
    out: TextIO,
) -> int:
    """Scan what each pushed commit changes; 1 when a verdict is rejected, else 0 (3 --strict)."""
    started = time.monotonic()
    limit = int(getattr(args, "max_commits", None) or DEFAULT_MAX_COMMITS)
    plan = plan_push(repo, updates, remote, limit)
    if not plan.targets and not plan.partial:
        if args.verbose:
            print(f"{TOOL_NAME}: nothing to scan in this push", file=out)
        return 0
    outcomes, last = _scan_plan(repo, plan, args)
    printer = _Printer(out, subjects(repo, sorted({o.commit for o in outcomes})))
    print(
        f"{TOOL_NAME}: {len(outcomes)} target scan(s) over {plan.commits} commit(s) of this "
        f"push, in {time.monotonic() - started:.1f} s",
        file=out,
    )
    for o in outcomes:
        printer.outcome(o)
    for o in _cleaned_later(outcomes, last):
        print(
            f"{TOOL_NAME}: {o.target.display} is clean at the tip, but commit "
            f"{printer.commit(o.commit)} still holds the findings above and is part of this "
            "push: rewrite the history (e.g. `git rebase -i`), and rotate any credential it held",
            file=out,
        )
    for note in plan.partial:
        print(f"{TOOL_NAME}: {note}", file=out)
    rejected = any(o.rejected for o in outcomes)
    incomplete = bool(plan.partial) or any(
        o.report is None or _decision(o.report) == "incomplete" for o in outcomes
    )
    return _verdict(rejected, incomplete, bool(args.strict), out)


def _verdict(rejected: bool, incomplete: bool, strict: bool, out: TextIO) -> int:
    if rejected:
        print(
            f"{TOOL_NAME}: push blocked: fix the findings above (or waive them in the policy); "
            "`git push --no-verify` skips this check, CI will still run it",
            file=out,
        )
        return 1
    if incomplete:
        if strict:
            print(f"{TOOL_NAME}: push blocked: a scan was incomplete (--strict)", file=out)
            return 3
        print(
            f"{TOOL_NAME}: warning: a scan was incomplete, so nothing here is approved; "
            "the push goes ahead and CI decides",
            file=out,
        )
    return 0
