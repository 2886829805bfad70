"""``ScanConfig``: the configuration of one run, built once by the CLI and passed down.

No module below the CLI reads the environment or argv. Per-analyzer options live in
``options[analyzer_name]`` as plain mappings, so an analyzer can grow options without touching
this file; policy-derived settings (license lists, resource budgets, archive limits) are put
there by the CLI from the loaded policy.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.models import frozen_mapping

__all__ = ["ArchiveLimits", "ScanConfig", "default_cache_dir", "usable_cores"]


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity on Linux)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The XDG cache folder for panorama-gate (``$XDG_CACHE_HOME/panorama-gate``)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "panorama-gate"


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Bounds on what unpacking may cost; exceeding one is an ``archive`` finding or exit 2."""

    max_member_bytes: int = 8 * 1024**3
    max_total_bytes: int = 32 * 1024**3
    max_members: int = 500_000
    max_ratio: float = 200.0
    max_depth: int = 3
    max_path_length: int = 4096
    ratio_floor_bytes: int = 64 * 1024**2  # ratio is only judged past this many output bytes

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ArchiveLimits:
        """Build from a policy's ``archive:`` section (MB/GB keys or raw bytes)."""
        mb = 1024**2
        kwargs: dict[str, Any] = {}
        conv = {
            "max_member_mb": ("max_member_bytes", mb),
            "max_total_mb": ("max_total_bytes", mb),
            "max_member_bytes": ("max_member_bytes", 1),
            "max_total_bytes": ("max_total_bytes", 1),
        }
        for key, value in data.items():
            if key in conv:
                name, unit = conv[key]
                kwargs[name] = int(value) * unit
            elif key in ("max_members", "max_depth", "max_path_length"):
                kwargs[key] = int(value)
            elif key in ("max_ratio", "max_compression_ratio"):
                kwargs["max_ratio"] = float(value)
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """Everything one scan needs to know; immutable, digested into the cache key."""

    analyzers: tuple[str, ...] = ()  # selection: names, "tag:x", "-name"; empty means all
    offline: bool = False
    cache_dir: Path | None = None  # None disables the cache
    work_dir: Path | None = None  # None: a fresh temporary folder per run
    jobs: int = 0  # 0: one per core
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    profile: bool = False
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: frozen_mapping({}))
    progress: bool = False
    # Attribute every root-filesystem file to its package and verify its digest (issue 15).
    # Off only to measure what that pass costs (benchmarks/scan.py); not a CLI flag: a gate
    # that skips verification would approve a modified OS binary.
    ownership: bool = True

    def effective_jobs(self) -> int:
        """How many processes the scan may keep busy: ``jobs``, or one per usable core."""
        return self.jobs if self.jobs > 0 else usable_cores()

    def analyzer_options(self, name: str) -> Mapping[str, Any]:
        """The options of one analyzer (empty mapping when none are set)."""
        return self.options.get(name) or frozen_mapping({})

    def digest(self) -> str:
        """A digest of everything that can change analyzer output (for the cache key)."""
        payload = {
            "analyzers": list(self.analyzers),
            "offline": self.offline,
            "limits": {k: getattr(self.limits, k) for k in self.limits.__slots__},
            "options": {k: dict(v) for k, v in sorted(self.options.items())},
        }
        if not self.ownership:  # only when off, so that existing cache keys stay valid
            payload["ownership"] = False
        raw = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(raw).hexdigest()
