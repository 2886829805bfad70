"""A scan whose heavy analyzers run in worker processes reports exactly what a serial one does.

The planted-problem application (secrets, keys, models, code, manifests) is scanned with
``jobs`` 1, 2 and 3 (no worker, one worker hosting every parallel analyzer, two workers with
secrets on its own), every artifact sent to the workers whatever its size, and the JSON reports
must be identical but for the timings. A worker that dies mid-artifact fails closed: its
analyzers fail for the artifact and the verdict is incomplete.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import scanner.pipeline
import scanner.walk.workers
from scanner.config import ScanConfig
from scanner.gate import judge
from scanner.models import Report
from scanner.pipeline import scan
from scanner.policy import load_policy
from scanner.report.json import report_to_dict
from tests.helpers.archives import M, tar_bytes
from tests.helpers.model_corpus import build_corpus
from tests.helpers.planted_apps import Keys, build_planted
from tests.helpers.worker_analyzers import DiesOnMarker

CLOCK = "2026-06-01T00:00:00Z"


@pytest.fixture
def every_artifact_to_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Artifacts of any size go to the workers (by default only those of 16 MiB or more)."""
    monkeypatch.setattr(scanner.walk.workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(scanner.pipeline, "PARALLEL_MIN_BYTES", 0)


def _scan(target: Path, work: Path, jobs: int, **kw: Any) -> Report:
    config = ScanConfig(offline=True, cache_dir=None, work_dir=work, jobs=jobs)
    return scan(target, config, clock=lambda: CLOCK, **kw)


def _comparable(report: Report) -> dict[str, Any]:
    data = report_to_dict(report)
    data.pop("timings", None)
    return data


def _planted_app(root: Path) -> Path:
    return build_planted(root / "shelf", Keys.generate()).root


def _model_corpus(root: Path) -> Path:
    """Every hostile model of the detection corpus in one root filesystem (all the formats the
    workers host: ONNX, TensorFlow, Keras, MXNet, safetensors; and the pickle family)."""
    members = [M(f"opt/models/{c.key}/{c.filename}", c.data) for c in build_corpus()]
    target = root / "models-rootfs.tar.gz"
    target.write_bytes(tar_bytes(members, "gz"))
    return target


@pytest.mark.usefixtures("every_artifact_to_workers")
@pytest.mark.parametrize(
    ("build", "rules"),
    [
        (_planted_app, {"secrets", "code", "privacy", "manifest", "dockerfile"}),
        (_model_corpus, {"pickle", "onnx", "tensorflow", "keras", "mxnet", "safetensors"}),
    ],
    ids=["planted-app", "model-corpus"],
)
def test_workers_change_nothing_in_the_report(
    tmp_path: Path, build: Callable[[Path], Path], rules: set[str]
) -> None:
    target = build(tmp_path)
    reports = {jobs: _scan(target, tmp_path / f"w{jobs}", jobs) for jobs in (1, 2, 3)}
    serial = _comparable(reports[1])
    found = {f["rule_id"].split(".")[0] for f in serial["findings"]}
    assert found >= rules, found
    for jobs in (2, 3):
        assert _comparable(reports[jobs]) == serial, f"jobs={jobs} differs from jobs=1"
    # the workers did the work: files were handed over to them, and not with one job
    for jobs, report in reports.items():
        assert report.timings is not None
        assert ("hand-off" in report.timings.stages) is (jobs > 1), jobs
        assert report.timings.analyzers["secrets"].files > 0
        assert set(report_to_dict(report)["timings"]["analyzers"]) >= {"secrets", "onnx"}


@pytest.mark.usefixtures("every_artifact_to_workers")
@pytest.mark.parametrize(
    ("marker", "how"), [(b"DIE", "exit code 70"), (b"KILL", "killed by SIGKILL")]
)
def test_a_worker_that_dies_fails_its_analyzers_closed(
    tmp_path: Path, marker: bytes, how: str
) -> None:
    members = [M(f"data/a{i:03}.txt", b"hello %d\n" % i) for i in range(40)]
    members.append(M("data/native-parser-crash.bin", marker + b"\0" * 64))
    members += [M(f"data/b{i:03}.txt", b"bye %d\n" % i) for i in range(40)]
    target = tmp_path / "rootfs.tar.gz"
    target.write_bytes(tar_bytes(members, "gz"))
    report = _scan(target, tmp_path / "w", 2, analyzers=[DiesOnMarker()])
    assert report.timings is not None
    assert "hand-off" in report.timings.stages
    failures = [f for f in report.failures if f.analyzer == "dies-on-marker"]
    assert len(failures) == 1, report.failures
    assert "died" in failures[0].reason
    assert how in failures[0].reason
    assert failures[0].location is not None
    assert failures[0].location.artifact == report.artifacts[0].name
    decided = judge(report, load_policy())
    assert decided.verdict is not None
    assert decided.verdict.decision.value == "incomplete"
    # serially, the same analyzer raises in this process: the same verdict, another reason
    serial = _scan(target, tmp_path / "w1", 1, analyzers=[DiesOnMarker()])
    assert [f.analyzer for f in serial.failures] == ["dies-on-marker"]
    assert judge(serial, load_policy()).verdict.decision.value == "incomplete"  # type: ignore[union-attr]
