"""Long fuzzing run: every target under atheris for a time budget; prints executions and crashes.

    python benchmarks/fuzz.py --seconds 40            # each target 40 s (about 11 minutes)
    python benchmarks/fuzz.py --seconds 5 --only tar,zip

Crash inputs are kept under ``--crashes DIR`` (default ``fuzz-crashes/``); each one found
becomes a regression test by copying it into ``tests/fuzz/regressions/<target>/``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fuzz.targets import TARGETS  # noqa: E402

DONE = re.compile(r"Done (\d+) runs in (\d+) second")
STAT = re.compile(r"^#(\d+)\s", re.MULTILINE)


def run_target(name: str, seconds: int, crashes: Path) -> dict[str, object]:
    """Fuzz one target for ``seconds``; returns executions, crashes and rate."""
    out = crashes / name
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.run_atheris",
            name,
            f"-max_total_time={seconds}",
            f"-artifact_prefix={out}/",
            "-print_final_stats=1",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=seconds * 3 + 300,
    )
    wall = time.perf_counter() - t0
    done = DONE.search(proc.stderr)
    stats = STAT.findall(proc.stderr)
    execs = int(done.group(1)) if done else (int(stats[-1]) if stats else 0)
    found = sorted(p.name for p in out.glob("crash-*"))
    return {
        "target": name,
        "executions": execs,
        "crashes": len(found),
        "exit": proc.returncode,
        "seconds": round(wall, 1),
        "execs_per_s": round(execs / max(wall, 1e-9)),
    }


def main() -> None:
    """Run the long fuzz campaign and print a table and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=40)
    parser.add_argument("--only", default="")
    parser.add_argument("--crashes", type=Path, default=REPO / "fuzz-crashes")
    args = parser.parse_args()
    names = [n for n in TARGETS if not args.only or n in args.only.split(",")]
    rows = []
    for name in names:
        row = run_target(name, args.seconds, args.crashes)
        rows.append(row)
        print(
            f"{name:<14} {row['executions']:>10} execs  {row['execs_per_s']:>7}/s  "
            f"crashes {row['crashes']}  exit {row['exit']}",
            flush=True,
        )
    total = sum(int(r["executions"]) for r in rows)  # type: ignore[call-overload]
    crashes = sum(int(r["crashes"]) for r in rows)  # type: ignore[call-overload]
    print(f"TOTAL {total} executions across {len(rows)} targets, {crashes} crash(es)")
    print(json.dumps({"total_executions": total, "crashes": crashes, "targets": rows}))


if __name__ == "__main__":
    main()
