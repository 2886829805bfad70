"""The offline OSV vulnerability database: loading, indexing, matching and updating.

Example::

    from scanner.vulndb import OsvDatabase
    db = OsvDatabase(Path("vulndb"))
    db.load(["PyPI", "Ubuntu"])
    db.query("PyPI", "jinja2", "2.10")
"""

from __future__ import annotations

from scanner.vulndb.dpkg import DpkgVersion, InvalidDpkgVersionError, compare_versions
from scanner.vulndb.osv import Advisory, AffectedEntry, cvss3_base_score
from scanner.vulndb.store import META_FILE, Match, OsvDatabase, VulnDbError

__all__ = [
    "META_FILE",
    "Advisory",
    "AffectedEntry",
    "DpkgVersion",
    "InvalidDpkgVersionError",
    "Match",
    "OsvDatabase",
    "VulnDbError",
    "compare_versions",
    "cvss3_base_score",
]
