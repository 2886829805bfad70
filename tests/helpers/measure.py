"""Run the panorama-gate CLI in this process and record its cost.

``python -m tests.helpers.measure OUT.json ARGS...`` runs ``scanner.cli.main(ARGS)`` and
writes ``{"exit": code, "wall_seconds": s, "vm_hwm_kb": peak RSS of this process,
"children_maxrss_kb": peak RSS of the largest waited-for child}`` to OUT.json, then exits with
the CLI's code. The peak comes from ``/proc/self/status`` (VmHWM), so it covers everything the
scan allocated in-process; worker processes are covered by ``RUSAGE_CHILDREN``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def _vm_hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    out = Path(sys.argv[1])
    argv = sys.argv[2:]
    from scanner.cli import main as cli_main

    start = time.monotonic()
    code = 3
    try:
        code = cli_main(argv)
    finally:
        out.write_text(
            json.dumps(
                {
                    "exit": code,
                    "wall_seconds": time.monotonic() - start,
                    "vm_hwm_kb": _vm_hwm_kb(),
                    "children_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                }
            )
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
