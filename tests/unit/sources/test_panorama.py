"""load_project / load_code_package: artifacts, typed model, integrity findings, hostile input."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.errors import SourceError
from scanner.models import ArtifactKind, Category, Severity, TargetKind
from scanner.sources.codepkg import load_code_package
from scanner.sources.interface import ArtifactFormat, ScanTarget
from scanner.sources.manifests import line_index, line_of
from scanner.sources.panorama import load_project, parse_folder_name, sha256_file
from tests.helpers.project_builder import (
    ProjectSpec,
    build_code_package,
    build_project,
    write_json,
)


def rules(st: ScanTarget) -> list[str]:
    return sorted(f.rule_id for f in st.findings)


def only(st: ScanTarget, rule: str) -> Any:
    found = [f for f in st.findings if f.rule_id == rule]
    assert len(found) == 1, [(f.rule_id, f.message) for f in st.findings]
    return found[0]


def test_clean_project(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(with_override=True))
    st = load_project(tmp_path)
    assert st.findings == []
    assert st.target.kind is TargetKind.PROJECT
    assert st.target.name == "shelf_app"
    assets = [a for a in st.artifacts if a.artifact.media_type != "manifest"]
    kinds = sorted((a.artifact.kind, a.format) for a in assets)
    assert kinds == sorted(
        [
            (ArtifactKind.CONTAINER, ArtifactFormat.ROOTFS),
            (ArtifactKind.MODEL, ArtifactFormat.MODEL_ARCHIVE),
            (ArtifactKind.DESCRIPTOR, ArtifactFormat.DESCRIPTOR),
            (ArtifactKind.DESCRIPTOR, ArtifactFormat.DESCRIPTOR),
        ]
    )
    # every manifest read is an artifact too, with the digest of its bytes
    manifests = {a.artifact.name: a for a in st.artifacts if a.artifact.media_type == "manifest"}
    assert {m.path for m in st.manifests if m.data is not None} == set(manifests)
    for name, sa in manifests.items():
        assert sa.artifact.digest is not None
        assert sa.artifact.digest.hex == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
    container = next(a for a in st.artifacts if a.artifact.kind is ArtifactKind.CONTAINER)
    assert proj.container_asset is not None
    assert container.artifact.name == proj.container_asset.name
    assert container.artifact.path == f"assets/{proj.container_asset.name}"
    assert container.artifact.digest is not None
    assert container.artifact.digest.hex == proj.container_sha
    assert container.artifact.size == proj.container_asset.stat().st_size
    assert container.artifact.package == "shelf_code"
    assert container.package_dir == proj.code_dir.resolve()
    assert container.descriptor is not None
    assert container.descriptor["runtimeDescriptor"]["entry"]["name"] == "/panorama/app.py"
    # manifests and the typed model
    assert sorted(m.kind for m in st.manifests) == [
        "descriptor",
        "descriptor",
        "graph",
        "override",
        "package",
        "package",
    ]
    assert {m.package for m in st.manifests if m.kind == "package"} == {
        "shelf_code",
        "shelf_model",
    }
    project = st.project
    assert project.graph is not None
    assert project.graph_path == "graphs/shelf_app/graph.json"
    assert [n.name for n in project.graph.nodes][:2] == ["front_door_camera", "code_node"]
    assert list(project.overrides) == ["graphs/shelf_app/override.json"]
    assert project.overrides["graphs/shelf_app/override.json"] is not None
    code = project.package_by_folder_name("shelf_code")
    assert code is not None
    assert (code.folder_account, code.folder_version) == ("123456789012", "1.0")
    assert code.package is not None
    assert code.package.interfaces[0].category == "business_logic"
    assert code.descriptor is not None
    assert code.descriptor.runtimeDescriptor is not None
    assert code.dockerfile_path == "packages/123456789012-shelf_code-1.0/Dockerfile"
    assert "graphs/shelf_app/graph.json" in project.texts


@pytest.mark.parametrize(
    ("brk", "rule", "severity"),
    [
        ("container-digest", "integrity.digest-mismatch", Severity.CRITICAL),
        ("model-digest", "integrity.digest-mismatch", Severity.CRITICAL),
        ("descriptor-digest", "integrity.digest-mismatch", Severity.CRITICAL),
        # A named asset that is not in assets/ is a checkout, not corruption: not covered.
        ("missing-container", "integrity.not-built", Severity.LOW),
        ("missing-model", "integrity.not-built", Severity.LOW),
        ("missing-descriptor", "integrity.not-built", Severity.LOW),
        ("descriptor-copy-differs", "integrity.descriptor-copy-mismatch", Severity.HIGH),
        ("empty-assets", "integrity.not-built", Severity.LOW),
        ("bad-json", "integrity.manifest-unreadable", Severity.HIGH),
    ],
)
def test_integrity_breaks(tmp_path: Path, brk: str, rule: str, severity: Severity) -> None:
    build_project(tmp_path, ProjectSpec(breaks={brk}))
    st = load_project(tmp_path)
    finding = only(st, rule)
    assert finding.severity is severity
    assert finding.category is Category.INTEGRITY
    assert all(f.rule_id == rule or f.severity <= Severity.INFO for f in st.findings)


def test_digest_mismatch_details(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(breaks={"container-digest"}))
    st = load_project(tmp_path)
    f = only(st, "integrity.digest-mismatch")
    assert proj.container_asset is not None
    assert f.location.artifact == proj.container_asset.name
    assert f.properties["actual"] == proj.container_sha
    assert f.properties["expected"] == proj.container_asset.name.split(".")[0]
    # the asset is still scanned (its content may explain the tampering)
    container = next(a for a in st.artifacts if a.artifact.kind is ArtifactKind.CONTAINER)
    assert container.artifact.digest is not None
    assert container.artifact.digest.hex == proj.container_sha


def test_missing_container_is_not_built_here_and_its_sources_are_scanned(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(breaks={"missing-container"}))
    st = load_project(tmp_path)
    f = only(st, "integrity.not-built")
    rel = f"packages/{proj.code_dir.name}/package.json"
    assert f.location.artifact == rel
    assert f.location.path == "nodePackage.assets[0].implementations[0].assetUri"
    lines = (proj.code_dir / "package.json").read_text().splitlines()
    assert f.location.line is not None
    assert '"assetUri"' in lines[f.location.line - 1]
    assert "not in this checkout" in f.message
    assert "scanned from the source folder" in f.message
    assert f.properties["scanned_from"] == "source"
    assert not any(a.artifact.kind is ArtifactKind.CONTAINER for a in st.artifacts)
    # the code is not hidden by the missing asset: the source folder is walked instead
    (code,) = [sa for sa in st.artifacts if sa.artifact.kind is ArtifactKind.CODE]
    assert code.artifact.path == f"packages/{proj.code_dir.name}"
    assert st.failures == []


def test_code_in_neither_container_nor_folder_is_a_failure(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(breaks={"missing-container"}))
    import shutil

    shutil.rmtree(proj.code_dir / "src")  # the Dockerfile copies src/, which is not here
    st = load_project(tmp_path)
    (failure,) = st.failures
    assert failure.analyzer == "sources"
    assert "not reviewed" in failure.reason
    assert "/panorama/app.py comes from src (Dockerfile line 2)" in failure.reason
    assert failure.location is not None
    assert failure.location.line == 2
    assert not any(a.artifact.kind is ArtifactKind.CONTAINER for a in st.artifacts)
    # what is there (the Dockerfile and its pip installs, the manifests) is still walked
    (code,) = [a for a in st.artifacts if a.artifact.kind is ArtifactKind.CODE]
    assert code.artifact.path == f"packages/{proj.code_dir.name}"


def test_reformatted_descriptor_copy_is_low(tmp_path: Path) -> None:
    proj = build_project(tmp_path)
    desc = proj.code_dir / "descriptor.json"
    desc.write_text(json.dumps(json.loads(desc.read_text())))  # same JSON, other bytes
    st = load_project(tmp_path)
    assert only(st, "integrity.descriptor-copy-mismatch").severity is Severity.LOW


def test_unverifiable_asset_name(tmp_path: Path) -> None:
    proj = build_project(tmp_path)
    assert proj.container_asset is not None
    new = proj.container_asset.with_name("code.tar.gz")
    proj.container_asset.rename(new)
    proj.edit_json(
        proj.code_dir / "package.json",
        lambda d: d["nodePackage"]["assets"][0]["implementations"][0].update(
            assetUri="code.tar.gz"
        ),
    )
    st = load_project(tmp_path)
    assert only(st, "integrity.unverifiable-name").severity is Severity.MEDIUM


def test_unreferenced_asset_is_info(tmp_path: Path) -> None:
    build_project(tmp_path)
    (tmp_path / "assets" / ("0" * 64 + ".tar.gz")).write_bytes(b"left over")
    st = load_project(tmp_path)
    assert only(st, "integrity.unreferenced-asset").severity is Severity.INFO


def test_system_assets_are_not_files(tmp_path: Path) -> None:
    def add_system(doc: dict[str, Any]) -> None:
        doc["nodePackage"]["assets"].append(
            {
                "name": "cam",
                "implementations": [
                    {"type": "system", "assetUri": "source/video/camera/rtsp/source_rtsp"}
                ],
            }
        )

    build_project(tmp_path, ProjectSpec(edit_code_package=add_system))
    assert load_project(tmp_path).findings == []


def test_shared_asset_is_one_artifact(tmp_path: Path) -> None:
    def dup(doc: dict[str, Any]) -> None:
        assets = doc["nodePackage"]["assets"]
        assets.append({**assets[0], "name": "again"})

    build_project(tmp_path, ProjectSpec(edit_code_package=dup))
    st = load_project(tmp_path)
    names = [a.artifact.path for a in st.artifacts]
    assert len(names) == len(set(names))


# ---------------------------------------------------------------------------------------------
# hostile projects
# ---------------------------------------------------------------------------------------------


def _set_asset_uri(proj: Any, uri: str) -> None:
    proj.edit_json(
        proj.code_dir / "package.json",
        lambda d: d["nodePackage"]["assets"][0]["implementations"][0].update(assetUri=uri),
    )


@pytest.mark.parametrize(
    "uri",
    ["../../../etc/passwd", "/etc/passwd", "sub/x.tar.gz", "..", "a\\..\\b", "x\x00y"],
)
def test_asset_uri_paths_are_never_opened(tmp_path: Path, uri: str) -> None:
    proj = build_project(tmp_path / "p")
    _set_asset_uri(proj, uri)
    st = load_project(tmp_path / "p")
    f = only(st, "integrity.path-escape")
    assert f.severity is Severity.CRITICAL
    assert f.location.path.endswith("assetUri")
    assert not any(a.artifact.kind is ArtifactKind.CONTAINER for a in st.artifacts)


def test_asset_symlink_out_of_project(tmp_path: Path) -> None:
    secret = tmp_path / "outside.tar.gz"
    secret.write_bytes(b"secret outside")
    proj = build_project(tmp_path / "p")
    assert proj.container_asset is not None
    proj.container_asset.unlink()
    proj.container_asset.symlink_to(secret)
    st = load_project(tmp_path / "p")
    f = only(st, "integrity.path-escape")
    assert "leads out of the project" in f.message
    assert not any(a.file == secret for a in st.artifacts)


def test_manifest_symlink_out_of_project(tmp_path: Path) -> None:
    outside = tmp_path / "evil.json"
    outside.write_text('{"nodeGraph": {}}')
    proj = build_project(tmp_path / "p")
    proj.graph_path.unlink()
    proj.graph_path.symlink_to(outside)
    st = load_project(tmp_path / "p")
    assert only(st, "integrity.path-escape").location.artifact == "graphs/shelf_app/graph.json"
    assert st.project.graph_data is None


def test_package_folder_symlink_out_of_project(tmp_path: Path) -> None:
    outside = build_code_package(tmp_path / "elsewhere" / "123456789012-x-1.0")
    build_project(tmp_path / "p")
    (tmp_path / "p" / "packages" / "123456789012-x-1.0").symlink_to(outside)
    st = load_project(tmp_path / "p")
    assert only(st, "integrity.path-escape").severity is Severity.CRITICAL
    assert len(st.project.packages) == 2


def test_packages_dir_symlink_out_is_source_error(tmp_path: Path) -> None:
    (tmp_path / "p" / "graphs").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "p" / "packages").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SourceError, match="leads out of the project"):
        load_project(tmp_path / "p")


def test_symlink_loop_and_dangling(tmp_path: Path) -> None:
    proj = build_project(tmp_path)
    assert proj.container_asset is not None
    proj.container_asset.unlink()
    proj.container_asset.symlink_to(proj.container_asset)  # a loop
    assert proj.model_asset is not None
    proj.model_asset.unlink()
    proj.model_asset.symlink_to(tmp_path / "nowhere")
    st = load_project(tmp_path)
    assert {"integrity.unreadable", "integrity.asset-missing"} <= set(rules(st))


def test_fifo_asset_is_not_opened(tmp_path: Path) -> None:
    proj = build_project(tmp_path)
    assert proj.container_asset is not None
    proj.container_asset.unlink()
    os.mkfifo(proj.container_asset)
    st = load_project(tmp_path)  # would hang if the FIFO were opened
    assert only(st, "integrity.not-a-file").severity is Severity.HIGH


def test_directory_in_place_of_asset(tmp_path: Path) -> None:
    proj = build_project(tmp_path)
    assert proj.container_asset is not None
    proj.container_asset.unlink()
    proj.container_asset.mkdir()
    assert "integrity.not-a-file" in rules(load_project(tmp_path))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"[" * 5000 + b"]" * 5000, "nested"),
        (b'{"a":' * 100 + b"1" + b"}" * 100, "nested deeper"),
        (b"\xff\xfe not utf8", "UTF-8"),
        (b'{"nodeGraph": NaN}', "NaN"),
        (b"", "invalid JSON"),
        (b'{"nodeGraph": {"x": 1}', "invalid JSON"),
        (b"1" * 5000, "invalid JSON"),  # int-from-string digit limit
    ],
    ids=["deep-array", "deep-object", "not-utf8", "nan", "empty", "truncated", "huge-int"],
)
def test_hostile_graph_text(tmp_path: Path, content: bytes, reason: str) -> None:
    proj = build_project(tmp_path)
    proj.graph_path.write_bytes(content)
    st = load_project(tmp_path)
    f = only(st, "integrity.manifest-unreadable")
    assert reason in f.message
    assert "\n" not in f.message


def test_huge_manifest_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    proj = build_project(tmp_path)
    with proj.graph_path.open("wb") as f:
        f.truncate(64 * 1024 * 1024)  # sparse: cheap to make
    st = load_project(tmp_path)
    assert "larger than" in only(st, "integrity.manifest-unreadable").message


@pytest.mark.parametrize(
    "doc",
    [
        [],
        "graph",
        {"nodePackage": []},
        {"nodePackage": {"assets": "x"}},
        {"nodePackage": {"assets": [{"implementations": [5, {"type": "container"}]}]}},
        {"nodePackage": {"assets": [{"implementations": [{"type": "model", "assetUri": 7}]}]}},
        {"nodePackage": {"assets": [{"implementations": {"a": 1}}]}},
    ],
    ids=repr,
)
def test_wrong_types_do_not_crash(tmp_path: Path, doc: Any) -> None:
    proj = build_project(tmp_path)
    write_json(proj.code_dir / "package.json", doc)
    write_json(proj.graph_path, doc)
    write_json(proj.code_dir / "descriptor.json", doc)
    st = load_project(tmp_path)
    assert st.project.graph is None
    assert isinstance(st.findings, list)


def test_missing_package_json(tmp_path: Path) -> None:
    proj = build_project(tmp_path)
    (proj.code_dir / "package.json").unlink()
    st = load_project(tmp_path)
    assert "integrity.manifest-missing" in rules(st)


def test_missing_descriptor_json(tmp_path: Path) -> None:
    proj = build_project(tmp_path)
    (proj.code_dir / "descriptor.json").unlink()
    st = load_project(tmp_path)
    assert only(st, "integrity.manifest-missing").location.artifact.endswith("descriptor.json")


def test_no_graph_folder_and_no_assets(tmp_path: Path) -> None:
    build_project(tmp_path)
    import shutil

    shutil.rmtree(tmp_path / "graphs" / "shelf_app")
    shutil.rmtree(tmp_path / "assets")
    st = load_project(tmp_path)
    assert {"integrity.manifest-missing", "integrity.layout", "integrity.not-built"} <= set(
        rules(st)
    )
    assert only(st, "integrity.layout").severity is Severity.LOW


@pytest.mark.parametrize("missing", ["graphs", "packages"])
def test_not_a_project(tmp_path: Path, missing: str) -> None:
    build_project(tmp_path)
    import shutil

    shutil.rmtree(tmp_path / missing)
    with pytest.raises(SourceError, match="not a Panorama project"):
        load_project(tmp_path)


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        load_project(tmp_path / "nope")


def test_first_graph_folder_wins(tmp_path: Path) -> None:
    build_project(tmp_path)
    write_json(tmp_path / "graphs" / "zzz" / "graph.json", {"nodeGraph": {}})
    st = load_project(tmp_path)
    assert st.project.graph_path == "graphs/shelf_app/graph.json"


# ---------------------------------------------------------------------------------------------
# code package
# ---------------------------------------------------------------------------------------------


def test_code_package(tmp_path: Path) -> None:
    pkg = build_code_package(tmp_path / "123456789012-shelf_code-1.0")
    st = load_code_package(pkg)
    assert st.target.kind is TargetKind.CODE_PACKAGE
    assert (st.target.name, st.target.version) == ("shelf_code", "1.0")
    (sa,) = st.artifacts
    assert sa.artifact.kind is ArtifactKind.CODE
    assert sa.format is ArtifactFormat.DIRECTORY
    assert sa.file == pkg.resolve()
    assert rules(st) == ["integrity.not-built"]
    folder = st.project.packages[0]
    assert folder.package_path == "package.json"
    assert folder.dockerfile_path == "Dockerfile"
    assert folder.package is not None
    assert st.project.graph is None


def test_code_package_without_dockerfile(tmp_path: Path) -> None:
    pkg = build_code_package(tmp_path / "123456789012-shelf_code-1.0")
    (pkg / "Dockerfile").unlink()
    st = load_code_package(pkg)
    f = only(st, "integrity.manifest-missing")
    assert f.severity is Severity.MEDIUM
    assert f.location.artifact == "Dockerfile"


def test_code_package_bad_json(tmp_path: Path) -> None:
    pkg = build_code_package(tmp_path / "1-x-1.0", ProjectSpec(breaks={"bad-json"}))
    st = load_code_package(pkg)
    assert rules(st) == ["integrity.manifest-unreadable"]


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def test_sha256_file_streams(tmp_path: Path) -> None:
    f = tmp_path / "big"
    data = os.urandom(3 * 1024 * 1024 + 17)
    f.write_bytes(data)
    assert sha256_file(f) == (hashlib.sha256(data).hexdigest(), len(data))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("123456789012-app-1.0", ("123456789012", "app", "1.0")),
        ("123456789012-my-app-2.1", ("123456789012", "my-app", "2.1")),
        ("app-1.0", None),
    ],
)
def test_parse_folder_name(name: str, expected: Any) -> None:
    assert parse_folder_name(name) == expected


def test_line_index() -> None:
    text = '{\n  "a": [\n    {"b": 1},\n    2\n  ],\n  "c": {"d": "x"}\n}\n'
    index = line_index(text)
    assert index[("a",)] == 2
    assert index[("a", 0)] == 3
    assert index[("a", 0, "b")] == 3
    assert index[("a", 1)] == 4
    assert index[("c", "d")] == 6
    assert line_of(index, ("c", "d", "missing")) == 6
    assert line_of(index, ("zzz",)) is None
    deep = line_index("[" * 100000)  # no recursion, no quadratic blow-up
    assert len(deep) <= 128


# ---------------------------------------------------------------------------------------------
# property: any JSON (or bytes) in the manifests gives findings, never an exception
# ---------------------------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "nodePackage",
                    "nodeGraph",
                    "assets",
                    "implementations",
                    "assetUri",
                    "type",
                    "descriptorUri",
                    "name",
                    "x",
                    "runtimeDescriptor",
                    "entry",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def fuzz_project(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_project(tmp_path_factory.mktemp("fuzz"), ProjectSpec(with_model=False))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    package=_json,
    descriptor=st.one_of(_json, st.binary(max_size=64)),
    graph=st.one_of(_json, st.binary(max_size=64)),
)
def test_any_manifest_content_is_handled(
    fuzz_project: Any, package: Any, descriptor: Any, graph: Any
) -> None:
    from scanner.analyzers.manifest import ManifestAnalyzer

    proj = fuzz_project
    write_json(proj.code_dir / "package.json", package)
    for path, value in ((proj.code_dir / "descriptor.json", descriptor), (proj.graph_path, graph)):
        if isinstance(value, bytes):
            path.write_bytes(value)
        else:
            write_json(path, value)
    target = load_project(proj.root)
    findings = list(ManifestAnalyzer().analyze_target(target))
    root = proj.root.resolve()
    for sa in target.artifacts:
        assert sa.file is not None
        assert sa.file.resolve().is_relative_to(root)
    messages = [f.message for f in target.findings] + [getattr(f, "message", "") for f in findings]
    assert all("\n" not in m for m in messages)


@pytest.mark.parametrize("uri", ["a" * 5000, "é" * 200])
def test_over_long_asset_uri(tmp_path: Path, uri: str) -> None:
    proj = build_project(tmp_path)
    _set_asset_uri(proj, uri)
    f = only(load_project(tmp_path), "integrity.asset-missing")
    assert "longer than any file name" in f.message
    assert len(f.message) < 300


def test_control_characters_never_reach_messages(tmp_path: Path) -> None:
    proj = build_project(tmp_path)
    _set_asset_uri(proj, "a\nb.tar.gz")
    (tmp_path / "packages" / "1-odd\nname-1.0").mkdir()
    st = load_project(tmp_path)
    assert "integrity.path-escape" in rules(st) or "integrity.not-built" in rules(st)
    assert all("\n" not in f.message for f in st.findings)


def test_absurd_number_of_package_folders(tmp_path: Path) -> None:
    build_project(tmp_path, ProjectSpec(with_model=False))
    for i in range(600):
        (tmp_path / "packages" / f"123456789012-p{i}-1.0").mkdir()
    with pytest.raises(SourceError, match="more than 512 package folders") as info:
        load_project(tmp_path)
    assert "\n" not in info.value.message


def test_unbuilt_code_package_folder_is_an_artifact_of_the_project(tmp_path: Path) -> None:
    build_project(tmp_path, ProjectSpec(breaks={"empty-assets"}))
    st = load_project(tmp_path)
    code = [sa for sa in st.artifacts if sa.artifact.kind is ArtifactKind.CODE]
    assert len(code) == 1
    (sa,) = code
    assert sa.format is ArtifactFormat.DIRECTORY
    assert sa.artifact.path == "packages/123456789012-shelf_code-1.0"
    assert sa.file == (tmp_path / "packages" / "123456789012-shelf_code-1.0").resolve()


def test_built_code_package_is_scanned_as_its_container_only(tmp_path: Path) -> None:
    build_project(tmp_path)
    st = load_project(tmp_path)
    kinds = {sa.artifact.kind for sa in st.artifacts}
    assert ArtifactKind.CONTAINER in kinds
    assert ArtifactKind.CODE not in kinds
