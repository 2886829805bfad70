"""Per-run parent cgroups: exact peak memory, CPU time and process counts from the kernel.

Docker removes a container's own cgroup when it ends, taking the counters with it. A run
therefore gets a parent cgroup of its own (``cgroup_parent``); the kernel charges every
descendant to its ancestors, so the parent's watermarks (``memory.max_usage_in_bytes`` /
``memory.peak``, ``pids.peak``) and totals (``cpuacct.usage`` / ``cpu.stat``) survive the
container, and are read after it is gone. Works with cgroup v1 (per-controller hierarchies)
and v2 (the unified hierarchy) under Docker's ``cgroupfs`` driver; with the ``systemd``
driver the parent is a slice.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CgroupFigures", "RunCgroup", "cgroup_mounts"]

_V1_CONTROLLERS = ("memory", "cpuacct", "pids", "blkio")


def cgroup_mounts(mountinfo: Path = Path("/proc/self/mountinfo")) -> dict[str, Path]:
    """Controller name -> mount point (v1), plus ``"unified"`` for a v2 mount."""
    out: dict[str, Path] = {}
    for line in mountinfo.read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        rfields = right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        mount_point = Path(fields[4])
        fstype, options = rfields[0], rfields[2]
        if fstype == "cgroup2":
            out.setdefault("unified", mount_point)
        elif fstype == "cgroup":
            for opt in options.split(","):
                if opt.startswith("name="):
                    out.setdefault(opt, mount_point)  # named hierarchies (name=systemd)
                elif opt in (
                    "memory",
                    "cpuacct",
                    "cpu",
                    "pids",
                    "blkio",
                    "cpuset",
                    "devices",
                    "freezer",
                    "net_cls",
                    "perf_event",
                    "hugetlb",
                ):
                    out.setdefault(opt, mount_point)
    return out


@dataclass(frozen=True, slots=True)
class CgroupFigures:
    """What the parent cgroup counted for a whole run (``None``: the kernel does not say)."""

    peak_memory_bytes: int | None = None
    cpu_seconds: float | None = None
    max_processes: int | None = None
    pids_limit_hits: int | None = None
    oom_kills: int | None = None
    memory_limit_hits: int | None = None
    io_write_bytes: int | None = None
    pids_limit_reached: bool = False  # the peak touched pids.max (v1 counts refusals below us)
    version: int = 0
    notes: tuple[str, ...] = field(default=())


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_keyed(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                out[parts[0]] = int(parts[1])
    except OSError:
        pass  # missing file: the figure stays unknown
    return out


class RunCgroup:
    """The parent cgroup of one sandbox run. Use as a context manager: removed on exit."""

    def __init__(
        self,
        run_id: str,
        *,
        version: int,
        driver: str = "cgroupfs",
        mounts: dict[str, Path] | None = None,
    ) -> None:
        self.run_id = run_id
        self.version = version
        self.driver = driver
        self.mounts = mounts if mounts is not None else cgroup_mounts()
        if driver == "systemd":
            # "a-b.slice" nests under "a.slice": the run's slice sits in panorama.slice.
            self.parent = f"panorama-gate{run_id}.slice"
            self._rel = Path("panorama.slice") / self.parent  # pragma: no cover - systemd hosts
        else:
            self.parent = f"/panorama-gate/{run_id}"
            self._rel = Path("panorama-gate") / run_id
        self._created: list[Path] = []
        self.pids_max: int | None = None

    def _dirs(self) -> list[Path]:
        if self.version == 2:
            root = self.mounts.get("unified")
            return [root / self._rel] if root else []
        # Docker creates the parent in every hierarchy (named and hybrid-unified ones too).
        return sorted({m / self._rel for m in self.mounts.values()})

    def available(self) -> bool:
        """Whether the controllers this needs are mounted."""
        if self.version == 2:
            return "unified" in self.mounts
        return all(c in self.mounts for c in ("memory", "cpuacct", "pids"))

    def create(self) -> None:
        """Create the parent in the measuring controllers (Docker creates the rest)."""
        if self.driver == "systemd":
            return  # systemd makes the slice when the container's scope asks for it
        if self.version == 2:
            root = self.mounts["unified"]
            top = root / "panorama-gate"
            top.mkdir(exist_ok=True)
            # Let the children have the controllers we read.
            for parent in (root, top):
                ctl = parent / "cgroup.subtree_control"
                wanted = " ".join(f"+{c}" for c in ("memory", "cpu", "pids", "io"))
                try:
                    ctl.write_text(wanted)
                except OSError:
                    ctl.write_text("+memory +cpu +pids")
            d = root / self._rel
            d.mkdir()
            self._created.append(d)
            return
        for ctrl in _V1_CONTROLLERS:
            mount = self.mounts.get(ctrl)
            if mount is None:
                continue
            d = mount / self._rel
            d.mkdir(parents=True)
            self._created.append(d)

    def set_limits(self, memory_bytes: int, pids: int) -> None:
        """Hard limits on the parent itself, where the kernel's counters outlive the run."""
        self.pids_max = pids
        if self.version == 2:
            d = self.mounts["unified"] / self._rel
            (d / "memory.max").write_text(str(memory_bytes))
            swap = d / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")
            (d / "pids.max").write_text(str(pids))
            return
        mem = self.mounts["memory"] / self._rel
        (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
        memsw = mem / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            memsw.write_text(str(memory_bytes))  # no swap: memory figures stay honest
        (self.mounts["pids"] / self._rel / "pids.max").write_text(str(pids))

    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a new process writes ``0`` into to join the run."""
        return [str(d / "cgroup.procs") for d in self._created]

    def read(self) -> CgroupFigures:
        """The counters, read after the container ended (before ``remove``)."""
        if self.version == 2:
            return self._read_v2()
        return self._read_v1()

    def _read_v1(self) -> CgroupFigures:
        mem = self.mounts["memory"] / self._rel
        cpu = self.mounts["cpuacct"] / self._rel
        pids = self.mounts["pids"] / self._rel
        notes: list[str] = []
        peak_procs = _read_int(pids / "pids.peak")
        if peak_procs is None:
            notes.append("pids.peak unavailable (kernel older than 6.1): process peak unknown")
        usage = _read_int(cpu / "cpuacct.usage")
        oom = _read_keyed(mem / "memory.oom_control").get("oom_kill")
        io_write: int | None = None
        blkio = self.mounts.get("blkio")
        if blkio is not None:
            try:
                text = (blkio / self._rel / "blkio.throttle.io_service_bytes_recursive").read_text()
                io_write = sum(
                    int(p[2])
                    for ln in text.splitlines()
                    if len(p := ln.split()) == 3 and p[1] == "Write"
                )
            except (OSError, ValueError):
                io_write = None
        return CgroupFigures(
            peak_memory_bytes=_read_int(mem / "memory.max_usage_in_bytes"),
            cpu_seconds=usage / 1e9 if usage is not None else None,
            max_processes=peak_procs,
            pids_limit_hits=_read_keyed(pids / "pids.events").get("max"),
            oom_kills=oom,
            memory_limit_hits=_read_int(mem / "memory.failcnt"),
            io_write_bytes=io_write,
            pids_limit_reached=bool(self.pids_max and peak_procs and peak_procs >= self.pids_max),
            version=1,
            notes=tuple(notes),
        )

    def _read_v2(self) -> CgroupFigures:
        d = self.mounts["unified"] / self._rel
        notes: list[str] = []
        peak = _read_int(d / "memory.peak")
        if peak is None:
            notes.append("memory.peak unavailable (kernel older than 5.19): memory peak unknown")
        procs = _read_int(d / "pids.peak")
        usage = _read_keyed(d / "cpu.stat").get("usage_usec")
        io_write = 0
        try:
            for ln in (d / "io.stat").read_text().splitlines():
                for kv in ln.split()[1:]:
                    k, _, v = kv.partition("=")
                    if k == "wbytes":
                        io_write += int(v)
        except (OSError, ValueError):
            pass  # io controller not enabled: write bytes stay as init measured them
        events = _read_keyed(d / "memory.events")
        return CgroupFigures(
            peak_memory_bytes=peak,
            cpu_seconds=usage / 1e6 if usage is not None else None,
            max_processes=procs,
            pids_limit_hits=_read_keyed(d / "pids.events").get("max"),
            oom_kills=events.get("oom_kill"),
            memory_limit_hits=events.get("max"),
            io_write_bytes=io_write,
            pids_limit_reached=bool(self.pids_max and procs and procs >= self.pids_max),
            version=2,
            notes=tuple(notes),
        )

    def remove(self) -> None:
        """Remove the run's cgroups in every hierarchy (Docker's child must be gone first)."""
        errors: list[str] = []
        for d in self._dirs():
            if not d.exists():
                continue
            for child in sorted(
                (p for p in d.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)
            ):
                self._rmdir(child, errors)
            self._rmdir(d, errors)
        for top in {d.parent for d in self._dirs()}:
            try:
                top.rmdir()
            except OSError as exc:
                # Another run still uses the shared top folder: that is expected.
                if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY, errno.ENOENT):
                    errors.append(f"{top}: {exc.strerror}")
        if errors:
            raise OSError("cannot remove sandbox cgroups: " + "; ".join(errors))

    @staticmethod
    def _rmdir(d: Path, errors: list[str]) -> None:
        for attempt in range(50):
            try:
                os.rmdir(d)
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                # The kernel frees a cgroup a moment after its last task is reaped.
                if exc.errno == errno.EBUSY and attempt < 49:
                    time.sleep(0.02)
                    continue
                errors.append(f"{d}: {exc.strerror}")
                return

    def __enter__(self) -> RunCgroup:
        self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
