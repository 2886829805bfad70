"""A pre-parsed index of one ecosystem's OSV records, so that a scan does not parse them all.

Parsing every record of an ecosystem (20,000 PyPI records: zip members, JSON, ranges) takes
about a second per scan, more for Debian's; a scan then asks about a few hundred packages. The
index holds the parsed affected entries by package, as JSON, in ``DIR/.index/<Ecosystem>.json``;
``vulndb update`` writes it after a verified download, from the same parse a scan would make.

It is used only when its ``fingerprint`` equals the SHA-256 of the ecosystem's files as they
are now (names, sizes and contents), so a changed, added or removed record file makes the scan
parse the records again, with every error that parse reports. JSON, not pickle: it lives in
the database's folder and is read as data.

Example::

    write_index(root, "PyPI", entries, records=20_400, newest="2026-01-01T00:00:00Z")
    loaded = read_index(root, "PyPI", sources)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.vulndb.osv import Advisory, AffectedEntry

__all__ = ["INDEX_DIR", "Index", "fingerprint", "read_index", "write_index"]

INDEX_DIR = ".index"
FORMAT = 2


def _files(sources: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for source in sources:
        if source.is_file():
            out.append(source)
        else:
            out.extend(p for p in sorted(source.rglob("*")) if p.is_file())
    return out


def fingerprint(root: Path, sources: Iterable[Path]) -> str:
    """SHA-256 over the names, sizes and contents of an ecosystem's record files."""
    h = hashlib.sha256(f"format={FORMAT}\n".encode())
    for path in _files(sources):
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        h.update(f"{name}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Index:
    """An ecosystem's parsed records: entries by ecosystem and normalised package name."""

    records: int
    newest_modified: str
    entries: Mapping[str, Mapping[str, list[AffectedEntry]]]


def _index_path(root: Path, base: str) -> Path:
    return root / INDEX_DIR / f"{base}.json"


def write_index(
    root: Path,
    base: str,
    sources: Iterable[Path],
    entries: Mapping[str, Mapping[str, list[AffectedEntry]]],
    *,
    records: int,
    newest: str,
) -> Path:
    """Write the index of ``base`` atomically (the entries as a full parse produced them).

    Each package's entries are one JSON text inside the index (advisories inlined), so reading
    the index makes one string per package, not hundreds of thousands of small objects.
    """
    by_eco: dict[str, dict[str, str]] = {}
    for eco, names in entries.items():
        out = by_eco.setdefault(eco, {})
        for name, items in names.items():
            rows = [
                [_advisory_row(e.advisory), e.name, [[list(ev) for ev in r] for r in e.ranges],
                 sorted(e.versions)]
                for e in items
            ]  # fmt: skip
            out[name] = json.dumps(rows, separators=(",", ":"))
    doc = {
        "format": FORMAT,
        "fingerprint": fingerprint(root, sources),
        "records": records,
        "newest_modified": newest,
        "entries": by_eco,
    }
    path = _index_path(root, base)
    path.parent.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{base}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, separators=(",", ":"))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # readable as the records are (mkstemp makes it 0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _advisory_row(a: Advisory) -> list[Any]:
    return [
        a.id, list(a.aliases), a.summary, a.modified, a.published, a.url,
        [list(s) for s in a.severities], a.db_severity,
    ]  # fmt: skip


def read_index(root: Path, base: str, sources: Iterable[Path]) -> Index | None:
    """The index of ``base`` if there is one for exactly these record files, else ``None``."""
    path = _index_path(root, base)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT or doc.get("fingerprint") != fingerprint(root, sources):
            return None
        return _decode(doc)
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        return None  # unreadable or stale: the records are parsed instead


class _Entries(Mapping[str, list[AffectedEntry]]):
    """One ecosystem's entries by package name, decoded when a package is asked about (a scan
    asks about a few hundred of 20,000)."""

    def __init__(self, eco: str, rows: dict[str, str]) -> None:
        self._eco = eco
        self._rows = rows
        self._done: dict[str, list[AffectedEntry]] = {}

    def __getitem__(self, name: str) -> list[AffectedEntry]:
        got = self._done.get(name)
        if got is None:
            got = self._done[name] = [
                AffectedEntry(
                    _advisory(r[0]),
                    self._eco,
                    str(r[1]),
                    tuple(tuple((str(k), str(v)) for k, v in rng) for rng in r[2]),
                    frozenset(str(v) for v in r[3]),
                )
                for r in json.loads(self._rows[name])
            ]
        return got

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def _advisory(a: list[Any]) -> Advisory:
    return Advisory(
        id=str(a[0]),
        aliases=tuple(a[1]),
        summary=str(a[2]),
        modified=str(a[3]),
        published=str(a[4]),
        url=str(a[5]),
        severities=tuple((str(x[0]), str(x[1])) for x in a[6]),
        db_severity=str(a[7]),
    )


def _decode(doc: Mapping[str, Any]) -> Index:
    entries = {eco: _Entries(eco, rows) for eco, rows in doc["entries"].items()}
    return Index(int(doc["records"]), str(doc["newest_modified"]), entries)
