"""The project builder makes what it promises: a valid project, and each named breakage."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.helpers.project_builder import (
    BREAKS,
    ProjectSpec,
    build_code_package,
    build_project,
    make_rootfs_tar,
)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_clean_project_layout_and_digests(tmp_path: Path) -> None:
    proj = build_project(tmp_path)
    assert proj.graph_path == tmp_path / "graphs" / "shelf_app" / "graph.json"
    assert proj.container_asset is not None
    assert proj.model_asset is not None
    for asset in (
        proj.container_asset,
        proj.model_asset,
        proj.code_descriptor_copy,
        proj.model_descriptor_copy,
    ):
        assert asset is not None
        assert _sha(asset) == asset.name.split(".")[0]
    assert proj.container_sha == _sha(proj.container_asset)
    assert proj.code_descriptor_copy is not None
    assert (
        proj.code_descriptor_copy.read_bytes() == (proj.code_dir / "descriptor.json").read_bytes()
    )
    pkg = json.loads((proj.code_dir / "package.json").read_text())["nodePackage"]
    impl = pkg["assets"][0]["implementations"][0]
    assert impl["assetUri"] == proj.container_asset.name
    assert (proj.code_dir / "Dockerfile").is_file()
    assert (proj.code_dir / "src" / "app.py").is_file()


def test_builds_are_deterministic(tmp_path: Path) -> None:
    a = build_project(tmp_path / "a")
    b = build_project(tmp_path / "b")
    assert a.container_sha == b.container_sha
    assert a.model_sha == b.model_sha


def test_rootfs_is_a_flat_gzip_tar_with_usual_dirs() -> None:
    data = make_rootfs_tar({"panorama/extra.txt": b"x"})
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        names = tar.getnames()
    assert "manifest.json" not in names
    assert "opt/aws/panorama/storage" in names
    assert "panorama/extra.txt" in names


@pytest.mark.parametrize("brk", sorted(BREAKS))
def test_every_break_builds(tmp_path: Path, brk: str) -> None:
    proj = build_project(tmp_path, ProjectSpec(breaks={brk}))
    assert proj.graph_path.is_file()


def test_digest_break_names_the_file_wrongly(tmp_path: Path) -> None:
    proj = build_project(tmp_path, ProjectSpec(breaks={"container-digest"}))
    assert proj.container_asset is not None
    assert _sha(proj.container_asset) != proj.container_asset.name.split(".")[0]


def test_unknown_break_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown breaks"):
        ProjectSpec(breaks={"nope"})


def test_code_package_only(tmp_path: Path) -> None:
    pkg = build_code_package(tmp_path / "123456789012-app-1.0")
    doc = json.loads((pkg / "package.json").read_text())
    assert doc["nodePackage"]["assets"] == []
    assert (pkg / "Dockerfile").read_text().startswith("FROM ")
