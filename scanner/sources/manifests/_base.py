"""JSON Schema semantics and the base models every Panorama manifest model is built on.

Plain pydantic differs from JSON Schema in a few places that matter for agreeing with the
official schemas; the helpers here reproduce JSON Schema's rules:

- ``integer`` accepts ``3.0`` (draft 6+), never ``true``; ``number`` accepts ints, never booleans.
- ``pattern`` is a Python ``re.search`` (so ``$`` also matches before a final newline).
- an optional key may be absent but never ``null`` (no schema here allows ``null``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, PlainValidator, StringConstraints, field_validator

ENVELOPE_VERSION = "2021-01-01"

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
