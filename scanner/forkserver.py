"""multiprocessing's fork server, started so that nothing it runs can print to the user.

Worker processes (the analyzer worker, bandit's pool) fork from the fork server: a clean,
single-threaded process, never a copy of the scanning process and its threads. Two things are
set when the server starts, and everything forked from it inherits them:

- SIGINT blocked. A Ctrl-C reaches the whole process group; the scanning process handles it
  and stops its workers, which must not die mid-start with a ``KeyboardInterrupt`` traceback.
- stderr on ``/dev/null`` (unless debug logging is on). A process being forked when the
  scanning process is interrupted finds its parent gone (``EOFError``, a ``SemLock`` whose
  semaphore was unlinked) and multiprocessing prints that traceback from the child: it reached
  the user's terminal under load. A worker's own failures reach the scan as data (an
  ``AnalyzerFailure``, a failed future), never through stderr.

The resource tracker is started first and on its own: it unblocks SIGINT after starting
(rather than restoring the mask).

Example::

    start_forkserver(["scanner.walk.worker_host"])
    ctx = multiprocessing.get_context("forkserver")
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import signal
from collections.abc import Iterable

__all__ = ["start_forkserver"]


def start_forkserver(preload: Iterable[str] = ()) -> None:
    """Start the fork server (if it is not running) with ``preload`` imported in it."""
    modules = list(preload)
    if modules:
        multiprocessing.set_forkserver_preload(modules)  # heeded only by a server not started
    quiet = not logging.getLogger("scanner").isEnabledFor(logging.DEBUG)
    saved = os.dup(2) if quiet else -1
    if quiet:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    try:
        for start in (
            multiprocessing.resource_tracker.ensure_running,
            multiprocessing.forkserver.ensure_running,
        ):
            old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
    finally:
        if quiet:
            os.dup2(saved, 2)
            os.close(saved)
