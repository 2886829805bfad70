"""The release index (``index.json``): its layout constants and a strict reader (internal).

The index is not signed: it only tells ``pull`` where the objects are. Everything that matters
(which files, their digests and sizes, the release they belong to) is checked against the
signed statement. A malformed index is a refusal (exit 1, ``malformed-index``), never a crash:
every field is type-checked here before anything else reads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signing.errors import Reason, VerificationError

__all__ = [
    "INDEX_FILE",
    "INDEX_SCHEMA",
    "META_DIR",
    "OBJECTS_DIR",
    "REPORT_FILE",
    "SIGNATURES_DIR",
    "IndexFile",
    "ObjectRef",
    "ReleaseIndex",
    "canonical_json",
    "parse_index",
]

INDEX_FILE = "index.json"
INDEX_SCHEMA = "https://panorama-gate.dev/release-index/v1"
REPORT_FILE = "report.json"
META_DIR = "meta"
OBJECTS_DIR = "objects/sha256"
SIGNATURES_DIR = "signatures"
_HEX = frozenset("0123456789abcdef")


def canonical_json(obj: Any) -> bytes:
    """The index's serialisation: sorted keys, two-space indent, trailing newline."""
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8")


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Where an object is and the digest and size the index records for it."""

    key: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class IndexFile:
    """One file of the release as the index lists it."""

    name: str
    sha256: str
    size: int
    object: ObjectRef
    signature: ObjectRef | None
    model_signature: ObjectRef | None


@dataclass(frozen=True, slots=True)
class ReleaseIndex:
    """A parsed index; ``raw`` is the parsed JSON kept for the pulled copy."""

    application: str
    version: str
    layout: str
    attestation: ObjectRef
    report: ObjectRef
    sbom: ObjectRef | None
    licenses: ObjectRef | None
    files: tuple[IndexFile, ...]
    raw: Mapping[str, Any]


def _bad(message: str) -> VerificationError:
    return VerificationError(Reason.MALFORMED_INDEX, f"{INDEX_FILE}: {message}")


def _str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise _bad(f"{where}.{key} is missing or not a string")
    return value


def _size(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = obj.get(key)
    # bool is an int in Python: `true` is not a size.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad(f"{where}.{key} is not a non-negative integer")
    return value


def _sha(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = _str(obj, key, where)
    if len(value) != 64 or not set(value) <= _HEX:
        raise _bad(f"{where}.{key} is not a lower-case SHA-256")
    return value


def _ref(value: Any, where: str, *, optional: bool = False) -> ObjectRef | None:
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise _bad(f"{where} is missing or not an object")
    return ObjectRef(
        _str(value, "key", where), _sha(value, "sha256", where), _size(value, "size", where)
    )


def _file(value: Any, i: int) -> IndexFile:
    where = f"files[{i}]"
    if not isinstance(value, dict):
        raise _bad(f"{where} is not an object")
    obj = _ref(value.get("object"), f"{where}.object")
    assert obj is not None
    return IndexFile(
        _str(value, "name", where),
        _sha(value, "sha256", where),
        _size(value, "size", where),
        obj,
        _ref(value.get("signature"), f"{where}.signature", optional=True),
        _ref(value.get("model_signature"), f"{where}.model_signature", optional=True),
    )


def parse_index(raw: bytes) -> ReleaseIndex:
    """Parse and type-check an index; :class:`VerificationError` (``malformed-index``) else."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schema") != INDEX_SCHEMA:
        raise _bad("not a panorama-gate release index")
    raw_files = doc.get("files")
    if not isinstance(raw_files, list) or not raw_files:
        raise _bad("lists no files")
    files = tuple(_file(f, i) for i, f in enumerate(raw_files))
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise _bad(f"lists a file more than once: {', '.join(twice[:3])}")
    target = doc.get("target", {})
    if not isinstance(target, dict):
        raise _bad("target is not an object")
    layout = target.get("layout", "folder")
    if layout not in ("file", "folder"):
        raise _bad(f"target.layout {layout!r} is neither 'file' nor 'folder'")
    attestation = _ref(doc.get("attestation"), "attestation")
    report = _ref(doc.get("report"), "report")
    assert attestation is not None
    assert report is not None
    return ReleaseIndex(
        application=_str(doc, "application", "index"),
        version=_str(doc, "version", "index"),
        layout=layout,
        attestation=attestation,
        report=report,
        sbom=_ref(doc.get("sbom"), "sbom", optional=True),
        licenses=_ref(doc.get("licenses"), "licenses", optional=True),
        files=files,
        raw=doc,
    )
