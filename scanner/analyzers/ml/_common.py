"""Helpers shared by the model analyzers: options, finding construction, bounded reads."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, BinaryIO

from scanner.analyzers._secret_rules import find_secrets
from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import AnalyzerContext
from scanner.models import Category, Finding, Location, Severity
from scanner.redact import redact
from scanner.sources.sniff import Sniffed, sniff

__all__ = [
    "SliceReader",
    "metadata_secret",
    "model_finding",
    "model_options",
    "opt_int",
    "secret_kind",
    "sniffed_of",
]

# Effectively unlimited for the dispatcher: model files are streamed, never read whole.
MODEL_MAX_SIZE = 1 << 46


def sniffed_of(entry: FileEntry) -> Sniffed:
    """What the entry's content is: the walker's sniff, or one done now (direct callers)."""
    found = entry.extra.get("sniffed")
    if isinstance(found, Sniffed):
        return found
    result = sniff(entry.read, entry.path)
    entry.extra["sniffed"] = result
    return result


def model_options(ctx: AnalyzerContext) -> dict[str, Any]:
    """The policy's ``models:`` section overlaid with this analyzer's own options."""
    merged: dict[str, Any] = {}
    if ctx.config is not None:
        merged.update(ctx.config.analyzer_options("models"))
    merged.update(ctx.options)
    return merged


def opt_int(options: Mapping[str, Any], key: str, default: int) -> int:
    """An integer option, with a clear error for anything else."""
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"models.{key} must be a number, got {value!r}")
    return int(value)


def model_finding(
    analyzer: str,
    rule: str,
    severity: Severity,
    message: str,
    location: Location,
    evidence: str,
    *,
    cwe: int | None = None,
    properties: Mapping[str, Any] | None = None,
) -> Finding:
    """A ``model``-category finding with the rule id ``<analyzer>.<rule>``."""
    return Finding.create(
        rule_id=f"{analyzer}.{rule}",
        category=Category.MODEL,
        severity=severity,
        message=message,
        location=location,
        evidence=evidence,
        cwe=cwe,
        properties=properties,
    )


class SliceReader(io.RawIOBase):
    """A read-only, seekable window ``[start, start+length)`` of a seekable stream."""

    def __init__(self, f: BinaryIO, start: int, length: int) -> None:
        self._f = f
        self._start = start
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        else:
            self._pos = self._length + offset
        self._pos = max(0, self._pos)
        return self._pos

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        remaining = self._length - self._pos
        if remaining <= 0:
            return 0
        n = min(len(b), remaining)
        self._f.seek(self._start + self._pos)
        data = self._f.read(n)
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)


def secret_kind(key: str, value: str) -> str | None:
    """The rule name of a secret a metadata ``key: value`` pair holds, or ``None``.

    Uses the shared secret rules; documentation sample values (AWS's ``...EXAMPLE`` keys) are
    not secrets. Never returns or logs the value: callers show ``redact(value)`` only.
    """
    for match in find_secrets(f'{key} = "{value}"'):
        if not match.sample:
            return match.rule
    return None


def metadata_secret(
    analyzer: str,
    path: str,
    where: str,
    key: str,
    value: str,
    location: Location,
    *,
    evidence_at: str,
    extra: Mapping[str, Any] | None = None,
) -> Finding | None:
    """The ``<analyzer>.metadata-secret`` finding (high, category secret) for a secret that a
    model's metadata ``key: value`` pair in ``where`` holds, or ``None`` when it holds none."""
    kind = secret_kind(key, value)
    if kind is None:
        return None
    shown = redacted(value)
    return Finding.create(
        rule_id=f"{analyzer}.metadata-secret",
        category=Category.SECRET,
        severity=Severity.HIGH,
        message=f"{path} stores a secret ({kind}) in {where} key {key!r}: {shown}; "
        "remove it and rotate the credential.",
        location=location,
        evidence=f"{evidence_at}:{key}:{kind}",
        cwe=798,
        properties={"key": key, **(extra or {}), "kind": kind, "redacted": shown},
    )


def redacted(value: str) -> str:
    """The only form a secret may take in a finding."""
    return redact(value)
