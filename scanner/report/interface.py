"""The report writer contract: pure functions of (report) to bytes; no network, no decisions."""

from __future__ import annotations

from typing import Protocol, TextIO

from scanner.models import Report

__all__ = ["ReportWriter"]


class ReportWriter(Protocol):
    """A report format: ``name`` as used by ``--format``, a media type and a pure ``write``."""

    name: str
    media_type: str

    def write(self, report: Report, fp: TextIO) -> None:
        """Write ``report`` (which carries its verdict) to ``fp``."""
        ...
