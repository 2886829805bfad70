"""The parsed-records index: a scan reading it answers exactly as one parsing every record."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from scanner.vulndb import OsvDatabase, VulnDbError
from scanner.vulndb.index import INDEX_DIR
from tests.helpers.inventory_fixtures import OSV_RECORDS, write_osv_db

BASES = ("PyPI", "Ubuntu", "Debian")


def _indexed(root: Path) -> Path:
    for base in BASES:
        assert OsvDatabase(root).write_index(base) is not None
    return root


def _answers(db: OsvDatabase) -> dict[str, object]:
    db.load(BASES)
    out: dict[str, object] = {
        "records": db.records,
        "ecosystems": db.ecosystems(),
        "fetched": db.fetched_at(),
    }
    for recs in OSV_RECORDS.values():
        for rec in recs:
            for aff in rec["affected"]:  # type: ignore[union-attr]
                eco, name = aff["package"]["ecosystem"], aff["package"]["name"]
                out[f"{eco}/{name}/entries"] = db.affected_entries(eco, name)
                for v in ("0", "1.0", "2.19.1", "1:1.2.11.dfsg-2ubuntu9", "99"):
                    try:
                        out[f"{eco}/{name}/{v}"] = db.query(eco, name, v)
                    except ValueError as exc:
                        out[f"{eco}/{name}/{v}"] = str(exc)
    return out


@pytest.mark.parametrize("zipped", [True, False], ids=["zipped", "unpacked"])
def test_indexed_database_answers_as_the_parsed_one(tmp_path: Path, zipped: bool) -> None:
    parsed = _answers(OsvDatabase(write_osv_db(tmp_path / "plain", zipped=zipped)))
    root = _indexed(write_osv_db(tmp_path / "indexed", zipped=zipped))
    assert sorted(p.name for p in (root / INDEX_DIR).iterdir()) == sorted(
        f"{b}.json" for b in BASES
    )
    indexed = _answers(OsvDatabase(root))
    assert indexed == parsed


def test_a_changed_record_file_makes_the_index_stale(tmp_path: Path) -> None:
    root = _indexed(write_osv_db(tmp_path / "db"))
    # a new record, and then a malformed one: both seen, as without an index
    zpath = root / "PyPI" / "all.zip"
    with zipfile.ZipFile(zpath, "a") as zf:
        zf.writestr(
            "NEW-1.json",
            json.dumps(
                {
                    "id": "NEW-1",
                    "modified": "2026-01-01T00:00:00Z",
                    "affected": [
                        {
                            "package": {"ecosystem": "PyPI", "name": "fresh-package"},
                            "versions": ["1.0"],
                        }
                    ],
                }
            ),
        )
    db = OsvDatabase(root)
    assert [m.advisory.id for m in db.query("PyPI", "fresh-package", "1.0")] == ["NEW-1"]
    with zipfile.ZipFile(zpath, "a") as zf:
        zf.writestr("BAD.json", "{not json")
    with pytest.raises(VulnDbError, match="not valid JSON"):
        OsvDatabase(root).load(["PyPI"])


def test_an_unreadable_index_is_ignored(tmp_path: Path) -> None:
    root = _indexed(write_osv_db(tmp_path / "db"))
    (root / INDEX_DIR / "PyPI.json").write_text("{truncated")
    db = OsvDatabase(root)
    assert [m.advisory.id for m in db.query("PyPI", "Jinja2", "2.10")] == ["GHSA-462w-v97r-4m45"]


def test_the_index_does_not_change_the_result_cache_token(tmp_path: Path) -> None:
    root = write_osv_db(tmp_path / "db")
    before = OsvDatabase(root).fingerprint()
    _indexed(root)
    assert OsvDatabase(root).fingerprint() == before


def test_cli_index_then_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.cli import main

    root = write_osv_db(tmp_path / "db")
    assert main(["vulndb", "index", "--vuln-db", str(root)]) == 0
    said = capsys.readouterr().out
    assert all(f"{b}: indexed in" in said for b in BASES), said
    assert main(["vulndb", "info", "--vuln-db", str(root)]) == 0
    assert f"records: {sum(len(v) for v in OSV_RECORDS.values())}" in capsys.readouterr().out
