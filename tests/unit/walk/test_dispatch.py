"""An analyzer that raises (directly or while iterating) becomes a failure, never a crash."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import FileAnalyzer, Output, TargetAnalyzer
from scanner.config import ScanConfig
from scanner.pipeline import scan
from scanner.sources.interface import ScanTarget
from tests.helpers.archives import M, tar_bytes


class RaisesAtCall(FileAnalyzer):
    name = "raises-at-call"
    patterns = ("**",)

    def analyze(self, entry: FileEntry) -> Iterable[Output]:  # not a generator
        raise RuntimeError("boom at call")


class RaisesWhileIterating(FileAnalyzer):
    name = "raises-iterating"
    patterns = ("**",)

    def analyze(self, entry: FileEntry) -> Iterable[Output]:
        yield from ()
        raise ValueError("boom in generator")


class TargetRaises(TargetAnalyzer):
    name = "target-raises"

    def analyze_target(self, target: ScanTarget) -> Iterable[Output]:
        raise KeyError("boom target")


def test_every_kind_of_raise_is_a_failure(tmp_path: Path) -> None:
    target = tmp_path / "m.tar"
    target.write_bytes(tar_bytes([M("model/a.bin", b"x")]))
    report = scan(
        target,
        ScanConfig(cache_dir=None, work_dir=tmp_path / "w"),
        analyzers=[RaisesAtCall(), RaisesWhileIterating(), TargetRaises()],
    )
    by = {f.analyzer: f.reason for f in report.failures}
    assert by == {
        "raises-at-call": "RuntimeError: boom at call",
        "raises-iterating": "ValueError: boom in generator",
        "target-raises": "KeyError: 'boom target'",
    }
