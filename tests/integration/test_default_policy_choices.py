"""The default policy's choices, through the real pipeline: outside data reaching code
execution and unknown ONNX operator domains reject; the same calls on shipped data warn."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config import ScanConfig
from scanner.gate import run_gate
from scanner.models import Decision, Report, Severity
from scanner.policy.model import load_policy
from tests.helpers.project_builder import ProjectSpec, build_code_package

HOSTILE_APP = b"""\
import pickle
import socket

import yaml


def serve(port):
    s = socket.create_server(("0.0.0.0", port))
    conn, _ = s.accept()
    return pickle.loads(conn.recv(65536))


expr = eval(input("> "))
settings = yaml.load(open("settings.yaml"))
"""

ORDINARY_APP = b"""\
import pickle

import yaml

with open("labels.pkl", "rb") as f:
    labels = pickle.load(f)
settings = yaml.safe_load(open("settings.yaml"))
scale = eval("1.0 / 255")
"""


def _scan(target: Path, tmp_path: Path, analyzers: tuple[str, ...]) -> Report:
    config = ScanConfig(analyzers=analyzers, offline=True, work_dir=tmp_path / "work")
    return run_gate(target, config, load_policy(None))


def _rules(report: Report) -> dict[str, Severity]:
    return {f.rule_id: f.severity for f in report.findings}


def test_input_fed_sinks_and_unsafe_yaml_reject(tmp_path: Path) -> None:
    pkg = build_code_package(tmp_path / "pkg", ProjectSpec(src_files={"app.py": HOSTILE_APP}))
    report = _scan(pkg, tmp_path, ("code",))
    got = _rules(report)
    assert got["code.untrusted-input-executed"] is Severity.HIGH
    assert got["code.untrusted-input-deserialized"] is Severity.HIGH
    assert got["code.B506"] is Severity.HIGH
    rated = next(f for f in report.findings if f.rule_id == "code.B506")
    assert rated.properties["analyzer_severity"] == "medium"
    assert report.verdict is not None
    assert report.verdict.decision is Decision.REJECTED


def test_the_same_calls_on_shipped_data_only_warn(tmp_path: Path) -> None:
    pkg = build_code_package(tmp_path / "pkg", ProjectSpec(src_files={"app.py": ORDINARY_APP}))
    report = _scan(pkg, tmp_path, ("code",))
    got = _rules(report)
    assert got.get("code.B301") is Severity.MEDIUM
    assert got.get("code.B307") is Severity.MEDIUM
    assert not [r for r in got if r.startswith("code.untrusted-input")]
    assert report.verdict is not None
    assert report.verdict.decision is Decision.APPROVED


@pytest.mark.parametrize(
    ("domain", "decision"),
    [("evil.ops", Decision.REJECTED), ("com.microsoft", Decision.APPROVED)],
)
def test_an_unknown_onnx_operator_domain_rejects(
    tmp_path: Path, domain: str, decision: Decision
) -> None:
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node("Gelu", ["x"], ["y"], domain=domain)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(domain, 1)]
    )
    target = tmp_path / "model.onnx"
    target.write_bytes(model.SerializeToString())
    report = _scan(target, tmp_path, ("tag:model",))
    assert report.verdict is not None
    assert report.verdict.decision is decision, [f.rule_id for f in report.findings]
