"""SPDX 2.3 JSON (``--format spdx``) through ``spdx-tools``.

The scanned target is the described root package; every Component is a package it CONTAINS,
with its purl as a package-manager external reference, its licenses as the declared license
(several licenses found for one component are ANDed), and where it was found in the package
comment. ``LicenseRef-*`` licenses get the extracted-licensing-info entries SPDX requires.
The document is validated by spdx-tools before it is written; an invalid document is a
``ReportError``, never a silently broken file.

Example::

    SpdxWriter().write(report, sys.stdout)
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import TextIO

from license_expression import ExpressionError, Licensing, get_spdx_licensing
from spdx_tools.spdx.model.actor import Actor, ActorType
from spdx_tools.spdx.model.checksum import Checksum, ChecksumAlgorithm
from spdx_tools.spdx.model.document import CreationInfo, Document
from spdx_tools.spdx.model.extracted_licensing_info import ExtractedLicensingInfo
from spdx_tools.spdx.model.package import (
    ExternalPackageRef,
    ExternalPackageRefCategory,
    Package,
    PackagePurpose,
)
from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

from scanner.errors import ReportError
from scanner.models import Artifact, Component, Report
from scanner.report._sbom_graph import artifact_key, component_key, sbom_graph

__all__ = ["SpdxWriter", "build_document"]

_REF_RX = re.compile(r"LicenseRef-[A-Za-z0-9.\-]+")
_ID_RX = re.compile(r"[^A-Za-z0-9.\-]+")


def _spdx_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]
    readable = _ID_RX.sub("-", parts[0])[:60].strip("-")
    return f"SPDXRef-{prefix}-{readable}-{digest}"


@lru_cache(maxsize=1)
def _spdx_licensing() -> Licensing:
    return get_spdx_licensing()  # a 0.1 s index build: once, not once per package


def _declared(c: Component) -> object:
    if not c.licenses:
        return SpdxNoAssertion()
    text = " AND ".join(f"({x})" if " " in x else x for x in c.licenses)
    try:
        return _spdx_licensing().parse(text)
    except ExpressionError:
        return SpdxNoAssertion()


def _package(c: Component, sid: str) -> Package:
    sha = c.properties.get("sha256")
    return Package(
        spdx_id=sid,
        name=c.name,
        download_location=SpdxNoAssertion(),
        version=c.version or None,
        files_analyzed=False,
        license_concluded=SpdxNoAssertion(),
        license_declared=_declared(c),
        copyright_text=SpdxNoAssertion(),
        checksums=[Checksum(ChecksumAlgorithm.SHA256, str(sha))] if sha else [],
        external_references=[
            ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", c.purl)
        ]
        if c.purl and "@" in c.purl
        else [],
        primary_package_purpose=PackagePurpose.LIBRARY,
        source_info=(
            f"found by panorama-gate in {c.location.artifact}:{c.location.path} "
            f"({c.properties.get('found_by', c.ecosystem)}; license from "
            f"{c.properties.get('license_source', 'none')}; "
            f"scope {c.properties.get('scope', 'unknown')})"
        ),
    )


_PURPOSE = {"container": PackagePurpose.CONTAINER, "model": PackagePurpose.FILE}


def _artifact(a: Artifact, sid: str) -> Package:
    """A deployed artifact (container asset, model archive) with its digest."""
    sha = a.digest.hex if a.digest and a.digest.algorithm == "sha256" else None
    return Package(
        spdx_id=sid,
        name=a.name,
        download_location=SpdxNoAssertion(),
        files_analyzed=False,
        checksums=[Checksum(ChecksumAlgorithm.SHA256, sha)] if sha else [],
        primary_package_purpose=_PURPOSE.get(a.kind.value, PackagePurpose.OTHER),
        comment=f"panorama-gate artifact ({a.kind.value}) at {a.path}",
    )


def build_document(report: Report) -> Document:
    """The SPDX 2.3 document model of a report."""
    created = datetime.fromisoformat(report.created_at.replace("Z", "+00:00"))
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    created = created.replace(microsecond=0)
    digest = next((a.digest.hex for a in report.artifacts if a.digest), "")
    name = report.target.name or report.target.path
    namespace = (
        "https://panorama-gate.invalid/spdx/"
        + hashlib.sha256(f"{digest}:{report.target.path}:{report.created_at}".encode()).hexdigest()
    )
    info = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=f"panorama-gate SBOM of {name}",
        document_namespace=namespace,
        creators=[Actor(ActorType.TOOL, f"{report.tool_name}-{report.tool_version}")],
        created=created,
    )
    root_id = "SPDXRef-Target"
    root = Package(
        spdx_id=root_id,
        name=name,
        download_location=SpdxNoAssertion(),
        version=report.target.version or None,
        files_analyzed=False,
        primary_package_purpose=PackagePurpose.APPLICATION,
        comment=f"panorama-gate target kind: {report.target.kind.value}",
    )
    packages = [root]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, root_id)]
    refs: dict[str, str] = {}
    graph = sbom_graph(report)
    ids: dict[str, str] = {}
    for a in graph.artifacts:
        sid = ids[artifact_key(a)] = _spdx_id("Artifact", a.name, a.path)
        packages.append(_artifact(a, sid))
        relationships.append(Relationship(root_id, RelationshipType.CONTAINS, sid))
    for c in graph.components:
        key = component_key(c)
        sid = ids[key] = _spdx_id(
            "Package", c.name, c.version, c.purl, c.location.artifact, c.location.path
        )
        for lic in c.licenses:
            for ref in _REF_RX.findall(lic):
                refs.setdefault(ref, str(c.properties.get("license_declared", "")))
        packages.append(_package(c, sid))
        if key not in graph.contained:
            relationships.append(Relationship(root_id, RelationshipType.CONTAINS, sid))
    for container, inside in graph.contains.items():
        relationships.extend(
            Relationship(ids[container], RelationshipType.CONTAINS, ids[k]) for k in inside
        )
    for key, targets in graph.depends_on.items():
        relationships.extend(
            Relationship(ids[key], RelationshipType.DEPENDS_ON, ids[t]) for t in targets
        )
    extracted = [
        ExtractedLicensingInfo(
            license_id=ref,
            extracted_text=text or f"{ref}: named by the package metadata; no text recorded",
            license_name=ref[len("LicenseRef-") :],
        )
        for ref, text in sorted(refs.items())
    ]
    return Document(
        creation_info=info,
        packages=packages,
        relationships=relationships,
        extracted_licensing_info=extracted,
    )


class SpdxWriter:
    """``--format spdx``: SPDX 2.3 JSON."""

    name = "spdx"
    media_type = "application/spdx+json"

    def write(self, report: Report, fp: TextIO) -> None:
        """Validate and write the document (``ReportError`` when spdx-tools rejects it)."""
        doc = build_document(report)
        problems = validate_full_spdx_document(doc)
        if problems:
            first = "; ".join(p.validation_message for p in problems[:3])
            raise ReportError(
                f"SPDX document failed validation ({len(problems)} problems): {first}"
            )
        write_document_to_stream(doc, fp, validate=False)
        fp.write("\n")
