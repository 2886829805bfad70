"""Fixtures for the signing tests: keys, a built Panorama project and its (hand-written) report.

Reports are written in the JSON report's form (``report_to_dict``) from the real bytes of the
project, so signing is tested without depending on the scan pipeline; the integration tests
run the real ``scan`` end to end.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.treedigest import tree_manifest
from signing.keys import KeyType, write_keypair
from tests.helpers.project_builder import BuiltProject, build_project

PASSWORD = b"correct horse battery staple"
POLICY_SHA = "ab" * 32


def sha256_hex(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def report_for(
    root: Path,
    files: list[tuple[str, str]],
    *,
    decision: str = "approved",
    policy_sha: str = POLICY_SHA,
    overrides: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A JSON report for ``files`` ((relative path, kind) pairs) under ``root``."""
    artifacts = []
    for rel, kind in files:
        p = root / rel if root.is_dir() else root
        sha = (overrides or {}).get(rel) or sha256_hex(p)
        artifacts.append(
            {
                "name": Path(rel).name,
                "kind": kind,
                "path": rel,
                "sha256": sha,
                "size": p.stat().st_size,
            }
        )
    return {
        "schema_version": 1,
        "tool": {"name": "panorama-gate", "version": "0.1.0"},
        "created_at": "2026-11-29T16:00:00Z",
        "target": {"path": str(root), "kind": "project", "name": "shelf_app", "version": ""},
        "artifacts": artifacts,
        "findings": [],
        "components": [],
        "failures": [],
        "verdict": {
            "decision": decision,
            "reasons": [] if decision == "approved" else [{"code": "x", "message": "bad finding"}],
            "policy": {"name": "default", "sha256": policy_sha},
        },
    }


def folder_artifact(folder: Path, kind: str, path: str = ".") -> dict[str, Any]:
    """A report entry for a folder artifact, with its tree digest as the scan records it."""
    tree = tree_manifest(folder)
    return {
        "name": folder.name,
        "kind": kind,
        "path": path,
        "sha256": tree.digest,
        "size": tree.size,
    }


def project_files(proj: BuiltProject) -> list[tuple[str, str]]:
    """The project's asset files and package manifests, as a scan lists them."""
    out = [
        (p.relative_to(proj.root).as_posix(), "descriptor")
        for pattern in (
            "graphs/*/graph.json",
            "packages/*/package.json",
            "packages/*/descriptor.json",
        )
        for p in sorted(proj.root.glob(pattern))
    ]
    for p in sorted((proj.root / "assets").iterdir()):
        rel = proj.rel(p)
        if p == proj.container_asset:
            out.append((rel, "container"))
        elif p == proj.model_asset:
            out.append((rel, "model"))
        else:
            out.append((rel, "descriptor"))
    return out


@dataclass
class Keys:
    private: Path
    public: Path
    key_type: KeyType


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def ec_keys(key_dir: Path) -> Keys:
    priv, pub = write_keypair(key_dir / "ec", KeyType.ECDSA_P256, PASSWORD)
    return Keys(priv, pub, KeyType.ECDSA_P256)


@pytest.fixture(scope="session")
def ed_keys(key_dir: Path) -> Keys:
    priv, pub = write_keypair(key_dir / "ed", KeyType.ED25519, PASSWORD)
    return Keys(priv, pub, KeyType.ED25519)


@pytest.fixture(scope="session")
def other_keys(key_dir: Path) -> Keys:
    priv, pub = write_keypair(key_dir / "other", KeyType.ECDSA_P256, PASSWORD)
    return Keys(priv, pub, KeyType.ECDSA_P256)


@pytest.fixture(params=["ecdsa-p256", "ed25519"])
def keys(request: pytest.FixtureRequest, ec_keys: Keys, ed_keys: Keys) -> Keys:
    return ec_keys if request.param == "ecdsa-p256" else ed_keys


@dataclass
class Signed:
    project: BuiltProject
    report: Path
    out: Path


@pytest.fixture
def project(tmp_path: Path) -> BuiltProject:
    return build_project(tmp_path / "app")


@pytest.fixture
def report_path(tmp_path: Path, project: BuiltProject) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report_for(project.root, project_files(project))))
    return path
