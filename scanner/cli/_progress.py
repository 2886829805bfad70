"""Progress on long work: a transient bar on stderr while artifacts are read (TTY only)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from scanner.pipeline import Progress

__all__ = ["scan_progress"]


@contextlib.contextmanager
def scan_progress(enabled: bool) -> Iterator[Progress | None]:
    """Yield a ``progress(artifact, done, total)`` callback, or None when not on a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import (
        Progress as Bar,
    )

    with Bar(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=True,
        redirect_stdout=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(name: str, done: int, total: int) -> None:
            task = tasks.get(name)
            if task is None:
                short = name if len(name) <= 24 else name[:10] + "…" + name[-10:]
                task = tasks[name] = bar.add_task(f"reading {short}", total=total or None)
            bar.update(task, completed=done)

        yield update
