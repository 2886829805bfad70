"""Result cache keyed by content: artifact digest + analyzer versions + config digest.

Entries are JSON files written atomically, so concurrent scans sharing a cache folder never
see a half-written entry; a corrupt entry is ignored and rewritten. Results that contain an
analyzer failure are never cached (a transient failure must be retried, not remembered).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from scanner.fsutil import atomic_write_text
from scanner.models import (
    AnalyzerFailure,
    ArtifactFacts,
    Category,
    Component,
    Finding,
    Location,
    ResourceProfile,
    Severity,
    Skipped,
    frozen_mapping,
)

__all__ = ["CACHE_FORMAT", "ResultCache", "cache_key"]

log = logging.getLogger(__name__)
CACHE_FORMAT = 1

Cacheable = Finding | Component | Skipped | ArtifactFacts


def cache_key(content_digest: str, analyzers: Mapping[str, int], config_digest: str) -> str:
    """The key: changes when the content, any analyzer's version or the config changes."""
    h = hashlib.sha256()
    h.update(f"format={CACHE_FORMAT}\0content={content_digest}\0config={config_digest}\0".encode())
    for name, version in sorted(analyzers.items()):
        h.update(f"{name}={version}\0".encode())
    return h.hexdigest()


def _loc(d: Mapping[str, Any]) -> Location:
    return Location(str(d["artifact"]), str(d.get("path", "")), d.get("line"), d.get("layer"))


def _loc_dict(loc: Location) -> dict[str, Any]:
    return {"artifact": loc.artifact, "path": loc.path, "line": loc.line, "layer": loc.layer}


def _encode(item: Cacheable) -> dict[str, Any]:
    if isinstance(item, Finding):
        return {
            "type": "finding",
            "rule_id": item.rule_id,
            "category": item.category.value,
            "severity": item.severity.label,
            "message": item.message,
            "location": _loc_dict(item.location),
            "fingerprint": item.fingerprint,
            "analyzer": item.analyzer,
            "title": item.title,
            "cwe": item.cwe,
            "properties": _plain(item.properties),
        }
    if isinstance(item, ArtifactFacts):
        return {"type": "facts", "artifact": item.artifact, "facts": _plain(item.facts)}
    if isinstance(item, Component):
        return {
            "type": "component",
            "name": item.name,
            "version": item.version,
            "ecosystem": item.ecosystem,
            "purl": item.purl,
            "location": _loc_dict(item.location),
            "licenses": list(item.licenses),
            "properties": _plain(item.properties),
        }
    return {
        "type": "skipped",
        "analyzer": item.analyzer,
        "reason": item.reason,
        "location": _loc_dict(item.location) if item.location else None,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _tuplify(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _tuplify(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def _decode(d: Mapping[str, Any]) -> Cacheable:
    kind = d["type"]
    if kind == "finding":
        return Finding(
            rule_id=d["rule_id"],
            category=Category(d["category"]),
            severity=Severity.parse(d["severity"]),
            message=d["message"],
            location=_loc(d["location"]),
            fingerprint=d["fingerprint"],
            analyzer=d["analyzer"],
            title=d["title"],
            cwe=d["cwe"],
            properties=frozen_mapping(_tuplify(d["properties"])),
        )
    if kind == "component":
        return Component(
            name=d["name"],
            version=d["version"],
            ecosystem=d["ecosystem"],
            purl=d["purl"],
            location=_loc(d["location"]),
            licenses=tuple(d["licenses"]),
            properties=frozen_mapping(_tuplify(d["properties"])),
        )
    if kind == "facts":
        return ArtifactFacts(d["artifact"], frozen_mapping(_tuplify(d["facts"])))
    if kind == "skipped":
        loc = d.get("location")
        return Skipped(d["analyzer"], d["reason"], _loc(loc) if loc else None)
    raise ValueError(f"unknown cache record type {kind!r}")


class ResultCache:
    """A folder of cached analyzer results (``None`` root disables caching)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / "results" / key[:2] / f"{key}.json"

    def get(self, key: str) -> list[Cacheable] | None:
        """Cached outputs, or None on a miss (a corrupt entry counts as a miss)."""
        if self.root is None:
            return None
        path = self._path(key)
        try:
            raw = json.loads(path.read_text("utf-8"))
            if raw.get("format") != CACHE_FORMAT or raw.get("key") != key:
                raise ValueError("format or key mismatch")
            items = [_decode(d) for d in raw["items"]]
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable cache entry %s: %s", path.name, exc)
            self.misses += 1
            return None
        self.hits += 1
        return items

    def put(self, key: str, outputs: Iterable[object]) -> bool:
        """Store outputs unless they hold a failure or a profile; returns whether it stored."""
        if self.root is None:
            return False
        items: list[Cacheable] = []
        for o in outputs:
            if isinstance(o, AnalyzerFailure | ResourceProfile):
                return False
            if isinstance(o, Finding | Component | Skipped | ArtifactFacts):
                items.append(o)
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            payload = {"format": CACHE_FORMAT, "key": key, "items": [_encode(i) for i in items]}
            # private: cached findings describe a private application (scanner.fsutil.PRIVATE)
            atomic_write_text(path, json.dumps(payload, sort_keys=True), private=True)
        except OSError as exc:
            # A cache that cannot be written only costs time next run; the scan stays correct.
            log.warning("cache not written (%s): %s", path.parent, exc.strerror or exc)
            return False
        return True
