"""The offline OSV database: a folder (or one zip) of OSV records, indexed by package.

Accepted layouts (what OSV publishes, zipped or unpacked):

- ``DIR/<Ecosystem>/all.zip`` (``panorama-gate vulndb update`` writes this), or any ``*.zip``
  in ``DIR/<Ecosystem>/``;
- ``DIR/<Ecosystem>/*.json`` (unpacked records, any depth);
- ``DIR/<Ecosystem>.zip``;
- ``DIR`` itself a zip of records.

``<Ecosystem>`` is OSV's name (``PyPI``, ``Debian``, ``Ubuntu``); matched case-insensitively.
``DIR/osv-meta.json`` (written by ``update``) records when the data was fetched; without it the
database's age is taken from its newest record's ``modified`` time (an over-estimate, so a
stale database is never mistaken for a fresh one).

Example::

    db = OsvDatabase(Path("vulndb"))
    db.load(["PyPI"])
    for adv, fixed in db.query("PyPI", "urllib3", "1.24.1"):
        print(adv.id, adv.aliases, fixed)
"""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.errors import ScannerError
from scanner.vulndb.index import INDEX_DIR, Index, read_index, write_index
from scanner.vulndb.osv import Advisory, AffectedEntry, RecordError, parse_record, version_key

__all__ = ["META_FILE", "Match", "OsvDatabase", "VulnDbError", "normalize_name"]

META_FILE = "osv-meta.json"


class VulnDbError(ScannerError):
    """The offline vulnerability database is missing, unreadable or malformed (exit 2)."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Match:
    """One advisory affecting one package version."""

    advisory: Advisory
    ecosystem: str
    package: str
    fixed_versions: tuple[str, ...]


def normalize_name(ecosystem: str, name: str) -> str:
    """Index key of a package name (PEP 503 for PyPI; exact elsewhere)."""
    if ecosystem.split(":", 1)[0] == "PyPI":
        return "-".join(name.replace("_", "-").replace(".", "-").split("-")).lower()
    return name


def _parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class OsvDatabase:
    """An offline OSV database; ``load`` the ecosystems you need, then ``query``."""

    def __init__(self, root: Path) -> None:
        if not root.exists():
            raise VulnDbError(
                f"{root}: vulnerability database not found",
                hint="create one with `panorama-gate vulndb update --db DIR`",
            )
        self.root = root
        self._lock = threading.Lock()
        self._loaded: set[str] = set()
        # ecosystem (full OSV string) -> normalised name -> entries (a read-only mapping when
        # read from an index: its entries are decoded when asked for)
        self._index: dict[str, Mapping[str, list[AffectedEntry]]] = {}
        self.records = 0
        self._newest_modified: datetime | None = None
        self.meta: dict[str, Any] = {}
        meta_path = root / META_FILE if root.is_dir() else None
        if meta_path is not None and meta_path.is_file():
            try:
                self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise VulnDbError(f"{meta_path}: unreadable database metadata") from exc

    # -- layout ---------------------------------------------------------------------------

    def _sources(self, base: str) -> list[Path]:
        """Files or folders holding the records of one ecosystem base."""
        if self.root.is_file():
            return [self.root]
        low = base.lower()
        out: list[Path] = []
        for child in sorted(self.root.iterdir()):
            stem = child.name[:-4] if child.name.lower().endswith(".zip") else child.name
            if stem.lower() == low and (child.is_dir() or child.suffix.lower() == ".zip"):
                out.append(child)
        return out

    def bases(self) -> list[str]:
        """The ecosystem bases the folder holds (``["*"]`` for a single-zip database)."""
        if self.root.is_file():
            return ["*"]
        skip = {META_FILE, INDEX_DIR}
        return sorted(
            {p.name.removesuffix(".zip") for p in self.root.iterdir() if p.name not in skip}
        )

    def has(self, base: str) -> bool:
        """Whether the database holds any data for an ecosystem base (``PyPI``, ``Ubuntu``)."""
        if self.root.is_file():
            self.load([base])
            return any(e.split(":", 1)[0] == base for e in self._index)
        return bool(self._sources(base))

    def _iter_records(self, source: Path) -> Iterator[tuple[str, bytes]]:
        if source.is_file():
            yield from self._iter_zip(source)
            return
        for path in sorted(source.rglob("*")):
            if path.suffix.lower() == ".zip" and path.is_file():
                yield from self._iter_zip(path)
            elif path.suffix.lower() == ".json" and path.is_file():
                yield str(path), path.read_bytes()

    def _iter_zip(self, path: Path) -> Iterator[tuple[str, bytes]]:
        try:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if info.filename.endswith(".json") and not info.is_dir():
                        yield f"{path}!{info.filename}", zf.read(info)
        except (zipfile.BadZipFile, OSError) as exc:
            raise VulnDbError(f"{path}: not a readable zip of OSV records") from exc

    # -- loading --------------------------------------------------------------------------

    def load(self, bases: Iterable[str]) -> None:
        """Read and index the records of these ecosystem bases (once each; thread-safe).

        A base whose records ``vulndb update`` indexed (``scanner.vulndb.index``) is read from
        its index when the index was made from exactly the files there now; otherwise every
        record is parsed.
        """
        with self._lock:
            for base in bases:
                key = "*" if self.root.is_file() else base.lower()
                if key in self._loaded:
                    continue
                sources = [self.root] if self.root.is_file() else self._sources(base)
                index = read_index(self.root, base, sources) if self.root.is_dir() else None
                if sources and index is not None:
                    self._merge(index)
                else:
                    for source in sources:
                        for where, data in self._iter_records(source):
                            self._add(where, data)
                self._loaded.add(key)

    def _merge(self, index: Index) -> None:
        self.records += index.records
        modified = _parse_time(index.newest_modified)
        if modified and (self._newest_modified is None or modified > self._newest_modified):
            self._newest_modified = modified
        for eco, names in index.entries.items():
            if eco not in self._index:
                self._index[eco] = names  # decoded lazily, package by package
                continue
            by_name = self._editable(eco)
            for name, entries in names.items():
                by_name.setdefault(name, []).extend(entries)

    def _editable(self, eco: str) -> dict[str, list[AffectedEntry]]:
        by_name = self._index.get(eco)
        if not isinstance(by_name, dict):
            by_name = {k: list(v) for k, v in (by_name or {}).items()}
            self._index[eco] = by_name
        return by_name

    def write_index(self, base: str) -> Path | None:
        """Parse every record of ``base`` and write its index (``vulndb update`` calls this);
        ``None`` when there is nothing to index (no records, or the database is one zip)."""
        if not self.root.is_dir():
            return None
        sources = self._sources(base)
        if not sources:
            return None
        fresh = OsvDatabase(self.root)
        for source in sources:
            for where, data in fresh._iter_records(source):
                fresh._add(where, data)
        newest = fresh._newest_modified.isoformat() if fresh._newest_modified else ""
        return write_index(
            self.root, base, sources, fresh._index, records=fresh.records, newest=newest
        )

    def _add(self, where: str, data: bytes) -> None:
        try:
            record = json.loads(data)
        except ValueError as exc:
            raise VulnDbError(f"{where}: not valid JSON") from exc
        if not isinstance(record, dict):
            raise VulnDbError(f"{where}: an OSV record must be a JSON object")
        try:
            entries = list(parse_record(record))
        except (RecordError, AttributeError, TypeError) as exc:
            raise VulnDbError(f"{where}: malformed OSV record: {exc}") from exc
        self.records += 1
        modified = _parse_time(str(record.get("modified", "")))
        if modified and (self._newest_modified is None or modified > self._newest_modified):
            self._newest_modified = modified
        for e in entries:
            by_name = self._editable(e.ecosystem)
            by_name.setdefault(normalize_name(e.ecosystem, e.name), []).append(e)

    def fingerprint(self) -> str:
        """A cheap digest of the database files' names, sizes and modification times."""
        h = hashlib.sha256()
        paths = [self.root] if self.root.is_file() else sorted(self.root.rglob("*"))
        index_dir = self.root / INDEX_DIR
        for p in paths:
            if p.is_relative_to(index_dir):
                continue  # derived from the records, not data of its own
            if p.is_file():
                st = p.stat()
                h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()

    # -- facts ----------------------------------------------------------------------------

    def ecosystems(self) -> list[str]:
        """Every full ecosystem string among the loaded records."""
        return sorted(self._index)

    def fetched_at(self) -> datetime | None:
        """When the data was fetched (metadata), else the newest record's ``modified``."""
        t = _parse_time(str(self.meta.get("fetched_at", "")))
        return t or self._newest_modified

    def age_days(self, now: datetime) -> float | None:
        """Age of the data in days at ``now`` (``None`` when it cannot be told)."""
        t = self.fetched_at()
        if t is None:
            return None
        return max(0.0, (now - t).total_seconds() / 86400.0)

    # -- matching -------------------------------------------------------------------------

    def affected_entries(self, ecosystem: str, name: str) -> list[AffectedEntry]:
        """Every affected entry of the records for one package (for version-range questions)."""
        self.load([ecosystem.split(":", 1)[0]])
        return list(self._index.get(ecosystem, {}).get(normalize_name(ecosystem, name), []))

    def query(self, ecosystem: str, name: str, version: str) -> list[Match]:
        """Advisories affecting ``name`` at ``version`` (``ValueError``: unorderable version).

        A version that the ecosystem cannot order raises, so that the caller records the
        package as not audited instead of passing it.
        """
        key = version_key(ecosystem)
        key(version)  # an unparseable installed version is an error even with no advisories
        self.load([ecosystem.split(":", 1)[0]])  # never answer "none" from unloaded data
        entries = self._index.get(ecosystem, {}).get(normalize_name(ecosystem, name), [])
        found: dict[str, Match] = {}
        for e in entries:
            if e.advisory.id in found:
                continue
            if e.affects(version, key):
                found[e.advisory.id] = Match(e.advisory, ecosystem, name, tuple(e.fixed_versions()))
        return [found[k] for k in sorted(found)]
