"""OSV records: severity, range evaluation, loading zipped and unpacked databases, age."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scanner.models import Severity
from scanner.vulndb import OsvDatabase, VulnDbError, cvss3_base_score
from scanner.vulndb.osv import parse_record, version_key
from tests.helpers.inventory_fixtures import OSV_PYPI, OSV_RECORDS, write_osv_db


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:N", 8.6),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
    ],
)
def test_cvss3_base_scores_match_the_specification(vector: str, score: float) -> None:
    assert cvss3_base_score(vector) == score


def test_bad_cvss_vector_is_an_error() -> None:
    with pytest.raises(ValueError, match="CVSS"):
        cvss3_base_score("CVSS:3.1/AV:N")


def _entry(events: list[dict[str, str]], versions: list[str] | None = None) -> object:
    rec = {
        "id": "TEST-1",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "versions": versions or [],
            }
        ],
    }
    return next(parse_record(rec))


@pytest.mark.parametrize(
    ("events", "version", "affected"),
    [
        ([{"introduced": "0"}, {"fixed": "1.24.2"}], "1.24.1", True),
        ([{"introduced": "0"}, {"fixed": "1.24.2"}], "1.24.2", False),
        ([{"introduced": "1.0"}, {"fixed": "1.5"}], "0.9", False),
        ([{"introduced": "1.0"}, {"last_affected": "1.5"}], "1.5", True),
        ([{"introduced": "1.0"}, {"last_affected": "1.5"}], "1.5.1", False),
        # two affected windows in one range, events out of order (OSV sorts them)
        (
            [{"fixed": "2.1"}, {"introduced": "0"}, {"introduced": "3.0"}, {"fixed": "3.2"}],
            "3.1",
            True,
        ),
        ([{"introduced": "0"}, {"fixed": "2.1"}, {"introduced": "3.0"}], "2.5", False),
        ([{"introduced": "0"}], "99", True),
        ([{"introduced": "2.0"}, {"fixed": "2.0.1rc1"}], "2.0.1rc1", False),
        ([{"introduced": "2.0"}, {"fixed": "2.0.1"}], "2.0.1rc1", True),
    ],
)
def test_range_evaluation(events: list[dict[str, str]], version: str, affected: bool) -> None:
    entry = _entry(events)
    assert entry.affects(version, version_key("PyPI")) is affected  # type: ignore[attr-defined]


def test_explicit_versions_list_matches() -> None:
    entry = _entry([{"introduced": "5.0"}], versions=["1.2.3"])
    assert entry.affects("1.2.3", version_key("PyPI"))  # type: ignore[attr-defined]


def test_withdrawn_records_match_nothing() -> None:
    rec = dict(OSV_PYPI[0], withdrawn="2024-01-01T00:00:00Z")
    assert list(parse_record(rec)) == []


@pytest.mark.parametrize("zipped", [True, False], ids=["zipped", "unpacked"])
def test_database_matches_real_advisories(tmp_path: Path, zipped: bool) -> None:
    db = OsvDatabase(write_osv_db(tmp_path / "db", zipped=zipped))
    db.load(["PyPI", "Ubuntu", "Debian"])
    assert db.records == sum(len(v) for v in OSV_RECORDS.values())
    urllib3 = db.query("PyPI", "urllib3", "1.24.1")
    assert [m.advisory.id for m in urllib3] == ["GHSA-mh33-7rrq-662w", "GHSA-r64q-w8jr-g9qp"]
    first = urllib3[0]
    assert "CVE-2019-11324" in first.advisory.aliases
    assert first.fixed_versions == ("1.24.2",)
    assert first.advisory.severity is Severity.HIGH
    assert first.advisory.score == 7.5
    assert db.query("PyPI", "urllib3", "1.24.3") == []
    # PEP 503 names: "Jinja2" and "jinja2" are the same project
    assert [m.advisory.id for m in db.query("PyPI", "Jinja2", "2.10")] == ["GHSA-462w-v97r-4m45"]
    assert db.query("PyPI", "jinja2", "2.10.1") == []
    # Debian/Ubuntu by source package with dpkg ordering
    zlib = db.query("Ubuntu:22.04:LTS", "zlib", "1:1.2.11.dfsg-2ubuntu9")
    assert [m.advisory.id for m in zlib] == ["UBUNTU-CVE-2022-37434"]
    assert zlib[0].advisory.severity is Severity.CRITICAL
    assert db.query("Ubuntu:22.04:LTS", "zlib", "1:1.2.11.dfsg-2ubuntu9.1") == []
    assert db.query("Ubuntu:22.04:LTS", "openssl", "3.0.2-0ubuntu1.10") == []
    assert [m.advisory.id for m in db.query("Debian:11", "zlib", "1:1.2.11.dfsg-2+deb11u1")] == [
        "DSA-5218-1"
    ]


def test_unorderable_version_raises_instead_of_passing(tmp_path: Path) -> None:
    db = OsvDatabase(write_osv_db(tmp_path / "db"))
    db.load(["PyPI"])
    with pytest.raises(ValueError, match="PEP 440"):
        db.query("PyPI", "urllib3", "not a version")
    with pytest.raises(ValueError, match="PEP 440"):
        db.query("PyPI", "no-advisories-at-all", "also bad")


def test_age_from_metadata_else_newest_record(tmp_path: Path) -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    fresh = OsvDatabase(write_osv_db(tmp_path / "a", fetched_at=now - timedelta(days=2)))
    assert fresh.age_days(now) == pytest.approx(2.0)
    bare = OsvDatabase(write_osv_db(tmp_path / "b"))
    bare.load(["PyPI", "Ubuntu", "Debian"])
    newest = max(
        datetime.fromisoformat(str(r["modified"]).replace("Z", "+00:00"))
        for recs in OSV_RECORDS.values()
        for r in recs
    )
    assert bare.fetched_at() == newest


def test_single_zip_database(tmp_path: Path) -> None:
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for rec in OSV_PYPI:
            zf.writestr(f"{rec['id']}.json", json.dumps(rec))
    db = OsvDatabase(path)
    assert db.has("PyPI")
    assert db.query("PyPI", "requests", "2.19.1")[0].advisory.id == "GHSA-x84v-xcm2-53pg"


def test_missing_or_corrupt_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VulnDbError, match="not found"):
        OsvDatabase(tmp_path / "nope")
    d = tmp_path / "db" / "PyPI"
    d.mkdir(parents=True)
    (d / "bad.json").write_text("{not json")
    db = OsvDatabase(tmp_path / "db")
    with pytest.raises(VulnDbError, match="not valid JSON"):
        db.load(["PyPI"])
    (d / "bad.json").write_text(json.dumps({"affected": []}))
    with pytest.raises(VulnDbError, match="no id"):
        OsvDatabase(tmp_path / "db").load(["PyPI"])
    (d / "bad.json").unlink()
    (d / "all.zip").write_bytes(b"PK not really")
    with pytest.raises(VulnDbError, match="zip"):
        OsvDatabase(tmp_path / "db").load(["PyPI"])
