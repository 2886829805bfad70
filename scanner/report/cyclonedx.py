"""CycloneDX 1.6 JSON (``--format cyclonedx``) through ``cyclonedx-python-lib``.

One ``library`` component per Component (purl, SPDX licenses, where it was found as
``panorama-gate:*`` properties), the scanned target as the metadata component, and the
``vulnerability`` findings as CycloneDX vulnerabilities affecting those components. Output is
deterministic for a given report: the serial number is derived from the target's digest and
the report time.

Example::

    CycloneDxWriter().write(report, sys.stdout)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, TextIO

from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component as CdxComponent
from cyclonedx.model.component import ComponentType
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
from cyclonedx.model.tool import ToolRepository
from cyclonedx.model.vulnerability import (
    BomTarget,
    Vulnerability,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from license_expression import ExpressionError, Licensing, get_spdx_licensing
from packageurl import PackageURL

from scanner.models import Artifact, Category, Component, Finding, Report
from scanner.report._sbom_graph import artifact_key, component_key, sbom_graph

__all__ = ["CycloneDxWriter", "build_bom", "component_ref"]

_SEVERITY = {
    "critical": VulnerabilitySeverity.CRITICAL,
    "high": VulnerabilitySeverity.HIGH,
    "medium": VulnerabilitySeverity.MEDIUM,
    "low": VulnerabilitySeverity.LOW,
    "info": VulnerabilitySeverity.INFO,
}


def component_ref(c: Component) -> str:
    """A bom-ref unique per component *and* place (one purl can ship twice)."""
    return component_key(c)


@lru_cache(maxsize=1)
def _spdx_licensing() -> Licensing:
    return get_spdx_licensing()  # a 0.1 s index build: once, not once per license


@lru_cache(maxsize=4096)
def _is_spdx_id(text: str) -> bool:
    licensing = _spdx_licensing()
    try:
        expr = licensing.parse(text, validate=True, strict=True)
    except ExpressionError:
        return False
    return expr is not None and expr.render() == text and " " not in text


def _licenses(c: Component) -> list[LicenseExpression | DisjunctiveLicense]:
    if not c.licenses:
        return []
    if all(_is_spdx_id(x) for x in c.licenses):
        return [DisjunctiveLicense(id=x) for x in c.licenses]
    if len(c.licenses) == 1 and c.licenses[0].startswith("LicenseRef-"):
        return [DisjunctiveLicense(name=c.licenses[0])]
    # CycloneDX allows one expression per component: all the licenses found apply together
    expr = " AND ".join(f"({x})" if " " in x else x for x in c.licenses)
    return [LicenseExpression(expr)]


def _purl(text: str) -> PackageURL | None:
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


def _vulnerabilities(report: Report, refs: dict[tuple[str, str, str], str]) -> list[Vulnerability]:
    by_id: dict[str, tuple[Finding, list[str]]] = {}
    for f in report.findings:
        if f.category is not Category.VULNERABILITY or f.rule_id != "vulns.known-vulnerability":
            continue
        p: Any = f.properties
        ref = refs.get((str(p.get("purl", "")), f.location.artifact, f.location.path))
        vid = str(p.get("vulnerability_id", f.title))
        entry = by_id.setdefault(vid, (f, []))
        if ref and ref not in entry[1]:
            entry[1].append(ref)
    out: list[Vulnerability] = []
    for vid in sorted(by_id):
        f, targets = by_id[vid]
        p = f.properties
        rating = VulnerabilityRating(
            severity=_SEVERITY.get(f.severity.label, VulnerabilitySeverity.UNKNOWN),
            score=Decimal(str(p["cvss_score"])) if p.get("cvss_score") is not None else None,
            method=VulnerabilityScoreSource.CVSS_V3_1 if p.get("cvss_score") else None,
        )
        out.append(
            Vulnerability(
                bom_ref=f"vuln:{vid}",
                id=vid,
                source=VulnerabilitySource(
                    name="OSV", url=XsUri(f"https://osv.dev/vulnerability/{vid}")
                ),
                references=[
                    VulnerabilityReference(id=a, source=VulnerabilitySource(name="alias"))
                    for a in p.get("aliases", ())
                ],
                ratings=[rating],
                description=str(p.get("summary", "")) or None,
                recommendation=(
                    f"upgrade to {', '.join(p.get('fixed_versions', ()))}"
                    if p.get("fixed_versions")
                    else None
                ),
                affects=[BomTarget(ref=t) for t in sorted(targets)],
            )
        )
    return out


def build_bom(report: Report) -> Bom:
    """The CycloneDX model of a report."""
    created = datetime.fromisoformat(report.created_at.replace("Z", "+00:00"))
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    root = CdxComponent(
        name=report.target.name or report.target.path,
        version=report.target.version or None,
        type=ComponentType.APPLICATION,
        bom_ref="target",
        properties=[Property(name="panorama-gate:target-kind", value=report.target.kind.value)],
    )
    meta = BomMetaData(
        timestamp=created,
        component=root,
        tools=ToolRepository(
            components=[
                CdxComponent(
                    name=report.tool_name,
                    version=report.tool_version,
                    type=ComponentType.APPLICATION,
                    supplier=OrganizationalEntity(name="panorama-gate developers"),
                )
            ]
        ),
    )
    graph = sbom_graph(report)
    cdx: dict[str, CdxComponent] = {}
    refs: dict[tuple[str, str, str], str] = {}
    for c in graph.components:
        ref = component_key(c)
        refs[(c.purl, c.location.artifact, c.location.path)] = ref
        cdx[ref] = _component(c, ref)
    for a in graph.artifacts:
        cdx[artifact_key(a)] = _artifact(a)
    # containment is nesting in CycloneDX: an artifact holds its packages, a wheel its libraries
    for container, inside in graph.contains.items():
        holder = cdx.get(container)
        if holder is not None:
            holder.components = [cdx[k] for k in inside]
    top = [cdx[artifact_key(a)] for a in graph.artifacts] + [
        cdx[component_key(c)] for c in graph.components if component_key(c) not in graph.contained
    ]
    digest = next((a.digest.hex for a in report.artifacts if a.digest), report.target.path)
    serial = uuid.uuid5(uuid.NAMESPACE_URL, f"panorama-gate:{digest}:{report.created_at}")
    bom = Bom(
        components=top,
        metadata=meta,
        serial_number=serial,
        vulnerabilities=_vulnerabilities(report, refs),
    )
    bom.register_dependency(root, [cdx[artifact_key(a)] for a in graph.artifacts] or top)
    for key, targets in graph.depends_on.items():
        bom.register_dependency(cdx[key], [cdx[t] for t in targets])
    for container, inside in graph.contains.items():
        if not container.startswith("artifact:"):
            # a wheel loads the libraries it vendors: a dependency as well as containment
            bom.register_dependency(cdx[container], [cdx[k] for k in inside])
    return bom


def _component(c: Component, ref: str) -> CdxComponent:
    props = [
        Property(name="panorama-gate:ecosystem", value=c.ecosystem),
        Property(name="panorama-gate:location:artifact", value=c.location.artifact),
        Property(name="panorama-gate:location:path", value=c.location.path),
    ]
    for key, name in (
        ("license_source", "license-source"),
        ("scope", "scope"),
        ("parent_name", "vendored-in"),
        ("soname", "soname"),
    ):
        value = c.properties.get(key)
        if value:
            props.append(Property(name=f"panorama-gate:{name}", value=str(value)))
    sha = c.properties.get("sha256")
    return CdxComponent(
        name=c.name,
        version=c.version or None,
        type=ComponentType.LIBRARY,
        bom_ref=ref,
        purl=_purl(c.purl),
        licenses=_licenses(c),
        properties=props,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=str(sha))] if sha else [],
    )


_ARTIFACT_TYPE = {
    "container": ComponentType.CONTAINER,
    "model": ComponentType.MACHINE_LEARNING_MODEL,
}


def _artifact(a: Artifact) -> CdxComponent:
    """A deployed artifact (container asset, model archive) with its digest."""
    hashes = (
        [HashType(alg=HashAlgorithm.SHA_256, content=a.digest.hex)]
        if a.digest and a.digest.algorithm == "sha256"
        else []
    )
    return CdxComponent(
        name=a.name,
        type=_ARTIFACT_TYPE.get(a.kind.value, ComponentType.FILE),
        bom_ref=artifact_key(a),
        hashes=hashes,
        properties=[
            Property(name="panorama-gate:artifact-kind", value=a.kind.value),
            Property(name="panorama-gate:artifact-path", value=a.path),
        ],
    )


class CycloneDxWriter:
    """``--format cyclonedx``: CycloneDX 1.6 JSON."""

    name = "cyclonedx"
    media_type = "application/vnd.cyclonedx+json"

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the BOM as indented JSON."""
        text = JsonV1Dot6(build_bom(report)).output_as_string(indent=2)
        fp.write(text)
        fp.write("\n")
