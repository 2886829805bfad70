"""Shared pieces of the signing tests: keys, and hand-written reports of a built project.

Reports are written in the JSON report's form (``report_to_dict``) from the real bytes of the
project, so signing is tested without depending on the scan pipeline; the integration tests
run the real ``scan`` end to end.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.treedigest import tree_manifest
from signing.keys import KeyType
from tests.helpers.project_builder import BuiltProject

PASSWORD = b"correct horse battery staple"
POLICY_SHA = "ab" * 32


def sha256_hex(path: Path) -> str:
    """The SHA-256 of a file, as hex."""
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
    """A key pair written by ``keygen``'s writer, and its type."""

    private: Path
    public: Path
    key_type: KeyType
