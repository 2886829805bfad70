"""model-descriptor: descriptors compared with what the model archive holds."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scanner.analyzers.ml.descriptor import ModelDescriptorAnalyzer, detect_frameworks
from scanner.models import Artifact, ArtifactKind, Finding, Target, TargetKind
from scanner.sources.interface import ArtifactFormat, ScanTarget, SourceArtifact
from tests.helpers.model_corpus import mxnet_params, mxnet_symbol


def _tgz(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _torchscript_like() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("m/data.pkl", b"\x80\x02}.")
        zf.writestr("m/code/__torch__.py", b"def forward(self, x):\n  return x\n")
        zf.writestr("m/constants.pkl", b"\x80\x02).")
    return buf.getvalue()


def _state_dict_like() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("sd/data.pkl", b"\x80\x02}.")
    return buf.getvalue()


def _onnx(input_name: str, shape: list[int]) -> bytes:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, shape)
    g = helper.make_graph([helper.make_node("Relu", [input_name], ["Y"])], "g", [x], [y])
    return helper.make_model(g).SerializeToString()


def _run(archive: Path, descriptor: dict[str, Any]) -> list[Finding]:
    art = Artifact(ArtifactKind.MODEL, archive.name, str(archive), None, archive.stat().st_size)
    st = ScanTarget(
        Target(str(archive.parent), TargetKind.PROJECT),
        archive.parent,
        artifacts=[
            SourceArtifact(art, archive, ArtifactFormat.MODEL_ARCHIVE,
                           descriptor={"mlModelDescriptor": descriptor})
        ],
    )  # fmt: skip
    out = list(ModelDescriptorAnalyzer().analyze_target(st))
    assert all(isinstance(o, Finding) for o in out), out
    return [o for o in out if isinstance(o, Finding)]


def _desc(framework: str, name: str = "input0", shape: list[int] | None = None) -> dict[str, Any]:
    return {
        "envelopeVersion": "2021-01-01",
        "framework": framework,
        "inputs": [{"name": name, "shape": shape or [1, 3, 224, 224]}],
    }


def test_matching_pytorch_archive_is_clean(tmp_path: Path) -> None:
    archive = _tgz(tmp_path / "m.tar.gz", {"model.pth": _torchscript_like()})
    assert _run(archive, _desc("PYTORCH")) == []


def test_framework_mismatch_names_what_is_there(tmp_path: Path) -> None:
    archive = _tgz(tmp_path / "m.tar.gz", {"saved_model/saved_model.pb": b"\x08\x01"})
    (f,) = _run(archive, _desc("PYTORCH"))
    assert f.rule_id == "model-descriptor.framework-mismatch"
    assert f.severity == 3
    assert f.location.artifact == "m.tar.gz"
    assert "TENSORFLOW" in f.message
    assert "saved_model/saved_model.pb" in f.message


def test_state_dict_is_not_torchscript(tmp_path: Path) -> None:
    archive = _tgz(tmp_path / "m.tar.gz", {"model.pth": _state_dict_like()})
    (f,) = _run(archive, _desc("PYTORCH"))
    assert (f.rule_id, f.location.path) == ("model-descriptor.incomplete-archive", "model.pth")


def test_mxnet_pair_and_input_name(tmp_path: Path) -> None:
    files = {
        "net-symbol.json": mxnet_symbol([("relu0", "Activation", {"act_type": "relu"})]),
        "net-0000.params": mxnet_params([("arg:w", (2, 2))]),
    }
    archive = _tgz(tmp_path / "ok.tar.gz", files)
    assert _run(archive, _desc("MXNET", "data")) == []
    got = _run(archive, _desc("MXNET", "image"))
    assert [(f.rule_id, f.location.path) for f in got] == [
        ("model-descriptor.input-mismatch", "net-symbol.json")
    ]
    half = _tgz(tmp_path / "half.tar.gz", {"net-symbol.json": files["net-symbol.json"]})
    assert [f.rule_id for f in _run(half, _desc("MXNET", "data"))] == [
        "model-descriptor.incomplete-archive"
    ]


def test_onnx_inputs_and_shapes_are_compared(tmp_path: Path) -> None:
    archive = _tgz(
        tmp_path / "m.tar.gz",
        {"model.pth": _torchscript_like(), "extra.onnx": _onnx("input0", [1, 3, 64, 64])},
    )
    rules = sorted(f.rule_id for f in _run(archive, _desc("PYTORCH")))
    assert rules == ["model-descriptor.framework-mismatch", "model-descriptor.shape-mismatch"]


@pytest.mark.parametrize(
    ("descriptor", "needle"),
    [
        ({"framework": "ONNX", "inputs": [{"name": "x", "shape": [1]}]}, "framework 'ONNX'"),
        ({**_desc("PYTORCH"), "precisionMode": "INT4"}, "precisionMode"),
        ({"framework": "PYTORCH", "inputs": []}, "inputs is missing"),
        ({"framework": "PYTORCH", "inputs": [{"name": "x", "shape": [1, -3]}]}, "shape"),
    ],
    ids=["framework", "precision", "no-inputs", "bad-shape"],
)
def test_schema_problems(tmp_path: Path, descriptor: dict[str, Any], needle: str) -> None:
    archive = _tgz(tmp_path / "m.tar.gz", {"model.pth": _torchscript_like()})
    got = [f for f in _run(archive, descriptor) if f.rule_id == "model-descriptor.invalid"]
    assert got
    assert any(needle in f.message for f in got), got


def test_layout_hint(tmp_path: Path) -> None:
    archive = _tgz(tmp_path / "m.tar.gz", {"model.pth": _torchscript_like()})
    got = _run(archive, _desc("PYTORCH", shape=[1, 224, 224, 3]))
    assert [(f.rule_id, f.severity) for f in got] == [("model-descriptor.layout", 1)]


def test_detect_frameworks() -> None:
    found = detect_frameworks(["a/saved_model.pb", "a/keras_metadata.pb", "x-symbol.json",
                               "m.onnx", "._m.pt"])  # fmt: skip
    assert found == {"TENSORFLOW": ["a/saved_model.pb"], "MXNET": ["x-symbol.json"],
                     "ONNX": ["m.onnx"]}  # fmt: skip
    assert json.dumps(found)
