"""The ``privacy`` analyzer over real project manifests built in code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scanner.analyzers.privacy import PrivacyAnalyzer, field_issues, is_credential_name
from scanner.models import Category, Finding, Severity
from scanner.sources.panorama import load_project
from tests.helpers.project_builder import ProjectSpec, build_project

CAM_PASSWORD = "Kx9-pw7Q"


def _plant_graph(g: dict[str, Any]) -> None:
    graph = g["nodeGraph"]
    graph["description"] = "Shelf app. Contact Jane Doe (jane.doe@example.com) on +1 206-555-0142"
    graph["nodes"].append(
        {
            "name": "cam_url",
            "interface": "string",
            "value": f"rtsp://admin:{CAM_PASSWORD}@192.168.10.21:554/stream1",
            "decorator": {"title": "Aisle camera", "description": "Camera at 10.20.30.40"},
        }
    )


def _plant_descriptor(d: dict[str, Any]) -> None:
    d["runtimeDescriptor"]["entry"]["environment"] = [
        {"name": "DB_PASSWORD", "value": "Tq7-xz9Lw2"},
        {"name": "REGION", "value": "us-west-2"},
    ]


def _findings(root: Path) -> list[Finding]:
    out = list(PrivacyAnalyzer().analyze_target(load_project(root)))
    assert all(isinstance(o, Finding) for o in out), out
    return [o for o in out if isinstance(o, Finding)]


def test_planted_fields(tmp_path: Path) -> None:
    proj = build_project(
        tmp_path / "p", ProjectSpec(edit_graph=_plant_graph, edit_code_descriptor=_plant_descriptor)
    )
    findings = _findings(proj.root)
    graph_rel = proj.rel(proj.graph_path)
    got = {(f.rule_id, f.location.artifact, f.location.path, f.severity) for f in findings}
    desc = "nodeGraph.description"
    assert ("privacy.email", graph_rel, desc, Severity.MEDIUM) in got
    assert ("privacy.phone-number", graph_rel, desc, Severity.MEDIUM) in got
    assert ("privacy.personal-name", graph_rel, desc, Severity.MEDIUM) in got
    node = next(
        i
        for i, n in enumerate(proj.read_json(proj.graph_path)["nodeGraph"]["nodes"])
        if n["name"] == "cam_url"
    )
    value_path = f"nodeGraph.nodes[{node}].value"
    assert ("privacy.credential-url", graph_rel, value_path, Severity.CRITICAL) in got
    assert (
        "privacy.ip-address",
        graph_rel,
        f"nodeGraph.nodes[{node}].decorator.description",
        Severity.MEDIUM,
    ) in got
    code_desc = f"{proj.rel(proj.code_dir)}/descriptor.json"
    env_path = "runtimeDescriptor.entry.environment[0].value"
    assert ("privacy.credential", code_desc, env_path, Severity.HIGH) in got
    # Lines point at the field in the file.
    text = proj.graph_path.read_text().splitlines()
    for f in findings:
        if f.location.artifact == graph_rel and f.location.path == desc:
            assert f.location.line is not None
            assert '"description"' in text[f.location.line - 1]
        # credentials are secrets; the rest is personal data
        secret = f.rule_id in ("privacy.credential", "privacy.credential-url", "privacy.secret")
        assert f.category is (Category.SECRET if secret else Category.PRIVACY)
    blob = json.dumps([(f.message, dict(f.properties)) for f in findings])
    for value in (CAM_PASSWORD, "jane.doe@example.com", "206-555-0142", "Tq7-xz9Lw2"):
        assert value not in blob


def test_clean_project_has_no_privacy_finding(tmp_path: Path) -> None:
    proj = build_project(tmp_path / "p", ProjectSpec(with_override=True))
    assert _findings(proj.root) == []


@pytest.mark.parametrize(
    "text",
    [
        "Aisle camera",
        "Owner: Loading Dock",
        "Detects empty shelves; version 1.2.0.1 from 2021-01-01",
        "Score threshold 0.45 for store 4411",
        "123456789012::shelf_code",
        "Contact the Support Team",
    ],
)
def test_no_noise_on_ordinary_text(text: str) -> None:
    assert list(field_issues(text, free_form=True)) == []


def test_personal_data_only_in_free_form_fields() -> None:
    text = "ops@example.com"
    assert [r for r, *_ in field_issues(text, free_form=True)] == ["email"]
    assert list(field_issues(text, free_form=False)) == []


CAMERA_PACKAGE = {
    "nodePackage": {
        "envelopeVersion": "2021-01-01",
        "name": "dock_cam",
        "version": "1.0",
        "description": "RTSP camera",
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
                "name": "dock_cam",
                "category": "media_source",
                "asset": "rtsp_camera",
                "inputs": [
                    {"name": "username", "type": "string", "default": "admin"},
                    {"name": "password", "type": "string", "default": "271828"},
                    {"name": "streamUrl", "type": "string", "default": "rtsp://cam.local/s0"},
                ],
                "outputs": [{"name": "video_out", "type": "media"}],
            }
        ],
    }
}


def _with_camera(proj_root: Path, package: dict[str, Any]) -> Path:
    folder = proj_root / "packages" / "123456789012-dock_cam-1.0"
    folder.mkdir()
    (folder / "package.json").write_text(json.dumps(package, indent=4))
    return folder


def test_camera_password_default_is_a_redacted_secret(tmp_path: Path) -> None:
    proj = build_project(tmp_path / "p", ProjectSpec(with_model=False))
    _with_camera(proj.root, CAMERA_PACKAGE)
    found = [f for f in _findings(proj.root) if f.rule_id == "privacy.credential"]
    (f,) = found  # the password; a username is not a secret
    assert f.category is Category.SECRET
    assert f.severity is Severity.HIGH
    assert f.location.artifact == "packages/123456789012-dock_cam-1.0/package.json"
    assert f.location.path == "nodePackage.interfaces[0].inputs[1].default"
    line = (proj.root / f.location.artifact).read_text().splitlines()[(f.location.line or 0) - 1]
    assert '"default": "271828"' in line
    assert "271828" not in f.message
    assert "271828" not in json.dumps(dict(f.properties))


def test_credentials_in_graph_parameters_and_overrides(tmp_path: Path) -> None:
    def add_param(g: dict[str, Any]) -> None:
        g["nodeGraph"]["nodes"].append(
            {"name": "camera_password", "interface": "string", "value": "Kx9-pw7Q"}
        )

    proj = build_project(tmp_path / "p", ProjectSpec(with_model=False, edit_graph=add_param))
    overrides = proj.root / "deployment_overrides"
    overrides.mkdir()
    (overrides / "override_camera.json").write_text(
        json.dumps(
            {
                "nodeGraphOverrides": {
                    "envelopeVersion": "2021-01-01",
                    "nodes": [{"name": "pw_site2", "interface": "string", "value": "Zq4-site2"}],
                    "nodeOverrides": [
                        {"replace": "camera_password", "with": [{"name": "pw_site2"}]}
                    ],
                }
            }
        )
    )
    found = {
        (f.location.artifact, f.location.path)
        for f in _findings(proj.root)
        if f.rule_id == "privacy.credential"
    }
    assert found == {
        (proj.rel(proj.graph_path), f"nodeGraph.nodes[{_last_node(proj)}].value"),
        ("deployment_overrides/override_camera.json", "nodeGraphOverrides.nodes[0].value"),
    }


def _last_node(proj: Any) -> int:
    return len(proj.read_json(proj.graph_path)["nodeGraph"]["nodes"]) - 1


@pytest.mark.parametrize(
    "value", ["", "{CameraPassword}", "<password>", "MY_PASSWORD", "your-password", "password"]
)
def test_stand_ins_to_fill_in_are_not_credentials(tmp_path: Path, value: str) -> None:
    proj = build_project(tmp_path / "p", ProjectSpec(with_model=False))
    package = json.loads(json.dumps(CAMERA_PACKAGE))
    package["nodePackage"]["interfaces"][0]["inputs"][1]["default"] = value
    _with_camera(proj.root, package)
    assert [f for f in _findings(proj.root) if f.category is Category.SECRET] == []


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("password", True),
        ("camera_pwd", True),
        ("DB_PASSWORD", True),
        ("api_key", True),
        ("auth_token", True),
        ("password_file", False),
        ("token_url", False),
        ("username", False),
        ("passenger_count", False),
        ("compass", False),
    ],
)
def test_credential_names(name: str, credential: bool) -> None:
    assert is_credential_name(name) is credential
