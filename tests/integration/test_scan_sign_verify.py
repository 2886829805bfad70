"""Signing with the real pipeline: ``scan --format json`` → ``sign`` → ``verify``.

A clean project (container only) and a single clean ONNX model are scanned, approved, signed and
verified; the model's OpenSSF model-signing bundle is checked by ``model_signing``'s own CLI.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.cli import main
from tests.helpers.project_builder import ProjectSpec, build_project


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("PANORAMA_GATE_KEY_PASSWORD", "e2e-password")
    monkeypatch.chdir(tmp_path)
    assert main(["keygen", "--out", "gate"]) == 0
    return tmp_path


def _scan(target: Path, env: Path) -> dict[str, object]:
    code = main(
        [
            "scan",
            str(target),
            "--format",
            "json",
            "-o",
            "report.json",
            "--no-profile",
            "--offline",
            "--cache-dir",
            str(env / "cache"),
        ]
    )
    report = json.loads((env / "report.json").read_text())
    assert code == 0, report["verdict"]
    return report  # type: ignore[no-any-return]


def test_scan_sign_verify_project(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = build_project(env / "app", ProjectSpec(with_model=False))
    report = _scan(proj.root, env)
    policy_sha = report["verdict"]["policy"]["sha256"]  # type: ignore[index]
    assert main(["sign", str(proj.root), "--key", "gate.key", "--report", "report.json"]) == 0
    assert main(["verify", str(proj.root), "--key", "gate.pub", "--policy-sha256", policy_sha]) == 0
    assert "verdict approved" in capsys.readouterr().out
    # the attestation pins the very report that was scanned
    bundle = json.loads((env / "signatures" / "attestation.sigstore.json").read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    assert (
        statement["predicate"]["report"]["sha256"]
        == hashlib.sha256((env / "report.json").read_bytes()).hexdigest()
    )
    subjects = {s["name"] for s in statement["subject"]}
    assert {a["path"] for a in report["artifacts"]} <= subjects  # type: ignore[union-attr]
    # a byte changed after signing: verify fails closed
    assert proj.container_asset is not None
    data = bytearray(proj.container_asset.read_bytes())
    data[-1] ^= 1
    proj.container_asset.write_bytes(bytes(data))
    assert main(["verify", str(proj.root), "--key", "gate.pub"]) == 1
    assert "subject-mismatch" in capsys.readouterr().err


def _relu_onnx(path: Path) -> None:
    from onnx import TensorProto, helper, save

    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    save(model, str(path))


def test_scan_sign_verify_model_with_model_signing_cli(env: Path) -> None:
    model = env / "relu.onnx"
    _relu_onnx(model)
    _scan(model, env)
    assert (
        main(["sign", str(model), "--key", "gate.key", "--report", "report.json", "-o", "sigs"])
        == 0
    )
    assert (env / "sigs" / "relu.onnx.sig").is_file()
    bundle = env / "sigs" / "relu.onnx.model.sig"
    assert bundle.is_file()
    assert main(["verify", str(model), "--key", "gate.pub", "--signatures", "sigs"]) == 0
    exe = shutil.which("model_signing")
    cli = [exe] if exe else [sys.executable, "-m", "model_signing"]
    ok = subprocess.run(
        [*cli, "verify", "key", "--public_key", "gate.pub", "--signature", str(bundle), str(model)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_two_packages_sign_and_a_manifest_edited_after_the_scan_is_refused(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two packages each carry package.json and descriptor.json: they are attestation subjects,
    # not detached-signature assets, so their base names cannot collide.
    proj = build_project(env / "app", ProjectSpec())
    report = _scan(proj.root, env)
    kinds = {(a["kind"], a.get("format")) for a in report["artifacts"]}  # type: ignore[union-attr]
    assert ("descriptor", "manifest") in kinds
    assert main(["sign", str(proj.root), "--key", "gate.key", "--report", "report.json"]) == 0
    sigs = sorted(p.name for p in (env / "signatures").glob("*.sig"))
    assert sigs
    assert all(len(n.split(".")[0]) == 64 for n in sigs)  # asset names only
    assert main(["verify", str(proj.root), "--key", "gate.pub"]) == 0
    capsys.readouterr()
    graph = next((proj.root / "graphs").glob("*/graph.json"))
    graph.write_text(graph.read_text().replace('"envelopeVersion"', ' "envelopeVersion"', 1))
    assert main(["sign", str(proj.root), "--key", "gate.key", "--report", "report.json"]) == 1
    assert "digest" in capsys.readouterr().err.lower()
