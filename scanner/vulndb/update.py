"""``vulndb update``: download fresh OSV ecosystem zips, verify them, swap them in atomically.

For each ecosystem, ``<base_url>/<Ecosystem>/all.zip`` is downloaded into a temporary file next
to its destination and verified before it replaces anything:

- the HTTP status is 200 and the body length equals ``Content-Length`` when one is sent;
- the MD5 in Google Cloud Storage's ``x-goog-hash`` header matches, when the header is there
  (OSV's bucket sends it); a pinned ``sha256`` (``--sha256 ECO=HEX``) must match when given;
- the zip's CRCs check out, it holds at least one record, and every member is a JSON OSV
  record with an ``id`` and at least one affected package in that ecosystem.

Only then is ``DIR/<Ecosystem>/all.zip`` replaced (``os.replace``) and ``DIR/osv-meta.json``
rewritten with the fetch time, URL, SHA-256 and record count. A failed verification leaves
the previous database untouched.

Example::

    result = update_database(Path("vulndb"), ["PyPI", "Ubuntu"])
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scanner.vulndb.store import META_FILE, OsvDatabase, VulnDbError

__all__ = ["DEFAULT_BASE_URL", "EcosystemUpdate", "update_database"]

DEFAULT_BASE_URL = "https://osv-vulnerabilities.storage.googleapis.com"
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class EcosystemUpdate:
    """What one ecosystem's download brought."""

    ecosystem: str
    url: str
    sha256: str
    size: int
    records: int


def _goog_md5(header: str | None) -> bytes | None:
    if not header:
        return None
    for part in header.split(","):
        k, _, v = part.strip().partition("=")
        if k == "md5":
            try:
                return base64.b64decode(v + "=" * (-len(v) % 4))
            except ValueError:
                return None
    return None


def _verify_zip(path: Path, ecosystem: str) -> int:
    """Check every member; the number of records."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise VulnDbError(f"{ecosystem}: downloaded zip has a corrupt member {bad!r}")
            count = 0
            for info in zf.infolist():
                if info.is_dir():
                    continue
                if not info.filename.endswith(".json"):
                    raise VulnDbError(f"{ecosystem}: unexpected member {info.filename!r}")
                try:
                    rec = json.loads(zf.read(info))
                except ValueError as exc:
                    raise VulnDbError(f"{ecosystem}: {info.filename} is not JSON") from exc
                if not isinstance(rec, dict) or not rec.get("id"):
                    raise VulnDbError(f"{ecosystem}: {info.filename} is not an OSV record")
                ecos = {
                    str((a.get("package") or {}).get("ecosystem", "")).split(":", 1)[0]
                    for a in rec.get("affected") or ()
                    if isinstance(a, dict)
                }
                if ecos and ecosystem not in ecos:
                    raise VulnDbError(
                        f"{ecosystem}: {info.filename} is a record of {sorted(ecos)}, "
                        "not of this ecosystem"
                    )
                count += 1
    except zipfile.BadZipFile as exc:
        raise VulnDbError(f"{ecosystem}: the download is not a zip file") from exc
    if count == 0:
        raise VulnDbError(f"{ecosystem}: the download holds no records")
    return count


def _download(url: str, dest_dir: Path, timeout: float) -> tuple[Path, str, int, bytes | None]:
    """Stream ``url`` into a temp file in ``dest_dir``: (path, sha256, size, md5 digest)."""
    # update_database accepts http(s) base URLs only, so no file: or custom scheme gets here
    req = urllib.request.Request(  # noqa: S310
        url, headers={"User-Agent": "panorama-gate vulndb update"}
    )
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - http(s) URLs only
    except urllib.error.HTTPError as exc:
        raise VulnDbError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise VulnDbError(f"{url}: download failed") from exc
    fd, name = tempfile.mkstemp(prefix=".download-", suffix=".zip", dir=dest_dir)
    tmp = Path(name)
    sha = hashlib.sha256()
    md5 = hashlib.md5()  # noqa: S324 - only to compare with the server's x-goog-hash
    size = 0
    try:
        with resp, os.fdopen(fd, "wb") as out:
            if resp.status != 200:
                raise VulnDbError(f"{url}: HTTP {resp.status}")
            expected_len = resp.headers.get("Content-Length")
            goog = _goog_md5(resp.headers.get("x-goog-hash"))
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                sha.update(chunk)
                md5.update(chunk)
                size += len(chunk)
        if expected_len is not None and int(expected_len) != size:
            raise VulnDbError(f"{url}: truncated download ({size} of {expected_len} bytes)")
        if goog is not None and goog != md5.digest():
            raise VulnDbError(f"{url}: MD5 does not match the server's x-goog-hash")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, sha.hexdigest(), size, goog


def update_database(
    root: Path,
    ecosystems: Iterable[str],
    *,
    base_url: str = DEFAULT_BASE_URL,
    sha256: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[EcosystemUpdate]:
    """Download, verify and install each ecosystem's ``all.zip`` under ``root``."""
    if not base_url.startswith(("https://", "http://")):
        raise VulnDbError(f"{base_url}: only http(s) URLs are supported")
    pins = {k.lower(): v.lower() for k, v in (sha256 or {}).items()}
    root.mkdir(parents=True, exist_ok=True)
    meta_path = root / META_FILE
    meta: dict[str, object] = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise VulnDbError(f"{meta_path}: unreadable database metadata") from exc
    sources = dict(meta.get("sources") or {})  # type: ignore[call-overload]
    results: list[EcosystemUpdate] = []
    staged: list[tuple[Path, Path]] = []
    try:
        for eco in ecosystems:
            eco_dir = root / eco
            eco_dir.mkdir(parents=True, exist_ok=True)
            url = f"{base_url.rstrip('/')}/{eco}/all.zip"
            tmp, digest, size, _ = _download(url, eco_dir, timeout)
            staged.append((tmp, eco_dir / "all.zip"))
            pin = pins.get(eco.lower())
            if pin and pin != digest:
                raise VulnDbError(f"{url}: SHA-256 {digest} does not match the pinned {pin}")
            records = _verify_zip(tmp, eco)
            results.append(EcosystemUpdate(eco, url, digest, size, records))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    # Everything verified: only now replace the old data.
    for tmp, final in staged:
        os.replace(tmp, final)
    fetched = now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for r in results:
        sources[r.ecosystem] = {
            "url": r.url,
            "sha256": r.sha256,
            "size": r.size,
            "records": r.records,
            "fetched_at": fetched,
        }
    # The database is as old as its oldest ecosystem.
    times = sorted(str(v["fetched_at"]) for v in sources.values() if isinstance(v, dict))
    meta = {"format": 1, "fetched_at": times[0] if times else fetched, "sources": sources}
    tmp_meta = meta_path.with_suffix(".json.tmp")
    tmp_meta.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp_meta, meta_path)
    # scans read the parsed records from an index instead of parsing them all each time
    db = OsvDatabase(root)
    for r in results:
        db.write_index(r.ecosystem)
    return results
