"""The package databases' parsers: the fast paths give exactly the plain algorithms' answers."""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.config import ScanConfig
from scanner.gate import judge
from scanner.pipeline import scan
from scanner.policy import load_policy
from scanner.walk.ownership import OwnershipIndex
from scanner.walk.package_db import _b64_to_hex, parse_md5sums, parse_record
from tests.helpers.archives import M, tar_bytes

_part = st.sampled_from(["a", "b.py", ".", "..", "", "x y", "é", "__pycache__", "-"])
_path = st.lists(_part, min_size=1, max_size=5).map("/".join) | st.text(max_size=12)


def _plain_rows(data: bytes, site: str) -> list[tuple[str, str]]:
    """What parse_record gave before its fast paths: normpath(join) and urlsafe_b64decode."""
    import csv
    import io

    out: list[tuple[str, str]] = []
    reader = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""))
    while True:
        try:
            row = next(reader)
        except (StopIteration, csv.Error):
            return out
        if not row or not row[0]:
            continue
        joined = posixpath.normpath(posixpath.join(site, row[0])) if site else row[0]
        if joined.startswith(("../", "/")) or joined in ("..", "."):
            continue
        algo, _, value = (row[1] if len(row) > 1 else "").partition("=")
        digest = ""
        if algo == "sha256":
            try:
                raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
                digest = raw.hex() if len(raw) == 32 else ""
            except (binascii.Error, ValueError):
                digest = ""
        out.append((joined, digest))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_path, st.text(max_size=50)), max_size=8), _path)
def test_record_rows_are_the_plain_algorithms(rows: list[tuple[str, str]], site: str) -> None:
    lines = [f'"{p.replace(chr(34), "")}",sha256={v.replace(chr(10), "")},1' for p, v in rows]
    data = "\n".join(lines).encode()
    got = [(r.path, r.sha256) for r in parse_record(data, site)]
    assert got == _plain_rows(data, site)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40) | st.binary(min_size=32, max_size=32))
def test_digests_decode_as_urlsafe_base64_does(raw: bytes) -> None:
    for value in (
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode()[:-1] + "!",
        "é" + base64.urlsafe_b64encode(raw).decode(),
    ):
        try:
            decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            want = decoded.hex() if len(decoded) == 32 else ""
        except (binascii.Error, ValueError):
            want = ""
        assert _b64_to_hex(value) == want, value


def test_a_real_record_and_md5sums() -> None:
    body = b"print('hi')\n"
    b64 = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode().rstrip("=")
    record = (
        f"numpy/__init__.py,sha256={b64},12\n"
        "numpy-2.1.dist-info/RECORD,,\n"
        f"../../../bin/f2py,sha256={b64},12\n"
        f"../../../../../../etc/passwd,sha256={b64},12\n"
    ).encode()
    rows = list(parse_record(record, "usr/local/lib/python3.11/site-packages"))
    assert [(r.path, r.sha256) for r in rows] == [
        (
            "usr/local/lib/python3.11/site-packages/numpy/__init__.py",
            hashlib.sha256(body).hexdigest(),
        ),
        ("usr/local/lib/python3.11/site-packages/numpy-2.1.dist-info/RECORD", ""),
        ("usr/local/bin/f2py", hashlib.sha256(body).hexdigest()),
    ]
    md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
    sums = f"{md5}  usr/bin/ls\n{md5.upper()}  usr/bin/cat\nxyz  usr/bin/x\n".encode()
    assert list(parse_md5sums(sums)) == [("usr/bin/ls", md5)]


def test_a_record_that_is_not_csv_ends_where_it_breaks() -> None:
    good = b"a.py,sha256=,1\n"
    for bad in (b'"unterminated\n', b"x\0y,sha256=,1\n", b"a\rb,c\n", b"\xff\xfe,\n"):
        rows = [r.path for r in parse_record(good + bad + good, "site")]
        assert rows[0] == "site/a.py"  # no exception, whatever follows


def test_a_scan_with_a_hostile_record_completes(tmp_path: Path) -> None:
    body = b"print('hi')\n"
    b64 = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode().rstrip("=")
    site = "usr/local/lib/python3.11/site-packages"
    record = f'app/a.py,sha256={b64},12\nbroken\rfield,x\n"open\n'.encode()
    members = [
        M("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
        M(f"{site}/app/a.py", body),
        M(f"{site}/app-1.0.dist-info/METADATA", b"Name: app\nVersion: 1.0\n"),
        M(f"{site}/app-1.0.dist-info/RECORD", record),
    ]
    target = tmp_path / "rootfs.tar.gz"
    target.write_bytes(tar_bytes(members, "gz"))
    config = ScanConfig(offline=True, cache_dir=None, work_dir=tmp_path / "w", jobs=1)
    report = scan(target, config, analyzers=[])
    (artifact,) = [a for a in report.artifacts if a.name == target.name]
    files = artifact.properties["files"]
    assert files["verified"] == 1  # the row before the break; no crash on what follows


def test_an_ownership_join_that_fails_fails_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: OwnershipIndex) -> None:
        raise ValueError("a database nothing anticipated")

    monkeypatch.setattr(OwnershipIndex, "prepare", broken)
    target = tmp_path / "rootfs.tar.gz"
    target.write_bytes(tar_bytes([M("etc/os-release", b"ID=debian\n"), M("bin/x", b"x")], "gz"))
    config = ScanConfig(offline=True, cache_dir=None, work_dir=tmp_path / "w", jobs=1)
    report = scan(target, config, analyzers=[])
    (failure,) = [f for f in report.failures if f.analyzer == "ownership"]
    assert "ValueError: a database nothing anticipated" in failure.reason
    verdict = judge(report, load_policy()).verdict
    assert verdict is not None
    assert verdict.decision.value == "incomplete"


def _big_package(tmp_path: Path, *, tamper: bool) -> Path:
    """A root filesystem whose dpkg package owns a 9 MiB blob, a 9 MiB zip (a nested archive
    the walk opens) and a small file: the big ones are hashed as they pass (a tap, fed by the
    archive's reader or by the nested archive's spool), the small one whole."""
    import io
    import os
    import zipfile

    blob = os.urandom(9 * 1024 * 1024)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("model.onnx", os.urandom(9 * 1024 * 1024))  # a model inside: walked
    bundle = buf.getvalue()
    small = b"small file\n"
    files = {"usr/share/big/blob.bin": blob, "usr/share/big/bundle.zip": bundle,
             "usr/share/big/small.txt": small}  # fmt: skip
    sums = {p: hashlib.md5(d, usedforsecurity=False).hexdigest() for p, d in files.items()}
    if tamper:
        sums["usr/share/big/bundle.zip"] = "0" * 32
    members = [
        M("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
        *(M(p, d) for p, d in files.items()),
        M("var/lib/dpkg/status",
          b"Package: big\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n"),
        M("var/lib/dpkg/info/big.list", "".join(f"/{p}\n" for p in files).encode()),
        M("var/lib/dpkg/info/big.md5sums",
          "".join(f"{d}  {p}\n" for p, d in sums.items()).encode()),
    ]  # fmt: skip
    target = tmp_path / "rootfs.tar.gz"
    target.write_bytes(tar_bytes(members, "gz"))
    return target


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("tamper", [False, True])
def test_big_and_nested_package_files_are_verified(tmp_path: Path, jobs: int, tamper: bool) -> None:
    target = _big_package(tmp_path, tamper=tamper)
    config = ScanConfig(offline=True, cache_dir=None, work_dir=tmp_path / "w", jobs=jobs)
    report = scan(target, config)
    (artifact,) = [a for a in report.artifacts if a.name == target.name]
    files = artifact.properties["files"]
    assert files["owned"] == 3
    assert (files["verified"], files["modified"]) == ((2, 1) if tamper else (3, 0))
    modified = [f for f in report.findings if f.rule_id == "integrity.package-file-modified"]
    assert [f.location.path for f in modified] == (["usr/share/big/bundle.zip"] if tamper else [])
    if tamper:
        assert modified[0].properties["package"] == "big"
