"""Typed models of the AWS Panorama 2021-01-01 manifests and a schema validator built on them.

The models mirror the official JSON Schemas (``nodeGraph``, ``nodePackage``,
``assetDescriptor`` with ``runtimeDescriptor``/``mlModelDescriptor``, ``nodeGraphOverrides``):
the same required keys, patterns, lengths, enums and the same closed objects. Where the
official schemas leave an object open (string input ports, the GPU ``sharedResourcePolicy``),
so do these models, because our verdict must agree with the schemas: a test checks that
agreement on a corpus of valid and invalid documents.

JSON Schema semantics that plain pydantic would get wrong are reproduced on purpose:

- ``integer`` accepts ``3.0`` (draft 6+), never ``true``; ``number`` accepts ints, never booleans.
- ``pattern`` is a Python ``re.search`` (so ``$`` also matches before a final newline).
- an optional key may be absent but never ``null`` (no schema here allows ``null``).

Example::

    from scanner.sources.manifests import ManifestKind, validate_document
    issues = validate_document(ManifestKind.GRAPH, json.loads(text))
    for issue in issues:
        print(issue.path, issue.message)   # e.g. "nodeGraph.nodes[2].name" "... does not match ..."
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from json.decoder import scanstring  # type: ignore[attr-defined]  # untyped in typeshed
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    StringConstraints,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "ENVELOPE_VERSION",
    "AssetDescriptorDoc",
    "JsonDocument",
    "JsonPath",
    "ManifestKind",
    "NodeGraphDoc",
    "NodeGraphOverridesDoc",
    "NodePackageDoc",
    "PackageFolder",
    "Project",
    "ValidationIssue",
    "format_path",
    "json_depth",
    "line_index",
    "parse_document",
    "parse_json_text",
    "validate_document",
]

ENVELOPE_VERSION = "2021-01-01"

JsonPath = tuple[str | int, ...]


# --------------------------------------------------------------------------------------------
# JSON Schema scalar semantics
# --------------------------------------------------------------------------------------------


def _json_integer(value: Any) -> int:
    """JSON Schema draft-7 ``integer``: an int, or a float with no fractional part; not a bool."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise ValueError("must be an integer")


def _json_number(value: Any) -> float:
    """JSON Schema ``number``: an int or a float; not a bool. Ints are kept as ints."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


def _bounded(minimum: int | None = None, maximum: int | None = None) -> PlainValidator:
    def check(value: Any) -> int:
        n = _json_integer(value)
        if minimum is not None and n < minimum:
            raise ValueError(f"must be >= {minimum}")
        if maximum is not None and n > maximum:
            raise ValueError(f"must be <= {maximum}")
        return n

    return PlainValidator(check)


JsonInt = Annotated[int, PlainValidator(_json_integer)]
JsonNumber = Annotated[float, PlainValidator(_json_number)]
PortNumber = Annotated[int, _bounded(1, 65535)]
NonNegativeInt = Annotated[int, _bounded(0)]


# Patterns as the official schemas write them.
NAME_RX = r"^[$A-Z_a-z0-9\-]+$"  # node, asset, routing-rule node
PKG_NAME_RX = r"^[a-z_A-Z0-9\-]+$"  # package and interface names
PORT_NAME_RX = r"^[$A-Z_a-z0-9]+$"  # port names: no hyphen (they become Python attributes)
VERSION_RX = r"^[0-9]+\.[0-9]+$"
PKG_INCLUDE_RX = r"^[$A-Z_a-z0-9]+::[a-zA-Z_0-9\-]+$"
INTERFACE_REF_RX = r"^[$A-Z_a-z0-9\-]+::[A-Z_a-z0-9\-]+\.[A-Z_a-z0-9\-]+$"
EDGE_END_RX = r"^[a-zA-Z0-9_\-]+\.?[a-z_A-Z0-9\-]+$"
FRAMEWORK_VERSION_RX = r"^[0-9]+\.[A-Za-z0-9.]+$"

NodeName = Annotated[str, StringConstraints(pattern=NAME_RX, min_length=1, max_length=128)]
AnyName = Annotated[str, StringConstraints(pattern=NAME_RX)]
AssetName = Annotated[str, StringConstraints(pattern=NAME_RX, min_length=1, max_length=255)]
PackageName = Annotated[str, StringConstraints(pattern=PKG_NAME_RX, min_length=1, max_length=128)]
PortName = Annotated[str, StringConstraints(pattern=PORT_NAME_RX, min_length=1, max_length=50)]
Version = Annotated[str, StringConstraints(pattern=VERSION_RX, max_length=255)]
IncludeName = Annotated[str, StringConstraints(pattern=PKG_INCLUDE_RX, max_length=255)]
InterfaceRef = Annotated[str, StringConstraints(pattern=INTERFACE_REF_RX)]
EdgeEnd = Annotated[str, StringConstraints(pattern=EDGE_END_RX)]
FrameworkVersion = Annotated[
    str, StringConstraints(pattern=FRAMEWORK_VERSION_RX, min_length=3, max_length=10)
]
Text255 = Annotated[str, StringConstraints(max_length=255)]
Text1to255 = Annotated[str, StringConstraints(min_length=1, max_length=255)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
EnvelopeVersion = Literal["2021-01-01"]

# A discriminator tag that no JSON key is likely to equal, so JSON paths can skip it.
_TAG = "\x00"


class _Closed(BaseModel):
    """Base of every model: strict JSON types, unknown keys forbidden, ``null`` never allowed."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        regex_engine="python-re",
        frozen=True,
        hide_input_in_errors=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any) -> Any:
        # Optional fields default to None when absent; an explicit JSON null is a schema error.
        if value is None:
            raise ValueError("must not be null")
        return value


class _Open(_Closed):
    """A model whose official schema does not set ``additionalProperties: false``."""

    model_config = ConfigDict(extra="allow")


def _tag_of(key: str, values: frozenset[str], default: str | None = None) -> Any:
    """A pydantic discriminator function: the tag is ``data[key]`` when it is a known value."""

    def pick(data: Any) -> str | None:
        if isinstance(data, Mapping):
            v = data.get(key)
            if isinstance(v, str) and v in values:
                return _TAG + v
            if default is not None:
                return _TAG + default
            return _TAG + (v if isinstance(v, str) else repr(v))[:40]
        if isinstance(data, BaseModel):  # already-validated model instances (re-validation)
            v = getattr(data, key, None)
            return _TAG + str(v) if v in values else (_TAG + default if default else None)
        return None

    return pick


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------


class Decorator(_Closed):
    """UI hints for nodes and routing rules."""

    title: Text1to255 | None = None
    description: Text1to255 | None = None
    constraintText: Text1to255 | None = None  # noqa: N815 - the manifest's own key
    constraintRegex: Text1to255 | None = None  # noqa: N815


class PackageInclude(_Closed):
    """A ``packages[]`` entry of a graph or override: ``<owner>::<package>`` and its version."""

    name: IncludeName
    version: Version
    patchVersion: str | None = None  # noqa: N815
    generatedPatchVersion: str | None = None  # noqa: N815
    uri: str | None = None


# --------------------------------------------------------------------------------------------
# nodeGraph
# --------------------------------------------------------------------------------------------

PARAMETER_TYPES = frozenset({"boolean", "int32", "float32", "string"})


class InterfaceNode(_Closed):
    """A node instantiating ``<owner>::<package>.<interface>``."""

    name: NodeName
    interface: InterfaceRef
    overridable: bool = False
    overrideMandatory: bool = False  # noqa: N815
    launch: Literal["onDemand", "onAppStart", "onSignal"] = "onAppStart"
    decorator: Decorator | None = None


class _ParameterNode(_Closed):
    name: NodeName
    overridable: bool = False
    overrideMandatory: bool = False  # noqa: N815
    decorator: Decorator | None = None


class BooleanNode(_ParameterNode):
    """A ``boolean`` parameter node."""

    interface: Literal["boolean"]
    value: bool = False


class Int32Node(_ParameterNode):
    """An ``int32`` parameter node (the schema does not bound the range; the analyzer does)."""

    interface: Literal["int32"]
    value: JsonInt = 0


class Float32Node(_ParameterNode):
    """A ``float32`` parameter node (the schema accepts any number, ints included)."""

    interface: Literal["float32"]
    value: JsonNumber = 0


class StringNode(_ParameterNode):
    """A ``string`` parameter node."""

    interface: Literal["string"]
    value: str = ""


ParameterNode = BooleanNode | Int32Node | Float32Node | StringNode

Node = Annotated[
    Annotated[InterfaceNode, Tag(_TAG + "interface")]
    | Annotated[BooleanNode, Tag(_TAG + "boolean")]
    | Annotated[Int32Node, Tag(_TAG + "int32")]
    | Annotated[Float32Node, Tag(_TAG + "float32")]
    | Annotated[StringNode, Tag(_TAG + "string")],
    Discriminator(_tag_of("interface", PARAMETER_TYPES, default="interface")),
]


class Edge(_Closed):
    """``producer`` ``node.port`` (or a parameter node's name) to ``consumer`` ``node.port``."""

    producer: EdgeEnd
    consumer: EdgeEnd


class RoutingRule(_Closed):
    """Routes a node's container port to a host port."""

    node: NodeName
    containerPort: PortNumber  # noqa: N815
    hostPort: JsonInt | None = None  # noqa: N815
    decorator: Decorator | None = None


class NodeGraph(_Closed):
    """The body of ``graph.json``."""

    envelopeVersion: EnvelopeVersion  # noqa: N815
    description: Text255 | None = None
    packages: Annotated[list[PackageInclude], Field(min_length=1)]
    nodes: Annotated[list[Node], Field(min_length=1)]
    edges: list[Edge] = Field(default_factory=list)
    networkRoutingRules: list[RoutingRule] = Field(default_factory=list)  # noqa: N815


class NodeGraphDoc(_Closed):
    """``graph.json``: ``{"nodeGraph": {...}}`` (the schema does not require the key)."""

    nodeGraph: NodeGraph | None = None  # noqa: N815


# --------------------------------------------------------------------------------------------
# nodeGraphOverrides
# --------------------------------------------------------------------------------------------


class OverrideWith(_Closed):
    """One replacement node of a ``nodeOverrides[]`` entry."""

    name: AnyName


class NodeOverride(_Closed):
    """Replace graph node ``replace`` with the override nodes in ``with``."""

    envelopeVersion: EnvelopeVersion | None = None  # noqa: N815
    replace: AnyName
    with_: list[OverrideWith] = Field(alias="with")


class NodeGraphOverrides(_Closed):
    """The body of an ``override.json`` (the deploy-time ``nodeGraphOverrides``)."""

    model_config = ConfigDict(populate_by_name=True)

    envelopeVersion: EnvelopeVersion  # noqa: N815
    description: Text255 | None = None
    packages: list[PackageInclude] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list)
    networkRoutingRules: list[RoutingRule] = Field(default_factory=list)  # noqa: N815
    edges: list[Edge] = Field(default_factory=list)
    nodeOverrides: list[NodeOverride] = Field(default_factory=list)  # noqa: N815


class NodeGraphOverridesDoc(_Closed):
    """``override.json``: ``{"nodeGraphOverrides": {...}}``."""

    nodeGraphOverrides: NodeGraphOverrides | None = None  # noqa: N815


# --------------------------------------------------------------------------------------------
# nodePackage
# --------------------------------------------------------------------------------------------

PORT_TYPES = frozenset({"media", "boolean", "int32", "float32", "string"})


class _InputPort(_Closed):
    description: Text255 | None = None
    name: PortName
    maxConnections: NonNegativeInt | None = None  # noqa: N815


class _ValueInputPort(_InputPort):
    reference: bool = False
    referenceSource: str | None = None  # noqa: N815


class MediaInput(_InputPort):
    """A ``media`` input port (no ``default``)."""

    type: Literal["media"]


class BooleanInput(_ValueInputPort):
    """A ``boolean`` input port."""

    type: Literal["boolean"]
    default: bool | None = None


class Int32Input(_ValueInputPort):
    """An ``int32`` input port."""

    type: Literal["int32"]
    default: JsonInt | None = None
    constraintRegex: str | None = None  # noqa: N815


class Float32Input(_ValueInputPort):
    """A ``float32`` input port."""

    type: Literal["float32"]
    default: JsonNumber | None = None
    constraintRegex: str | None = None  # noqa: N815


class StringInput(_ValueInputPort):
    """A ``string`` input port; the official schema leaves this object open to unknown keys."""

    model_config = ConfigDict(extra="allow")

    type: Literal["string"]
    default: str | None = None
    constraintRegex: str | None = None  # noqa: N815


InputPort = Annotated[
    Annotated[MediaInput, Tag(_TAG + "media")]
    | Annotated[BooleanInput, Tag(_TAG + "boolean")]
    | Annotated[Int32Input, Tag(_TAG + "int32")]
    | Annotated[Float32Input, Tag(_TAG + "float32")]
    | Annotated[StringInput, Tag(_TAG + "string")],
    Discriminator(_tag_of("type", PORT_TYPES)),
]


class _OutputPort(_Closed):
    # Output descriptions have no length limit in the official schemas (inputs: 255).
    description: str | None = None
    name: PortName


class MediaOutput(_OutputPort):
    """A ``media`` output port."""

    type: Literal["media"]


class BooleanOutput(_OutputPort):
    """A ``boolean`` output port."""

    type: Literal["boolean"]


class Int32Output(_OutputPort):
    """An ``int32`` output port."""

    type: Literal["int32"]


class Float32Output(_OutputPort):
    """A ``float32`` output port."""

    type: Literal["float32"]


class StringOutput(_OutputPort):
    """A ``string`` output port."""

    type: Literal["string"]


OutputPort = Annotated[
    Annotated[MediaOutput, Tag(_TAG + "media")]
    | Annotated[BooleanOutput, Tag(_TAG + "boolean")]
    | Annotated[Int32Output, Tag(_TAG + "int32")]
    | Annotated[Float32Output, Tag(_TAG + "float32")]
    | Annotated[StringOutput, Tag(_TAG + "string")],
    Discriminator(_tag_of("type", PORT_TYPES)),
]


class InboundPort(_Closed):
    """A container port the node listens on."""

    description: Text255 | None = None
    port: PortNumber


class Network(_Closed):
    """An interface's network needs: at most 10 inbound ports."""

    inboundPorts: Annotated[list[InboundPort], Field(max_length=10)] = Field(  # noqa: N815
        default_factory=list
    )


class Interface(_Closed):
    """A node interface: category, implementing asset, ports, network."""

    description: str | None = None
    name: PackageName
    asset: str | None = None
    category: Literal["media_source", "media_sink", "business_logic", "ml_model"]
    inputs: list[InputPort] = Field(default_factory=list)
    outputs: list[OutputPort] = Field(default_factory=list)
    network: Network | None = None


class SharedResourcePolicy(_Open):
    """GPU sharing policy (an open object in the official schema; ``policy`` optional)."""

    policy: Literal["allow_all"] | None = None


class InferenceAccelerator(_Closed):
    """GPU access: the only device type is ``nvhost_gpu``."""

    deviceType: Literal["nvhost_gpu"]  # noqa: N815
    sharedResourcePolicy: SharedResourcePolicy  # noqa: N815


class OtaRequirement(_Closed):
    """Appliance software version bounds; at least one of the two is required."""

    type: Literal["ota"]
    minVersion: str | None = None  # noqa: N815
    maxVersion: str | None = None  # noqa: N815

    @model_validator(mode="after")
    def _one_bound(self) -> OtaRequirement:
        if self.minVersion is None and self.maxVersion is None:
            raise ValueError("an ota requirement needs minVersion or maxVersion")
        return self


class DeviceRequirement(_Closed):
    """Restricts the asset to a device kind."""

    type: Literal["device"]
    name: Literal["panorama_devkit"]


class HardwareAccessRequirement(_Closed):
    """Hardware access: GPU ("open GPU") for the container."""

    type: Literal["hardware_access"]
    inferenceAccelerators: list[InferenceAccelerator]  # noqa: N815


REQUIREMENT_TYPES = frozenset({"ota", "device", "hardware_access"})

Requirement = Annotated[
    Annotated[OtaRequirement, Tag(_TAG + "ota")]
    | Annotated[DeviceRequirement, Tag(_TAG + "device")]
    | Annotated[HardwareAccessRequirement, Tag(_TAG + "hardware_access")],
    Discriminator(_tag_of("type", REQUIREMENT_TYPES)),
]


class Implementation(_Closed):
    """One implementation of an asset: a container, a model, or a built-in system asset."""

    description: Text255 | None = None
    type: Literal["system", "container", "model"]
    assetUri: Text1to255  # noqa: N815
    descriptorUri: str | None = None  # noqa: N815
    requirements: list[Requirement] = Field(default_factory=list)


class Asset(_Closed):
    """A named asset and its implementations."""

    description: str | None = None
    name: AssetName
    implementations: list[Implementation] = Field(default_factory=list)


class NodePackage(_Closed):
    """The body of ``package.json``."""

    envelopeVersion: EnvelopeVersion  # noqa: N815
    name: PackageName | None = None
    version: Version | None = None
    description: Text255 | None = None
    assets: list[Asset] = Field(default_factory=list)
    interfaces: Annotated[list[Interface], Field(min_length=1)]


class NodePackageDoc(_Closed):
    """``package.json``: ``{"nodePackage": {...}}``."""

    nodePackage: NodePackage | None = None  # noqa: N815


# --------------------------------------------------------------------------------------------
# assetDescriptor
# --------------------------------------------------------------------------------------------

TENSOR_TYPES = Literal[
    "int8", "uint8", "int16", "uint16", "int32", "uint32", "float16", "float32", "float64"
]


class InputTensor(_Closed):
    """A model input: name and shape (batch included)."""

    name: str
    type: TENSOR_TYPES | None = None
    shape: list[JsonInt]


class MlModelDescriptor(_Closed):
    """``mlModelDescriptor``: the model's framework and inputs for Neo compilation."""

    envelopeVersion: EnvelopeVersion  # noqa: N815
    framework: Literal["TENSORFLOW", "PYTORCH", "MXNET"]
    frameworkVersion: FrameworkVersion | None = None  # noqa: N815
    inputs: list[InputTensor]
    precisionMode: Literal["FP32", "FP16"] | None = None  # noqa: N815


class EnvironmentVariable(_Closed):
    """One ``{name, value}`` environment entry."""

    name: NonEmpty
    value: str


class Entry(_Closed):
    """The entry point: interpreter ``path``, script ``name``, arguments, environment."""

    path: str | None = None
    name: NonEmpty | None = None
    arguments: list[str] | None = None
    environment: list[EnvironmentVariable] | None = None

    @model_validator(mode="after")
    def _dependencies(self) -> Entry:
        # JSON Schema "dependencies": path, arguments and environment each need name.
        if self.name is None:
            for key in ("path", "arguments", "environment"):
                if key in self.model_fields_set:
                    raise ValueError(f"entry.{key} requires entry.name")
        return self


class OnExitEvent(_Closed):
    """``onExit``: a handler called before the node terminates."""

    description: str | None = None
    type: Literal["onExit"]
    handler: NonEmpty


class _InputEvent(_Closed):
    description: str | None = None
    handler: NonEmpty
    inputs: list[NonEmpty]


class OnPartialInputEvent(_InputEvent):
    """``onPartialInput``: a handler called when some monitored inputs have data."""

    type: Literal["onPartialInput"]


class OnCompleteInputEvent(_InputEvent):
    """``onCompleteInput``: a handler called when all monitored inputs have data."""

    type: Literal["onCompleteInput"]


Event = Annotated[
    Annotated[OnExitEvent, Tag(_TAG + "onExit")]
    | Annotated[OnPartialInputEvent, Tag(_TAG + "onPartialInput")]
    | Annotated[OnCompleteInputEvent, Tag(_TAG + "onCompleteInput")],
    Discriminator(_tag_of("type", frozenset({"onExit", "onPartialInput", "onCompleteInput"}))),
]


class RuntimeDescriptor(_Closed):
    """``runtimeDescriptor``: how the code container is started."""

    envelopeVersion: EnvelopeVersion  # noqa: N815
    entry: Entry | None = None
    events: list[Event] | None = None


class AssetDescriptorDoc(_Closed):
    """``descriptor.json``; the schema allows either key, both, or (oddly) neither."""

    mlModelDescriptor: MlModelDescriptor | None = None  # noqa: N815
    runtimeDescriptor: RuntimeDescriptor | None = None  # noqa: N815


# --------------------------------------------------------------------------------------------
# Validation API
# --------------------------------------------------------------------------------------------


class ManifestKind(StrEnum):
    """The manifest documents of a project (also ``ManifestDoc.kind``)."""

    GRAPH = "graph"
    PACKAGE = "package"
    DESCRIPTOR = "descriptor"
    OVERRIDE = "override"


JsonDocument = NodeGraphDoc | NodePackageDoc | AssetDescriptorDoc | NodeGraphOverridesDoc

_MODELS: dict[ManifestKind, type[JsonDocument]] = {
    ManifestKind.GRAPH: NodeGraphDoc,
    ManifestKind.PACKAGE: NodePackageDoc,
    ManifestKind.DESCRIPTOR: AssetDescriptorDoc,
    ManifestKind.OVERRIDE: NodeGraphOverridesDoc,
}

ROOT_KEYS: dict[ManifestKind, str] = {
    ManifestKind.GRAPH: "nodeGraph",
    ManifestKind.PACKAGE: "nodePackage",
    ManifestKind.OVERRIDE: "nodeGraphOverrides",
}


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One schema violation: where (a JSON path such as ``nodeGraph.nodes[2].name``) and what."""

    path: str
    message: str
    parts: JsonPath = ()

    def __str__(self) -> str:
        return f"{self.path or '(document)'}: {self.message}"


def format_path(parts: JsonPath) -> str:
    """``("nodeGraph", "nodes", 2, "name")`` -> ``nodeGraph.nodes[2].name``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else p
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _resolve_loc(data: Any, loc: tuple[str | int, ...]) -> tuple[JsonPath, Any, bool]:
    """Map a pydantic ``loc`` onto the document: drop union tags, keep real keys and indexes.

    Returns the path, the value found there and whether the path ends at a missing key.
    """
    parts: list[str | int] = []
    cur: Any = data
    missing = False
    for item in loc:
        if isinstance(item, str) and item.startswith(_TAG):
            continue
        if item == "with_":  # the only Python-side alias
            item = "with"
        if isinstance(cur, Mapping) and isinstance(item, str):
            parts.append(item)
            if item in cur:
                cur = cur[item]
            else:
                cur, missing = None, True
        elif isinstance(cur, list) and isinstance(item, int) and 0 <= item < len(cur):
            parts.append(item)
            cur = cur[item]
        # Anything else is a pydantic-internal step (a union member name): not part of the path.
    return tuple(parts), cur, missing


_TYPE_WORDS = {
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "int_type": "an integer",
    "float_type": "a number",
}


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _message(err: Mapping[str, Any], value: Any) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    loc = err.get("loc", ())
    last = next((x for x in reversed(loc) if not (isinstance(x, str) and x.startswith(_TAG))), "")
    if kind == "missing":
        return f"required key {last!r} is missing"
    if kind == "extra_forbidden":
        return f"unknown key {last!r} is not allowed"
    if kind == "string_pattern_mismatch":
        return f"{_short(value)} does not match the pattern {ctx.get('pattern', '')}"
    if kind == "union_tag_invalid":
        expected = ", ".join(
            repr(t.strip(" '").replace("\\x00", ""))
            for t in str(ctx.get("expected_tags", "")).split(",")
        )
        tag = _short(str(ctx.get("tag", "")).lstrip(_TAG))
        return f"unsupported value {tag}; expected one of {expected}"
    if kind == "union_tag_not_found":
        if not isinstance(value, Mapping):
            return f"must be an object, not {_json_type(value)}"
        return "must be an object with a recognised type"
    if kind == "literal_error":
        return f"must be {ctx.get('expected', 'one of the allowed values')}, not {_short(value)}"
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length" if kind == "too_short" else "max_length")
        return f"must have at {'least' if kind == 'too_short' else 'most'} {bound} item(s)"
    if kind in ("string_too_short", "string_too_long"):
        bound = ctx.get("min_length" if kind == "string_too_short" else "max_length")
        which = "least" if kind == "string_too_short" else "most"
        return f"must be at {which} {bound} character(s) long"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]}, not {_json_type(value)}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be an object, not {_json_type(value)}"
    msg = str(err.get("msg", "invalid value"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg


def _issues(exc: ValidationError, data: Any) -> list[ValidationIssue]:
    out: list[ValidationIssue] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False, include_input=False):
        parts, value, _ = _resolve_loc(data, tuple(err["loc"]))
        issue = ValidationIssue(format_path(parts), _message(err, value), parts)
        key = (issue.path, issue.message)
        if key not in seen:
            seen.add(key)
            out.append(issue)
    return out


M = TypeVar("M", bound=BaseModel)


def parse_document(
    kind: ManifestKind | str, data: Any
) -> tuple[JsonDocument | None, list[ValidationIssue]]:
    """Validate a parsed JSON document; the typed model when valid, else ``None`` and the issues."""
    model = _MODELS[ManifestKind(kind)]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, _issues(exc, data)
    except RecursionError:
        # Defensive: callers check depth first, but a validator must never raise a traceback.
        return None, [ValidationIssue("", "document is nested too deeply to validate")]


def validate_document(kind: ManifestKind | str, data: Any) -> list[ValidationIssue]:
    """The schema issues of one parsed manifest (empty when it conforms)."""
    return parse_document(kind, data)[1]


# --------------------------------------------------------------------------------------------
# Reading JSON safely, depth, and line numbers
# --------------------------------------------------------------------------------------------


def json_depth(data: Any, limit: int = 1000) -> int:
    """Nesting depth of a parsed JSON value, counted iteratively (stops early past ``limit``)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = value.values() if isinstance(value, dict) else value
            stack.extend((c, depth + 1) for c in children)
    return deepest


class JsonTextError(ValueError):
    """A manifest's text is not acceptable JSON; the message is one line."""


def _reject_constant(name: str) -> Any:
    raise JsonTextError(f"{name} is not valid JSON")


def parse_json_text(raw: bytes, *, max_depth: int = 64) -> Any:
    """Parse manifest bytes strictly: UTF-8, real JSON only (no NaN), bounded nesting.

    Raises ``JsonTextError`` with a one-line reason (never a traceback-worthy exception).
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonTextError(f"not UTF-8 text (byte {exc.start})") from exc
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise JsonTextError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise JsonTextError("JSON is nested too deeply") from exc
    except ValueError as exc:  # e.g. int-string conversion limits on huge numbers
        raise JsonTextError(f"invalid JSON: {str(exc).splitlines()[0]}") from exc
    depth = json_depth(data, max_depth)
    if depth > max_depth:
        raise JsonTextError(f"JSON is nested deeper than {max_depth} levels")
    return data


_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


def line_index(text: str, *, max_depth: int = 128) -> dict[JsonPath, int]:
    """Map every JSON path in ``text`` to the 1-based line of its key (or array element).

    A small iterative scanner (no recursion, so deep documents are safe); on malformed input, or
    past ``max_depth`` levels (paths would grow quadratically), it stops and returns what it has
    found so far.
    """
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def line_at(pos: int) -> int:
        return bisect.bisect_right(newlines, pos - 1) + 1

    out: dict[JsonPath, int] = {}
    # Each frame: [is_object, path, next_index_or_key, expecting_key]
    stack: list[list[Any]] = []
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    pending_key: JsonPath | None = ()  # path of the value about to start

    def value_path() -> JsonPath | None:
        if not stack:
            return ()
        frame = stack[-1]
        if frame[0]:
            return pending_key
        return (*frame[1], frame[2])

    try:
        while pos < len(text):
            ch = text[pos]
            if ch in "{[":
                vp = value_path()
                if vp is None:
                    return out
                if len(stack) >= max_depth:
                    return out
                if stack and not stack[-1][0]:
                    out.setdefault(vp, line_at(pos))
                stack.append([ch == "{", vp, 0, ch == "{"])
                pos += 1
            elif ch in "}]":
                stack.pop()
                pos += 1
            elif ch == ",":
                if stack:
                    frame = stack[-1]
                    if frame[0]:
                        frame[3] = True
                    else:
                        frame[2] += 1
                pos += 1
            elif ch == ":":
                pos += 1
            elif ch == '"':
                s, end = scanstring(text, pos + 1)
                if stack and stack[-1][0] and stack[-1][3]:
                    frame = stack[-1]
                    pending_key = (*frame[1], s)
                    out.setdefault(pending_key, line_at(pos))
                    frame[3] = False
                elif stack and not stack[-1][0]:
                    out.setdefault((*stack[-1][1], stack[-1][2]), line_at(pos))
                pos = end
            else:
                m = _SCALAR.match(text, pos)
                if m is None:
                    return out
                if stack and not stack[-1][0]:
                    out.setdefault((*stack[-1][1], stack[-1][2]), line_at(pos))
                pos = m.end()
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
    except (ValueError, IndexError):
        return out
    return out


def line_of(index: Mapping[JsonPath, int], parts: JsonPath) -> int | None:
    """The line of ``parts`` or of its nearest ancestor found in ``index`` (``None`` if none)."""
    p = tuple(parts)
    while p:
        if p in index:
            return index[p]
        p = p[:-1]
    return None


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
