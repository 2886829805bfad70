"""Turning what init and the kernel counted into a ``ResourceProfile``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.models import ResourceProfile, frozen_mapping
from scanner.sandbox._cgroups import CgroupFigures

__all__ = ["build_profile", "not_run"]


def not_run(reason: str, sandbox: str = "", **properties: Any) -> ResourceProfile:
    """A profile that could not run, with the reason (the policy decides what that means)."""
    return ResourceProfile(
        ran=False, reason=reason, sandbox=sandbox, properties=frozen_mapping(properties)
    )


def _exception_name(stderr_tail: str) -> str | None:
    """The exception type of a Python traceback's last line (never its message: it may hold
    a secret)."""
    for line in reversed(stderr_tail.splitlines()):
        head = line.split(":", 1)[0].strip()
        if (
            head
            and head.replace(".", "").replace("_", "").isalnum()
            and (head.endswith(("Error", "Exception", "Interrupt", "Exit")) or head == "KeyError")
        ):
            return head
    return None


def build_profile(
    *,
    sandbox: str,
    status: Mapping[str, Any] | None,
    cgroup: CgroupFigures | None,
    outside_wall: float,
    exit_code: int | None,
    oom_killed: bool | None,
    emulated: bool,
    stderr_tail: str = "",
    extra: Mapping[str, Any] | None = None,
) -> ResourceProfile:
    """Combine init's status (inside view) with the cgroup's counters (outside view).

    Outside figures win where both exist: the application shares init's process and could
    tamper with what init reports, but not with the kernel's cgroup counters.
    """
    props: dict[str, Any] = dict(extra or {})
    st = dict(status or {})
    if status is None:
        props["status"] = "init reported nothing (killed, or the entry interpreter is missing)"
    wall = float(st.get("wall_seconds") or outside_wall)
    figures = _outside_figures(cgroup, st, props) if cgroup is not None else _Figures()
    _fill_from_init(figures, st, props)
    disk = _disk_written(st, props)
    net = _network_attempts(status, st, props)
    _note_run(st, props)
    code = st.get("exit_code") if st.get("exit_code") is not None else exit_code
    oom = _oom(code, bool(oom_killed) or bool(cgroup and cgroup.oom_kills), stderr_tail, props)
    cpu = figures.cpu
    return ResourceProfile(
        ran=True,
        sandbox=sandbox,
        cpu_seconds=round(cpu, 4) if cpu is not None else None,
        cpu_percent=round(100.0 * cpu / wall, 2) if cpu is not None and wall > 0 else None,
        peak_memory_bytes=figures.peak,
        disk_written_bytes=disk,
        max_processes=figures.procs,
        network_attempts=net,
        exit_code=int(code) if code is not None else None,
        oom_killed=oom,
        frames_processed=int(st["frames"]) if "frames" in st else None,
        wall_seconds=round(wall, 4),
        emulated=emulated,
        properties=frozen_mapping(props),
    )


@dataclass(slots=True)
class _Figures:
    """CPU seconds, peak memory and peak processes, each ``None`` until a source gives it."""

    cpu: float | None = None
    peak: int | None = None
    procs: int | None = None


def _outside_figures(
    cgroup: CgroupFigures, st: Mapping[str, Any], props: dict[str, Any]
) -> _Figures:
    """The kernel's counters, less what belongs to init itself; limit hits go in ``props``."""
    cpu = cgroup.cpu_seconds
    if cpu is not None and st.get("init_cpu") is not None:
        # init's own interpreter start-up is ours, not the application's.
        cpu = max(cpu - float(st["init_cpu"]), 0.0)
    procs: int | None = None
    if cgroup.max_processes is not None:
        # pids counts tasks (threads included); init's own threads are not the app's.
        init_tasks = int(st.get("init_tasks") or 0)
        procs = max(cgroup.max_processes - init_tasks, 0)
    props["cgroup_version"] = cgroup.version
    if cgroup.pids_limit_hits:
        props["pids_limit_hits"] = cgroup.pids_limit_hits
    if cgroup.pids_limit_reached:
        # cgroup v1 counts a refused fork in the cgroup it happened in (Docker's, gone by
        # now); a peak at the limit says the same.
        props["pids_limit_reached"] = True
    if cgroup.memory_limit_hits:
        props["memory_limit_hits"] = cgroup.memory_limit_hits
    if cgroup.notes:
        props["cgroup_notes"] = list(cgroup.notes)
    return _Figures(cpu, cgroup.peak_memory_bytes, procs)


def _fill_from_init(figures: _Figures, st: Mapping[str, Any], props: dict[str, Any]) -> None:
    """Init's own figures where the cgroup gave none, saying so for memory and processes."""
    if figures.cpu is None and "cpu_user" in st:
        figures.cpu = float(st["cpu_user"]) + float(st["cpu_system"])
    if figures.peak is None and st.get("maxrss_bytes"):
        figures.peak = int(st["maxrss_bytes"])
        props["peak_memory_source"] = "largest process's maximum RSS (wait4)"
    if figures.procs is None and st.get("max_threads") is not None:
        figures.procs = int(st["max_threads"])
        props["max_processes_source"] = "sampled every 5 ms by the sandbox init"


def _disk_written(st: Mapping[str, Any], props: dict[str, Any]) -> int | None:
    """Bytes the process tree wrote (``wchar``); what stayed on each writable path to ``props``."""
    io = st.get("io") or {}
    disk = int(io["wchar"]) if "wchar" in io else None
    used = st.get("used") or {}
    if used:
        props["disk_retained_bytes"] = {k: v for k, v in used.items() if v is not None}
    return disk


def _network_attempts(
    status: Mapping[str, Any] | None, st: Mapping[str, Any], props: dict[str, Any]
) -> int | None:
    """The larger of the audit hook's and the kernel's no-route count (``None``: no status)."""
    if status is None:
        return None
    net = max(int(st.get("net_hook") or 0), int(st.get("net_no_routes") or 0))
    if st.get("net_targets"):
        props["network_targets"] = list(st["net_targets"])[:10]
    return net


def _note_run(st: Mapping[str, Any], props: dict[str, Any]) -> None:
    """How the run went, as init saw it: deadline, signal, models loaded, frames."""
    if st.get("timed_out"):
        props["timed_out"] = True
    if st.get("signal"):
        props["signal"] = int(st["signal"])
    if st.get("models"):
        props["models"] = dict(st["models"])
    if st.get("frames_delivered") is not None:
        props["frames_delivered"] = int(st["frames_delivered"])
        props["frames_budget_reached"] = bool(st.get("frames_ended"))
    if st.get("puts") is not None:
        props["frames_put"] = int(st["puts"])


def _oom(code: object, oom: bool, stderr_tail: str, props: dict[str, Any]) -> bool:
    """Whether the run ran out of memory; a failed run's exception type goes in ``props``."""
    if code in (0, None):
        return oom
    exc_name = _exception_name(stderr_tail)
    if exc_name:
        props["exception"] = exc_name
    if exc_name == "MemoryError" and not oom:
        # Without a cgroup the memory rlimit refuses the allocation instead of killing.
        props["oom_kind"] = "allocation refused at the hard memory limit (MemoryError)"
        return True
    return oom
