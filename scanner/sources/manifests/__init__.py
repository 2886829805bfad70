"""Typed models of the AWS Panorama 2021-01-01 manifests and a schema validator built on them.

The models mirror the official JSON Schemas (``nodeGraph``, ``nodePackage``,
``assetDescriptor`` with ``runtimeDescriptor``/``mlModelDescriptor``, ``nodeGraphOverrides``):
the same required keys, patterns, lengths, enums and the same closed objects. Where the
official schemas leave an object open (string input ports, the GPU ``sharedResourcePolicy``),
so do these models, because our verdict must agree with the schemas: a test checks that
agreement on a corpus of valid and invalid documents.

One module per job: ``_base`` (JSON Schema semantics pydantic lacks), ``graph``, ``package``
and ``descriptor`` (one manifest format each), ``validation`` (models to issues with JSON
paths), ``jsontext`` (safe parsing, line numbers, lookups in untrusted JSON) and ``project``
(the typed project a source hands on).

Example::

    from scanner.sources.manifests import ManifestKind, validate_document
    issues = validate_document(ManifestKind.GRAPH, json.loads(text))
    for issue in issues:
        print(issue.path, issue.message)   # e.g. "nodeGraph.nodes[2].name" "... does not match ..."
"""

from __future__ import annotations

from scanner.sources.manifests._base import ENVELOPE_VERSION
from scanner.sources.manifests.descriptor import AssetDescriptorDoc
from scanner.sources.manifests.graph import (
    PARAMETER_TYPES,
    NodeGraph,
    NodeGraphDoc,
    NodeGraphOverrides,
    NodeGraphOverridesDoc,
)
from scanner.sources.manifests.jsontext import (
    JsonPath,
    JsonTextError,
    format_path,
    jget,
    jlist,
    jobjects,
    json_depth,
    jstr,
    line_index,
    line_of,
    parse_json_text,
)
from scanner.sources.manifests.package import NodePackage, NodePackageDoc
from scanner.sources.manifests.project import PackageFolder, Project
from scanner.sources.manifests.validation import (
    ROOT_KEYS,
    JsonDocument,
    ManifestKind,
    ValidationIssue,
    parse_document,
    validate_document,
)

__all__ = [
    "ENVELOPE_VERSION",
    "PARAMETER_TYPES",
    "ROOT_KEYS",
    "AssetDescriptorDoc",
    "JsonDocument",
    "JsonPath",
    "JsonTextError",
    "ManifestKind",
    "NodeGraph",
    "NodeGraphDoc",
    "NodeGraphOverrides",
    "NodeGraphOverridesDoc",
    "NodePackage",
    "NodePackageDoc",
    "PackageFolder",
    "Project",
    "ValidationIssue",
    "format_path",
    "jget",
    "jlist",
    "jobjects",
    "json_depth",
    "jstr",
    "line_index",
    "line_of",
    "parse_document",
    "parse_json_text",
    "validate_document",
]
