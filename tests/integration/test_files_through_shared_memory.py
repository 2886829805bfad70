"""Files reach the analyzer worker through a ring of shared memory, whole and in order.

Small files travel as a place in the ring, big ones in pieces the worker joins; a ring too
small for a batch makes the walk wait for the worker; where there is no ring (no memfd) the
bytes travel in the pickle. Every way, the report is the serial scan's. A worker that dies
while the walk waits on a full ring fails its analyzers closed instead of hanging the scan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import scanner.pipeline
import scanner.walk.ring
import scanner.walk.workers
from scanner.config import ScanConfig
from scanner.pipeline import scan
from scanner.report.json import report_to_dict
from scanner.walk.ring import Ring
from tests.helpers.archives import M, tar_bytes
from tests.helpers.worker_analyzers import DiesOnMarker

CLOCK = "2026-06-01T00:00:00Z"
KEY = b"AKIAQ5ZJHX7ACKSTYLW3"  # an AWS access key id's shape (not a real key)


@pytest.fixture(autouse=True)
def every_artifact_to_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanner.walk.workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(scanner.pipeline, "PARALLEL_MIN_BYTES", 0)


def _rootfs(tmp_path: Path) -> Path:
    members = [M(f"srv/small{i:03}.txt", b"id=%d\n" % i) for i in range(300)]
    # big files (sent in pieces): a key across the first pieces' edge, and one at the very end
    for i, size in enumerate((70_000, 300_000, 3 * 1024 * 1024 + 17)):
        for where, at in (("edge", 16 * 1024 - 5), ("end", size - len(KEY) - 1)):
            data = bytearray(b"x" * size)
            data[at - 1 : at + len(KEY) + 1] = b"\n" + KEY + b"\n"
            members.append(M(f"opt/big{i}-{where}.bin", bytes(data)))
    members.append(M("etc/app.conf", b"aws_key = " + KEY + b"\n"))
    target = tmp_path / "rootfs.tar.gz"
    target.write_bytes(tar_bytes(members, "gz"))
    return target


def _report(target: Path, work: Path, jobs: int, **kw: Any) -> dict[str, Any]:
    config = ScanConfig(offline=True, cache_dir=None, work_dir=work, jobs=jobs)
    data = report_to_dict(scan(target, config, clock=lambda: CLOCK, **kw))
    data.pop("timings")
    return data


def _keys(report: dict[str, Any]) -> list[str]:
    return sorted(
        f"{f['location']['path']}:{f['location']['line']}"
        for f in report["findings"]
        if f["rule_id"] == "secrets.aws-access-key-id"
    )


@pytest.mark.parametrize(
    ("ring_bytes", "max_file"),
    [(None, None), (64 * 1024, 16 * 1024), (0, None)],
    ids=["default-ring", "tiny-ring-many-pieces", "no-ring"],
)
def test_every_way_through_gives_the_serial_report(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ring_bytes: int | None,
    max_file: int | None,
) -> None:
    target = _rootfs(tmp_path)
    serial = _report(target, tmp_path / "w1", 1)
    assert len(_keys(serial)) == 7  # one in each big file, one in the config
    if ring_bytes == 0:
        monkeypatch.setattr(Ring, "create", classmethod(lambda cls, size=None: None))
    elif ring_bytes is not None:
        monkeypatch.setattr(scanner.walk.ring, "RING_BYTES", ring_bytes)
        monkeypatch.setattr(scanner.walk.workers, "MAX_FILE", max_file)
    assert _report(target, tmp_path / "w2", 2) == serial


def test_a_worker_dying_while_the_ring_is_full_fails_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scanner.walk.ring, "RING_BYTES", 64 * 1024)
    monkeypatch.setattr(scanner.walk.workers, "MAX_FILE", 16 * 1024)
    members = [M("data/crash.bin", b"KILL" + b"\0" * 60)]
    members += [M(f"data/f{i:04}.bin", bytes([i % 251]) * 20_000) for i in range(200)]
    target = tmp_path / "rootfs.tar.gz"
    target.write_bytes(tar_bytes(members, "gz"))
    config = ScanConfig(offline=True, cache_dir=None, work_dir=tmp_path / "w", jobs=2)
    report = scan(target, config, clock=lambda: CLOCK, analyzers=[DiesOnMarker()])
    failures = [f for f in report.failures if f.analyzer == "dies-on-marker"]
    assert len(failures) == 1, report.failures
    assert "killed by SIGKILL" in failures[0].reason
