"""A run started with SIGINT and SIGTERM blocked (a parent's thread, a supervisor) still stops
on them: the CLI unblocks both first."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time

from tests.helpers.cli_runner import REPO, cli_env

# Blocks both signals, then becomes the CLI: a process inherits its parent's mask across exec
# (SIGINT's default handling is asked for too: a run in the background may have it ignored).
_BLOCKED_THEN_CLI = (
    "import os, signal, sys\n"
    "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})\n"
    "os.execv(sys.executable, [sys.executable, '-c', sys.argv[1]])\n"
)
# The CLI's first step, then a wait that only a delivered signal ends.
_CLI = (
    "import signal, sys, time\n"
    "from scanner.cli import cancellable\n"
    "cancellable()\n"
    "blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])\n"
    "print(sorted(int(s) for s in blocked), flush=True)\n"
    "try:\n"
    "    time.sleep(60)\n"
    "except KeyboardInterrupt:\n"
    "    sys.exit(130)\n"
)


def test_a_run_started_with_signals_blocked_can_still_be_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _BLOCKED_THEN_CLI, _CLI],
        cwd=REPO,
        env=cli_env(None),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert int(signal.SIGINT) not in ast.literal_eval(line)
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=30) == 130
