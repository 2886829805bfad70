"""``panorama-gate scan TARGET``: unpack, analyse, decide, report, exit with the verdict."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from scanner.cli._options import (
    add_output_flags,
    add_scan_flags,
    config_for_outputs,
    config_from_args,
    output_pairs,
    policy_from_args,
    write_outputs,
)
from scanner.cli._progress import scan_progress
from scanner.cli._timings import format_timings
from scanner.gate import run_gate
from scanner.models import Decision

EXAMPLES = """\
examples:
  panorama-gate scan examples/shelf-monitor
  panorama-gate scan app/ --format json -o report.json --format sarif -o report.sarif
  panorama-gate scan build/app --format sarif -o app.sarif --source-root .
  panorama-gate scan assets/3f2a...c9.tar.gz --no-profile --policy policies/strict.yaml
"""

EXIT = {Decision.APPROVED: 0, Decision.REJECTED: 1, Decision.INCOMPLETE: 3}


def register(sub: Any) -> None:
    """Add the ``scan`` command."""
    p = sub.add_parser(
        "scan",
        help="scan a target and exit with the verdict",
        description="Unpack safely, run every analyzer, evaluate the policy, write reports.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scan_flags(p)
    add_output_flags(p)
    p.add_argument(
        "--baseline", type=Path, help="earlier JSON report: only findings not in it count"
    )
    p.add_argument(
        "--source-root",
        type=Path,
        metavar="DIR",
        help="repository root that SARIF and Code Quality paths start from (%%SRCROOT%%; "
        "default: the git work tree holding the target, else the current folder)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Scan, write the reports, return the verdict's exit code."""
    pairs = output_pairs(args)
    policy = policy_from_args(args)
    config = config_for_outputs(config_from_args(args, policy), pairs)
    with scan_progress(config.progress) as progress:
        report = run_gate(
            args.target,
            config,
            policy,
            waivers=args.waivers,
            baseline=args.baseline,
            progress=progress,
        )
    write_outputs(report, pairs, args.quiet, args.source_root)
    if getattr(args, "verbose", 0) and report.timings is not None:
        print(format_timings(report.timings), file=sys.stderr)
    assert report.verdict is not None
    if args.quiet or all(path is not None for _, path in pairs):
        print(f"verdict: {report.verdict.decision.value}", file=sys.stderr)
    return EXIT[report.verdict.decision]
