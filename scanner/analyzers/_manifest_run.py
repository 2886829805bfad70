"""The state one manifest analysis shares between its checks, and how findings are made."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from scanner.analyzers._manifest_index import MAX_PER_RULE, Node, Pkg, index_package
from scanner.models import Category, Finding, Location, Severity
from scanner.sources.interface import ScanTarget
from scanner.sources.manifests import JsonPath, Project, format_path, jget, line_index, line_of
from scanner.sources.panorama import one_line

__all__ = ["RULES", "RunState"]

RULES: Mapping[str, tuple[Severity, str]] = {
    "schema": (Severity.HIGH, "manifest does not conform to the 2021-01-01 schema"),
    "empty-document": (Severity.HIGH, "manifest lacks its top-level object"),
    "descriptor-ambiguous": (Severity.MEDIUM, "descriptor holds both runtime and model parts"),
    "account-mismatch": (Severity.HIGH, "more than one AWS account across folders and graph"),
    "account-invalid": (Severity.MEDIUM, "account id is not 12 digits"),
    "folder-name": (Severity.LOW, "package folder name is not <account>-<name>-<version>"),
    "package-missing": (Severity.HIGH, "graph names a package with no folder"),
    "package-not-declared": (Severity.HIGH, "node uses a package missing from graph packages"),
    "package-unused": (Severity.LOW, "package folder not used by the graph"),
    "name-mismatch": (Severity.MEDIUM, "package.json name differs from its folder"),
    "version-mismatch": (Severity.HIGH, "graph asks for a version the package does not register"),
    "folder-version": (Severity.LOW, "folder version differs from package.json's"),
    "duplicate-node": (Severity.HIGH, "two graph nodes share a name"),
    "interface-missing": (Severity.HIGH, "node interface not defined by its package"),
    "asset-unknown": (Severity.HIGH, "interface names an asset the package does not define"),
    "category-mismatch": (Severity.HIGH, "interface category, implementation, descriptor disagree"),
    "edge-node-missing": (Severity.HIGH, "edge endpoint names no node"),
    "edge-port-missing": (Severity.HIGH, "edge endpoint names no port of the node's interface"),
    "edge-type-mismatch": (Severity.HIGH, "edge connects ports of different types"),
    "parameter-type": (Severity.MEDIUM, "parameter value is not of its declared type"),
    "parameter-range": (Severity.HIGH, "parameter value does not fit its type"),
    "routing-node-missing": (Severity.HIGH, "routing rule names no node"),
    "routing-port-undeclared": (Severity.HIGH, "routed container port not in inboundPorts"),
    "host-port-range": (Severity.HIGH, "host port outside 8000-9000"),
    "requirement-value": (Severity.MEDIUM, "requirement value not allowed or meaningless"),
    "override-unknown-node": (Severity.HIGH, "override replaces or uses an unknown node"),
    "multiple-graphs": (Severity.LOW, "more than one application folder under graphs/"),
    "override-template": (Severity.INFO, "override file is a fill-in template"),
    "gpu-with-model-nodes": (Severity.MEDIUM, "GPU-access container together with model nodes"),
    "neo-model-node": (Severity.LOW, "SageMaker Neo model node (unsupported from 8.0.29)"),
}


class RunState:
    """One analysis: the indexes plus the findings made so far (the checks mix in)."""

    def __init__(self, project: Project, target: ScanTarget) -> None:
        self.project = project
        self.target = target
        self.findings: list[Finding] = []
        self._lines: dict[str, dict[JsonPath, int]] = {}
        self.pkgs = [index_package(f) for f in project.packages]
        self.by_name: dict[str, Pkg] = {}
        for p in self.pkgs:
            if p.folder.folder_name is not None:
                self.by_name.setdefault(p.folder.folder_name, p)
        self.graph = jget(project.graph_data, "nodeGraph")
        self.graph_doc = project.graph_path or "graph.json"
        self.nodes: dict[str, Node] = {}
        self._counts: Counter[tuple[str, str]] = Counter()

    # -- reporting ----------------------------------------------------------------------------
    def loc(self, doc: str, parts: JsonPath) -> Location:
        """A manifest location: its path, a JSON path and the line of that key."""
        text = self.project.texts.get(doc)
        line = None
        if text is not None:
            index = self._lines.get(doc)
            if index is None:
                index = self._lines[doc] = line_index(text)
            line = line_of(index, parts)
            if line is None and not parts:
                line = 1
        return Location(doc, format_path(parts), line)

    def add(
        self,
        rule: str,
        message: str,
        doc: str,
        parts: JsonPath = (),
        *,
        severity: Severity | None = None,
        evidence: str = "",
        properties: Mapping[str, Any] | None = None,
        line: int | None = None,
    ) -> None:
        key = (rule, doc)
        self._counts[key] += 1
        if self._counts[key] > MAX_PER_RULE:
            return  # a hostile or generated manifest must not flood the report; summarised below
        default, title = RULES[rule]
        location = self.loc(doc, parts)
        if line is not None:
            location = Location(location.artifact, location.path, line)
        self.findings.append(
            Finding.create(
                rule_id=f"manifest.{rule}",
                category=Category.MANIFEST,
                severity=severity if severity is not None else default,
                message=one_line(message),
                location=location,
                evidence=evidence or message,
                title=title,
                properties=properties,
            )
        )

    # -- driver -------------------------------------------------------------------------------

    def summarise_dropped(self) -> None:
        """One finding per rule and file for what ``MAX_PER_RULE`` kept out of the report."""
        for (rule, doc), count in sorted(self._counts.items()):
            if count > MAX_PER_RULE:
                self._counts[(rule, doc)] = 0  # let the summary itself through
                self.add(
                    rule,
                    f"{count - MAX_PER_RULE} more manifest.{rule} findings in {doc} not listed",
                    doc,
                    evidence=f"{rule}:more",
                )
