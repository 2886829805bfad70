"""``manifest``: the Panorama manifest checks of panorama-package-format.md section 12.

A ``TargetAnalyzer`` over the project model that ``scanner.sources.panorama`` (or
``codepkg``) built. It reads the raw JSON defensively, so one schema violation does not hide
the agreement checks, and never raises on hostile documents. Rule ids (``manifest.<rule>``)
are listed in ``RULES`` with their default severity; docs/manifests.md documents them.

Every finding's location is ``{artifact: the manifest's path relative to the target root,
path: a JSON path such as nodeGraph.nodes[2].interface, line: the line of that key or null}``.

Example::

    analyzer = ManifestAnalyzer()
    findings = list(analyzer.analyze_target(load_project(Path("shelf_app"))))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

from scanner.analyzers._manifest_graph import GraphChecks
from scanner.analyzers._manifest_packages import PackageChecks
from scanner.analyzers._manifest_run import RULES
from scanner.analyzers.interface import Output, TargetAnalyzer
from scanner.models import Finding
from scanner.sources.interface import ScanTarget
from scanner.sources.manifests import Project

__all__ = ["RULES", "ManifestAnalyzer"]


class ManifestAnalyzer(TargetAnalyzer):
    """Schema conformance and cross-manifest agreement of a Panorama project or code package."""

    name: ClassVar[str] = "manifest"
    version: ClassVar[int] = 2
    tags: ClassVar[frozenset[str]] = frozenset({"manifest", "integrity"})

    def analyze_target(self, target: ScanTarget) -> Iterable[Output]:
        """All manifest findings for the target (nothing for lone containers and models)."""
        project = target.project
        if not isinstance(project, Project):
            return []
        run = _Run(project, target)
        run.all()
        return sorted(run.findings, key=Finding.sort_key)


class _Run(PackageChecks, GraphChecks):
    """One analysis: the package checks, then, when there is a graph, the graph checks."""

    def all(self) -> None:
        self.schema()
        self.layout()
        self.packages_agreement()
        self.categories()
        self.requirements()
        if self.project.graph_path is not None and isinstance(self.graph, Mapping):
            self.accounts()
            self.graph_packages()
            self.graph_nodes()
            self.edges(self.graph, self.graph_doc, ("nodeGraph",))
            self.parameters(self.nodes.values())
            self.routing(self.graph, self.graph_doc, ("nodeGraph",), self.nodes)
            self.overrides()
            self.model_advisories()
        self.summarise_dropped()
