"""The bubblewrap fallback, for hosts without a Docker engine (laptops, restricted CI).

The rootfs is extracted once, then each run is ``bwrap`` with every namespace unshared
(network included), the rootfs bound read-only, bounded tmpfs for ``/tmp`` and the writable
Panorama paths, all capabilities dropped, and our init as pid 1 (``--as-pid-1``) doing
``wait4`` accounting for the whole process tree. Limits are rlimits on the application; when
running as root with cgroups mounted, the run also gets a cgroup of its own, which gives hard
memory/pids limits and exact figures as in the Docker sandbox. The report says which ran.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from scanner.errors import AnalyzerError
from scanner.models import ResourceProfile
from scanner.sandbox._arch import check_arch, rootfs_machine
from scanner.sandbox._cgroups import CgroupFigures, RunCgroup, cgroup_mounts
from scanner.sandbox._docker import _NotRunnableError, shielded
from scanner.sandbox._result import build_profile, not_run
from scanner.sandbox._spec import MB, SandboxRequest
from scanner.sandbox._stage import MOUNT, WRITABLE, Staged, stage
from scanner.sandbox._tario import extract_rootfs

__all__ = ["BwrapSandbox"]

_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class _Tail:
    """Keeps the last bytes of a stream without ever holding (or writing) all of it."""

    def __init__(self, stream: IO[bytes], keep: int = 16384) -> None:
        self.keep = keep
        self.data = b""
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            self.data = (self.data + chunk)[-self.keep :]

    def text(self) -> str:
        """The kept tail, decoded (after the stream ended)."""
        self.thread.join(5.0)
        return self.data.decode("utf-8", "replace")


class BwrapSandbox:
    """Runs profiles under bubblewrap. Use as a context manager: extracted trees are removed."""

    name = "bwrap"

    def __init__(self, bwrap: str | None = None, *, use_cgroups: bool | None = None) -> None:
        self.bwrap = bwrap or shutil.which("bwrap")
        self._roots: dict[str, tuple[Path, str | None]] = {}
        self._tmp = Path(tempfile.mkdtemp(prefix="panorama-gate-bwrap-"))
        self._use_cgroups = use_cgroups
        self._warmed: set[str] = set()
        self.created: dict[str, list[str]] = {"cgroups": []}

    def unavailable_reason(self) -> str | None:
        """``None`` when bubblewrap can make a sandbox here, else why not."""
        if not self.bwrap:
            return "bubblewrap (bwrap) is not installed"
        probe = subprocess.run(
            [
                self.bwrap,
                "--unshare-all",
                "--ro-bind",
                "/",
                "/",
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--",
                "true",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if probe.returncode != 0:
            return f"bubblewrap cannot create namespaces here: {probe.stderr.strip()[:200]}"
        return None

    def close(self) -> None:
        """Remove every extracted root filesystem."""
        with shielded():
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._roots.clear()
        if self._tmp.exists():
            raise AnalyzerError(f"cannot remove {self._tmp}")

    def __enter__(self) -> BwrapSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rootfs(self, request: SandboxRequest) -> tuple[Path, str | None]:
        key = request.digest or f"{request.asset.resolve()}:{request.asset.stat().st_mtime_ns}"
        if key in self._roots:
            return self._roots[key]
        arch = rootfs_machine(request.asset, request.init_python())
        if arch is None:  # found out before paying for the extraction
            raise _NotRunnableError(
                f"{request.init_python()} is not in the image, so the entry point "
                f"{request.entry_path} {request.entry_name} cannot be run"
            )
        dest = self._tmp / secrets.token_hex(6)
        extract_rootfs(request.asset, dest)
        for path in (*WRITABLE, MOUNT, "/proc", "/dev"):
            # bwrap cannot make mount points inside a read-only root: make them now.
            (dest / path.lstrip("/")).mkdir(parents=True, exist_ok=True)
        self._roots[key] = (dest, arch)
        return dest, arch

    def _cgroups_usable(self) -> bool:
        if self._use_cgroups is not None:
            return self._use_cgroups
        if os.geteuid() != 0:
            return False
        mounts = cgroup_mounts()
        return all(c in mounts for c in ("memory", "cpuacct", "pids")) or "unified" in mounts

    def profile(self, request: SandboxRequest, work_dir: Path | None = None) -> ResourceProfile:
        """Warm up, then run and measure the application once."""
        reason = self.unavailable_reason()
        if reason is not None:
            return not_run(reason, self.name)
        if request.asset_format != "rootfs":
            return not_run(
                "the bubblewrap sandbox needs a flat rootfs asset (docker export form); "
                f"{request.name} is a {request.asset_format} image: use the Docker sandbox",
                self.name,
            )
        work = Path(tempfile.mkdtemp(prefix="sandbox-", dir=work_dir))
        try:
            return self._profile(request, work)
        except _NotRunnableError as exc:
            return not_run(str(exc), self.name)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _profile(self, request: SandboxRequest, work: Path) -> ResourceProfile:
        root, arch = self._rootfs(request)
        check = check_arch(arch)
        if not check.runnable:
            return not_run(check.reason, self.name, architecture=check.machine)
        slowdown = request.emulated_slowdown if check.emulated else 1.0
        limits = request.effective_limits()
        extra: dict[str, Any] = {"image_architecture": check.machine or "unknown"}
        if check.emulated:
            extra["emulation"] = check.reason
        if request.warmup and str(root) not in self._warmed:
            # Once per image: what it warms is the page cache of the image's files.
            self._warmed.add(str(root))
            t0 = time.monotonic()
            warm = stage(
                request, work / "warmup", max_frames=1, seconds=min(request.seconds, 3.0 * slowdown)
            )
            self._run(request, root, warm, min(request.seconds, 3.0) * slowdown + 2.0, None)
            extra["warmup_seconds"] = round(time.monotonic() - t0, 3)
        staged = stage(request, work / "run")
        deadline = request.seconds * slowdown + limits.grace_seconds * slowdown
        cg: RunCgroup | None = None
        if self._cgroups_usable():
            mounts = cgroup_mounts()
            version = 1 if "memory" in mounts else 2
            cg = RunCgroup(f"p{os.getpid()}x{secrets.token_hex(6)}", version=version, mounts=mounts)
            self.created["cgroups"].append(cg.parent)
        extra.update(
            {
                "frames_source": staged.frames_note,
                "limits": {
                    "memory_mb": limits.memory_bytes // MB,
                    "pids": limits.pids,
                    "writable_mb_each": limits.writable_bytes // MB,
                    "enforced_by": "cgroup + rlimits" if cg else "rlimits",
                },
            }
        )
        figures: CgroupFigures | None = None
        try:
            if cg is not None:
                cg.create()
                cg.set_limits(limits.memory_bytes, limits.pids)
            status, exit_code, wall, tail = self._run(request, root, staged, deadline, cg)
            if cg is not None:
                figures = cg.read()
        finally:
            if cg is not None:
                with shielded():
                    cg.remove()
        if status is not None and figures is not None:
            # The outer bwrap process is in the cgroup too; it is not the application's.
            status["init_tasks"] = int(status.get("init_tasks") or 0) + 1
        oom = bool(figures and figures.oom_kills)
        return build_profile(
            sandbox=self.name,
            status=status,
            cgroup=figures,
            outside_wall=wall,
            exit_code=exit_code,
            oom_killed=oom,
            emulated=check.emulated,
            stderr_tail=tail,
            extra=extra,
        )

    def _rlimits(self, request: SandboxRequest, deadline: float, cgroups: bool) -> list[str]:
        limits = request.effective_limits()
        # With a cgroup the kernel's OOM killer enforces memory, as under Docker; the data
        # rlimit only backs it up (a per-process limit would refuse before the cgroup counts).
        data = limits.memory_bytes * (2 if cgroups else 1)
        out = [
            f"data={data}",
            f"fsize={limits.writable_bytes}",
            f"cpu={int(deadline * (os.cpu_count() or 1)) + 5}",
            "core=0",
            "nofile=1024",
        ]
        if os.geteuid() != 0:
            # NPROC counts all of the user's processes, so allow what already runs.
            mine = sum(
                1 for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == os.geteuid()
            )
            out.append(f"nproc={mine + limits.pids}")
        return out

    def _run(
        self,
        request: SandboxRequest,
        root: Path,
        staged: Staged,
        deadline: float,
        cg: RunCgroup | None,
    ) -> tuple[dict[str, Any] | None, int | None, float, str]:
        """One bwrap run: (init status, exit code, wall seconds, stderr tail)."""
        read_fd, write_fd = os.pipe()
        args = self._args(request, root, staged, deadline, cg, write_fd)
        preexec = _cgroup_joiner(cg)
        t0 = time.monotonic()
        proc = _spawn(request, args, preexec, read_fd, write_fd)
        os.close(write_fd)
        assert proc.stderr is not None
        tail = _Tail(proc.stderr)
        status_chunks: list[bytes] = []
        reader = threading.Thread(target=_read_all, args=(read_fd, status_chunks), daemon=True)
        reader.start()
        _wait(proc, deadline)
        wall = time.monotonic() - t0
        reader.join(5.0)
        status = _parse_status(status_chunks)
        text = tail.text()
        if status is None and proc.returncode not in (0, None) and "bwrap:" in text:
            raise AnalyzerError(
                f"{request.name}: bubblewrap failed: {text.strip().splitlines()[-1][:200]}"
            )
        return status, proc.returncode, wall, text

    def _args(
        self,
        request: SandboxRequest,
        root: Path,
        staged: Staged,
        deadline: float,
        cg: RunCgroup | None,
        status_fd: int,
    ) -> list[str]:
        """The ``bwrap`` command line: namespaces, mounts, environment, then init's own."""
        assert self.bwrap is not None
        limits = request.effective_limits()
        args = [
            self.bwrap,
            "--unshare-all",
            "--die-with-parent",
            "--as-pid-1",
            "--new-session",
            "--ro-bind",
            str(root),
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
        ]
        for path in WRITABLE:
            args += ["--size", str(limits.writable_bytes), "--perms", "1777", "--tmpfs", path]
        args += [
            "--ro-bind",
            str(staged.root),
            MOUNT,
            "--chdir",
            "/",
            "--hostname",
            "panorama",
            "--cap-drop",
            "ALL",
            "--clearenv",
            "--setenv",
            "PATH",
            _PATH,
            "--setenv",
            "HOME",
            "/root",
        ]
        for key, value in staged.env().items():
            args += ["--setenv", key, value]
        args += [
            "--",
            *staged.init_args(
                request,
                deadline,
                count_procs=True,
                rlimits=self._rlimits(request, deadline, cg is not None),
                status_fd=status_fd,
            ),
        ]
        return args


def _cgroup_joiner(cg: RunCgroup | None) -> Callable[[], None] | None:
    """A function for the child to run before exec, putting it in ``cg`` (``None``: no cgroup)."""
    procs_files = cg.procs_files() if cg is not None else []
    if not procs_files:
        return None

    def join_cgroup() -> None:
        """Runs in the child before exec: the sandbox starts inside the run's cgroup."""
        for path in procs_files:
            with open(path, "w") as fp:
                fp.write("0")

    return join_cgroup


def _spawn(
    request: SandboxRequest,
    args: list[str],
    preexec: Callable[[], None] | None,
    read_fd: int,
    write_fd: int,
) -> subprocess.Popen[bytes]:
    """Start bwrap with the status pipe's write end; both ends are closed if it cannot start."""
    try:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(write_fd,),
            preexec_fn=preexec,
        )  # noqa: PLW1509 - only joins a cgroup
    except OSError as exc:
        os.close(read_fd)
        os.close(write_fd)
        raise AnalyzerError(f"{request.name}: cannot start bubblewrap: {exc}") from exc


def _wait(proc: subprocess.Popen[bytes], deadline: float) -> None:
    """Wait for bwrap up to the backstop, then kill it (the namespace goes down with it)."""
    try:
        proc.wait(timeout=deadline + 15.0)
    except subprocess.TimeoutExpired:
        proc.kill()  # --die-with-parent takes the namespace down with it
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            with shielded():
                proc.kill()
                proc.wait(timeout=30)


def _parse_status(chunks: list[bytes]) -> dict[str, Any] | None:
    """Init's status: the last line it wrote to the pipe, a JSON object (``None``: nothing)."""
    raw = b"".join(chunks).decode("utf-8", "replace").strip()
    if not raw:
        return None
    try:
        parsed = json.loads(raw.splitlines()[-1])
    except ValueError as exc:
        raise AnalyzerError("sandbox init wrote an unreadable status") from exc
    return parsed if isinstance(parsed, dict) else None


def _read_all(fd: int, out: list[bytes]) -> None:
    with os.fdopen(fd, "rb") as fp:
        out.append(fp.read(1 << 20))


def _owner(p: Path) -> int:
    try:
        return p.stat().st_uid
    except OSError:
        return -1
