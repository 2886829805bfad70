"""The ``-v`` table of where a scan's time went (the JSON report has the same figures).

Example::

    print(format_timings(report.timings), file=sys.stderr)
"""

from __future__ import annotations

from collections.abc import Mapping

from scanner.models import Timing, Timings

__all__ = ["format_timings"]


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.1f} GiB"


def _rows(title: str, rows: Mapping[str, Timing]) -> list[str]:
    out = [f"  {title:<18} {'seconds':>8} {'files':>8} {'bytes':>11}"]
    for name, t in sorted(rows.items(), key=lambda kv: (-kv[1].seconds, kv[0])):
        files = str(t.files) if t.files else ""
        size = _size(t.bytes) if t.bytes else ""
        out.append(f"  {name:<18} {t.seconds:>8.2f} {files:>8} {size:>11}")
    return out


def format_timings(t: Timings) -> str:
    """A few lines: the whole scan, then stages and analyzers, slowest first."""
    lines = [
        f"timings: {t.wall_seconds:.2f} s wall, {t.cpu_seconds:.2f} s CPU, {t.jobs} job(s) "
        "(analyzer seconds are their own work; content reads count under the stage 'read')"
    ]
    lines += _rows("stage", t.stages)
    lines += _rows("analyzer", t.analyzers)
    return "\n".join(lines)
