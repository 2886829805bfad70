"""The typed project model kept in ``ScanTarget.project``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.sources.manifests.descriptor import AssetDescriptorDoc
from scanner.sources.manifests.graph import NodeGraph, NodeGraphOverrides
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
