"""The node interface, parameters and models the emulated SDK gets from a project's graph."""

from __future__ import annotations

import io
import json
import tarfile

import onnx

from scanner.models import ArtifactKind
from scanner.sandbox._graph import app_spec, build_request, entry_of, onnx_output_shapes
from scanner.sources.detect import detect_target
from tests.helpers.onnx_models import pooled_classifier_onnx
from tests.helpers.project_builder import ProjectSpec, build_project


def _container(st):
    return next(sa for sa in st.artifacts if sa.artifact.kind is ArtifactKind.CONTAINER)


def test_ports_parameters_and_entry_from_the_project(tmp_path):
    proj = build_project(tmp_path / "p", ProjectSpec(threshold=0.75, with_model=False))
    st = detect_target(proj.root)
    sa = _container(st)
    spec = app_spec(st, sa, tmp_path)
    assert spec.known is True
    assert spec.node == "code_node"
    assert ("video_in", "media") in spec.inputs
    assert ("threshold", "float32") in spec.inputs
    assert spec.outputs == (("video_out", "media"),)
    assert spec.parameters == {"threshold": 0.75}
    assert entry_of(sa) == ("python3", "/panorama/app.py")


def test_cli_parameter_overrides_win(tmp_path):
    proj = build_project(tmp_path / "p", ProjectSpec(with_model=False))
    st = detect_target(proj.root)
    spec = app_spec(st, _container(st), tmp_path, {"threshold": 0.9})
    assert spec.parameters["threshold"] == 0.9


def test_onnx_model_node_gets_its_file_and_output_shapes(tmp_path):
    proj = build_project(
        tmp_path / "p",
        ProjectSpec(
            framework="ONNX",
            model_files={"model.onnx": pooled_classifier_onnx()},
            model_inputs=[{"name": "data", "shape": [1, 3, 8, 8]}],
        ),
    )
    st = detect_target(proj.root)
    req = build_request(st, _container(st), {"frames": 5, "max_memory_mb": 100}, tmp_path / "w")
    (model,) = req.app.models
    assert model["name"] == proj.model_node
    assert model["output_shapes"] == [[1, 10]]
    assert model["inputs"] == [{"name": "data", "shape": [1, 3, 8, 8]}]
    assert onnx.load(model["onnx_file"]).graph.output[0].name == "scores"
    assert req.max_frames == 5
    assert req.budgets.max_memory_mb == 100
    assert req.limits is not None


def test_bare_container_asset_has_an_open_interface(tmp_path):
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tf:
        info = tarfile.TarInfo("panorama/app.py")
        body = b"print('hi')\n"
        info.size = len(body)
        tf.addfile(info, io.BytesIO(body))
        for d in ("usr", "etc", "bin", "lib"):
            di = tarfile.TarInfo(d)
            di.type = tarfile.DIRTYPE
            tf.addfile(di)
    asset = tmp_path / "app.tar"
    asset.write_bytes(data.getvalue())
    st = detect_target(asset)
    spec = app_spec(st, _container(st), tmp_path)
    assert spec.known is False
    assert spec.inputs == ()


def test_onnx_output_shapes(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(pooled_classifier_onnx())
    assert onnx_output_shapes(path) == [[1, 10]]


def test_override_manifest_values_replace_the_graphs(tmp_path):
    proj = build_project(tmp_path / "p", ProjectSpec(threshold=0.75, with_override=True))
    assert proj.override_path is not None
    doc = json.loads(proj.override_path.read_text())
    doc["nodeGraphOverrides"]["nodes"].append({"name": "threshold_param", "value": 0.3})
    proj.override_path.write_text(json.dumps(doc))
    st = detect_target(proj.root)
    assert app_spec(st, _container(st), tmp_path).parameters == {"threshold": 0.3}
    # A flag on the command line still wins over the override manifest.
    assert app_spec(st, _container(st), tmp_path, {"threshold": 0.9}).parameters == {
        "threshold": 0.9
    }
