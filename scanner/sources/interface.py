"""What the sources layer hands to the rest of the pipeline.

A source turns a TARGET path into a ``ScanTarget``: the detected kind, the artifacts with the
files that hold them, the parsed manifests, and findings made while reading them (integrity,
manifest, archive). Walking artifact content happens later, in ``scanner.walk``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from scanner.models import AnalyzerFailure, Artifact, Finding, Target

__all__ = ["ArtifactFormat", "ManifestDoc", "ScanTarget", "SourceArtifact"]


class ArtifactFormat(StrEnum):
    """How an artifact's bytes are laid out, sniffed from content."""

    ROOTFS = "rootfs"  # flat docker-export tar (Panorama's own container asset form)
    DOCKER_SAVE = "docker-save"  # docker save archive, classic layout
    OCI_ARCHIVE = "oci-archive"  # OCI image layout in a tar (also docker save from Docker 25+)
    OCI_DIR = "oci-dir"  # OCI image layout folder
    MODEL_ARCHIVE = "model-archive"  # tar / tar.gz of model files
    MODEL_ZIP = "model-zip"  # zip of model files (not a PyTorch/Keras zip model)
    MODEL_FILE = "model-file"  # one loose model file
    DIRECTORY = "directory"  # a folder walked as is (code package, SavedModel folder)
    DESCRIPTOR = "descriptor"  # a JSON descriptor copy in assets/


@dataclass(frozen=True, slots=True)
class ManifestDoc:
    """A parsed Panorama manifest (graph.json, package.json, descriptor.json, override.json).

    ``kind`` is ``graph``, ``package``, ``descriptor`` or ``override``; ``path`` is relative to
    the target root; ``data`` is the parsed JSON (``None`` when it did not parse).
    ``template`` lists the ``{Placeholder}`` values of an override that is a fill-in template
    (empty for a document meant to be used as it is).
    """

    kind: str
    path: str
    data: Any
    package: str | None = None
    template: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceArtifact:
    """An artifact plus where its bytes are and how they are laid out."""

    artifact: Artifact
    file: Path | None
    format: ArtifactFormat
    package_dir: Path | None = None
    descriptor: Mapping[str, Any] | None = None
    sniffed: bool = False  # True when ``format`` was read from the content, not guessed
    digest_verified: bool = False  # True when ``artifact.digest`` was computed from the bytes


@dataclass(slots=True)
class ScanTarget:
    """A detected TARGET, ready for walking and analysis."""

    target: Target
    root: Path
    artifacts: list[SourceArtifact] = field(default_factory=list)
    manifests: list[ManifestDoc] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    failures: list[AnalyzerFailure] = field(default_factory=list)
    project: Any = None  # scanner.sources.manifests.Project when the target is a project

    def manifest(self, kind: str) -> list[ManifestDoc]:
        """All manifests of one kind."""
        return [m for m in self.manifests if m.kind == kind]
