"""FileAnalyzers that a worker process can host (importable by name), for the worker tests.

``DiesOnMarker`` ends its process abruptly when it reads a file starting with ``DIE`` (exit
status 70, as a crash in a native parser would) or ``KILL`` (SIGKILL, as the OOM killer
would); outside a multiprocessing child (in the test's own process) it raises instead, so a
mistake in a test can never kill pytest.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterable
from typing import ClassVar

from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import FileAnalyzer, Output
from scanner.models import Category, Finding, Severity

__all__ = ["DiesOnMarker"]


class DiesOnMarker(FileAnalyzer):
    """Reports every file it sees; dies on a file that starts with ``DIE`` or ``KILL``."""

    name = "dies-on-marker"
    version = 1
    patterns = ("**",)
    parallel: ClassVar[bool] = True

    def analyze(self, entry: FileEntry) -> Iterable[Output]:
        """One low finding per file; the process's end on the marker."""
        head = entry.read()[:4]
        if head.startswith((b"DIE", b"KILL")):
            if multiprocessing.parent_process() is None:
                raise RuntimeError("DiesOnMarker ran in the test process")
            if head == b"KILL":
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(70)
        yield Finding.create(
            rule_id="test.seen",
            category=Category.CODE,
            severity=Severity.LOW,
            message="seen",
            location=entry.location(),
        )
