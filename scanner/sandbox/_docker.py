"""The Docker sandbox: the container asset as an image, run locked down, measured from outside.

Every run: no network, read-only root, tmpfs for ``/tmp`` and the writable Panorama paths
(bounded), all capabilities dropped, ``no-new-privileges``, pids/memory(/CPU) limits, the
emulated SDK mounted read-only on ``PYTHONPATH``, our init as pid 1, and a parent cgroup of its
own whose counters outlive the container. A throw-away warm-up run comes first so that the
measured run is not charged for the page cache of the image's libraries. Containers, images we
created and cgroups are removed on every path out, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scanner.errors import AnalyzerError
from scanner.models import ResourceProfile
from scanner.sandbox._arch import check_arch, normalise, rootfs_machine
from scanner.sandbox._cgroups import CgroupFigures, RunCgroup, cgroup_mounts
from scanner.sandbox._result import build_profile, not_run
from scanner.sandbox._spec import MB, SandboxRequest
from scanner.sandbox._stage import MOUNT, WRITABLE, Staged, parse_status, stage
from scanner.sandbox._tario import plain_or_gzip

__all__ = ["DockerSandbox", "shielded"]

log = logging.getLogger(__name__)

LABEL = "panorama-gate.sandbox"
REPOSITORY = "panorama-gate-sandbox"


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Hold off Ctrl-C while cleaning up, so a second Ctrl-C cannot leave things behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt


class _NotRunnableError(Exception):
    """The image cannot run the entry point at all (a profile that did not run, not a crash)."""


class DockerSandbox:
    """Runs profiles in Docker. Use as a context manager: images it created are removed on exit.

    Imported images are kept for the sandbox's lifetime (keyed by asset digest or path), so
    profiling several entry points of one asset imports it once.
    """

    name = "docker"

    def __init__(self, client: Any = None) -> None:
        self._client = client
        self._images: dict[str, tuple[str, bool, str | None]] = {}  # key -> (id, ours, arch)
        self._info: dict[str, Any] | None = None
        self._warmed: set[str] = set()
        self._image_env: dict[str, list[str]] = {}
        self._tags: list[str] = []
        self.created: dict[str, list[str]] = {"images": [], "containers": [], "cgroups": []}

    # -- engine ----------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The Docker SDK client (created lazily from the environment)."""
        if self._client is None:
            import docker

            self._client = docker.from_env(timeout=120)
        return self._client

    def unavailable_reason(self) -> str | None:
        """``None`` when a Docker engine answers, else why not."""
        try:
            import docker
        except ImportError:
            return "the docker Python SDK is not installed"
        if self._info is not None:
            return None  # answered before: asking again costs every profile a round trip
        try:
            self.client.ping()
            self._info = self.client.info()
        except docker.errors.DockerException as exc:
            return f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:160]})"
        return None

    def _engine_info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self.client.info()
        return self._info

    # -- images ----------------------------------------------------------------------------
    def _image(self, request: SandboxRequest, work: Path) -> tuple[str, str | None]:
        """Image id and its architecture (``None`` when only the run can tell)."""
        key = request.digest or f"{request.asset.resolve()}:{request.asset.stat().st_mtime_ns}"
        cached = self._images.get(key)
        if cached is not None:
            return cached[0], cached[2]
        if request.asset_format == "rootfs":
            arch = rootfs_machine(request.asset, request.init_python())
            if arch is None:  # found out before paying for the import
                raise _NotRunnableError(
                    f"{request.init_python()} is not in the image, so the entry point "
                    f"{request.entry_path} {request.entry_name} cannot be run"
                )
            tag = secrets.token_hex(6)
            # Known before the import, so an import cut short by Ctrl-C is still removed.
            self._tags.append(f"{REPOSITORY}:{tag}")
            source = plain_or_gzip(request.asset, work)
            try:
                self.client.api.import_image_from_file(
                    str(source),
                    repository=REPOSITORY,
                    tag=tag,
                    changes=[f"LABEL {LABEL}={os.getpid()}"],
                )
                image = self.client.images.get(f"{REPOSITORY}:{tag}")
            except Exception as exc:
                raise AnalyzerError(f"{request.name}: docker import failed: {exc}") from exc
            self._images[key] = (image.id, True, arch)
            self.created["images"].append(image.id)
            return image.id, arch
        before = {img.id for img in self.client.images.list(all=True)}
        try:
            with request.asset.open("rb") as fp:
                loaded = self.client.images.load(fp)
        except Exception as exc:
            raise AnalyzerError(f"{request.name}: docker load failed: {exc}") from exc
        if not loaded:
            raise AnalyzerError(f"{request.name}: docker load produced no image")
        image = loaded[0]
        arch = normalise(str(image.attrs.get("Architecture") or "")) or None
        self._images[key] = (image.id, image.id not in before, arch)
        if image.id not in before:
            self.created["images"].append(image.id)
        return image.id, arch

    def close(self) -> None:
        """Remove the images this sandbox created (never one that existed before)."""
        errors: list[str] = []
        with shielded():
            ours = [image_id for image_id, mine, _ in self._images.values() if mine]
            for ref in [*ours, *self._tags]:
                try:
                    self.client.images.remove(ref, force=True, noprune=False)
                except Exception as exc:
                    if "No such image" not in str(exc) and "not found" not in str(exc):
                        errors.append(f"{ref[:40]}: {exc}")
            self._images.clear()
            self._tags.clear()
        if errors:
            raise AnalyzerError("cannot remove sandbox images: " + "; ".join(errors))

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ------------------------------------------------------------------------------
    def profile(self, request: SandboxRequest, work_dir: Path | None = None) -> ResourceProfile:
        """Warm up, then run and measure the application once."""
        reason = self.unavailable_reason()
        if reason is not None:
            return not_run(reason, self.name)
        work = Path(tempfile.mkdtemp(prefix="sandbox-", dir=work_dir))
        try:
            return self._profile(request, work)
        except _NotRunnableError as exc:
            return not_run(str(exc), self.name)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _profile(self, request: SandboxRequest, work: Path) -> ResourceProfile:
        image_id, arch = self._image(request, work)
        check = check_arch(arch)
        if not check.runnable:
            return not_run(check.reason, self.name, architecture=check.machine)
        slowdown = request.emulated_slowdown if check.emulated else 1.0
        extra: dict[str, Any] = {"image_architecture": check.machine or "unknown"}
        if check.emulated:
            extra["emulation"] = check.reason
        info = self._engine_info()
        version = 2 if str(info.get("CgroupVersion", "1")) == "2" else 1
        driver = str(info.get("CgroupDriver") or "cgroupfs")
        if request.warmup and image_id not in self._warmed:
            extra["warmup_seconds"] = self._warm_up(request, image_id, work, slowdown)
        staged = stage(request, work / "run")
        limits = request.effective_limits()
        deadline = (
            request.seconds * (slowdown if check.emulated else 1.0)
            + limits.grace_seconds * slowdown
        )
        cg = self._run_cgroup(version, driver, extra)
        extra.update(
            {
                "frames_source": staged.frames_note,
                "limits": {
                    "memory_mb": limits.memory_bytes // MB,
                    "pids": limits.pids,
                    "cpu_percent": limits.cpu_percent,
                    "writable_mb_each": limits.writable_bytes // MB,
                },
                "cgroup_driver": driver,
            }
        )
        (status, state, wall, tail), figures = self._measure(
            request, image_id, staged, cg, deadline
        )
        return build_profile(
            sandbox=self.name,
            status=status,
            cgroup=figures,
            outside_wall=wall,
            exit_code=state.get("ExitCode"),
            oom_killed=bool(state.get("OOMKilled")),
            emulated=check.emulated,
            stderr_tail=tail,
            extra=extra,
        )

    def _warm_up(
        self, request: SandboxRequest, image_id: str, work: Path, slowdown: float
    ) -> float:
        """One short unmeasured run; returns its seconds.

        Once per image: what it warms is the page cache of the image's files.
        """
        self._warmed.add(image_id)
        t0 = time.monotonic()
        warm = stage(
            request, work / "warmup", max_frames=1, seconds=min(request.seconds, 3.0 * slowdown)
        )
        warm_deadline = min(request.seconds, 3.0) * slowdown + 2.0
        self._run(request, image_id, warm, None, warm_deadline, measured=False)
        return round(time.monotonic() - t0, 3)

    def _run_cgroup(self, version: int, driver: str, extra: dict[str, Any]) -> RunCgroup | None:
        """A parent cgroup of our own for the run, or ``None`` (and why, in ``extra``).

        Its name is recorded in ``created`` before anything exists, so a cleanup check sees
        every cgroup this sandbox could have made.
        """
        cg = RunCgroup(
            f"p{os.getpid()}x{secrets.token_hex(6)}",
            version=version,
            driver=driver,
            mounts=cgroup_mounts(),
        )
        self.created["cgroups"].append(cg.parent)
        if not cg.available():
            extra["cgroup_note"] = f"cgroup v{version} controllers not mounted here"
            return None
        if driver == "cgroupfs" and not os.access(
            cg.mounts.get("memory") or cg.mounts.get("unified") or "/", os.W_OK
        ):
            # A docker-group user without root: Docker enforces, init's wait4 measures.
            extra["cgroup_note"] = "cgroups not writable: figures from the sandbox init (wait4)"
            return None
        return cg

    def _measure(
        self,
        request: SandboxRequest,
        image_id: str,
        staged: Staged,
        cg: RunCgroup | None,
        deadline: float,
    ) -> tuple[tuple[dict[str, Any] | None, dict[str, Any], float, str], CgroupFigures | None]:
        """The measured run, inside ``cg`` when there is one: ``_run``'s outcome and the
        cgroup's figures. The cgroup is removed on every path out."""
        limits = request.effective_limits()
        figures = None
        try:
            if cg is not None:
                cg.create()
                # The limits sit on our parent cgroup, so the kernel counts refused forks and
                # OOM kills there, where they outlive the container; Docker's own limits, a
                # little higher, are the backstop.
                cg.set_limits(limits.memory_bytes, limits.pids)
            outcome = self._run(
                request, image_id, staged, cg.parent if cg else None, deadline, measured=True
            )
            if cg is not None:
                figures = cg.read()
        finally:
            if cg is not None:
                with shielded():
                    cg.remove()
        return outcome, figures

    def _run(
        self,
        request: SandboxRequest,
        image_id: str,
        staged: Staged,
        cgroup_parent: str | None,
        deadline: float,
        *,
        measured: bool,
    ) -> tuple[dict[str, Any] | None, dict[str, Any], float, str]:
        """One container run: (init status, Docker's State, wall seconds, stderr tail).

        With a parent cgroup of ours the limits sit there and Docker's are a little higher
        (a backstop); without one Docker's are the limits and init samples the process count.
        """
        args = staged.init_args(request, deadline, count_procs=measured and not cgroup_parent)
        config = self._container_config(request, image_id, staged, cgroup_parent, args)
        container = None
        try:
            try:
                container = self.client.containers.create(**config)
                self.created["containers"].append(container.id)
                t0 = time.monotonic()
                container.start()
            except Exception as exc:
                raise _start_error(request, args, exc) from exc
            return _wait_and_collect(container, deadline, t0)
        finally:
            if container is not None:
                with shielded():
                    self._remove(container)

    def _container_config(
        self,
        request: SandboxRequest,
        image_id: str,
        staged: Staged,
        cgroup_parent: str | None,
        args: list[str],
    ) -> dict[str, Any]:
        """The locked-down container, as keyword arguments of ``containers.create``."""
        from docker.types import LogConfig, Ulimit

        limits = request.effective_limits()
        slack = (16, 64 * MB) if cgroup_parent else (0, 0)
        kwargs: dict[str, Any] = {
            "image": image_id,
            "entrypoint": args[:1],
            "command": args[1:],
            "detach": True,
            "network_mode": "none",
            "read_only": True,
            "tmpfs": dict.fromkeys(
                WRITABLE, f"rw,nosuid,nodev,size={limits.writable_bytes},mode=1777"
            ),
            "volumes": {str(staged.root): {"bind": MOUNT, "mode": "ro"}},
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "pids_limit": limits.pids + slack[0],
            "mem_limit": limits.memory_bytes + slack[1],
            "memswap_limit": limits.memory_bytes + slack[1],  # no swap: memory stays honest
            "environment": self._environment(image_id, staged),
            "working_dir": "/",
            # The owner's pid: leftovers of one process can be told from another's.
            "labels": {LABEL: str(os.getpid())},
            "log_config": LogConfig(type="json-file", config={"max-size": "1m", "max-file": "2"}),
            "shm_size": 64 * MB,
            "ulimits": [Ulimit(name="core", soft=0, hard=0)],
            "hostname": "panorama",
            "stop_signal": "SIGKILL",
        }
        if limits.cpu_percent:
            kwargs["nano_cpus"] = int(limits.cpu_percent / 100.0 * 1e9)
        if cgroup_parent:
            kwargs["cgroup_parent"] = cgroup_parent
        return kwargs

    @staticmethod
    def _remove(container: Any) -> None:
        for attempt in range(5):
            try:
                container.remove(force=True)
                return
            except Exception as exc:
                if "No such container" in str(exc) or "is already in progress" in str(exc):
                    return
                if attempt == 4:
                    raise AnalyzerError(
                        f"cannot remove sandbox container {container.id[:12]}"
                    ) from exc
                time.sleep(0.2)

    def _environment(self, image_id: str, staged: Staged) -> dict[str, str]:
        env = staged.env()
        if image_id not in self._image_env:
            attrs = self.client.images.get(image_id).attrs
            self._image_env[image_id] = list((attrs.get("Config") or {}).get("Env") or [])
        image_env = self._image_env[image_id]
        for item in image_env:
            key, _, value = str(item).partition("=")
            if key == "PYTHONPATH" and value:
                env["PYTHONPATH"] = f"{env['PYTHONPATH']}:{value}"
        return env


def _start_error(request: SandboxRequest, args: list[str], exc: Exception) -> Exception:
    """What a failed create or start means: no entry interpreter in the image, or an error."""
    text = str(exc)
    if "executable file not found" in text or "no such file or directory" in text:
        return _NotRunnableError(
            f"{args[0]} is not in the image, so the entry point "
            f"{' '.join(request.command())} cannot be run"
        )
    return AnalyzerError(f"{request.name}: cannot start the sandbox container: {exc}")


def _wait_and_collect(
    container: Any, deadline: float, t0: float
) -> tuple[dict[str, Any] | None, dict[str, Any], float, str]:
    """Wait for a started container (killing it past the backstop), then read its outcome."""
    try:
        container.wait(timeout=deadline + 15.0)
    except Exception as exc:  # the backstop: init's own deadline did not end it
        log.warning("sandbox container outlived its deadline (%s); killing it", exc)
        container.kill()
        container.wait(timeout=30)
    wall = time.monotonic() - t0
    container.reload()
    state = dict(container.attrs.get("State") or {})
    raw = container.logs(stdout=False, stderr=True, tail=200)
    tail = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    status = parse_status(tail)
    return status, state, wall, tail


def leftover_resources(client: Any, pid: int | None = None) -> dict[str, list[str]]:
    """Containers and images carrying the sandbox label (of process ``pid``, or of any)."""
    label = LABEL if pid is None else f"{LABEL}={pid}"
    containers = [c.id for c in client.containers.list(all=True, filters={"label": label})]
    images = [i.id for i in client.images.list(all=True, filters={"label": label})]
    return {"containers": containers, "images": images}


def remove_leftovers(client: Any, log_fn: Callable[[str], None] = log.info) -> int:
    """Remove every container and image carrying the sandbox label; returns how many."""
    found = leftover_resources(client)
    for cid in found["containers"]:
        client.containers.get(cid).remove(force=True)
        log_fn(f"removed container {cid[:12]}")
    for iid in found["images"]:
        client.images.remove(iid, force=True)
        log_fn(f"removed image {iid[:19]}")
    return len(found["containers"]) + len(found["images"])


def describe(request: SandboxRequest) -> str:
    """One line for logs."""
    return json.dumps({"asset": request.asset.name, "entry": request.command()})
