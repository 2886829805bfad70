"""pid 1 of panorama-gate's sandbox: start the application, reap everything, account for it.

Runs inside the sandbox with the container's own Python (3.7+, standard library only)::

    python3 /panorama-gate/pg_init.py [--deadline S] [--count-procs] [--measure PATH]...
        [--rlimit NAME=VALUE]... [--status-fd N] -- python3 /panorama/app.py

As pid 1 of a fresh pid namespace every orphan is re-parented here, so ``wait4`` accounting
(``RUSAGE_CHILDREN``, the kernel's per-process I/O counters folded into ours on reaping) covers
the application's whole process tree. When the application's main process ends, or the
deadline passes, every other process in the namespace is killed and reaped. The final status
is one JSON object, written to ``--status-fd`` or as the last stderr line after a marker.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import sys
import threading
import time
from typing import Any

MARKER = "@@PANORAMA-GATE-STATUS@@ "


class State:
    """What the application's processes reported over the status socket."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frames = 0
        self.ended = False
        self.puts = 0
        self.net_events = 0
        self.net_targets: list[str] = []
        self.models: dict[str, str] = {}
        self.messages = 0
        self.bad_messages = 0
        self.max_procs = 0
        self.max_threads = 0
        self.timed_out = False

    def take(self, raw: bytes) -> None:
        """Account for one datagram from the SDK or the audit hook (malformed ones counted)."""
        try:
            msg = json.loads(raw.decode("utf-8"))
            kind = msg["kind"]
        except (ValueError, KeyError, TypeError):
            with self.lock:
                self.bad_messages += 1
            return
        with self.lock:
            self.messages += 1
            if kind == "frame":
                self.frames = max(self.frames, int(msg.get("n", 0)))
            elif kind == "end":
                self.ended = True
                self.frames = max(self.frames, int(msg.get("frames", 0)))
            elif kind == "put":
                self.puts += 1
            elif kind == "net":
                self.net_events += 1
                if len(self.net_targets) < 20:
                    self.net_targets.append(str(msg.get("target", ""))[:200])
            elif kind == "model":
                self.models[str(msg.get("name"))] = str(msg.get("mode"))


def _reader(sock: socket.socket, state: State, stop: threading.Event) -> None:
    sock.settimeout(0.05)
    while not stop.is_set():
        try:
            raw = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return
        state.take(raw)
    # Drain what is left after the last process died.
    sock.setblocking(False)
    while True:
        try:
            state.take(sock.recv(65536))
        except OSError:
            return


def _count_procs() -> tuple[int, int]:
    procs = threads = 0
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            n = len(os.listdir(f"/proc/{name}/task"))
        except OSError:
            continue
        procs += 1
        threads += n
    return procs, threads


def _sampler(state: State, stop: threading.Event) -> None:
    # Sampled, so a short-lived peak can be missed: the Docker sandbox reads the exact
    # pids.peak of its cgroup instead.
    while not stop.wait(0.005):
        procs, threads = _count_procs()
        with state.lock:
            state.max_procs = max(state.max_procs, procs)
            state.max_threads = max(state.max_threads, threads)


def _snmp_no_routes() -> int:
    total = 0
    try:
        with open("/proc/net/snmp") as fp:
            lines = [ln.split() for ln in fp if ln.startswith("Ip:")]
        if len(lines) >= 2 and "OutNoRoutes" in lines[0]:
            total += int(lines[1][lines[0].index("OutNoRoutes")])
    except (OSError, ValueError):
        pass  # no IPv4 stack counters: the audit hook's count stands alone
    try:
        with open("/proc/net/snmp6") as fp:
            for ln in fp:
                parts = ln.split()
                if len(parts) == 2 and parts[0] == "Ip6OutNoRoutes":
                    total += int(parts[1])
    except (OSError, ValueError):
        pass  # IPv6 disabled in the namespace
    return total


def _io() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/self/io") as fp:
            for ln in fp:
                key, _, value = ln.partition(":")
                out[key.strip()] = int(value)
    except (OSError, ValueError):
        pass  # kernels without task I/O accounting: disk figures stay unknown
    return out


def _used_bytes(path: str) -> int | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return (st.f_blocks - st.f_bfree) * st.f_frsize


_RLIMITS = {
    "as": resource.RLIMIT_AS,
    "data": resource.RLIMIT_DATA,
    "cpu": resource.RLIMIT_CPU,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "nproc": resource.RLIMIT_NPROC,
    "core": resource.RLIMIT_CORE,
}


def _parse(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    opts: dict[str, Any] = {"deadline": 0.0, "count": False, "measure": [], "rlimits": [], "fd": -1}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return opts, argv[i + 1 :]
        if a == "--deadline":
            opts["deadline"] = float(argv[i + 1])
            i += 1
        elif a == "--count-procs":
            opts["count"] = True
        elif a == "--measure":
            opts["measure"].append(argv[i + 1])
            i += 1
        elif a == "--rlimit":
            name, _, value = argv[i + 1].partition("=")
            opts["rlimits"].append((_RLIMITS[name], int(value)))
            i += 1
        elif a == "--status-fd":
            opts["fd"] = int(argv[i + 1])
            i += 1
        else:
            raise SystemExit(f"pg_init: unknown option {a!r}")
        i += 1
    raise SystemExit("pg_init: missing -- COMMAND")


def _kill_all() -> None:
    if os.getpid() != 1:  # kill(-1) outside a pid namespace would hit the whole machine
        return
    try:
        os.kill(-1, signal.SIGKILL)  # as pid 1: every other process of the namespace
    except OSError:
        pass  # ESRCH: nothing left to kill


def main(argv: list[str]) -> int:
    """Run the command as our child, reap everything, write the status; returns 0."""
    opts, command = _parse(argv)
    if not command:
        raise SystemExit("pg_init: empty command")
    if os.getpid() != 1:
        raise SystemExit("pg_init: must run as pid 1 of its own pid namespace")
    if opts["fd"] >= 0:
        os.set_inheritable(opts["fd"], False)  # the application must not write our status
    state = State()
    stop = threading.Event()
    sock = _status_socket()
    threads = [threading.Thread(target=_reader, args=(sock, state, stop), daemon=True)]
    if opts["count"]:
        threads.append(threading.Thread(target=_sampler, args=(state, stop), daemon=True))
    net_before = _snmp_no_routes()
    for t in threads:
        t.start()
    init_tasks = _init_tasks(with_timer=opts["deadline"] > 0)
    started = time.monotonic()
    pid = _spawn(command, sock, opts["rlimits"])
    timer = _arm_deadline(state, opts["deadline"])
    status = _reap(pid)
    wall = time.monotonic() - started
    if timer is not None:
        timer.cancel()
    stop.set()
    for t in threads:
        t.join(1.0)
    result = _result(state, opts, status, init_tasks, wall, net_before)
    _write_status(json.dumps(result, sort_keys=True), opts["fd"])
    return 0


def _status_socket() -> socket.socket:
    """The datagram socket the SDK and the audit hook report to (abstract, named by env)."""
    name = os.environ.get("PANORAMA_GATE_STATUS", "")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind("\0" + name)
    return sock


def _init_tasks(with_timer: bool) -> int:
    """Our own threads (the deadline timer included), which the pids counter also counts."""
    try:
        return len(os.listdir("/proc/self/task")) + (1 if with_timer else 0)
    except OSError:
        return 0


def _spawn(command: list[str], sock: socket.socket, rlimits: list[tuple[int, int]]) -> int:
    """Fork and exec the command under its rlimits; returns the child's pid.

    The child never returns: it execs, or reports why it could not and exits 127.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            sock.close()
            for res, value in rlimits:
                resource.setrlimit(res, (value, value))
            os.execvp(command[0], command)  # noqa: S606 - the entry point, as the device runs it
        except BaseException as exc:  # noqa: BLE001 - report any exec failure, then exit 127
            os.write(2, (f"pg_init: cannot run {command!r}: {exc}\n").encode())
        os._exit(127)
    return pid


def _arm_deadline(state: State, deadline: float) -> threading.Timer | None:
    """A timer that kills every process at the deadline and says so (none without one)."""
    if deadline <= 0:
        return None

    def _expire() -> None:
        state.timed_out = True
        _kill_all()

    timer = threading.Timer(deadline, _expire)
    timer.daemon = True
    timer.start()
    return timer


def _reap(pid: int) -> int | None:
    """Reap every process until none is left; returns the wait status of ``pid``.

    When ``pid`` (the application) ends, whatever it left running is killed.
    """
    status: int | None = None
    while True:
        try:
            wpid, wstatus, _ = os.wait4(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if wpid == pid:
            status = wstatus
            _kill_all()  # the app is gone: its leftovers go too
    return status


def _exit_code(status: int | None) -> tuple[int | None, int | None]:
    """``(exit code, signal)`` of a wait status; a signal gives 128 + its number, as in a shell."""
    if status is None:
        return None, None
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status), None
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        return 128 + signum, signum
    return None, None


def _result(
    state: State,
    opts: dict[str, Any],
    status: int | None,
    init_tasks: int,
    wall: float,
    net_before: int,
) -> dict[str, Any]:
    """The status object: what the kernel accounted for the reaped tree and what was reported."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    io = _io()
    exit_code, signum = _exit_code(status)
    return {
        "exit_code": exit_code,
        "init_tasks": init_tasks,
        "signal": signum,
        "timed_out": state.timed_out,
        "wall_seconds": wall,
        "init_cpu": me.ru_utime + me.ru_stime,
        "cpu_user": ru.ru_utime,
        "cpu_system": ru.ru_stime,
        "maxrss_bytes": ru.ru_maxrss * 1024,
        "io": io,
        # Frame n counts as processed once the app asks for frame n + 1, the frame budget
        # ends the run, or the app exits cleanly; a crash or kill leaves the last in flight.
        "frames": state.frames if state.ended or exit_code == 0 else max(state.frames - 1, 0),
        "frames_delivered": state.frames,
        "frames_ended": state.ended,
        "puts": state.puts,
        "net_hook": state.net_events,
        "net_targets": state.net_targets,
        "net_no_routes": _snmp_no_routes() - net_before,
        "models": state.models,
        "messages": state.messages,
        "bad_messages": state.bad_messages,
        "max_procs": state.max_procs if opts["count"] else None,
        "max_threads": state.max_threads if opts["count"] else None,
        "used": {p: _used_bytes(p) for p in opts["measure"]},
    }


def _write_status(line: str, fd: int) -> None:
    """The status line, to ``--status-fd`` or as the last stderr line after the marker."""
    if fd >= 0:
        with os.fdopen(fd, "w") as fp:
            fp.write(line + "\n")
    else:
        sys.stderr.write("\n" + MARKER + line + "\n")
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
