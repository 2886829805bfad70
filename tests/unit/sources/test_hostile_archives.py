"""The hostile-archive corpus: each case asserts the exact finding or error, and that nothing
was written outside the work folder (and the work folder is cleaned up)."""

from __future__ import annotations

import gzip
import io
import json
import random
import struct
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from scanner.config import ArchiveLimits, ScanConfig
from scanner.errors import SourceError
from scanner.pipeline import scan
from tests.helpers.archives import (
    M,
    compress,
    docker_save_archive,
    oci_archive,
    rootfs_members,
    tar_bytes,
)
from tests.helpers.probe import ProbeAnalyzer


def _rand(n: int, seed: int = 7) -> bytes:
    """Incompressible but reproducible bytes: every run sees the same archive."""
    return random.Random(seed).randbytes(n)


SMALL = ArchiveLimits(
    max_member_bytes=1_000_000,
    max_total_bytes=5_000_000,
    max_members=200,
    max_ratio=50.0,
    max_depth=2,
    max_path_length=300,
    ratio_floor_bytes=100_000,
)

MODEL_BASE = [M("model/", kind="dir"), M("model/descriptor.txt", b"weights")]


def model_tar(*members: M, compression: str = "gz") -> bytes:
    return tar_bytes([*MODEL_BASE, *members], compression)


def rootfs(*members: M, compression: str = "gz") -> bytes:
    return tar_bytes(
        [*rootfs_members({"panorama/app.py": b"print('hi')\n"}), *members], compression
    )


def _bomb_gz(size: int) -> bytes:
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as gz:
        ti = tarfile.TarInfo("model/zeros.bin")
        ti.size = size
        gz.write(ti.tobuf(tarfile.PAX_FORMAT))
        chunk = b"\0" * (1 << 20)
        left = size
        while left:
            n = min(left, len(chunk))
            gz.write(chunk[:n])
            left -= n
        gz.write(b"\0" * (512 - size % 512 if size % 512 else 0) + b"\0" * 1024)
    return raw.getvalue()


def _bomb_zst(size: int) -> bytes:
    data = tar_bytes([M("model/zeros.bin", b"\0" * size)])
    return zstandard.ZstdCompressor(level=19).compress(data)


def _huge_pax() -> bytes:
    # A pax extended header claiming 50 MB: tarfile would read it all into memory.
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 50_000_000
    buf = header.tobuf(tarfile.USTAR_FORMAT)
    return compress(buf + b"x" * 4096, "gz")


def _truncated() -> bytes:
    full = model_tar(M("model/w.bin", _rand(200_000)), compression="")
    return gzip.compress(full[: len(full) // 2], mtime=0)


def _corrupt_gzip() -> bytes:
    good = model_tar(M("model/w.bin", _rand(50_000)))
    mid = len(good) // 2  # corrupt the middle: the head still sniffs as a tar
    return good[:mid] + bytes(b ^ 0xFF for b in good[mid : mid + 200]) + good[mid + 200 :]


def _lying_size() -> bytes:
    ti = tarfile.TarInfo("model/w.bin")
    ti.size = 10_000
    return compress(ti.tobuf(tarfile.PAX_FORMAT) + b"a" * 100, "gz")


def _nested(depth: int) -> bytes:
    inner = tar_bytes([M("model/deep.txt", b"bottom")], "gz")
    for i in range(depth):
        inner = tar_bytes([M(f"model/level{i}.tar.gz", inner)], "gz")
    return inner


def _zip(entries: list[tuple[str, bytes]], symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    return buf.getvalue()


def _zip_overlap() -> bytes:
    """Two central-directory entries pointing at the same local file (overlapping members)."""
    data = _zip([("a.bin", b"A" * 1000)])
    eocd_at = data.rindex(b"PK\x05\x06")
    cd_at = struct.unpack("<I", data[eocd_at + 16 : eocd_at + 20])[0]
    cd = data[cd_at:eocd_at]
    second = cd.replace(b"a.bin", b"b.bin")
    new_cd = cd + second
    eocd = bytearray(data[eocd_at:])
    struct.pack_into("<HHII", eocd, 8, 2, 2, len(new_cd), cd_at)
    return data[:cd_at] + new_cd + bytes(eocd)


def _zip_declared_huge() -> bytes:
    data = bytearray(_zip([("big.bin", b"\0" * 1000)]))
    # Patch the central directory's uncompressed size to 4 GB - 1.
    cd_at = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, cd_at + 24, 0xFFFFFFFE)
    return bytes(data)


def _oci_bad_digest() -> bytes:
    good = oci_archive([[M("etc/hostname", b"x"), M("usr/bin/env", b"y")]])
    tf = tarfile.open(fileobj=io.BytesIO(good))  # noqa: SIM115
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as w:
        for ti in tf.getmembers():
            data = tf.extractfile(ti).read() if ti.isreg() else None
            if data is not None and ti.name.startswith("blobs/") and data[:2] == b"\x1f\x8b":
                data = gzip.compress(
                    tar_bytes([M("etc/hostname", b"tampered"), M("usr/bin/env", b"y")]), mtime=0
                )
                ti.size = len(data)
            w.addfile(ti, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


@dataclass
class Case:
    id: str
    build: Callable[[], bytes]
    expect: set[str]  # rule ids that must be present (archive.* / integrity.*)
    name: str = "asset.tar.gz"
    forbid: set[str] | None = None  # rule ids that must be absent


CASES = [
    Case(
        "absolute-path",
        lambda: model_tar(M("/etc/cron.d/evil", b"* * * * * root sh")),
        {"archive.absolute-path"},
    ),
    Case(
        "dotdot-model",
        lambda: model_tar(M("model/../../evil.sh", b"#!/bin/sh")),
        {"archive.path-traversal"},
    ),
    Case(
        "dotdot-rootfs",
        lambda: rootfs(M("../../../root/.ssh/authorized_keys", b"ssh-rsa A")),
        {"archive.path-traversal"},
    ),
    Case(
        "symlink-absolute",
        lambda: model_tar(M("model/link", kind="symlink", linkname="/etc/shadow")),
        {"archive.symlink-escape"},
    ),
    Case(
        "symlink-relative-escape",
        lambda: model_tar(M("model/link", kind="symlink", linkname="../../../../home")),
        {"archive.symlink-escape"},
    ),
    Case(
        "symlink-then-write-through",
        lambda: model_tar(M("model/d", kind="symlink", linkname="/tmp"), M("model/d/x", b"pwn")),
        {"archive.symlink-escape"},
    ),
    Case(
        "rootfs-links-are-fine",
        lambda: rootfs(
            M("etc/alternatives/python", kind="symlink", linkname="/usr/bin/python3"),
            M("usr/lib/x", kind="symlink", linkname="../../../../../etc/hostname"),
        ),
        set(),
        forbid={"archive.symlink-escape", "archive.path-traversal"},
    ),
    Case(
        "hardlink-to-missing",
        lambda: model_tar(M("model/h", kind="hardlink", linkname="etc/passwd")),
        {"archive.hardlink-outside"},
    ),
    Case(
        "hardlink-dotdot",
        lambda: rootfs(M("panorama/h", kind="hardlink", linkname="../../../etc/shadow")),
        {"archive.hardlink-outside"},
    ),
    Case("char-device", lambda: model_tar(M("model/mem", kind="chr")), {"archive.special-file"}),
    Case("block-device", lambda: model_tar(M("model/sda", kind="blk")), {"archive.special-file"}),
    Case("fifo", lambda: model_tar(M("model/pipe", kind="fifo")), {"archive.special-file"}),
    Case(
        "rootfs-device-is-fine",
        lambda: rootfs(M("dev/null", kind="chr")),
        set(),
        forbid={"archive.special-file"},
    ),
    Case(
        "duplicate-overwrite",
        lambda: model_tar(M("model/w.bin", b"first"), M("model/w.bin", b"second")),
        {"archive.duplicate-entry"},
    ),
    Case(
        "oversized-member",
        lambda: model_tar(M("model/big.bin", _rand(1_200_000))),
        {"archive.member-too-large"},
    ),
    Case(
        "too-many-members",
        lambda: model_tar(*[M(f"model/f{i}", b"x") for i in range(250)], compression=""),
        {"archive.too-many-members"},
    ),
    Case(
        "total-size",
        lambda: model_tar(*[M(f"model/p{i}", _rand(900_000)) for i in range(7)]),
        {"archive.total-size-exceeded"},
    ),
    Case("gzip-ratio-bomb", lambda: _bomb_gz(4_000_000), {"archive.compression-bomb"}),
    Case(
        "zstd-ratio-bomb",
        lambda: _bomb_zst(3_000_000),
        {"archive.compression-bomb"},
        name="asset.tar.zst",
    ),
    Case("nesting-too-deep", lambda: _nested(3), {"archive.nesting-too-deep"}),
    Case("nesting-within-limit", lambda: _nested(1), set(), forbid={"archive.nesting-too-deep"}),
    Case("truncated-stream", _truncated, {"archive.truncated"}),
    Case("corrupt-gzip", _corrupt_gzip, {"archive.corrupt"}),
    Case("lying-member-size", _lying_size, {"archive.truncated"}),
    Case("huge-pax-header", _huge_pax, {"archive.huge-header"}),
    Case(
        "link-loop",
        lambda: model_tar(
            M("model/a", kind="symlink", linkname="b"), M("model/b", kind="symlink", linkname="a")
        ),
        {"archive.link-loop"},
    ),
    Case(
        "path-too-long",
        lambda: model_tar(M("model/" + "d" * 150 + "/" + "f" * 200, b"x")),
        {"archive.path-too-long"},
    ),
    Case(
        "zip-traversal",
        lambda: _zip([("../../evil.py", b"import os")]),
        {"archive.path-traversal"},
        name="model.zip",
    ),
    Case(
        "zip-absolute",
        lambda: _zip([("/etc/passwd", b"root")]),
        {"archive.absolute-path"},
        name="model.zip",
    ),
    Case(
        "zip-symlink-escape",
        lambda: _zip([("w.bin", b"x")], {"link": "/etc/shadow"}),
        {"archive.symlink-escape"},
        name="model.zip",
    ),
    Case("zip-overlap-bomb", _zip_overlap, {"archive.overlapping-entries"}, name="model.zip"),
    Case(
        "zip-declared-huge", _zip_declared_huge, {"archive.total-size-exceeded"}, name="model.zip"
    ),
    Case(
        "zip-duplicate",
        lambda: _zip([("w.bin", b"1"), ("w.bin", b"2")]),
        {"archive.duplicate-entry"},
        name="model.zip",
    ),
    Case(
        "oci-blob-tampered", _oci_bad_digest, {"integrity.blob-digest-mismatch"}, name="image.tar"
    ),
    Case(
        "image-missing-layer",
        lambda: tar_bytes(
            [
                M(
                    "manifest.json",
                    json.dumps([{"Config": "c.json", "Layers": ["nope/layer.tar"]}]).encode(),
                ),
                M("c.json", b"{}"),
            ]
        ),
        {"archive.unreadable"},
        name="image.tar",
    ),
]


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_archive(case: Case, tmp_path: Path) -> None:
    target = tmp_path / "in" / case.name
    target.parent.mkdir()
    target.write_bytes(case.build())
    work = tmp_path / "work"
    before = _snapshot(tmp_path)
    probe = ProbeAnalyzer()
    report = scan(
        target, ScanConfig(cache_dir=None, work_dir=work, limits=SMALL), analyzers=[probe]
    )
    rules = {f.rule_id for f in report.findings}
    assert case.expect <= rules, f"expected {case.expect}, got {rules}"
    if case.forbid:
        assert not (case.forbid & rules), f"unexpected {case.forbid & rules}"
    if not case.expect:
        assert not {r for r in rules if r.startswith("archive.")}, rules
    for f in report.findings:
        assert f.message
        assert "\n" not in f.message
    after = _snapshot(tmp_path)
    # The only new thing is the (now empty) work folder: nothing escaped, nothing was left.
    assert after - before <= {"work"}, after - before
    assert not any(work.iterdir())
    assert not report.failures, report.failures


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"just some text that is no archive\n" * 10, "not a Panorama project"),
        (b"\x1f\x8b\x08\x00garbage-after-gzip-magic", "cannot be decompressed"),
    ],
    ids=["empty-file", "plain-text", "bad-gzip-header"],
)
def test_unreadable_target_is_a_usage_error(tmp_path: Path, data: bytes, match: str) -> None:
    target = tmp_path / "thing.dat"
    target.write_bytes(data)
    with pytest.raises(SourceError, match=match) as info:
        scan(target, ScanConfig(cache_dir=None, work_dir=tmp_path / "w"))
    assert info.value.exit_code == 2


def test_secret_deleted_in_later_layer_is_still_found(tmp_path: Path) -> None:
    layers = [
        [
            M("etc/hostname", b"x"),
            M("usr/bin/env", b"y"),
            M("panorama/creds.txt", b"token=" + ProbeAnalyzer.MARKER),
        ],
        [M("panorama/.wh.creds.txt"), M("panorama/app.py", b"print(1)")],
    ]
    for oci in (False, True):
        target = tmp_path / f"image-{oci}.tar"
        target.write_bytes(docker_save_archive(layers, oci_layout=oci))
        probe = ProbeAnalyzer()
        report = scan(
            target, ScanConfig(cache_dir=None, work_dir=tmp_path / "w"), analyzers=[probe]
        )
        found = [f for f in report.findings if f.rule_id == "probe.marker"]
        assert len(found) == 1
        assert found[0].location.path == "panorama/creds.txt"
        assert found[0].properties.get("shadowed") == "true"
        assert report.target.kind.value == "container"
