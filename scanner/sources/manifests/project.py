"""The typed project model kept in ``ScanTarget.project``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.sources.manifests.descriptor import AssetDescriptorDoc
from scanner.sources.manifests.graph import NodeGraph, NodeGraphOverrides
from scanner.sources.manifests.jsontext import JsonPath
from scanner.sources.manifests.package import NodePackage

# --------------------------------------------------------------------------------------------
# The typed project model kept in ScanTarget.project
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class PackageFolder:
    """One ``packages/<acct>-<name>-<ver>/`` folder with its parsed manifests.

    ``folder_*`` come from the folder name (``None`` when it has fewer than three fields).
    ``package``/``descriptor`` are the typed bodies when the manifests conform, else ``None``;
    the raw data is in the matching ``ManifestDoc``.

    What the package is and what of it is on disk: ``code`` (a Dockerfile, a container
    implementation or a ``business_logic`` interface) and ``model`` (a model implementation or
    an ``ml_model`` interface); ``containers`` names the container assets present in
    ``assets/``; ``missing`` lists ``(kind, uri, JSON path)`` of assets package.json names that
    are not in ``assets/`` (a checkout); ``descriptor_copies`` maps each model asset's
    ``descriptorUri`` found in ``assets/`` to its parsed JSON (``add-raw-model`` copies any
    file, so a model's descriptor is its copy, not necessarily ``descriptor.json``);
    ``descriptor_files`` are the other descriptor files of a model package folder;
    ``scanned_from`` says where the code was scanned: ``container``, ``source`` or ``""``.
    """

    dir: str
    folder_account: str | None
    folder_name: str | None
    folder_version: str | None
    package_path: str
    descriptor_path: str
    package: NodePackage | None = None
    descriptor: AssetDescriptorDoc | None = None
    package_data: Any = None
    descriptor_data: Any = None
    dockerfile_path: str | None = None
    code: bool = False
    model: bool = False
    containers: list[str] = field(default_factory=list)
    missing: list[tuple[str, str, JsonPath]] = field(default_factory=list)
    descriptor_copies: dict[str, Any] = field(default_factory=dict)
    descriptor_files: list[str] = field(default_factory=list)
    scanned_from: str = ""

    @property
    def registered_version(self) -> str:
        """The version ``package-application`` registers: package.json's, else ``"1.0"``."""
        body = self.package_data.get("nodePackage") if isinstance(self.package_data, dict) else None
        version = body.get("version") if isinstance(body, dict) else None
        return version if isinstance(version, str) else "1.0"


@dataclass(slots=True)
class Project:
    """The typed model of a Panorama project (or of a lone code package: no graph)."""

    root: Path
    app_name: str | None = None
    graph_path: str | None = None
    graph: NodeGraph | None = None
    graph_data: Any = None
    overrides: dict[str, NodeGraphOverrides | None] = field(default_factory=dict)
    packages: list[PackageFolder] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)

    def package_by_folder_name(self, name: str) -> PackageFolder | None:
        """The package folder whose middle part is ``name``."""
        return next((p for p in self.packages if p.folder_name == name), None)

    def iter_texts(self) -> Iterator[tuple[str, str]]:
        """(relative path, raw text) of every manifest read."""
        yield from sorted(self.texts.items())
