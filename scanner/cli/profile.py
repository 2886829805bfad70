"""``panorama-gate profile TARGET``: run the application in the sandbox and print its profile."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner import TOOL_NAME, __version__
from scanner.cli._options import add_output_flags, output_pairs, policy_from_args, write_outputs
from scanner.errors import UsageError
from scanner.models import (
    AnalyzerFailure,
    ArtifactKind,
    Decision,
    Finding,
    Location,
    Report,
    ResourceProfile,
)
from scanner.policy import evaluate
from scanner.sandbox import SANDBOXES, Budgets, open_sandbox
from scanner.sandbox._graph import build_request, entry_of
from scanner.sandbox._spec import MB
from scanner.sandbox.budgets import budget_findings
from scanner.sources.detect import detect_target
from scanner.sources.interface import ArtifactFormat, ScanTarget, SourceArtifact

EXAMPLES = """\
examples:
  panorama-gate profile examples/shelf-monitor
  panorama-gate profile assets/3f2a...c9.tar.gz --frames clips/aisle.mp4 --max-frames 100
  panorama-gate profile app/ --sandbox bwrap --seconds 20 --param threshold=0.8
  panorama-gate profile app/ --format json -o profile.json
"""

EXIT = {Decision.APPROVED: 0, Decision.REJECTED: 1, Decision.INCOMPLETE: 3}


def register(sub: Any) -> None:
    """Add the ``profile`` command."""
    p = sub.add_parser(
        "profile",
        help="run the application in the sandbox and print its resource profile",
        description=(
            "Run the application's entry point (descriptor.json) in a locked-down sandbox with "
            "the emulated panoramasdk, feed it frames, measure CPU, memory, disk, processes and "
            "network attempts, and hold them against the policy's resources budgets."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "target",
        type=Path,
        metavar="TARGET",
        help="project folder, code package with an asset, or container asset",
    )
    p.add_argument("--policy", type=Path, help="policy YAML (its resources: budgets)")
    p.add_argument(
        "--sandbox",
        choices=SANDBOXES,
        default=None,
        help="docker, bwrap (bubblewrap) or auto (Docker, else bubblewrap; default)",
    )
    p.add_argument(
        "--frames",
        type=Path,
        metavar="PATH",
        help="video file or image folder for the camera (default: synthetic frames)",
    )
    p.add_argument("--max-frames", type=int, help="stop after N frames (default 30)")
    p.add_argument("--seconds", type=float, help="stop after S seconds (default 10)")
    p.add_argument("--fps", type=float, help="camera frame rate (default 15)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter port's value (JSON value; repeatable)",
    )
    p.add_argument("--no-warmup", action="store_true", help="skip the throw-away warm-up run")
    p.add_argument("--work-dir", type=Path, help="scratch folder (default: a temporary folder)")
    add_output_flags(p, default="profile")
    p.set_defaults(func=run)


def _params(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {item!r}: expected NAME=VALUE")
        try:
            out[name] = json.loads(raw)
        except ValueError:
            out[name] = raw  # a bare word is a string parameter
    return out


def _fmt_bytes(n: int | None) -> str:
    return "-" if n is None else f"{n / MB:.1f} MB"


def render(profile: ResourceProfile, findings: list[Finding], budgets: Budgets) -> str:
    """The human summary ``profile`` prints."""
    if not profile.ran:
        return f"profile skipped: {profile.reason}\n"
    lines = [
        f"sandbox           {profile.sandbox}"
        + ("  (emulated CPU: timings are not real)" if profile.emulated else ""),
        f"exit code         {profile.exit_code}" + ("  (OOM-killed)" if profile.oom_killed else ""),
        f"frames processed  {profile.frames_processed}",
        f"wall time         {profile.wall_seconds} s",
        f"cpu               {profile.cpu_seconds} s = {profile.cpu_percent}%"
        f"   (budget {budgets.max_cpu_percent:g}%)",
        f"peak memory       {_fmt_bytes(profile.peak_memory_bytes)}"
        f"   (budget {budgets.max_memory_mb:g} MB)",
        f"disk written      {_fmt_bytes(profile.disk_written_bytes)}"
        f"   (budget {budgets.max_disk_write_mb:g} MB)",
        f"processes/threads {profile.max_processes}   (budget {budgets.max_processes})",
        f"network attempts  {profile.network_attempts}"
        f"   ({'allowed' if budgets.allow_network else 'not allowed'})",
    ]
    lines.extend(f"{f.severity.label:>8}  {f.rule_id}: {f.message}" for f in findings)
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Profile the target's container asset(s); exit with the policy's verdict on the budgets."""
    # Without --format/-o the human summary is printed; with them, report writers are used.
    pairs = output_pairs(args) if args.formats or args.outputs else []
    policy = policy_from_args(args)
    options: dict[str, Any] = dict(policy.analyzer_options().get("sandbox", {}))
    budgets = Budgets.from_options(options)
    st = detect_target(args.target)
    containers = _containers(st)
    if not containers:
        raise UsageError(f"{args.target}: no container asset to run (build the container first)")
    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="profile-", dir=args.work_dir))
    try:
        show = not pairs and not args.quiet
        runs = _profile_all(args, st, containers, options, budgets, work, show=show)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = _report(st, runs)
    verdict = evaluate(report, policy)
    report = dataclasses.replace(report, verdict=verdict)
    if pairs:
        write_outputs(report, pairs, args.quiet)
    if not args.quiet and not pairs:
        print(f"verdict: {verdict.decision.value}")
    elif pairs:
        print(f"verdict: {verdict.decision.value}", file=sys.stderr)
    return EXIT[verdict.decision]


def _containers(st: ScanTarget) -> list[SourceArtifact]:
    """The container assets the sandbox can run (a root filesystem or an image archive)."""
    return [
        sa
        for sa in st.artifacts
        if sa.artifact.kind is ArtifactKind.CONTAINER
        and sa.file is not None
        and sa.format
        in (ArtifactFormat.ROOTFS, ArtifactFormat.DOCKER_SAVE, ArtifactFormat.OCI_ARCHIVE)
    ]


@dataclass(frozen=True, slots=True)
class _Run:
    """One container's profile, its budget findings, and the failure when it did not run."""

    profile: ResourceProfile
    findings: list[Finding]
    failure: AnalyzerFailure | None


def _profile_all(
    args: argparse.Namespace,
    st: ScanTarget,
    containers: list[SourceArtifact],
    options: dict[str, Any],
    budgets: Budgets,
    work: Path,
    *,
    show: bool,
) -> list[_Run]:
    """Profile each container in one sandbox; with ``show``, print each summary as it ends."""
    runs: list[_Run] = []
    kind = args.sandbox or str(options.get("sandbox") or "auto")
    with open_sandbox(kind) as sandbox:
        for i, sa in enumerate(containers):
            request = build_request(
                st,
                sa,
                options,
                work / str(i),
                frames_path=args.frames,
                max_frames=args.max_frames,
                seconds=args.seconds,
                fps=args.fps,
                parameters=_params(args.param),
                warmup=False if args.no_warmup else None,
            )
            one = _judge(sandbox.profile(request, work), sa, budgets)
            runs.append(one)
            if show:
                if len(containers) > 1:
                    print(f"== {sa.artifact.name}")
                print(render(one.profile, one.findings, budgets), end="")
    return runs


def _judge(profile: ResourceProfile, sa: SourceArtifact, budgets: Budgets) -> _Run:
    """The budget findings of one profile, or the failure when it did not run."""
    _, entry = entry_of(sa)
    findings = budget_findings(profile, budgets, sa.artifact.name, entry)
    if profile.ran:
        return _Run(profile, findings, None)
    # Profiling is this command's whole job: an image it could not run is never
    # "approved", whatever the policy's when_unavailable says for `scan`.
    loc = Location(sa.artifact.name, entry.lstrip("/"))
    failure = AnalyzerFailure("sandbox", f"resource profile did not run: {profile.reason}", loc)
    return _Run(profile, [], failure)


def _report(st: ScanTarget, runs: list[_Run]) -> Report:
    """The report of the runs (before the policy's verdict); its resources are the first's."""
    findings = [f for one in runs for f in one.findings]
    return Report(
        tool_name=TOOL_NAME,
        tool_version=__version__,
        created_at=dt.datetime.now(dt.UTC)
        .replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z"),
        target=st.target,
        artifacts=tuple(sa.artifact for sa in st.artifacts),
        findings=tuple(sorted(findings, key=lambda f: f.sort_key())),
        failures=tuple(one.failure for one in runs if one.failure is not None),
        skipped=(),
        resources=runs[0].profile if runs else None,
        analyzers={"sandbox": 1},
    )
