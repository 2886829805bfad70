"""A test analyzer that records every file it is offered and flags a marker string."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import FileAnalyzer, Output
from scanner.models import Category, Finding, Severity


class ProbeAnalyzer(FileAnalyzer):
    """Wants every file; yields ``probe.marker`` where the content holds ``MARKER``."""

    name = "probe"
    version = 1
    patterns = ("**",)
    max_size = 1 << 62
    MARKER = b"PLANTED-MARKER"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def analyze(self, entry: FileEntry) -> Iterable[Output]:
        self.seen.append(entry.path)
        data = entry.read()
        if self.MARKER in data:
            yield Finding.create(
                rule_id="probe.marker",
                category=Category.SECRET,
                severity=Severity.HIGH,
                message="marker found",
                location=entry.location(data[: data.index(self.MARKER)].count(b"\n") + 1),
            )
