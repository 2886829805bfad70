"""The ``manifest`` analyzer: one test per rule, locations with lines, and robustness."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.analyzers import load_analyzers
from scanner.analyzers.manifest import RULES, ManifestAnalyzer
from scanner.models import Category, Finding, Severity
from scanner.sources.codepkg import load_code_package
from scanner.sources.interface import ManifestDoc, ScanTarget
from scanner.sources.panorama import load_project
from tests.helpers.project_builder import (
    ProjectSpec,
    build_code_package,
    build_project,
    write_json,
)

Edit = Callable[[dict[str, Any]], object]


def run(target: ScanTarget) -> list[Finding]:
    out = list(ManifestAnalyzer().analyze_target(target))
    assert all(isinstance(f, Finding) for f in out)
    return out  # type: ignore[return-value]


def scan(tmp_path: Path, **spec: Any) -> list[Finding]:
    build_project(tmp_path, ProjectSpec(**spec))
    return run(load_project(tmp_path))


def by_rule(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule_id == f"manifest.{rule}"]


def one(findings: list[Finding], rule: str) -> Finding:
    found = by_rule(findings, rule)
    assert len(found) == 1, [(f.rule_id, f.message) for f in findings]
    return found[0]


def rule_ids(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings}


def test_registered() -> None:
    assert load_analyzers()["manifest"] is ManifestAnalyzer


def test_clean_project_without_model_has_no_findings(tmp_path: Path) -> None:
    assert scan(tmp_path, with_model=False, with_override=True) == []


def test_clean_project_with_model_only_warns_about_neo(tmp_path: Path) -> None:
    findings = scan(tmp_path)
    f = one(findings, "neo-model-node")
    assert rule_ids(findings) == {"manifest.neo-model-node"}
    assert f.severity is Severity.LOW
    assert f.category is Category.MANIFEST
    assert f.location.artifact == "graphs/shelf_app/graph.json"
    assert f.location.path == "nodeGraph.nodes[4].interface"
    assert f.location.line is not None


@pytest.mark.parametrize(
    ("brk", "rule", "artifact", "path", "severity"),
    [
        ("extra-key", "schema", "package.json", "nodePackage.surprise", Severity.HIGH),
        ("account-mismatch", "account-mismatch", "graph.json", "nodeGraph.packages[0].name", None),
        (
            "version-mismatch",
            "version-mismatch",
            "graph.json",
            "nodeGraph.packages[0].version",
            None,
        ),
        ("name-mismatch", "name-mismatch", "package.json", "nodePackage.name", Severity.MEDIUM),
        ("bad-edge", "edge-port-missing", "graph.json", "nodeGraph.edges[3].consumer", None),
        ("port-type-mismatch", "edge-type-mismatch", "graph.json", "nodeGraph.edges[2]", None),
        ("param-int-for-float", "parameter-type", "graph.json", "nodeGraph.nodes[3].value", None),
        (
            "routing-undeclared",
            "routing-port-undeclared",
            "graph.json",
            "nodeGraph.networkRoutingRules[1].containerPort",
            None,
        ),
        (
            "host-port-range",
            "host-port-range",
            "graph.json",
            "nodeGraph.networkRoutingRules[1].hostPort",
            None,
        ),
        (
            "category-mismatch",
            "category-mismatch",
            "package.json",
            "nodePackage.interfaces[0].category",
            None,
        ),
    ],
)
def test_builder_breaks(
    tmp_path: Path, brk: str, rule: str, artifact: str, path: str, severity: Severity | None
) -> None:
    findings = scan(tmp_path, breaks={brk})
    found = by_rule(findings, rule)
    assert found, [(f.rule_id, f.message) for f in findings]
    assert path in {f.location.path for f in found}
    f = next(f for f in found if f.location.path == path)
    assert f.location.artifact.endswith(artifact)
    assert f.severity is (severity or RULES[rule][0])
    # the line really holds the key the path ends with
    text = (tmp_path / f.location.artifact).read_text().splitlines()
    assert f.location.line is not None
    last_key = path.rsplit(".", 1)[-1].split("[")[0]
    window = "\n".join(text[f.location.line - 1 : f.location.line + 1])
    assert f'"{last_key}"' in window or last_key.startswith("edges")


def test_schema_finding_message_and_line(tmp_path: Path) -> None:
    def bad_port(doc: dict[str, Any]) -> None:
        doc["nodePackage"]["interfaces"][0]["inputs"][0]["name"] = "video-in"

    findings = scan(tmp_path, with_model=False, edit_code_package=bad_port)
    f = by_rule(findings, "schema")[0]
    assert f.location.path == "nodePackage.interfaces[0].inputs[0].name"
    assert "does not match" in f.message
    lines = (tmp_path / f.location.artifact).read_text().splitlines()
    assert f.location.line is not None
    assert '"video-in"' in lines[f.location.line - 1]


def test_schema_issues_are_capped(tmp_path: Path) -> None:
    def many(doc: dict[str, Any]) -> None:
        doc["nodeGraph"]["edges"] = [{"producer": "a..b", "consumer": "c..d"}] * 60

    findings = scan(tmp_path, with_model=False, edit_graph=many)
    schema = by_rule(findings, "schema")
    assert len(schema) == 51
    assert any("more manifest.schema findings" in f.message for f in schema)


def test_agreement_findings_are_capped(tmp_path: Path) -> None:
    def many(doc: dict[str, Any]) -> None:
        doc["nodeGraph"]["edges"] = [
            {"producer": f"ghost{i}.video_out", "consumer": "code_node.video_in"}
            for i in range(5000)
        ]

    findings = scan(tmp_path, with_model=False, edit_graph=many)
    missing = by_rule(findings, "edge-node-missing")
    assert len(missing) == 51
    assert any("4950 more" in f.message for f in missing)


def test_gpu_with_model_nodes(tmp_path: Path) -> None:
    f = one(scan(tmp_path, gpu=True), "gpu-with-model-nodes")
    assert f.severity is Severity.MEDIUM
    assert f.location.path.endswith("requirements")


def test_gpu_without_model_nodes_is_fine(tmp_path: Path) -> None:
    assert scan(tmp_path, gpu=True, with_model=False) == []


# ---------------------------------------------------------------------------------------------
# graph agreement
# ---------------------------------------------------------------------------------------------


def _node(name: str, interface: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "interface": interface, **extra}


def test_package_missing_and_unused(tmp_path: Path) -> None:
    def rename(doc: dict[str, Any]) -> None:
        g = doc["nodeGraph"]
        g["packages"][0]["name"] = "123456789012::ghost"
        g["nodes"][1]["interface"] = "123456789012::ghost.iface"

    findings = scan(tmp_path, with_model=False, edit_graph=rename)
    assert one(findings, "package-missing").location.path == "nodeGraph.packages[0].name"
    assert one(findings, "package-unused").location.artifact.startswith("packages/")
    # edges into an unknown interface are not guessed at
    assert not by_rule(findings, "edge-port-missing")


def test_package_not_declared_and_interface_missing(tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        g = doc["nodeGraph"]
        g["nodes"][1]["interface"] = "123456789012::shelf_code.nope_interface"
        g["nodes"].append(_node("cam2", "panorama::other_camera.rtsp_v1_interface"))

    findings = scan(tmp_path, with_model=False, edit_graph=edit)
    assert "nope_interface" in one(findings, "interface-missing").message
    assert one(findings, "package-not-declared").location.path == "nodeGraph.nodes[4].interface"


def test_duplicate_node_and_edge_node_missing(tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        g = doc["nodeGraph"]
        g["nodes"].append(copy.deepcopy(g["nodes"][0]))
        g["edges"].append({"producer": "ghost.video_out", "consumer": "code_node.video_in"})
        g["edges"].append({"producer": "code_node.video_out", "consumer": "threshold_param"})
        g["edges"].append({"producer": "code_node", "consumer": "output_node.video_in"})

    findings = scan(tmp_path, with_model=False, edit_graph=edit)
    assert one(findings, "duplicate-node").location.path == "nodeGraph.nodes[4].name"
    assert one(findings, "edge-node-missing").location.path == "nodeGraph.edges[3].producer"
    missing = by_rule(findings, "edge-port-missing")
    assert {f.location.path for f in missing} == {
        "nodeGraph.edges[4].consumer",
        "nodeGraph.edges[5].producer",
    }


def test_builtin_ports_are_checked(tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["nodeGraph"]["edges"][0]["producer"] = "front_door_camera.frames"

    f = one(scan(tmp_path, with_model=False, edit_graph=edit), "edge-port-missing")
    assert "video_out" in f.message


@pytest.mark.parametrize(
    ("interface", "value", "rule", "severity"),
    [
        ("int32", 2**31, "parameter-range", Severity.HIGH),
        ("int32", -(2**31) - 1, "parameter-range", Severity.HIGH),
        ("int32", 3.0, "parameter-type", Severity.LOW),
        ("float32", 1e39, "parameter-range", Severity.HIGH),
        ("float32", 60, "parameter-type", Severity.MEDIUM),
    ],
)
def test_parameter_values(
    tmp_path: Path, interface: str, value: Any, rule: str, severity: Severity
) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["nodeGraph"]["nodes"].append(_node("p", interface, value=value))

    f = one(scan(tmp_path, with_model=False, edit_graph=edit), rule)
    assert f.severity is severity
    assert f.location.path == "nodeGraph.nodes[4].value"


@pytest.mark.parametrize("value", [0.5, 60.0, -1.25])
def test_float_parameter_ok(tmp_path: Path, value: float) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["nodeGraph"]["nodes"][3]["value"] = value

    assert scan(tmp_path, with_model=False, edit_graph=edit) == []


def test_routing_node_missing_and_builtin_ports(tmp_path: Path) -> None:
    findings = scan(
        tmp_path,
        with_model=False,
        routing=[{"containerPort": 8080, "hostPort": 9000}],
        edit_graph=lambda d: d["nodeGraph"]["networkRoutingRules"].append(
            {"node": "ghost", "containerPort": 1, "hostPort": 8000}
        ),
    )
    assert one(findings, "routing-node-missing").location.path.endswith("[1].node")
    assert not by_rule(findings, "host-port-range")  # 8000 and 9000 are inside


def test_account_invalid(tmp_path: Path) -> None:
    findings = scan(tmp_path, with_model=False, account="12345")
    invalid = by_rule(findings, "account-invalid")
    assert invalid
    assert all(f.severity is Severity.MEDIUM for f in invalid)
    assert not by_rule(findings, "account-mismatch")


def test_override_checks(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(with_model=False, with_override=True))
    assert proj.override_path is not None

    def edit(doc: dict[str, Any]) -> None:
        body = doc["nodeGraphOverrides"]
        body["nodeOverrides"].append({"replace": "ghost", "with": [{"name": "nobody"}]})
        body["nodes"].append(_node("score", "float32", value=2))
        body["networkRoutingRules"] = [{"node": "code_node", "containerPort": 7, "hostPort": 80}]

    proj.edit_json(proj.override_path, edit)
    findings = run(load_project(tmp_path))
    unknown = by_rule(findings, "override-unknown-node")
    assert {f.location.path for f in unknown} == {
        "nodeGraphOverrides.nodeOverrides[1].replace",
        "nodeGraphOverrides.nodeOverrides[1].with[0].name",
    }
    assert one(findings, "parameter-type").location.artifact.endswith("override.json")
    assert one(findings, "routing-port-undeclared").location.artifact.endswith("override.json")
    assert one(findings, "host-port-range").location.artifact.endswith("override.json")


def test_stale_account_in_override(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(with_model=False, with_override=True))
    assert proj.override_path is not None
    proj.edit_json(
        proj.override_path,
        lambda d: d["nodeGraphOverrides"]["packages"][0].update(name="999999999999::dock_cam"),
    )
    f = one(run(load_project(tmp_path)), "account-mismatch")
    assert f.location.path == "nodeGraphOverrides.packages[0].name"


def test_multiple_graphs(tmp_path: Path) -> None:
    build_project(tmp_path, ProjectSpec(with_model=False))
    write_json(tmp_path / "graphs" / "zzz" / "graph.json", {"nodeGraph": {}})
    f = one(run(load_project(tmp_path)), "multiple-graphs")
    assert "shelf_app" in f.message


def test_folder_name(tmp_path: Path) -> None:
    build_project(tmp_path, ProjectSpec(with_model=False))
    build_code_package(tmp_path / "packages" / "oddname")
    findings = run(load_project(tmp_path))
    assert one(findings, "folder-name").location.artifact == "packages/oddname"


# ---------------------------------------------------------------------------------------------
# packages: requirements, categories, descriptors
# ---------------------------------------------------------------------------------------------


def _impl(doc: dict[str, Any]) -> dict[str, Any]:
    impl: dict[str, Any] = doc["nodePackage"]["assets"][0]["implementations"][0]
    return impl


@pytest.mark.parametrize(
    ("requirements", "severity", "needle"),
    [
        ([{"type": "hardware_access", "inferenceAccelerators": []}], Severity.MEDIUM, "no infer"),
        (
            [
                {
                    "type": "hardware_access",
                    "inferenceAccelerators": [
                        {"deviceType": "nvhost_gpu", "sharedResourcePolicy": {}}
                    ],
                }
            ],
            Severity.LOW,
            "allow_all",
        ),
        ([{"type": "ota", "minVersion": "4.3"}], Severity.LOW, "x.y.z"),
    ],
)
def test_requirement_values(
    tmp_path: Path, requirements: list[Any], severity: Severity, needle: str
) -> None:
    findings = scan(
        tmp_path,
        with_model=False,
        edit_code_package=lambda d: _impl(d).update(requirements=requirements),
    )
    f = one(findings, "requirement-value")
    assert f.severity is severity
    assert needle in f.message


def test_gpu_on_model_implementation(tmp_path: Path) -> None:
    gpu = {
        "type": "hardware_access",
        "inferenceAccelerators": [
            {"deviceType": "nvhost_gpu", "sharedResourcePolicy": {"policy": "allow_all"}}
        ],
    }
    findings = scan(tmp_path, edit_model_package=lambda d: _impl(d).update(requirements=[gpu]))
    assert "only containers" in one(findings, "requirement-value").message


def test_descriptor_kind_disagrees_with_implementation(tmp_path: Path) -> None:
    def model_desc(doc: dict[str, Any]) -> None:
        doc.clear()
        doc["mlModelDescriptor"] = {
            "envelopeVersion": "2021-01-01",
            "framework": "PYTORCH",
            "inputs": [],
        }

    findings = scan(tmp_path, with_model=False, edit_code_descriptor=model_desc)
    f = one(findings, "category-mismatch")
    assert f.location.artifact.endswith("descriptor.json")
    assert "runtimeDescriptor" in f.message


def test_interface_names_unknown_asset(tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["nodePackage"]["interfaces"][0]["asset"] = "ghost"

    f = one(scan(tmp_path, with_model=False, edit_code_package=edit), "asset-unknown")
    assert f.location.path == "nodePackage.interfaces[0].asset"


@pytest.mark.parametrize(
    ("desc", "rule"),
    [
        ({}, "empty-document"),
        (
            {
                "runtimeDescriptor": {"envelopeVersion": "2021-01-01"},
                "mlModelDescriptor": {
                    "envelopeVersion": "2021-01-01",
                    "framework": "MXNET",
                    "inputs": [],
                },
            },
            "descriptor-ambiguous",
        ),
    ],
)
def test_descriptor_shape(tmp_path: Path, desc: dict[str, Any], rule: str) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc.clear()
        doc.update(copy.deepcopy(desc))

    assert by_rule(scan(tmp_path, with_model=False, edit_code_descriptor=edit), rule)


def test_empty_graph_document(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(with_model=False))
    write_json(proj.graph_path, {})
    f = one(run(load_project(tmp_path)), "empty-document")
    assert f.location.artifact == "graphs/shelf_app/graph.json"
    assert f.location.line == 1


# ---------------------------------------------------------------------------------------------
# other targets
# ---------------------------------------------------------------------------------------------


def test_code_package_target(tmp_path: Path) -> None:
    spec = ProjectSpec(dockerfile="FROM ubuntu\n", breaks={"extra-key"})
    pkg = build_code_package(tmp_path / "123456789012-shelf_code-1.0", spec)
    findings = run(load_code_package(pkg))
    # The base image is the dockerfile analyzer's to judge, once: not a manifest finding.
    assert rule_ids(findings) == {"manifest.schema"}
    assert one(findings, "schema").location.artifact == "package.json"


def test_clean_code_package(tmp_path: Path) -> None:
    pkg = build_code_package(tmp_path / "123456789012-shelf_code-1.0")
    assert run(load_code_package(pkg)) == []


def test_non_project_target_is_ignored(tmp_path: Path) -> None:
    st = load_project(build_project(tmp_path).root)
    st.project = None
    assert run(st) == []


# ---------------------------------------------------------------------------------------------
# robustness: mutated manifests never raise
# ---------------------------------------------------------------------------------------------

JUNK = [None, True, 0, -1, 2**40, 1.5, "", "x", "a::b.c", "n.p", [], {}, [1], {"name": 1}]


@pytest.fixture(scope="module")
def base_target(tmp_path_factory: pytest.TempPathFactory) -> ScanTarget:
    root = tmp_path_factory.mktemp("proj")
    build_project(root, ProjectSpec(gpu=True, with_override=True))
    return load_project(root)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_manifests_never_raise(base_target: ScanTarget, data: st.DataObject) -> None:
    manifests = list(base_target.manifests)
    i = data.draw(st.integers(0, len(manifests) - 1))
    doc = copy.deepcopy(manifests[i].data)
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(_paths(doc)))
        value = copy.deepcopy(data.draw(st.sampled_from(JUNK)))
        if not path:
            doc = value
            continue
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        if data.draw(st.booleans()):
            parent[path[-1]] = value
        else:
            del parent[path[-1]]
    m = manifests[i]
    manifests[i] = ManifestDoc(m.kind, m.path, doc, m.package)
    project = copy.copy(base_target.project)
    project.texts = {**project.texts, m.path: json.dumps(doc, indent=4)}
    if m.kind == "graph":
        project.graph_data = doc
    elif m.kind in ("package", "descriptor"):
        project.packages = [
            dataclasses.replace(
                f,
                package_data=doc if f.package_path == m.path else f.package_data,
                descriptor_data=doc if f.descriptor_path == m.path else f.descriptor_data,
            )
            for f in project.packages
        ]
    target = ScanTarget(
        base_target.target,
        base_target.root,
        base_target.artifacts,
        manifests,
        [],
        [],
        project,
    )
    findings = run(target)
    known = {mm.path for mm in manifests} | {"graphs"} | {p.dir for p in project.packages}
    known |= {p.dockerfile_path for p in project.packages if p.dockerfile_path}
    assert all(f.location.artifact in known for f in findings)
    assert all(f.rule_id.removeprefix("manifest.") in RULES for f in findings)
