"""Clean, real models must produce no finding at medium or above and no failure.

torch is used here only to *produce* models (it is a test dependency); the analyzers never
import it. One module-scoped fixture builds everything once to keep this quick.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from scanner.models import Severity
from tests.helpers.model_corpus import (
    keras_h5,
    mxnet_params,
    mxnet_symbol,
    tf_graphdef,
    tf_saved_model,
)
from tests.helpers.model_runner import failures, findings, run_models

torch = pytest.importorskip("torch")


class _Net(torch.nn.Module):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, 2)

    def forward(self, x: object) -> object:
        return self.fc(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


@pytest.fixture(scope="module")
def clean_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import save as st_save

    d: Path = tmp_path_factory.mktemp("clean")
    torch.manual_seed(0)
    net = _Net().eval()
    example = torch.rand(1, 3, 32, 32)
    out: dict[str, bytes] = {}

    torch.jit.trace(net, example).save(str(d / "traced.pt"))
    out["traced.pt"] = (d / "traced.pt").read_bytes()
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    out["state_dict.pth"] = buf.getvalue()
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf, _use_new_zipfile_serialization=False)
    out["legacy_state_dict.pth"] = buf.getvalue()
    buf = io.BytesIO()
    torch.save({"epoch": 3, "model": net.state_dict(), "lr": 0.01, "names": ["a", "b"]}, buf)
    out["checkpoint.ckpt"] = buf.getvalue()

    torch.onnx.export(
        net, (example,), str(d / "exported.onnx"), input_names=["input0"], dynamo=False
    )
    out["exported.onnx"] = (d / "exported.onnx").read_bytes()

    w = numpy_helper.from_array(np.random.default_rng(0).random((256, 256), np.float32), "W")
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 256])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 256])
    shape = numpy_helper.from_array(np.array([1, 256], np.int64), "shape")
    g = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["H"]),
         helper.make_node("Reshape", ["H", "shape"], ["R"]),
         helper.make_node("Relu", ["R"], ["Y"])],
        "helper_graph", [x], [y], [w, shape],
    )  # fmt: skip
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    helper.set_model_props(m, {"author": "panorama-gate tests", "license": "Apache-2.0"})
    onnx.checker.check_model(m)
    out["helper.onnx"] = m.SerializeToString()

    buf = io.BytesIO()
    np.save(buf, np.arange(12, dtype=np.float32).reshape(3, 4))
    out["array.npy"] = buf.getvalue()
    buf = io.BytesIO()
    np.savez(buf, a=np.zeros(3), b=np.ones((2, 2), np.int8))
    out["arrays.npz"] = buf.getvalue()
    out["weights.safetensors"] = st_save(
        {"w": np.zeros((4, 4), np.float32), "b": np.ones(4, np.float16)},
        metadata={"format": "np"},
    )
    out["plain.pkl"] = __import__("pickle").dumps({"labels": ["cat", "dog"], "mean": 0.5})
    out["model.h5"] = keras_h5(
        {
            "class_name": "Sequential",
            "config": {
                "name": "s",
                "layers": [
                    {
                        "class_name": "Dense",
                        "config": {"name": "d", "units": 2, "activation": "relu"},
                    }
                ],
            },
        }
    )
    out["model.keras"] = _keras3_clean()
    out["net-symbol.json"] = mxnet_symbol(
        [("conv0", "Convolution", {"kernel": "(3, 3)", "num_filter": "8"}),
         ("relu0", "Activation", {"act_type": "relu"})])  # fmt: skip
    out["net-0000.params"] = mxnet_params([("arg:conv0_weight", (8, 3, 3, 3)),
                                           ("arg:conv0_bias", (8,))])  # fmt: skip
    out["frozen.pb"] = tf_graphdef([("x", "Placeholder"), ("m", "MatMul")], const_bytes=70_000)
    out["saved_model.pb"] = tf_saved_model(
        [("x", "Placeholder"), ("save/SaveV2", "SaveV2"), ("save/RestoreV2", "RestoreV2")]
    )
    return out


def _keras3_clean() -> bytes:
    from tests.helpers.model_corpus import keras_zip

    return keras_zip({"module": "keras", "class_name": "Sequential", "config": {"name": "s",
        "layers": [{"module": "keras.layers", "class_name": "Dense", "registered_name": None,
                    "config": {"name": "d", "units": 2, "activation": "relu"}}]}})  # fmt: skip


NAMES = [
    "traced.pt", "state_dict.pth", "legacy_state_dict.pth", "checkpoint.ckpt", "exported.onnx",
    "helper.onnx", "array.npy", "arrays.npz", "weights.safetensors", "plain.pkl", "model.h5",
    "model.keras", "net-symbol.json", "net-0000.params", "frozen.pb", "saved_model.pb",
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_clean_model_has_no_medium_finding(clean_models: dict[str, bytes], name: str) -> None:
    out = run_models(name, clean_models[name])
    assert not failures(out), failures(out)
    serious = [f for f in findings(out) if f.severity >= Severity.MEDIUM]
    assert serious == [], serious


def test_every_clean_model_is_seen_by_some_analyzer(clean_models: dict[str, bytes]) -> None:
    import tempfile
    from pathlib import Path

    from scanner.sources.sniff import sniff_head
    from scanner.walk.dispatch import Dispatcher
    from tests.helpers.model_runner import model_analyzers

    with tempfile.TemporaryDirectory() as tmp:
        d = Dispatcher(model_analyzers(), Path(tmp))
        for name, data in clean_models.items():
            chosen = d.interested(name, len(data), 0o644, sniff_head(data[:65536], name))
            assert [a for a in chosen if a.name != "model-format"], name


def test_full_model_pickle_names_its_class(clean_models: dict[str, bytes]) -> None:
    # torch.save(model) pickles the Python class: outside the allow-list, so high.
    buf = io.BytesIO()
    torch.save(_Net(), buf)
    got = findings(run_models("full.pt", buf.getvalue()))
    assert [(f.rule_id, f.properties["global"]) for f in got] == [
        ("pickle.unknown-global", f"{_Net.__module__}._Net")
    ]
    # ...and the policy's allow-list accepts it once trusted.
    allow = {"allow_globals": [f"{_Net.__module__}._Net"]}
    assert findings(run_models("full.pt", buf.getvalue(), options=allow)) == []


def test_sensitive_json_stays_json(clean_models: dict[str, bytes]) -> None:
    assert json.loads(clean_models["net-symbol.json"])["nodes"][0]["op"] == "null"
