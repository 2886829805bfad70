"""``vulndb update`` against a local HTTP server serving a fixture zip."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.vulndb import OsvDatabase, VulnDbError
from scanner.vulndb.update import update_database
from tests.helpers.inventory_fixtures import OSV_PYPI, OSV_UBUNTU


def _zip(records: list[dict[str, object]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rec in records:
            zf.writestr(f"{rec['id']}.json", json.dumps(rec))
    return buf.getvalue()


class _Server:
    """Serves ``files`` (path -> body) with GCS-style ``x-goog-hash`` headers."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.md5_override: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                md5 = outer.md5_override.get(self.path, hashlib.md5(body).digest())
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header(
                    "x-goog-hash", f"crc32c=AAAAAA==,md5={base64.b64encode(md5).decode()}"
                )
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if self.path in outer.truncate else body)

            def log_message(self, *args: object) -> None:
                return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    s.files["/PyPI/all.zip"] = _zip(OSV_PYPI)
    s.files["/Ubuntu/all.zip"] = _zip(OSV_UBUNTU)
    yield s
    s.close()


def test_update_downloads_verifies_and_records_age(server: _Server, tmp_path: Path) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    results = update_database(
        tmp_path / "db", ["PyPI", "Ubuntu"], base_url=server.url, now=lambda: now
    )
    assert [(r.ecosystem, r.records) for r in results] == [("PyPI", 4), ("Ubuntu", 2)]
    assert results[0].sha256 == hashlib.sha256(server.files["/PyPI/all.zip"]).hexdigest()
    db = OsvDatabase(tmp_path / "db")
    assert db.age_days(datetime(2026, 3, 3, 12, 0, tzinfo=UTC)) == pytest.approx(2.0)
    assert db.query("PyPI", "urllib3", "1.24.1")  # loads lazily and matches
    meta = json.loads((tmp_path / "db" / "osv-meta.json").read_text())
    assert meta["sources"]["PyPI"]["url"] == f"{server.url}/PyPI/all.zip"


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("md5", "x-goog-hash"),
        ("truncated", "truncated|download failed"),
        ("not-zip", "not a zip"),
        ("wrong-ecosystem", "not of this ecosystem"),
        ("missing", "HTTP 404"),
        ("pin", "pinned"),
    ],
)
def test_failed_verification_keeps_the_old_database(
    server: _Server, tmp_path: Path, breakage: str, message: str
) -> None:
    db_dir = tmp_path / "db"
    update_database(db_dir, ["PyPI"], base_url=server.url)
    before = (db_dir / "PyPI" / "all.zip").read_bytes()
    meta_before = (db_dir / "osv-meta.json").read_bytes()
    pins: dict[str, str] = {}
    path = "/PyPI/all.zip"
    if breakage == "md5":
        server.md5_override[path] = b"\0" * 16
    elif breakage == "truncated":
        server.truncate.add(path)
    elif breakage == "not-zip":
        server.files[path] = b"<html>captive portal</html>"
    elif breakage == "wrong-ecosystem":
        server.files[path] = _zip(OSV_UBUNTU)
    elif breakage == "missing":
        del server.files[path]
    elif breakage == "pin":
        pins["PyPI"] = "0" * 64
    with pytest.raises(VulnDbError, match=message):
        update_database(db_dir, ["PyPI"], base_url=server.url, sha256=pins)
    assert (db_dir / "PyPI" / "all.zip").read_bytes() == before
    assert (db_dir / "osv-meta.json").read_bytes() == meta_before
    assert [p.name for p in (db_dir / "PyPI").iterdir()] == ["all.zip"]  # no temp files left


def test_cli_update_and_info(
    server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    code = main(
        ["vulndb", "update", "--vuln-db", str(db), "--base-url", server.url, "--ecosystem", "PyPI"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PyPI: 4 records" in out
    assert main(["vulndb", "info", "--vuln-db", str(db)]) == 0
    info = capsys.readouterr().out
    assert "records: 4" in info
    assert "age: 0.0 days" in info
    server.files["/PyPI/all.zip"] = b"garbage"
    assert (
        main(
            [
                "vulndb",
                "update",
                "--vuln-db",
                str(db),
                "--base-url",
                server.url,
                "--ecosystem",
                "PyPI",
            ]
        )
        == 2
    )
    assert "not a zip" in capsys.readouterr().err
