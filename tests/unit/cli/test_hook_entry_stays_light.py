"""The installed hook's entry imports no scanning machinery until something needs scanning.

A push that changes nothing relevant must answer in well under a second; importing the report
writers or the analyzers costs half a second and more.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("scanner.report", "scanner.pipeline", "scanner.analyzers", "scanner.gate", "signing")


def test_hook_entry_imports_nothing_heavy() -> None:
    code = (
        "import sys; import scanner.cli.hook.__main__; "
        f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]", proc.stdout
