"""Big files' SHA-256 taken ahead by a child interpreter, while the scan starts.

A project's container asset is hashed before it is walked: its name is its digest, and the
result cache is keyed by it. On the benchmark project that is 0.12 s (159 MiB) to 0.3 s
(400 MiB) at the start of the scan, while one core idles and the scan imports its commands and
analyzers, starts its workers and reads the manifests. A child process does the hashing
alongside (a thread of the scanning process would wait for the GIL at every read while the
scan imports); ``sha256_file`` takes its result, or hashes the file itself when nothing was
started for it, the child failed, or the file is not the one that was hashed (its device,
inode, size, modification or change time differ from before the child read it, or changed
while it read).

Example::

    with prehashing([project / "assets" / "abc.tar.gz"]):
        ...                                   # the scan starts
        hex_digest, size = sha256_file(path)  # waits for the child's result if need be
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "HASH_CHUNK",
    "PREHASH_MIN_BYTES",
    "big_files",
    "prehashing",
    "sha256_file",
    "start",
    "start_for_command",
]

HASH_CHUNK = 1024 * 1024
PREHASH_MIN_BYTES = 16 * 1024 * 1024  # smaller files are hashed in no time where they are needed

_State = tuple[int, int, int, int, int]  # device, inode, size, mtime_ns, ctime_ns


def _state(path: Path | str) -> _State | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass
class _Job:
    state: _State
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[str, int] | None = None


_jobs: dict[tuple[int, int], _Job] = {}
_lock = threading.Lock()


def _hash_stream(path: Path | str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    buf = bytearray(HASH_CHUNK)
    view = memoryview(buf)
    with open(path, "rb") as f:
        while n := f.readinto(buf):
            h.update(view[:n])
            size += n
    return h.hexdigest(), size


# What the child runs: an isolated interpreter (no site, no environment, no user folder), the
# standard library only, on a path it is given; it prints the digest and the size.
_CHILD = (
    "import hashlib,sys\n"
    "h=hashlib.sha256();n=0;b=bytearray(8<<20);v=memoryview(b)\n"
    "with open(sys.argv[1],'rb') as f:\n"
    " while k:=f.readinto(b):h.update(v[:k]);n+=k\n"
    "print(h.hexdigest(),n)"
)


def _hash_in_child(path: Path, stop: threading.Event) -> tuple[str, int] | None:
    """The digest taken by a child interpreter: a thread of this one would wait for the GIL
    at every read while the scan imports, and take twice as long."""
    with subprocess.Popen(  # noqa: S603 - our own interpreter and code, on a path
        [sys.executable, "-I", "-S", "-c", _CHILD, os.fspath(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as child:
        while True:
            try:
                child.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                if stop.is_set():
                    child.kill()
                    return None
        out = child.stdout.read() if child.stdout is not None else b""
    fields = out.split()
    if child.returncode != 0 or len(fields) != 2 or len(fields[0]) != 64:
        return None  # the caller hashes it, and reports what goes wrong
    if not fields[1].isdigit():
        return None
    return fields[0].decode("ascii"), int(fields[1])


def sha256_file(path: Path) -> tuple[str, int]:
    """Hex SHA-256 and size of a file: the child's result when it hashed this very file."""
    state = _state(path)
    with _lock:
        job = _jobs.get(state[:2]) if state is not None else None
    if job is not None and job.state == state:
        job.done.wait()
        if job.result is not None and _state(path) == state:
            return job.result
    return _hash_stream(path)


def big_files(target: Path, min_bytes: int | None = None) -> list[Path]:
    """The target when it is a file of ``min_bytes`` (default ``PREHASH_MIN_BYTES``) or more,
    else such files of its ``assets/`` (a Panorama project's): the ones worth hashing ahead."""
    if min_bytes is None:
        min_bytes = PREHASH_MIN_BYTES
    try:
        if target.is_file():
            return [target] if target.stat().st_size >= min_bytes else []
        with os.scandir(target / "assets") as it:
            return [
                Path(e.path)
                for e in it
                if e.is_file(follow_symlinks=False) and e.stat().st_size >= min_bytes
            ]
    except OSError:
        return []  # the scan says what is wrong with the target


def _launch(paths: Iterable[Path]) -> tuple[list[_Job], threading.Event, threading.Thread | None]:
    """Register a job per file not already being hashed, and start a thread that has a child
    hash them, one after the other (the thread only waits)."""
    todo: list[tuple[Path, _Job]] = []
    adopted: list[_Job] = []
    with _lock:
        for path in paths:
            state = _state(path)
            if state is None:
                continue
            job = _jobs.get(state[:2])
            if job is not None and job.state == state:
                adopted.append(job)  # started earlier (``start``): the same file as it is now
                continue
            job = _jobs[state[:2]] = _Job(state)
            todo.append((path, job))
    stop = threading.Event()
    if not todo:
        return adopted, stop, None

    def run() -> None:
        for path, job in todo:
            try:
                if not stop.is_set():
                    result = _hash_in_child(path, stop)
                    # a file that changed while it was read: its digest is nobody's
                    job.result = result if _state(path) == job.state else None
            except OSError:  # no child to be had
                job.result = None  # the caller hashes it, and reports what goes wrong
            finally:
                job.done.set()

    thread = threading.Thread(target=run, name="pg-prehash", daemon=True)
    thread.start()
    return [*adopted, *(job for _, job in todo)], stop, thread


def start(paths: Iterable[Path]) -> None:
    """Start hashing ``paths`` now, for a scan that has not begun (the CLI, before it imports
    the commands: half a second); the scan's ``prehashing`` takes the jobs over."""
    _launch(paths)


def start_for_command(argv: Sequence[str]) -> list[Path]:
    """``start`` on the targets a ``scan`` command line names, before it is even parsed.

    Only a guess, and a safe one: each argument after ``scan`` that is a project folder (its
    ``assets/``' big files) or, right after ``scan``, a big file. A digest is only ever used
    for the very file it was taken of (``sha256_file``); a wrong guess costs a child's time.
    Returns the files it started on.
    """
    if "scan" not in argv:
        return []
    rest = list(argv[argv.index("scan") + 1 :])
    paths: list[Path] = []
    for i, arg in enumerate(rest):
        if arg.startswith("-"):
            continue
        target = Path(arg)
        if target.is_dir() or i == 0:
            paths.extend(big_files(target))
    if paths:
        start(paths)
    return paths


@contextlib.contextmanager
def prehashing(paths: Iterable[Path]) -> Iterator[None]:
    """Hash ``paths`` ahead while the block runs (taking over what ``start`` began); when it
    ends, the child is stopped and the results are dropped."""
    jobs, stop, thread = _launch(paths)
    try:
        yield
    finally:
        stop.set()
        with _lock:
            for job in jobs:
                if _jobs.get(job.state[:2]) is job:
                    del _jobs[job.state[:2]]
        if thread is not None:
            thread.join()
