"""``panorama-gate sbom TARGET --format cyclonedx|spdx -o FILE``: software bill of materials.

Runs the inventory (``packages``); with ``--vuln-db`` also the offline vulnerability matching,
so that the CycloneDX BOM lists the known vulnerabilities of its components. Exit 0 when the
inventory is complete, 3 when something could not be inventoried or audited (the SBOM is still
written, and says only what was found).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scanner.cli._options import (
    add_output_flags,
    add_scan_flags,
    config_from_args,
    output_pairs,
    policy_from_args,
    write_outputs,
)
from scanner.pipeline import scan

__all__ = ["register"]

EXAMPLES = """\
examples:
  panorama-gate sbom app/ --format cyclonedx -o app.cdx.json --format spdx -o app.spdx.json
  panorama-gate sbom assets/3f2a...c9.tar.gz --vuln-db vulndb/ --format cyclonedx -o bom.json
"""

_FORMATS = {"cyclonedx": "cyclonedx", "spdx": "spdx"}


def register(sub: Any) -> None:
    """Add the ``sbom`` command."""
    p = sub.add_parser(
        "sbom",
        help="write a software bill of materials (CycloneDX or SPDX)",
        description="Inventory the target's third-party packages and write an SBOM.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scan_flags(p)
    add_output_flags(p, "cyclonedx", choices=_FORMATS, what="SBOM format")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Inventory, write the SBOM(s); 3 when the inventory is incomplete."""
    pairs = output_pairs(args)
    args.analyzers = "packages,vulns" if args.vuln_db else "packages"
    policy = policy_from_args(args)
    config = config_from_args(args, policy)
    report = scan(args.target, config)
    write_outputs(report, pairs, args.quiet)
    for f in report.failures:
        where = f" ({f.location})" if f.location else ""
        print(f"incomplete: {f.analyzer}{where}: {f.reason}", file=sys.stderr)
    return 3 if report.failures else 0
