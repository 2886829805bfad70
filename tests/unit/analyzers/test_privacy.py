"""The ``privacy`` analyzer over real project manifests built in code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scanner.analyzers.privacy import PrivacyAnalyzer, field_issues
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
    assert ("privacy.secret", code_desc, env_path, Severity.HIGH) in got
    # Lines point at the field in the file.
    text = proj.graph_path.read_text().splitlines()
    for f in findings:
        if f.location.artifact == graph_rel and f.location.path == desc:
            assert f.location.line is not None
            assert '"description"' in text[f.location.line - 1]
        assert f.category is Category.PRIVACY
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
