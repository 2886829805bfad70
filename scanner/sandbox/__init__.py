"""Run a Panorama application in a locked-down sandbox and measure what it uses.

The application's real entry point (from descriptor.json) runs with an emulated
``panoramasdk`` (panorama-gate's own, shipped under ``data/``) that feeds it frames; the
sandbox measures peak memory, CPU, disk writes, processes, network attempts, exit status and
frames processed, and ``budgets.budget_findings`` holds them against the policy.

Example::

    from pathlib import Path
    from scanner.sandbox import SandboxRequest, open_sandbox

    request = SandboxRequest(asset=Path("assets/3f2a….tar.gz"), asset_format="rootfs",
                             max_frames=30, seconds=10)
    with open_sandbox("auto") as sandbox:
        profile = sandbox.profile(request)
    print(profile.peak_memory_bytes, profile.cpu_percent, profile.sandbox)

``open_sandbox("auto")`` prefers Docker and falls back to bubblewrap; when neither can run,
it returns a sandbox whose ``profile`` reports ``ran=False`` with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from scanner.errors import ConfigError
from scanner.models import ResourceProfile
from scanner.sandbox._result import not_run
from scanner.sandbox._spec import AppSpec, Budgets, FrameSpec, Limits, SandboxRequest

__all__ = [
    "SANDBOXES",
    "AppSpec",
    "Budgets",
    "FrameSpec",
    "Limits",
    "Sandbox",
    "SandboxRequest",
    "Unavailable",
    "open_sandbox",
]

SANDBOXES = ("auto", "docker", "bwrap")


class Sandbox(Protocol):
    """What every sandbox offers (``DockerSandbox``, ``BwrapSandbox``, ``Unavailable``)."""

    name: str

    def unavailable_reason(self) -> str | None:
        """``None`` when the sandbox can run here, else why not."""

    def profile(self, request: SandboxRequest, work_dir: Path | None = None) -> ResourceProfile:
        """Run the application once (after a warm-up) and measure it."""

    def close(self) -> None:
        """Remove everything the sandbox created."""

    def __enter__(self) -> Sandbox:
        """Context manager: ``close()`` on exit, also on Ctrl-C."""

    def __exit__(self, *exc: object) -> None:
        """Calls ``close()``."""


class Unavailable:
    """Stands in when no sandbox can run: every profile is skipped with the reason."""

    name = "none"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def unavailable_reason(self) -> str | None:
        """Always the reason given."""
        return self.reason

    def profile(self, request: SandboxRequest, work_dir: Path | None = None) -> ResourceProfile:
        """A profile that did not run."""
        return not_run(self.reason)

    def close(self) -> None:
        """Nothing to clean up."""

    def __enter__(self) -> Unavailable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sandbox(kind: str = "auto") -> Sandbox:
    """The sandbox to use: ``docker``, ``bwrap``, or ``auto`` (Docker, else bubblewrap).

    An explicitly chosen sandbox that cannot run is still returned (its profiles say why);
    ``auto`` returns ``Unavailable`` with both reasons when neither can run.
    """
    from scanner.sandbox._bwrap import BwrapSandbox
    from scanner.sandbox._docker import DockerSandbox

    if kind not in SANDBOXES:
        raise ConfigError(f"unknown sandbox {kind!r} (known: {', '.join(SANDBOXES)})")
    if kind == "docker":
        return DockerSandbox()
    if kind == "bwrap":
        return BwrapSandbox()
    docker = DockerSandbox()
    docker_reason = docker.unavailable_reason()
    if docker_reason is None:
        return docker
    bwrap = BwrapSandbox()
    bwrap_reason = bwrap.unavailable_reason()
    if bwrap_reason is None:
        return bwrap
    bwrap.close()
    return Unavailable(f"no sandbox can run here: {docker_reason}; {bwrap_reason}")
