"""Models of ``package.json`` (``nodePackage``): assets, implementations, interfaces, ports."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from scanner.sources.manifests._base import (
    _TAG,
    AssetName,
    EnvelopeVersion,
    JsonInt,
    JsonNumber,
    NonNegativeInt,
    PackageName,
    PortName,
    PortNumber,
    Text1to255,
    Text255,
    Version,
    _Closed,
    _Open,
    _tag_of,
)

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
