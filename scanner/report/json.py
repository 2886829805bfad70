"""The native JSON report (``schema_version`` 1), field names per the CLI contract."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

from scanner.models import (
    AnalyzerFailure,
    Artifact,
    Component,
    Finding,
    Location,
    Report,
    ResourceProfile,
    Timing,
    Timings,
    Verdict,
)
from scanner.report._common import no_surrogates

__all__ = ["JsonWriter", "jsonable", "report_to_dict", "timings_to_dict", "verdict_to_dict"]


def _jsonable(value: Any) -> Any:
    """Plain JSON data from mappings, sequences and scalars, in sorted key order."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


jsonable = _jsonable


def location_to_dict(loc: Location | None) -> dict[str, Any] | None:
    """A location as the contract writes it."""
    if loc is None:
        return None
    out: dict[str, Any] = {"artifact": loc.artifact, "path": loc.path, "line": loc.line}
    if loc.layer is not None:
        out["layer"] = loc.layer
    return out


def artifact_to_dict(a: Artifact) -> dict[str, Any]:
    """An artifact entry."""
    out: dict[str, Any] = {
        "name": a.name,
        "kind": a.kind.value,
        "path": a.path,
        "sha256": a.digest.hex if a.digest else None,
        "size": a.size,
    }
    if a.package:
        out["package"] = a.package
    if a.media_type:
        out["format"] = a.media_type
    if a.layers:
        out["layers"] = [
            {"index": la.index, "diff_id": str(la.diff_id) if la.diff_id else None, "size": la.size}
            for la in a.layers
        ]
    for key, value in sorted(a.properties.items()):
        out.setdefault(key, _jsonable(value))
    return out


def finding_to_dict(f: Finding) -> dict[str, Any]:
    """A finding entry."""
    return {
        "rule_id": f.rule_id,
        "category": f.category.value,
        "severity": f.severity.label,
        "title": f.title,
        "message": f.message,
        "location": location_to_dict(f.location),
        "fingerprint": f.fingerprint,
        "cwe": f.cwe,
        "waived": f.waived,
        "properties": _jsonable(f.properties),
    }


def component_to_dict(c: Component) -> dict[str, Any]:
    """A component entry."""
    return {
        "name": c.name,
        "version": c.version,
        "ecosystem": c.ecosystem,
        "purl": c.purl,
        "licenses": list(c.licenses) or ["UNKNOWN"],
        "location": {"artifact": c.location.artifact, "path": c.location.path},
        "properties": _jsonable(c.properties),
    }


def failure_to_dict(f: AnalyzerFailure) -> dict[str, Any]:
    """A failure entry."""
    return {"analyzer": f.analyzer, "location": location_to_dict(f.location), "reason": f.reason}


def resources_to_dict(r: ResourceProfile | None) -> dict[str, Any]:
    """The sandbox profile (``{"ran": false, ...}`` when none ran)."""
    if r is None:
        return {"ran": False, "reason": "profiling not requested"}
    out: dict[str, Any] = {
        "ran": r.ran,
        "reason": r.reason,
        "sandbox": r.sandbox,
        "emulated": r.emulated,
    }
    for key in (
        "cpu_seconds",
        "cpu_percent",
        "peak_memory_bytes",
        "disk_written_bytes",
        "max_processes",
        "network_attempts",
        "exit_code",
        "oom_killed",
        "frames_processed",
        "wall_seconds",
    ):
        out[key] = getattr(r, key)
    out["properties"] = _jsonable(r.properties)
    return out


def verdict_to_dict(v: Verdict | None) -> dict[str, Any] | None:
    """The verdict with its reasons."""
    if v is None:
        return None
    return {
        "decision": v.decision.value,
        "reasons": [
            {
                "code": r.code,
                "message": r.message,
                "fingerprints": list(r.fingerprints),
                "failures": list(r.failures),
                "level": r.level,
            }
            for r in v.reasons
        ],
        "policy": {"name": v.policy_name, "sha256": v.policy_sha256},
        "waivers": [
            {
                "id": w.id,
                "status": w.status,
                "reason": w.reason,
                "owner": w.owner,
                "expires": w.expires,
                "source": w.source,
                "fingerprints": list(w.fingerprints),
            }
            for w in v.waivers
        ],
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    """The whole report as a JSON-ready dict in deterministic order."""
    return {
        "schema_version": report.schema_version,
        "tool": {"name": report.tool_name, "version": report.tool_version},
        "created_at": report.created_at,
        "target": {
            "path": report.target.path,
            "kind": report.target.kind.value,
            "name": report.target.name,
            "version": report.target.version,
        },
        "artifacts": [artifact_to_dict(a) for a in report.artifacts],
        "findings": [finding_to_dict(f) for f in report.findings],
        "components": [component_to_dict(c) for c in report.components],
        "resources": resources_to_dict(report.resources),
        "failures": [failure_to_dict(f) for f in report.failures],
        "skipped": [
            {"analyzer": s.analyzer, "location": location_to_dict(s.location), "reason": s.reason}
            for s in report.skipped
        ],
        "analyzers": dict(sorted(report.analyzers.items())),
        "config": _jsonable(report.config_audit),
        "verdict": verdict_to_dict(report.verdict),
        **({"timings": timings_to_dict(report.timings)} if report.timings is not None else {}),
    }


def timings_to_dict(t: Timings) -> dict[str, Any]:
    """Where the scan's time went: whole-run wall and CPU seconds, then stages and analyzers."""

    def rows(m: Mapping[str, Timing]) -> dict[str, dict[str, float | int]]:
        return {
            name: {"seconds": v.seconds, "bytes": v.bytes, "files": v.files}
            for name, v in sorted(m.items())
        }

    return {
        "wall_seconds": t.wall_seconds,
        "cpu_seconds": t.cpu_seconds,
        "jobs": t.jobs,
        "stages": rows(t.stages),
        "analyzers": rows(t.analyzers),
    }


class JsonWriter:
    """``--format json``."""

    name = "json"
    media_type = "application/json"

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the report as indented JSON with a trailing newline."""
        text = json.dumps(report_to_dict(report), indent=2, ensure_ascii=False)
        fp.write(no_surrogates(text) + "\n")
