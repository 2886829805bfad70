"""Helpers shared by the model analyzers: options, finding construction, bounded reads."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping
from typing import Any, BinaryIO

from scanner.analyzers.interface import AnalyzerContext
from scanner.models import Category, Finding, Location, Severity
from scanner.redact import redact

__all__ = [
    "SliceReader",
    "model_finding",
    "model_options",
    "opt_int",
    "secret_kind",
]

# Effectively unlimited for the dispatcher: model files are streamed, never read whole.
MODEL_MAX_SIZE = 1 << 46


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


# A small local rule set for secrets in model metadata; the shared secret rules are used when
# present (``scanner.analyzers._secret_rules``), these only when that module is unavailable.
_LOCAL_SECRET_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("aws-access-key-id", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b")),
    ("private-key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("github-token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("slack-token", re.compile(r"\bxox[abpors]-[A-Za-z0-9-]{10,}\b")),
    ("hf-token", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")),
    ("openai-key", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b")),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
)
_SECRET_KEY_NAMES = re.compile(
    r"(?i)(password|passwd|secret|api[_-]?key|access[_-]?key|token|credential|private[_-]?key)"
)


def _entropy(text: str) -> float:
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def secret_kind(key: str, value: str) -> str | None:
    """The kind of secret a metadata ``key: value`` pair holds, or ``None``.

    Never returns or logs the value: callers show ``redact(value)`` only.
    """
    try:
        from scanner.analyzers import _secret_rules  # type: ignore[attr-defined]  # lands later

        matcher = getattr(_secret_rules, "match_text", None)
    except ImportError:
        matcher = None
    if matcher is not None:
        for hit in matcher(f"{key}={value}"):
            rule = getattr(hit, "rule_id", None) or getattr(hit, "rule", None)
            if rule:
                return str(rule).rsplit(".", 1)[-1]
    for kind, rx in _LOCAL_SECRET_RULES:
        if rx.search(value):
            return kind
    if _SECRET_KEY_NAMES.search(key) and len(value) >= 12 and _entropy(value) >= 3.0:
        return "credential-in-named-field"
    return None


def redacted(value: str) -> str:
    """The only form a secret may take in a finding."""
    return redact(value)
