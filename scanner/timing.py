"""Where a scan's time goes: seconds, bytes and files per analyzer and per stage.

A ``Tally`` adds up the time spent in named pieces of work (an analyzer's calls, a stage of
the pipeline) with the bytes and files each was handed. Tallies from worker processes merge
into the parent's (``export``/``merge``: plain tuples, cheap to pickle). The report carries the
result (``Report.timings``), so "why is it slow" has an answer in every report.

Example::

    tally = Tally()
    with tally.timed("secrets", nbytes=len(data), files=1):
        scan(data)
    tally.timings()["secrets"].seconds
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from scanner.models import Timing

__all__ = ["Tally", "TallyRow"]

TallyRow = tuple[float, int, int]
"""``(seconds, bytes, files)``, the form a tally crosses a process boundary in."""


class Tally:
    """Sums of seconds, bytes and files by name, added to by one thread (the walk's, or a
    worker's): a lock per addition would cost more than the figures are worth."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: dict[str, list[float]] = {}

    def add(self, name: str, seconds: float, nbytes: int = 0, files: int = 0) -> None:
        """Add one piece of work to ``name``'s row."""
        row = self._rows.get(name)
        if row is None:
            self._rows[name] = [seconds, nbytes, files]
        else:
            row[0] += seconds
            row[1] += nbytes
            row[2] += files

    def timed(self, name: str, nbytes: int = 0, files: int = 0) -> _Timed:
        """Time the block (wall clock) and add it to ``name``, even when it raises."""
        return _Timed(self, name, nbytes, files)

    def export(self) -> dict[str, TallyRow]:
        """A plain copy of the rows (to send across processes)."""
        return {k: (v[0], int(v[1]), int(v[2])) for k, v in self._rows.items()}

    def merge(self, rows: Mapping[str, TallyRow]) -> None:
        """Add another tally's exported rows to this one."""
        for name, (seconds, nbytes, files) in rows.items():
            self.add(name, seconds, nbytes, files)

    def timings(self) -> dict[str, Timing]:
        """The rows as ``Timing`` values, sorted by name, seconds rounded to milliseconds."""
        return {
            name: Timing(round(max(seconds, 0.0), 3), nbytes, files)
            for name, (seconds, nbytes, files) in sorted(self.export().items())
        }


class _Timed:
    """``Tally.timed``'s context manager: a plain class, as it wraps a few calls per file of a
    walk (a generator-based one costs three times as much to enter and leave)."""

    __slots__ = ("_files", "_name", "_nbytes", "_start", "_tally")

    def __init__(self, tally: Tally, name: str, nbytes: int, files: int) -> None:
        self._tally, self._name, self._nbytes, self._files = tally, name, nbytes, files
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._tally.add(self._name, time.perf_counter() - self._start, self._nbytes, self._files)
