"""``panorama-gate licenses TARGET``: the license report export.

Runs the inventory (``packages``) and the license policy (``licenses``) analyzers only, then
writes each requested format: ``csv``, ``json``, ``markdown``, ``html``, ``spdx``,
``cyclonedx`` or ``notice`` (a third-party notices file with each license text as found in the
artifact). The exit code is the license verdict: 0 accepted, 1 a license the policy rejects,
3 incomplete (a package could not be inventoried); the files are written in every case.
"""

from __future__ import annotations

import argparse
import sys
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
from scanner.gate import run_gate
from scanner.models import Decision

__all__ = ["FORMAT_WRITERS", "register"]

# --format value -> FORMATS writer name
FORMAT_WRITERS = {
    "csv": "licenses-csv",
    "json": "licenses-json",
    "markdown": "licenses-markdown",
    "html": "licenses-html",
    "spdx": "spdx",
    "cyclonedx": "cyclonedx",
    "notice": "notice",
}

EXAMPLES = """\
examples:
  panorama-gate licenses app/ --format html -o licenses.html --format notice -o NOTICE.txt
  panorama-gate licenses assets/3f2a...c9.tar.gz --format csv -o licenses.csv
"""

EXIT = {Decision.APPROVED: 0, Decision.REJECTED: 1, Decision.INCOMPLETE: 3}


def register(sub: Any) -> None:
    """Add the ``licenses`` command."""
    p = sub.add_parser(
        "licenses",
        help="export the third-party license report",
        description="Inventory the target's third-party packages, evaluate their licenses "
        "against the policy, and export the license report.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scan_flags(p)
    add_output_flags(p, "csv", choices=FORMAT_WRITERS, what="export format")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Scan for packages and licenses, write the exports, return the license verdict."""
    pairs = output_pairs(args)
    args.analyzers = "packages,licenses"
    policy = policy_from_args(args)
    config = config_for_outputs(config_from_args(args, policy), pairs)
    report = run_gate(args.target, config, policy, waivers=args.waivers)
    write_outputs(report, pairs, args.quiet)
    assert report.verdict is not None
    if all(path is not None for _, path in pairs):
        print(f"licenses: {report.verdict.decision.value}", file=sys.stderr)
    return EXIT[report.verdict.decision]
