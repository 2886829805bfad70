"""Models of ``descriptor.json``: ``runtimeDescriptor`` (code) and ``mlModelDescriptor`` (model)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Tag, model_validator

from scanner.sources.manifests._base import (
    _TAG,
    EnvelopeVersion,
    FrameworkVersion,
    JsonInt,
    NonEmpty,
    _Closed,
    _tag_of,
)

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
