"""Resource bounds on hostile input, through the real CLI in a measured subprocess.

Each crafted input must end in a finding (exit 1) or a clear one-line error (exit 2), never a
traceback, within generous bounds on wall time and peak memory (see ``_cli.MAX_*``).
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.helpers.bombs import write_tar_gz_bomb, write_zip_bomb
from tests.helpers.cli_runner import QUIET_SCAN, Measured, measured_cli
from tests.helpers.project_builder import ProjectSpec, build_project

MiB = 1024 * 1024


def _scan(tmp: Path, target: Path, *extra: str, incomplete_ok: bool = False) -> Measured:
    report = tmp / "report.json"
    res = measured_cli(
        tmp, "scan", str(target), *QUIET_SCAN, "--format", "json", "-o", str(report), *extra
    )
    res.assert_bounded()
    res.assert_clean_failure_or_finding(incomplete_ok=incomplete_ok)
    if res.exit in (1, 3):
        assert report.exists()
    return res


def _rule_ids(tmp: Path) -> set[str]:
    data = json.loads((tmp / "report.json").read_text())
    return {f["rule_id"] for f in data["findings"]}


def test_deeply_nested_json_manifest(tmp_path: Path) -> None:
    proj = build_project(tmp_path / "app", ProjectSpec(with_model=False))
    graph = next((proj.root / "graphs").glob("*/graph.json"))
    depth = 500_000
    graph.write_text('{"nodeGraph": ' + "[" * depth + "]" * depth + "}")
    res = _scan(tmp_path, proj.root)
    assert "graph.json" in res.stderr + res.stdout + (
        (tmp_path / "report.json").read_text() if res.exit == 1 else ""
    )


def test_huge_pax_header(tmp_path: Path) -> None:
    # A rootfs tar whose first member carries a 64 MiB pax extended header.
    target = tmp_path / "rootfs.tar"
    with target.open("wb") as f:
        value = b"a" * (64 * MiB)
        record = b"path=" + value + b"\n"
        length = len(record) + 1
        while len(str(length)) + len(record) + 1 != length:
            length = len(str(length)) + len(record) + 1
        body = str(length).encode() + b" " + record
        hdr = tarfile.TarInfo("././@PaxHeader")
        hdr.type = tarfile.XHDTYPE
        hdr.size = len(body)
        f.write(hdr.tobuf(format=tarfile.USTAR_FORMAT))
        f.write(body)
        f.write(b"\0" * (-len(body) % 512))
        info = tarfile.TarInfo("etc/hostname")
        info.size = 3
        f.write(info.tobuf(format=tarfile.USTAR_FORMAT) + b"hi\n" + b"\0" * 509)
        f.write(b"\0" * 1024)
    _scan(tmp_path, target)
    assert "archive.huge-header" in _rule_ids(tmp_path)


def test_huge_gnu_longname_header(tmp_path: Path) -> None:
    target = tmp_path / "rootfs.tar"
    name = b"d/" * (16 * MiB)
    with target.open("wb") as f:
        hdr = tarfile.TarInfo("././@LongLink")
        hdr.type = tarfile.GNUTYPE_LONGNAME
        hdr.size = len(name) + 1
        f.write(hdr.tobuf(format=tarfile.GNU_FORMAT))
        f.write(name + b"\0" + b"\0" * (-(len(name) + 1) % 512))
        info = tarfile.TarInfo("x")
        info.size = 0
        f.write(info.tobuf(format=tarfile.GNU_FORMAT))
        f.write(b"\0" * 1024)
    _scan(tmp_path, target)
    assert "archive.huge-header" in _rule_ids(tmp_path)


def test_gzip_bomb_container(tmp_path: Path) -> None:
    # A gzip'd rootfs tar holding one 2 GiB file of zeros: about 2 MiB on disk.
    target = tmp_path / "rootfs.tar.gz"
    with target.open("wb") as f:
        write_tar_gz_bomb(f, "opt/zeros.bin", 2048)
    assert target.stat().st_size < 8 * MiB
    res = _scan(tmp_path, target)
    if res.exit == 1:
        assert any(r.startswith("archive.") for r in _rule_ids(tmp_path)), _rule_ids(tmp_path)


def test_gzip_bomb_as_project_model_asset(tmp_path: Path) -> None:
    proj = build_project(tmp_path / "app", ProjectSpec(with_model=True))
    # The model archive replaced by a bomb (so its name no longer matches its digest): the
    # digest check and the ratio limit both apply; neither may cost unbounded time or memory.
    model = next(p for p in (proj.root / "assets").glob("*.tar.gz") if p != proj.container_asset)
    with model.open("wb") as f:
        write_tar_gz_bomb(f, "model.pth", 2048)
    _scan(tmp_path, proj.root)


def test_zip_bomb_model_archive(tmp_path: Path) -> None:
    # 20 members of 1 GiB of zeros each: 20 GiB expanded, about 20 MiB on disk.
    target = tmp_path / "model.zip"
    with target.open("wb") as f:
        write_zip_bomb(f, 20, 1024)
    with zipfile.ZipFile(target) as zf:  # a well-formed zip: the bomb is its ratio only
        assert len(zf.infolist()) == 20
    res = _scan(tmp_path, target)
    if res.exit == 1:
        assert any(r.startswith(("archive.", "model.")) for r in _rule_ids(tmp_path))


LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [
        f"{chr(ord('b') + i)}: &{chr(ord('b') + i)} [{', '.join(['*' + chr(ord('a') + i)] * 9)}]"
        for i in range(8)
    ]
    + ["severity_threshold: *i"]
)


@pytest.mark.parametrize("flag", ["--policy", "--waivers"])
def test_billion_laughs_yaml(tmp_path: Path, flag: str) -> None:
    proj = build_project(tmp_path / "app", ProjectSpec(with_model=False))
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(LAUGHS + "\n")
    res = measured_cli(tmp_path, "scan", str(proj.root), *QUIET_SCAN, flag, str(bomb))
    res.assert_bounded()
    assert res.exit == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert "bomb.yaml" in res.stderr


def test_policy_validate_billion_laughs(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(LAUGHS + "\n")
    res = measured_cli(tmp_path, "policy", "validate", str(bomb))
    res.assert_bounded()
    assert res.exit == 2, res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_pickle_with_enormous_memo_table(tmp_path: Path) -> None:
    # The worst memo case for the pickle walker: one value MEMOIZEd ten million times (one
    # opcode per memo entry), 10 MB on disk. The walk stops at the memo cap (one million
    # entries, about 70 MB) and fails closed; without the cap this took about 0.7 GB.
    target = tmp_path / "model.pkl"
    target.write_bytes(b"\x80\x04K\x01" + b"\x94" * 10_000_001 + b".")
    report = tmp_path / "r.json"
    res = measured_cli(
        tmp_path, "scan", str(target), *QUIET_SCAN, "--format", "json", "-o", str(report)
    )
    res.assert_bounded()
    assert res.peak_kb < 400_000, f"peak {res.peak_kb} kB"
    assert res.exit == 3, res.stderr
    failures = json.loads(report.read_text())["failures"]
    assert any("memo entries" in f["reason"] for f in failures), failures


def test_pickle_memo_index_out_of_range(tmp_path: Path) -> None:
    # LONG_BINPUT at index 2**32-1 and a GET of it: a naive list-backed memo would allocate.
    data = b"\x80\x02K\x01r\xff\xff\xff\xffh\x00j\xff\xff\xff\xff\x86."
    target = tmp_path / "model.pkl"
    target.write_bytes(data)
    _scan(tmp_path, target, incomplete_ok=True)
    failures = json.loads((tmp_path / "report.json").read_text())["failures"]
    assert any("memo" in f["reason"] for f in failures), failures
