"""Models of ``graph.json`` (``nodeGraph``) and of deploy-time ``nodeGraphOverrides``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag

from scanner.sources.manifests._base import (
    _TAG,
    AnyName,
    Decorator,
    EdgeEnd,
    EnvelopeVersion,
    InterfaceRef,
    JsonInt,
    JsonNumber,
    NodeName,
    PackageInclude,
    PortNumber,
    Text255,
    _Closed,
    _tag_of,
)

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
