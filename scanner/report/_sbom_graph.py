"""The relationships both SBOM writers show, computed once from a report.

- the application (the scanned target) contains its deployed artifacts: the container asset and
  each model archive, each with its SHA-256;
- an artifact contains the packages found in it, except vendored libraries, which the wheel
  that carries them contains (``properties["parent"]``, its purl);
- a package depends on the installed packages named in ``properties["depends_on"]`` (purls,
  resolved in the same artifact by the inventory).

Example::

    graph = sbom_graph(report)
    graph.contains["artifact:app.tar"]      # component keys inside the asset
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from scanner.models import Artifact, Component, Report

__all__ = ["SbomGraph", "artifact_key", "component_key", "sbom_graph"]


def component_key(c: Component) -> str:
    """One component's identity in the graph: purl and place (one purl can ship twice)."""
    return f"{c.purl}#{c.location.artifact}!{c.location.path}"


def artifact_key(a: Artifact) -> str:
    """One artifact's identity in the graph."""
    return f"artifact:{a.name}"


@dataclass(slots=True)
class SbomGraph:
    """Components (deduplicated, sorted), containment and dependency edges by key."""

    components: list[Component] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    contains: dict[str, list[str]] = field(default_factory=dict)
    depends_on: dict[str, list[str]] = field(default_factory=dict)
    contained: set[str] = field(default_factory=set)  # keys with a container (not top level)


def _strings(value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        return []
    return [str(v) for v in value]


def sbom_graph(report: Report) -> SbomGraph:
    """The graph of one report (deterministic: everything sorted)."""
    g = SbomGraph()
    seen: set[str] = set()
    for c in sorted(report.components, key=lambda c: c.sort_key()):
        key = component_key(c)
        if key not in seen:
            seen.add(key)
            g.components.append(c)
    names = {a.name for a in report.artifacts}
    g.artifacts = sorted(report.artifacts, key=lambda a: a.name)
    by_purl: dict[tuple[str, str], str] = {}
    for c in g.components:
        by_purl.setdefault((c.location.artifact, c.purl), component_key(c))
    for c in g.components:
        key = component_key(c)
        parent = str(c.properties.get("parent", ""))
        container = by_purl.get((c.location.artifact, parent)) if parent else None
        if container is None and c.location.artifact in names:
            container = f"artifact:{c.location.artifact}"
        if container is not None:
            g.contains.setdefault(container, []).append(key)
            g.contained.add(key)
        targets = [
            t
            for purl in _strings(c.properties.get("depends_on"))
            if (t := by_purl.get((c.location.artifact, purl))) is not None and t != key
        ]
        if targets:
            g.depends_on[key] = sorted(set(targets))
    return g
