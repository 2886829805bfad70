"""``panorama-gate vulndb update|index|info``: manage the offline OSV vulnerability database.

``update`` downloads each ecosystem's ``all.zip`` as OSV publishes it, verifies it (length,
server MD5, optional pinned SHA-256, every record parsed) and only then replaces the old copy,
then indexes the parsed records (``scanner.vulndb.index``) so that scans skip the parse.
``index`` does that last step for a database assembled another way (OSV's zips copied in).
``info`` prints what a database holds and how old it is.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.config import default_cache_dir
from scanner.errors import UsageError
from scanner.vulndb import OsvDatabase
from scanner.vulndb.update import DEFAULT_BASE_URL, update_database

__all__ = ["register"]

EXAMPLES = """\
examples:
  panorama-gate vulndb update --vuln-db vulndb/                 # PyPI and Ubuntu
  panorama-gate vulndb update --vuln-db vulndb/ --ecosystem PyPI --ecosystem Debian
  panorama-gate vulndb index --vuln-db vulndb/                  # after copying OSV zips in
  panorama-gate vulndb info --vuln-db vulndb/
  panorama-gate scan app/ --vuln-db vulndb/ --offline
"""


def _default_db() -> Path:
    return default_cache_dir() / "vulndb"


def register(sub: Any) -> None:
    """Add the ``vulndb`` command group."""
    p = sub.add_parser(
        "vulndb",
        help="download or inspect the offline vulnerability database",
        description="Manage the offline OSV vulnerability database used by --vuln-db.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    vsub = p.add_subparsers(dest="vulndb_command", metavar="ACTION")
    up = vsub.add_parser("update", help="download and verify fresh OSV data")
    _db_option(up)
    up.add_argument(
        "--ecosystem",
        action="append",
        default=[],
        help="OSV ecosystem to fetch (repeatable; default: PyPI and Ubuntu)",
    )
    up.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        help="where the <Ecosystem>/all.zip files are (a mirror)",
    )
    up.add_argument(
        "--sha256",
        action="append",
        default=[],
        metavar="ECOSYSTEM=HEX",
        help="pin the expected SHA-256 of an ecosystem's zip (repeatable)",
    )
    up.add_argument("--timeout", type=float, default=120.0, help="seconds per download")
    up.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)
    up.set_defaults(func=run_update)
    idx = vsub.add_parser("index", help="index the records so that scans need not parse them")
    _db_option(idx)
    idx.set_defaults(func=run_index)
    info = vsub.add_parser("info", help="show what a database holds and its age")
    _db_option(info)
    info.set_defaults(func=run_info)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vuln-db",
        "--db",
        dest="vuln_db",
        type=Path,
        help="database folder (default: $XDG_CACHE_HOME/panorama-gate/vulndb)",
    )


def run_update(args: argparse.Namespace) -> int:
    """Download, verify and install; print one line per ecosystem."""
    if args.offline:
        raise UsageError("vulndb update needs the network; it cannot run with --offline")
    pins: dict[str, str] = {}
    for item in args.sha256:
        eco, sep, hexval = str(item).partition("=")
        if not sep or not hexval:
            raise UsageError(f"--sha256 {item!r}: expected ECOSYSTEM=HEX")
        pins[eco] = hexval
    db = args.vuln_db or _default_db()
    ecosystems = args.ecosystem or ["PyPI", "Ubuntu"]
    results = update_database(
        db, ecosystems, base_url=args.base_url, sha256=pins, timeout=args.timeout
    )
    for r in results:
        print(f"{r.ecosystem}: {r.records} records, {r.size} bytes, sha256 {r.sha256}")
    print(f"database: {db}")
    return 0


def run_index(args: argparse.Namespace) -> int:
    """Parse every record of each ecosystem and write its index; one line per ecosystem."""
    db = OsvDatabase(args.vuln_db or _default_db())
    for base in db.bases():
        path = db.write_index(base)
        print(f"{base}: " + (f"indexed in {path}" if path else "nothing to index"))
    return 0


def run_info(args: argparse.Namespace) -> int:
    """Print ecosystems, record counts and age."""
    db = OsvDatabase(args.vuln_db or _default_db())
    db.load(db.bases())
    age = db.age_days(datetime.now(UTC))
    print(f"database: {db.root}")
    print(f"records: {db.records}")
    print(f"ecosystems: {', '.join(db.ecosystems()) or '(none)'}")
    print("age: " + (f"{age:.1f} days" if age is not None else "unknown"))
    return 0
