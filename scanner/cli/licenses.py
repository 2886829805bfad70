"""``panorama-gate licenses TARGET``: the license report export.

Runs the inventory (``packages``) and the license policy (``licenses``) analyzers only, then
writes each requested format: ``csv``, ``json``, ``markdown``, ``html``, ``spdx``,
``cyclonedx`` or ``notice`` (a third-party notices file with each license text as found in the
artifact). The exit code is the license verdict, and only that: 0 accepted, 1 a license the
policy rejects, 3 incomplete (a package could not be inventoried); findings of other categories
(a model asset not in the checkout, a Dockerfile risk) are for ``scan`` to judge. The files are
written in every case, with the license verdict.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from scanner.models import Category, Decision, Report
from scanner.policy import Policy
from scanner.policy.evaluate import evaluate

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


def license_verdict(report: Report, policy: Policy) -> Report:
    """The report with a verdict on its license findings alone (failures still count)."""
    assert report.verdict is not None
    licenses = tuple(f for f in report.findings if f.category is Category.LICENSE)
    verdict = evaluate(
        dataclasses.replace(report, findings=licenses), policy, waivers=report.verdict.waivers
    )
    return dataclasses.replace(report, verdict=verdict)


def run(args: argparse.Namespace) -> int:
    """Scan for packages and licenses, write the exports, return the license verdict."""
    pairs = output_pairs(args)
    args.analyzers = "packages,licenses"
    policy = policy_from_args(args)
    config = config_for_outputs(config_from_args(args, policy), pairs)
    report = license_verdict(run_gate(args.target, config, policy, waivers=args.waivers), policy)
    write_outputs(report, pairs, args.quiet)
    assert report.verdict is not None
    if all(path is not None for _, path in pairs):
        print(f"licenses: {report.verdict.decision.value}", file=sys.stderr)
    return EXIT[report.verdict.decision]
