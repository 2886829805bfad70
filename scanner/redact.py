"""Redaction: the only form in which a secret may appear in a report, log or error."""

from __future__ import annotations

__all__ = ["redact"]


def redact(value: str | bytes) -> str:
    """First 4 characters and the length, e.g. ``AKIA…(20)``; short values show nothing."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if len(text) <= 8:
        return f"…({len(text)})"
    return f"{text[:4]}…({len(text)})"
