"""Manifests read as panorama-cli and the appliance use them: which packages need a descriptor,
which file a model's descriptor copy is, which version is registered, where overrides live."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from scanner.analyzers.manifest import ManifestAnalyzer
from scanner.models import Finding, Severity
from scanner.sources.panorama import load_project
from tests.helpers.project_builder import ProjectSpec, build_project, sha256_hex, write_json


def _manifest_findings(root: Path) -> list[Finding]:
    st = load_project(root)
    out = [o for o in ManifestAnalyzer().analyze_target(st) if isinstance(o, Finding)]
    return [*st.findings, *out]


def _severe(findings: list[Finding]) -> list[tuple[str, str]]:
    return [
        (f.rule_id, f.message)
        for f in findings
        if f.severity >= Severity.MEDIUM and f.rule_id.startswith(("integrity.", "manifest."))
    ]


CAMERA = {
    "nodePackage": {
        "envelopeVersion": "2021-01-01",
        "name": "dock_cam",
        "version": "1.0",
        "assets": [
            {
                "name": "rtsp_camera",
                "implementations": [
                    {"type": "system", "assetUri": "source/video/camera/rtsp/source_rtsp"}
                ],
            }
        ],
        "interfaces": [
            {
                "name": "rtsp_interface",
                "category": "media_source",
                "asset": "rtsp_camera",
                "inputs": [{"name": "streamUrl", "type": "string", "default": ""}],
                "outputs": [{"name": "video_out", "type": "media"}],
            }
        ],
    }
}


def _add_camera(root: Path) -> None:
    write_json(root / "packages" / "123456789012-dock_cam-1.0" / "package.json", CAMERA)

    def use(graph: dict[str, Any]) -> None:
        g = graph["nodeGraph"]
        g["packages"].append({"name": "123456789012::dock_cam", "version": "1.0"})
        g["nodes"].append({"name": "dock", "interface": "123456789012::dock_cam.rtsp_interface"})

    path = next(root.glob("graphs/*/graph.json"))
    data = json.loads(path.read_text())
    use(data)
    write_json(path, data)


def test_a_camera_package_needs_no_descriptor(tmp_path: Path) -> None:
    build_project(tmp_path, ProjectSpec(with_model=False))
    _add_camera(tmp_path)
    found = _manifest_findings(tmp_path)
    assert _severe(found) == []
    assert "integrity.manifest-missing" not in {f.rule_id for f in found}


def test_a_code_package_without_descriptor_cannot_be_built(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(breaks={"empty-assets"}, with_model=False))
    (proj.code_dir / "descriptor.json").unlink()
    (f,) = [f for f in _manifest_findings(tmp_path) if f.rule_id == "integrity.manifest-missing"]
    assert f.severity is Severity.MEDIUM
    assert "build-container" in f.message


def test_a_model_package_keeps_one_descriptor_per_model(tmp_path: Path) -> None:
    """``add-raw-model --descriptor-path`` takes any file: the copy matches that file."""
    proj = build_project(tmp_path)
    assert proj.model_dir is not None
    assert proj.model_descriptor_copy is not None
    desc = proj.model_dir / "descriptor.json"
    desc.rename(proj.model_dir / "descriptor_people_detection.json")
    found = _manifest_findings(tmp_path)
    assert _severe(found) == []
    rules = {f.rule_id for f in found}
    assert "integrity.manifest-missing" not in rules
    assert "integrity.descriptor-copy-unmatched" not in rules
    st = load_project(tmp_path)
    paths = {m.path for m in st.manifests if m.kind == "descriptor"}
    assert f"{proj.rel(proj.model_dir)}/descriptor_people_detection.json" in paths


def test_a_model_descriptor_copy_from_elsewhere_is_checked_on_its_own(tmp_path: Path) -> None:
    proj = build_project(tmp_path)
    assert proj.model_dir is not None
    assert proj.model_descriptor_copy is not None
    (proj.model_dir / "descriptor.json").unlink()  # --descriptor-path named a file elsewhere
    bad = {"mlModelDescriptor": {"envelopeVersion": "2021-01-01", "framework": "ONNX"}}
    data = json.dumps(bad).encode()
    copy = proj.model_descriptor_copy.with_name(f"{sha256_hex(data)}.json")
    proj.model_descriptor_copy.unlink()
    copy.write_bytes(data)
    proj.edit_json(
        proj.model_dir / "package.json",
        lambda d: d["nodePackage"]["assets"][0]["implementations"][0].update(
            descriptorUri=copy.name
        ),
    )
    found = _manifest_findings(tmp_path)
    unmatched = [f for f in found if f.rule_id == "integrity.descriptor-copy-unmatched"]
    assert [f.severity for f in unmatched] == [Severity.INFO]
    schema = [f for f in found if f.rule_id == "manifest.schema"]
    assert {f.location.artifact for f in schema} == {f"assets/{copy.name}"}  # what deploys


def test_the_graph_must_ask_for_the_version_package_json_registers(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(with_model=False))
    # The folder says 1.0, package.json says 2.0: package-application registers 2.0.
    proj.edit_json(proj.code_dir / "package.json", lambda d: d["nodePackage"].update(version="2.0"))
    found = _manifest_findings(tmp_path)
    by_rule = {f.rule_id: f for f in found}
    assert by_rule["manifest.version-mismatch"].severity is Severity.HIGH
    assert "registers version 2.0" in by_rule["manifest.version-mismatch"].message
    assert by_rule["manifest.folder-version"].severity is Severity.LOW


def test_without_a_version_the_registered_one_is_1_0(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(with_model=False))
    proj.edit_json(proj.code_dir / "package.json", lambda d: d["nodePackage"].pop("version"))
    rules = {f.rule_id for f in _manifest_findings(tmp_path)}
    assert "manifest.version-mismatch" not in rules  # the graph asks for 1.0: what registers


def test_deployment_overrides_are_read_as_overrides(tmp_path: Path) -> None:
    build_project(tmp_path, ProjectSpec(with_model=False))
    folder = tmp_path / "deployment_overrides"
    folder.mkdir()
    write_json(
        folder / "override_camera.json",
        {
            "nodeGraphOverrides": {
                "envelopeVersion": "2021-01-01",
                "packages": [{"name": "123456789012::site_cam", "version": "1.0"}],
                "nodes": [{"name": "site_cam", "interface": "123456789012::site_cam.site_cam"}],
                "nodeOverrides": [{"replace": "no_such_node", "with": [{"name": "site_cam"}]}],
            }
        },
    )
    write_json(folder / "cameras.json", {"cameras": ["a", "b"]})  # not an override: not read
    st = load_project(tmp_path)
    assert "deployment_overrides/override_camera.json" in st.project.overrides
    assert "deployment_overrides/cameras.json" not in {m.path for m in st.manifests}
    unknown = [
        f for f in _manifest_findings(tmp_path) if f.rule_id == "manifest.override-unknown-node"
    ]
    assert [f.location.artifact for f in unknown] == ["deployment_overrides/override_camera.json"]


def test_an_override_beside_the_graph_is_found_by_content(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(with_model=False))
    beside = proj.graph_path.parent
    write_json(beside / "site-b.json", {"nodeGraphOverrides": {"envelopeVersion": "2021-01-01"}})
    write_json(beside / "graph_with_hdmi.json", {"nodeGraph": {}})  # an emulator graph: ignored
    paths = {m.path for m in load_project(tmp_path).manifests}
    rel = proj.rel(beside)
    assert f"{rel}/site-b.json" in paths
    assert f"{rel}/graph_with_hdmi.json" not in paths


def test_an_override_template_is_noted_not_schema_checked(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(with_model=False))
    template = {
        "nodeGraphOverrides": {
            "envelopeVersion": "2021-01-01",
            "packages": [{"name": "{YourAwsAccountId}::{YourCameraName}", "version": "1.0"}],
            "nodes": [
                {
                    "name": "{YourCameraName}_node",
                    "interface": "{YourAwsAccountId}::{YourCameraName}.{YourCameraName}",
                }
            ],
            "nodeOverrides": [{"replace": "front_door_camera", "with": [{"name": "x"}]}],
        }
    }
    write_json(proj.graph_path.parent / "override_template.json", template)
    found = _manifest_findings(tmp_path)
    assert _severe(found) == []
    (note,) = [f for f in found if f.rule_id == "manifest.override-template"]
    assert note.severity is Severity.INFO
    assert "{YourCameraName}" in note.message


def test_no_assets_folder_is_a_checkout_not_corruption(tmp_path: Path) -> None:
    build_project(tmp_path)
    shutil.rmtree(tmp_path / "assets")
    found = _manifest_findings(tmp_path)
    assert _severe(found) == []
    assert {"integrity.layout", "integrity.not-built"} <= {f.rule_id for f in found}


def test_an_override_named_a_template_is_one(tmp_path: Path) -> None:
    build_project(tmp_path, ProjectSpec(with_model=False))
    folder = tmp_path / "deployment_overrides"
    folder.mkdir()
    write_json(
        folder / "override_configuration_template.json",
        {
            "nodeGraphOverrides": {
                "envelopeVersion": "2021-01-01",
                "packages": [],
                "nodes": [],
                "nodeOverrides": [
                    {"replace": "threshold_param", "with": [{"name": "override_threshold"}]}
                ],
            }
        },
    )
    found = _manifest_findings(tmp_path)
    assert _severe(found) == []
    (note,) = [f for f in found if f.rule_id == "manifest.override-template"]
    assert "named a template" in note.message
