"""Our manifest validation agrees with the official AWS Panorama JSON Schemas.

The oracle is ``jsonschema`` (draft 7) over ``../shared/reference/panorama-manifest-schema/``
through a ``referencing`` registry; the tests skip with a reason when that folder is absent.
Two corpora: hand-written cases that each exercise one constraint (labelled valid or invalid,
so both validators are checked against the label) and hypothesis-generated mutations of valid
documents (only agreement is checked).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from scanner.sources.manifests import ManifestKind, format_path, validate_document
from tests.helpers.project_builder import ProjectSpec, build_project

SCHEMA_FILES = {
    ManifestKind.GRAPH: "nodeGraph.schema.json",
    ManifestKind.PACKAGE: "nodePackage.schema.json",
    ManifestKind.DESCRIPTOR: "assetDescriptor.schema.json",
    ManifestKind.OVERRIDE: "nodeGraphOverrides.schema.json",
}

Oracle = Callable[[ManifestKind, Any], bool]


@pytest.fixture(scope="module")
def oracle(shared_reference: Path) -> Oracle:
    """``oracle(kind, doc)``: whether the official schema accepts ``doc``."""
    folder = shared_reference / "panorama-manifest-schema"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    resources = [
        (p.resolve().as_uri(), Resource.from_contents(json.loads(p.read_text())))
        for p in folder.rglob("*.schema.json")
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    validators = {
        kind: Draft7Validator({"$ref": (folder / name).resolve().as_uri()}, registry=registry)
        for kind, name in SCHEMA_FILES.items()
    }

    def accepts(kind: ManifestKind, doc: Any) -> bool:
        return bool(validators[kind].is_valid(doc))

    return accepts


def ours(kind: ManifestKind, doc: Any) -> bool:
    return not validate_document(kind, doc)


# ---------------------------------------------------------------------------------------------
# Base documents
# ---------------------------------------------------------------------------------------------

GRAPH: dict[str, Any] = {
    "nodeGraph": {
        "envelopeVersion": "2021-01-01",
        "description": "shelf app",
        "packages": [
            {"name": "111122223333::shelf_monitor", "version": "2.1"},
            {"name": "panorama::abstract_rtsp_media_source", "version": "1.0"},
            {"name": "panorama::hdmi_data_sink", "version": "1.0", "patchVersion": "abc"},
        ],
        "nodes": [
            {
                "name": "cam",
                "interface": "panorama::abstract_rtsp_media_source.rtsp_v1_interface",
                "overridable": True,
                "overrideMandatory": True,
                "launch": "onSignal",
                "decorator": {"title": "Aisle camera", "description": "Pick a stream"},
            },
            {"name": "logic", "interface": "111122223333::shelf_monitor.shelf_code_interface"},
            {"name": "screen", "interface": "panorama::hdmi_data_sink.hdmi0"},
            {"name": "score_floor", "interface": "float32", "value": 0.4, "overridable": True},
            {"name": "limit", "interface": "int32", "value": 3},
            {"name": "flag", "interface": "boolean", "value": True},
            {"name": "label", "interface": "string", "value": "x"},
        ],
        "edges": [
            {"producer": "cam.video_out", "consumer": "logic.frames"},
            {"producer": "logic.annotated", "consumer": "screen.video_in"},
            {"producer": "score_floor", "consumer": "logic.min_score"},
        ],
        "networkRoutingRules": [{"node": "logic", "containerPort": 8080, "hostPort": 8085}],
    }
}

PACKAGE: dict[str, Any] = {
    "nodePackage": {
        "envelopeVersion": "2021-01-01",
        "name": "shelf_monitor",
        "version": "2.1",
        "description": "d",
        "assets": [
            {
                "name": "shelf_code",
                "implementations": [
                    {
                        "type": "container",
                        "assetUri": "a" * 64 + ".tar.gz",
                        "descriptorUri": "b" * 64 + ".json",
                        "requirements": [
                            {
                                "type": "hardware_access",
                                "inferenceAccelerators": [
                                    {
                                        "deviceType": "nvhost_gpu",
                                        "sharedResourcePolicy": {"policy": "allow_all"},
                                    }
                                ],
                            },
                            {"type": "ota", "minVersion": "4.3.0"},
                            {"type": "device", "name": "panorama_devkit"},
                        ],
                    }
                ],
            }
        ],
        "interfaces": [
            {
                "name": "shelf_code_interface",
                "category": "business_logic",
                "asset": "shelf_code",
                "inputs": [
                    {"name": "frames", "type": "media", "maxConnections": 2},
                    {"name": "min_score", "type": "float32", "default": 0.5},
                    {"name": "limit", "type": "int32", "default": 3},
                    {"name": "flag", "type": "boolean", "default": False},
                    {"name": "label", "type": "string", "default": "x"},
                ],
                "outputs": [
                    {"name": "annotated", "type": "media"},
                    {"name": "count", "type": "int32"},
                    {"name": "ok", "type": "boolean"},
                ],
                "network": {"inboundPorts": [{"port": 8080, "description": "status"}]},
            }
        ],
    }
}

RUNTIME: dict[str, Any] = {
    "runtimeDescriptor": {
        "envelopeVersion": "2021-01-01",
        "entry": {
            "path": "python3",
            "name": "/panorama/app.py",
            "arguments": ["-v"],
            "environment": [{"name": "A", "value": "1"}],
        },
        "events": [
            {"type": "onExit", "handler": "bye"},
            {"type": "onPartialInput", "handler": "h", "inputs": ["frames"]},
        ],
    }
}

MODEL: dict[str, Any] = {
    "mlModelDescriptor": {
        "envelopeVersion": "2021-01-01",
        "framework": "MXNET",
        "frameworkVersion": "1.8",
        "precisionMode": "FP16",
        "inputs": [{"name": "data", "shape": [1, 3, 416, 416], "type": "float32"}],
    }
}

OVERRIDE: dict[str, Any] = {
    "nodeGraphOverrides": {
        "envelopeVersion": "2021-01-01",
        "packages": [{"name": "111122223333::dock_cam", "version": "1.0"}],
        "nodes": [
            {"name": "dock_cam_node", "interface": "111122223333::dock_cam.dock_cam"},
            {"name": "score_floor_2", "interface": "float32", "value": 0.55},
        ],
        "nodeOverrides": [
            {"replace": "cam", "with": [{"name": "dock_cam_node"}]},
            {"replace": "score_floor", "with": []},
        ],
        "networkRoutingRules": [{"node": "logic", "containerPort": 8080, "hostPort": 8085}],
    }
}

BASES: dict[ManifestKind, list[dict[str, Any]]] = {
    ManifestKind.GRAPH: [GRAPH],
    ManifestKind.PACKAGE: [PACKAGE],
    ManifestKind.DESCRIPTOR: [RUNTIME, MODEL],
    ManifestKind.OVERRIDE: [OVERRIDE],
}


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Copy of ``doc`` with ``path`` (dotted, ``[i]`` for indexes) set; ``DELETE`` removes."""
    out = copy.deepcopy(doc)
    parts: list[str | int] = []
    for chunk in path.split("."):
        name, _, rest = chunk.partition("[")
        if name:
            parts.append(name)
        while rest:
            idx, _, rest = rest.partition("]")
            parts.append(int(idx))
            rest = rest.lstrip("[")
    cur: Any = out
    for p in parts[:-1]:
        cur = cur[p]
    if value is DELETE:
        del cur[parts[-1]]
    else:
        cur[parts[-1]] = value
    return out


DELETE = object()

G, P, R, M, OV = (
    ManifestKind.GRAPH,
    ManifestKind.PACKAGE,
    ManifestKind.DESCRIPTOR,
    ManifestKind.DESCRIPTOR,
    ManifestKind.OVERRIDE,
)
BASE_OF = {"G": GRAPH, "P": PACKAGE, "R": RUNTIME, "M": MODEL, "O": OVERRIDE}
KIND_OF = {"G": G, "P": P, "R": R, "M": M, "O": OV}

# (base, path, new value or DELETE, expected validity)
CASES: list[tuple[str, str, Any, bool]] = [
    # --- graph -------------------------------------------------------------------------------
    ("G", "nodeGraph.envelopeVersion", "2020-01-01", False),
    ("G", "nodeGraph.envelopeVersion", DELETE, False),
    ("G", "nodeGraph.surprise", 1, False),
    ("G", "surprise", 1, False),
    ("G", "nodeGraph", DELETE, True),  # the schema does not require the key
    ("G", "nodeGraph.description", "x" * 255, True),
    ("G", "nodeGraph.description", "x" * 256, False),
    ("G", "nodeGraph.description", None, False),
    ("G", "nodeGraph.packages", [], False),
    ("G", "nodeGraph.packages", DELETE, False),
    ("G", "nodeGraph.packages[0].name", "111122223333:shelf", False),
    ("G", "nodeGraph.packages[0].name", "acct-1::shelf", False),
    ("G", "nodeGraph.packages[0].name", "$acct::shelf-monitor", True),
    ("G", "nodeGraph.packages[0].version", "2", False),
    ("G", "nodeGraph.packages[0].version", "2.1.3", False),
    ("G", "nodeGraph.packages[0].version", "2.1\n", True),  # JSON Schema $ matches before \n
    ("G", "nodeGraph.packages[0].version", 2.1, False),
    ("G", "nodeGraph.packages[0].uri", "s3://b", True),
    ("G", "nodeGraph.packages[0].extra", "x", False),
    ("G", "nodeGraph.nodes", [], False),
    ("G", "nodeGraph.nodes[0].name", "", False),
    ("G", "nodeGraph.nodes[0].name", "n" * 128, True),
    ("G", "nodeGraph.nodes[0].name", "n" * 129, False),
    ("G", "nodeGraph.nodes[0].name", "has space", False),
    ("G", "nodeGraph.nodes[0].interface", "panorama.rtsp", False),
    ("G", "nodeGraph.nodes[0].interface", "a::b.c.d", False),
    ("G", "nodeGraph.nodes[0].launch", "onBoot", False),
    ("G", "nodeGraph.nodes[0].overridable", "yes", False),
    ("G", "nodeGraph.nodes[0].overridable", 1, False),
    ("G", "nodeGraph.nodes[0].value", 1, False),
    ("G", "nodeGraph.nodes[0].decorator.title", "", False),
    ("G", "nodeGraph.nodes[0].decorator.constraintRegex", "^a$", True),
    ("G", "nodeGraph.nodes[0].decorator.other", "x", False),
    ("G", "nodeGraph.nodes[3].value", 1, True),  # schema: number includes integers
    ("G", "nodeGraph.nodes[3].value", "0.4", False),
    ("G", "nodeGraph.nodes[3].value", True, False),
    ("G", "nodeGraph.nodes[3].launch", "onAppStart", False),  # parameters have no launch
    ("G", "nodeGraph.nodes[3].interface", "float64", False),
    ("G", "nodeGraph.nodes[4].value", 3.0, True),  # draft 7: 3.0 is an integer
    ("G", "nodeGraph.nodes[4].value", 3.5, False),
    ("G", "nodeGraph.nodes[4].value", False, False),
    ("G", "nodeGraph.nodes[5].value", 1, False),
    ("G", "nodeGraph.nodes[6].value", 1, False),
    ("G", "nodeGraph.nodes[6].value", DELETE, True),
    ("G", "nodeGraph.nodes[1]", "logic", False),
    ("G", "nodeGraph.nodes[1].interface", DELETE, False),
    ("G", "nodeGraph.edges[0].producer", "cam..video_out", False),
    ("G", "nodeGraph.edges[0].producer", "cam", True),
    ("G", "nodeGraph.edges[0].consumer", DELETE, False),
    ("G", "nodeGraph.edges[0].weight", 1, False),
    ("G", "nodeGraph.networkRoutingRules[0].containerPort", 0, False),
    ("G", "nodeGraph.networkRoutingRules[0].containerPort", 65536, False),
    ("G", "nodeGraph.networkRoutingRules[0].containerPort", "8080", False),
    ("G", "nodeGraph.networkRoutingRules[0].hostPort", 80, True),  # range is a manifest check
    ("G", "nodeGraph.networkRoutingRules[0].hostPort", 80.5, False),
    ("G", "nodeGraph.networkRoutingRules[0].node", "bad node", False),
    ("G", "nodeGraph.networkRoutingRules[0].decorator", {"title": "t"}, True),
    ("G", "nodeGraph.networkRoutingRules[0].decorator", {"nope": "t"}, False),
    # --- package -----------------------------------------------------------------------------
    ("P", "nodePackage.name", "shelf monitor", False),
    ("P", "nodePackage.name", "", False),
    ("P", "nodePackage.name", "n" * 129, False),
    ("P", "nodePackage.name", "$x", False),
    ("P", "nodePackage.version", "v2", False),
    ("P", "nodePackage.description", "d" * 256, False),
    ("P", "nodePackage.interfaces", [], False),
    ("P", "nodePackage.interfaces", DELETE, False),
    ("P", "nodePackage.assets", [], True),
    ("P", "nodePackage.surprise", True, False),
    ("P", "nodePackage.assets[0].name", "", False),
    ("P", "nodePackage.assets[0].name", "$Asset-1", True),
    ("P", "nodePackage.assets[0].name", DELETE, False),
    ("P", "nodePackage.assets[0].implementations[0].type", "docker", False),
    ("P", "nodePackage.assets[0].implementations[0].assetUri", "", False),
    ("P", "nodePackage.assets[0].implementations[0].assetUri", "u" * 256, False),
    ("P", "nodePackage.assets[0].implementations[0].assetUri", "../../etc/passwd", True),
    ("P", "nodePackage.assets[0].implementations[0].description", "d" * 256, False),
    ("P", "nodePackage.assets[0].implementations[0].descriptorUri", 5, False),
    ("P", "nodePackage.assets[0].implementations[0].requirements[0].type", "gpu", False),
    (
        "P",
        "nodePackage.assets[0].implementations[0].requirements[0].inferenceAccelerators[0]"
        ".deviceType",
        "cuda",
        False,
    ),
    (
        "P",
        "nodePackage.assets[0].implementations[0].requirements[0].inferenceAccelerators[0]"
        ".sharedResourcePolicy",
        {"policy": "allow_all", "extra": 1},
        True,  # an open object in the official schema
    ),
    (
        "P",
        "nodePackage.assets[0].implementations[0].requirements[0].inferenceAccelerators[0]"
        ".sharedResourcePolicy",
        {"policy": "deny"},
        False,
    ),
    (
        "P",
        "nodePackage.assets[0].implementations[0].requirements[0].inferenceAccelerators[0]"
        ".sharedResourcePolicy",
        {},
        True,
    ),
    ("P", "nodePackage.assets[0].implementations[0].requirements[1]", {"type": "ota"}, False),
    (
        "P",
        "nodePackage.assets[0].implementations[0].requirements[1]",
        {"type": "ota", "maxVersion": "5.0.0"},
        True,
    ),
    (
        "P",
        "nodePackage.assets[0].implementations[0].requirements[1]",
        {"type": "os", "family": "unix"},
        False,  # defined but not referenced by requirement.schema.json
    ),
    ("P", "nodePackage.assets[0].implementations[0].requirements[2].name", "jetson", False),
    ("P", "nodePackage.interfaces[0].category", "data_sink", False),
    ("P", "nodePackage.interfaces[0].name", "bad.name", False),
    ("P", "nodePackage.interfaces[0].asset", 3, False),
    ("P", "nodePackage.interfaces[0].inputs[0].name", "video-in", False),
    ("P", "nodePackage.interfaces[0].inputs[0].name", "v" * 51, False),
    ("P", "nodePackage.interfaces[0].inputs[0].default", "x", False),  # no default on media
    ("P", "nodePackage.interfaces[0].inputs[0].maxConnections", -1, False),
    ("P", "nodePackage.interfaces[0].inputs[0].type", "video", False),
    ("P", "nodePackage.interfaces[0].inputs[1].default", 1, True),
    ("P", "nodePackage.interfaces[0].inputs[1].default", "1", False),
    ("P", "nodePackage.interfaces[0].inputs[1].constraintRegex", "^[0-9.]+$", True),
    ("P", "nodePackage.interfaces[0].inputs[2].default", 1.5, False),
    ("P", "nodePackage.interfaces[0].inputs[2].reference", "yes", False),
    ("P", "nodePackage.interfaces[0].inputs[3].default", 0, False),
    ("P", "nodePackage.interfaces[0].inputs[3].constraintRegex", ".*", False),
    ("P", "nodePackage.interfaces[0].inputs[4].unknown", 1, True),  # string port: open object
    ("P", "nodePackage.interfaces[0].inputs[4].default", 1, False),
    ("P", "nodePackage.interfaces[0].outputs[0].extra", 1, False),
    ("P", "nodePackage.interfaces[0].outputs[2].extra", 1, False),
    ("P", "nodePackage.interfaces[0].outputs[0].description", "d" * 400, True),
    ("P", "nodePackage.interfaces[0].outputs[0].default", 1, False),
    ("P", "nodePackage.interfaces[0].network.inboundPorts", [{"port": 1}] * 11, False),
    ("P", "nodePackage.interfaces[0].network.inboundPorts", [{"port": 1}] * 10, True),
    ("P", "nodePackage.interfaces[0].network.inboundPorts[0].port", 70000, False),
    ("P", "nodePackage.interfaces[0].network.inboundPorts[0].port", 8080.0, True),
    ("P", "nodePackage.interfaces[0].network.outboundPorts", [], False),
    # --- descriptors -------------------------------------------------------------------------
    ("R", "runtimeDescriptor.envelopeVersion", DELETE, False),
    ("R", "runtimeDescriptor.entry", {}, True),
    ("R", "runtimeDescriptor.entry.name", DELETE, False),  # path/arguments depend on name
    ("R", "runtimeDescriptor.entry.name", "", False),
    ("R", "runtimeDescriptor.entry.arguments", [1], False),
    ("R", "runtimeDescriptor.entry.environment", [{"name": "A"}], False),
    ("R", "runtimeDescriptor.entry.environment", [{"name": "", "value": ""}], False),
    ("R", "runtimeDescriptor.entry.user", "root", False),
    ("R", "runtimeDescriptor.events[0].handler", "", False),
    ("R", "runtimeDescriptor.events[0].inputs", ["a"], False),
    ("R", "runtimeDescriptor.events[1].inputs", DELETE, False),
    ("R", "runtimeDescriptor.events[1].type", "onCompleteInput", True),
    ("R", "runtimeDescriptor.events[1].type", "onStart", False),
    ("R", "mlModelDescriptor", MODEL["mlModelDescriptor"], True),  # both keys: allowed
    ("R", "runtimeDescriptor", DELETE, True),  # neither key: allowed
    ("M", "mlModelDescriptor.framework", "ONNX", False),
    ("M", "mlModelDescriptor.framework", DELETE, False),
    ("M", "mlModelDescriptor.inputs", DELETE, False),
    ("M", "mlModelDescriptor.inputs", [], True),
    ("M", "mlModelDescriptor.frameworkVersion", "1", False),
    ("M", "mlModelDescriptor.frameworkVersion", "1.8.0.0.0.0", False),
    ("M", "mlModelDescriptor.frameworkVersion", "2.4rc1", True),
    ("M", "mlModelDescriptor.frameworkVersion", None, False),
    ("M", "mlModelDescriptor.precisionMode", "INT8", False),
    ("M", "mlModelDescriptor.inputs[0].type", "bfloat16", False),
    ("M", "mlModelDescriptor.inputs[0].shape", [1, "3"], False),
    ("M", "mlModelDescriptor.inputs[0].shape", [1.0, 3], True),
    ("M", "mlModelDescriptor.inputs[0].name", DELETE, False),
    ("M", "mlModelDescriptor.inputs[0].name", "", True),
    ("M", "mlModelDescriptor.outputs", [], False),
    # --- override ----------------------------------------------------------------------------
    ("O", "nodeGraphOverrides.envelopeVersion", DELETE, False),
    ("O", "nodeGraphOverrides.nodeOverrides[0].with", DELETE, False),
    ("O", "nodeGraphOverrides.nodeOverrides[0].with[0].name", "bad name", False),
    ("O", "nodeGraphOverrides.nodeOverrides[0].with[0].extra", 1, False),
    ("O", "nodeGraphOverrides.nodeOverrides[0].envelopeVersion", "2021-01-01", True),
    ("O", "nodeGraphOverrides.nodeOverrides[0].replace", "", False),
    ("O", "nodeGraphOverrides.packages", [], True),
    ("O", "nodeGraphOverrides.nodes[1].value", "x", False),
    ("O", "nodeGraphOverrides.assetOverrides", [], False),
]


@pytest.mark.parametrize(
    ("base", "path", "value", "expected"),
    CASES,
    ids=[f"{b}:{p}={'DELETE' if v is DELETE else repr(v)[:30]}" for b, p, v, _ in CASES],
)
def test_hand_written_case(
    oracle: Oracle, base: str, path: str, value: Any, expected: bool
) -> None:
    kind = KIND_OF[base]
    doc = _set(BASE_OF[base], path, value)
    assert oracle(kind, doc) is expected, "case label disagrees with the official schema"
    assert ours(kind, doc) is expected, validate_document(kind, doc)


@pytest.mark.parametrize("kind", list(ManifestKind))
def test_bases_are_valid(oracle: Oracle, kind: ManifestKind) -> None:
    for doc in BASES[kind]:
        assert oracle(kind, doc)
        assert validate_document(kind, doc) == []


@pytest.mark.parametrize("doc", [None, [], "x", 1, True], ids=repr)
@pytest.mark.parametrize("kind", list(ManifestKind))
def test_non_objects_are_invalid(oracle: Oracle, kind: ManifestKind, doc: Any) -> None:
    assert oracle(kind, doc) is False
    assert ours(kind, doc) is False


def test_builder_project_documents_agree(oracle: Oracle, tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(gpu=True, with_override=True))
    docs = [(G, proj.graph_path), (OV, proj.override_path)]
    for pkg in (tmp_path / "packages").iterdir():
        docs += [(P, pkg / "package.json"), (R, pkg / "descriptor.json")]
    for kind, path in docs:
        assert path is not None
        doc = json.loads(path.read_text())
        assert oracle(kind, doc)
        assert ours(kind, doc)


def test_issue_paths_point_into_the_document() -> None:
    doc = _set(GRAPH, "nodeGraph.nodes[2].name", "bad name")
    issues = validate_document(G, doc)
    assert [i.path for i in issues] == ["nodeGraph.nodes[2].name"]
    assert "does not match" in issues[0].message
    doc = _set(PACKAGE, "nodePackage.surprise", 1)
    issues = validate_document(P, doc)
    assert [(i.path, i.message) for i in issues] == [
        ("nodePackage.surprise", "unknown key 'surprise' is not allowed")
    ]
    doc = _set(GRAPH, "nodeGraph.packages", DELETE)
    assert [i.path for i in validate_document(G, doc)] == ["nodeGraph.packages"]
    doc = _set(PACKAGE, "nodePackage.interfaces[0].inputs[1].type", "double")
    (issue,) = validate_document(P, doc)
    assert issue.path == "nodePackage.interfaces[0].inputs[1]"
    assert "'double'" in issue.message


def test_format_path() -> None:
    assert format_path(("nodeGraph", "nodes", 2, "name")) == "nodeGraph.nodes[2].name"
    assert format_path(()) == ""


# ---------------------------------------------------------------------------------------------
# hypothesis: mutations of valid documents
# ---------------------------------------------------------------------------------------------

INTERESTING = [
    None,
    True,
    False,
    0,
    -1,
    1,
    3.0,
    0.5,
    8080,
    70000,
    "",
    "a",
    "a-b",
    "a b",
    "$x",
    "x" * 300,
    "1.0",
    "2021-01-01",
    "media",
    "float32",
    "int32",
    "string",
    "boolean",
    "container",
    "model",
    "ota",
    "nvhost_gpu",
    "acct::pkg",
    "acct::pkg.iface",
    "n.p",
    [],
    {},
    [1],
    {"name": "x"},
    {"name": "x", "type": "media"},
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


@st.composite
def mutated(draw: st.DrawFn) -> tuple[ManifestKind, Any]:
    kind = draw(st.sampled_from(list(ManifestKind)))
    doc = copy.deepcopy(draw(st.sampled_from(BASES[kind])))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        target = _get(doc, path)
        op = draw(st.sampled_from(["replace", "delete", "add-key", "append", "clear"]))
        value = copy.deepcopy(draw(st.sampled_from(INTERESTING)))
        if op == "replace" or not path and op == "delete":
            if not path:
                doc = value
                continue
            _get(doc, path[:-1])[path[-1]] = value
        elif op == "delete":
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
        elif op == "add-key" and isinstance(target, dict):
            key = draw(st.sampled_from(["extra", "name", "type", "default", "value", "launch"]))
            target[key] = value
        elif op == "append" and isinstance(target, list):
            target.append(copy.deepcopy(target[0]) if target and draw(st.booleans()) else value)
        elif op == "clear" and isinstance(target, list | dict):
            target.clear()
    return kind, doc


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=mutated())
def test_mutations_agree_with_official_schema(
    oracle: Oracle, case: tuple[ManifestKind, Any]
) -> None:
    kind, doc = case
    issues = validate_document(kind, doc)
    assert oracle(kind, doc) is (not issues), (kind, doc, issues)
    for issue in issues:  # every path leads into the document (the last key may be missing)
        cur: Any = doc
        for i, part in enumerate(issue.parts):
            last = i == len(issue.parts) - 1
            if isinstance(part, int):
                assert isinstance(cur, list)
                assert 0 <= part < len(cur)
            else:
                assert isinstance(cur, dict)
                assert part in cur or last, issue
            cur = cur[part] if (isinstance(cur, list) or part in cur) else None
        assert format_path(issue.parts) == issue.path
