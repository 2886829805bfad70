"""Schema validation of parsed manifests: typed models, or issues with JSON paths and messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from scanner.sources.manifests._base import _TAG
from scanner.sources.manifests.descriptor import AssetDescriptorDoc
from scanner.sources.manifests.graph import NodeGraphDoc, NodeGraphOverridesDoc
from scanner.sources.manifests.jsontext import JsonPath, format_path
from scanner.sources.manifests.package import NodePackageDoc

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
