"""What a sandbox run needs: budgets, hard limits, frames, the node's interface, the request."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import ConfigError

__all__ = ["MB", "AppSpec", "Budgets", "FrameSpec", "Limits", "SandboxRequest"]

MB = 1024 * 1024

# Policy `resources:` keys this package reads (the contract's five, plus tuning knobs).
_BUDGET_KEYS = {
    "max_memory_mb": float,
    "max_cpu_percent": float,
    "max_disk_write_mb": float,
    "max_processes": int,
    "allow_network": bool,
}
_EXTRA_KEYS = {
    "when_unavailable",
    "memory_limit_mb",
    "pids_limit",
    "cpu_limit_percent",
    "frames",
    "seconds",
    "fps",
    "warmup",
    "sandbox",
    "grace_seconds",
    "emulated_slowdown",
}


@dataclass(frozen=True, slots=True)
class Budgets:
    """The policy's resource budgets: exceeding one is a ``resource`` finding."""

    max_memory_mb: float = 1024.0
    max_cpu_percent: float = 200.0
    max_disk_write_mb: float = 256.0
    max_processes: int = 64
    allow_network: bool = False
    when_unavailable: str = "warn"  # warn | incomplete: what a profile that could not run means

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Budgets:
        """Build from the policy's ``resources:`` section; unknown keys are an error."""
        kwargs: dict[str, Any] = {}
        for key, value in options.items():
            if value is None:
                continue  # unset in the policy: the default stands
            if key in _BUDGET_KEYS:
                conv = _BUDGET_KEYS[key]
                if conv is bool:
                    if not isinstance(value, bool):
                        raise ConfigError(f"resources.{key}: expected true or false, got {value!r}")
                    kwargs[key] = value
                    continue
                try:
                    number = conv(value)
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"resources.{key}: expected a number, got {value!r}") from exc
                if isinstance(value, bool) or number <= 0:
                    raise ConfigError(f"resources.{key}: must be a positive number, got {value!r}")
                kwargs[key] = number
            elif key == "when_unavailable":
                if value not in ("warn", "incomplete"):
                    raise ConfigError(
                        f"resources.when_unavailable: expected warn or incomplete, got {value!r}"
                    )
                kwargs[key] = value
            elif key not in _EXTRA_KEYS:
                known = ", ".join(sorted({*_BUDGET_KEYS, *_EXTRA_KEYS}))
                raise ConfigError(f"resources.{key}: unknown key (known: {known})")
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard limits of the sandbox. They sit above the budgets on purpose: a budget overrun must
    be *measured* (and become a finding), not merely prevented."""

    memory_bytes: int
    pids: int
    cpu_percent: float | None  # None: no CPU throttling beyond the machine
    writable_bytes: int  # size of each writable mount (storage, logs, /tmp)
    grace_seconds: float = 5.0

    @classmethod
    def for_budgets(cls, budgets: Budgets, options: Mapping[str, Any] | None = None) -> Limits:
        """Defaults derived from the budgets; ``options`` may override each one."""
        opts = options or {}
        mem_mb = float(
            opts.get("memory_limit_mb")
            or max(2 * budgets.max_memory_mb, budgets.max_memory_mb + 512)
        )
        pids = int(
            opts.get("pids_limit") or max(2 * budgets.max_processes, budgets.max_processes + 64)
        )
        cpu = opts.get("cpu_limit_percent")
        disk_mb = max(2 * budgets.max_disk_write_mb, budgets.max_disk_write_mb + 64)
        return cls(
            memory_bytes=int(mem_mb * MB),
            pids=pids,
            cpu_percent=float(cpu) if cpu else None,
            writable_bytes=int(disk_mb * MB),
            grace_seconds=float(opts.get("grace_seconds") or 5.0),
        )


@dataclass(frozen=True, slots=True)
class FrameSpec:
    """Where frames come from: synthetic (``path`` None), a video file or an image folder."""

    path: Path | None = None
    fps: float = 15.0
    width: int = 1280
    height: int = 720
    streams: int = 1


@dataclass(frozen=True, slots=True)
class AppSpec:
    """The business-logic node as the graph describes it (``known`` False: no graph.json)."""

    inputs: tuple[tuple[str, str], ...] = ()  # (port name, type); type "media" or a parameter type
    outputs: tuple[tuple[str, str], ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    models: tuple[Mapping[str, Any], ...] = ()  # {name, inputs: [{name, shape}], output_shapes}
    known: bool = False
    node: str = ""


@dataclass(frozen=True, slots=True)
class SandboxRequest:
    """One profile run of one container asset."""

    asset: Path  # docker-export rootfs tar (plain/gzip/zstd), docker-save or OCI archive
    asset_format: str  # "rootfs" | "docker-save" | "oci-archive"
    entry_path: str = "python3"
    entry_name: str = "/panorama/app.py"
    name: str = ""  # artifact name, for messages and findings
    app: AppSpec = field(default_factory=AppSpec)
    frames: FrameSpec = field(default_factory=FrameSpec)
    max_frames: int = 30
    seconds: float = 10.0
    budgets: Budgets = field(default_factory=Budgets)
    limits: Limits | None = None
    warmup: bool = True
    digest: str = ""  # sha256 of the asset file when known (image cache key)
    emulated_slowdown: float = 10.0  # deadline stretch under qemu user emulation

    def effective_limits(self) -> Limits:
        """The explicit limits, or the defaults derived from the budgets."""
        return self.limits or Limits.for_budgets(self.budgets)

    def command(self) -> list[str]:
        """The application's entry point from descriptor.json."""
        return [self.entry_path, self.entry_name]

    def init_python(self) -> str:
        """The interpreter that runs our init: the entry's when it is a Python, else python3."""
        base = os.path.basename(self.entry_path)
        return self.entry_path if base.startswith("python") else "python3"

    def run_config(
        self,
        frames_file: str | None,
        models: list[dict[str, Any]],
        *,
        max_frames: int | None = None,
        seconds: float | None = None,
    ) -> str:
        """The JSON the emulated SDK reads (``PANORAMA_GATE_RUN``)."""
        frames: dict[str, Any] = {
            "fps": self.frames.fps,
            "width": self.frames.width,
            "height": self.frames.height,
            "streams": self.frames.streams,
        }
        if frames_file:
            frames["path"] = frames_file
        data = {
            "frames": frames,
            "max_frames": self.max_frames if max_frames is None else max_frames,
            "seconds": self.seconds if seconds is None else seconds,
            "interface": {
                "known": self.app.known,
                "inputs": [{"name": n, "type": t} for n, t in self.app.inputs],
                "outputs": [{"name": n, "type": t} for n, t in self.app.outputs],
            },
            "parameters": dict(self.app.parameters),
            "models": models,
            "models_open": not self.app.known,
        }
        return json.dumps(data, sort_keys=True)
