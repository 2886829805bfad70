"""Reports built from a project's real bytes, as the scan lists its artifacts (test-only).

Signing tests use these instead of running the scan: every asset and every package manifest
(graph.json, package.json, descriptor.json) is an artifact with its SHA-256 and size.
"""

from __future__ import annotations

from pathlib import Path

from scanner import __version__
from scanner.models import (
    Artifact,
    ArtifactKind,
    Decision,
    Digest,
    Reason,
    Report,
    Target,
    TargetKind,
    Verdict,
)
from tests.helpers.project_builder import BuiltProject

__all__ = ["MANIFEST_GLOBS", "project_report"]

MANIFEST_GLOBS = ("graphs/*/graph.json", "packages/*/package.json", "packages/*/descriptor.json")


def project_report(
    proj: BuiltProject,
    *,
    decision: Decision = Decision.APPROVED,
    version: str = "1.0.0",
    policy_sha256: str = "ab" * 32,
) -> Report:
    """An approved (or ``decision``) report of ``proj`` listing what a project scan lists."""
    kinds = {proj.container_asset: ArtifactKind.CONTAINER, proj.model_asset: ArtifactKind.MODEL}
    manifests = [p for pattern in MANIFEST_GLOBS for p in sorted(proj.root.glob(pattern))]
    artifacts = []
    for p in [*sorted((proj.root / "assets").iterdir()), *manifests]:
        data = Path(p).read_bytes()
        kind = kinds.get(p, ArtifactKind.DESCRIPTOR)
        artifacts.append(Artifact(kind, p.name, proj.rel(p), Digest.sha256_of(data), len(data)))
    reasons = () if decision is Decision.APPROVED else (Reason("x", "a finding over threshold"),)
    return Report(
        tool_name="panorama-gate",
        tool_version=__version__,
        created_at="2026-11-29T16:00:00Z",
        target=Target(str(proj.root), TargetKind.PROJECT, proj.spec.app_name, version),
        artifacts=tuple(artifacts),
        verdict=Verdict(decision, reasons, "default", policy_sha256),
    )
