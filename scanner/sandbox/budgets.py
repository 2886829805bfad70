"""Turning a measured ``ResourceProfile`` into ``resource`` findings against the policy's budgets.

Example::

    from scanner.sandbox.budgets import budget_findings
    from scanner.sandbox import Budgets
    findings = budget_findings(profile, Budgets(max_memory_mb=512), "app.tar.gz", "panorama/app.py")

Fingerprints hold the rule and the location only (never the measured figures), so a waiver
keeps matching when the numbers move.
"""

from __future__ import annotations

from collections.abc import Callable

from scanner.models import Category, Finding, Location, ResourceProfile, Severity
from scanner.sandbox._spec import MB, Budgets

__all__ = ["RULES", "budget_findings"]

# rule -> (severity, title)
RULES: dict[str, tuple[Severity, str]] = {
    "sandbox.memory-over-budget": (Severity.HIGH, "Peak memory over the budget"),
    "sandbox.cpu-over-budget": (Severity.HIGH, "CPU use over the budget"),
    "sandbox.disk-over-budget": (Severity.HIGH, "Disk writes over the budget"),
    "sandbox.processes-over-budget": (Severity.HIGH, "More processes/threads than the budget"),
    "sandbox.network-attempt": (Severity.HIGH, "Network access attempted"),
    "sandbox.oom-killed": (Severity.HIGH, "Killed for running out of memory"),
    "sandbox.crashed": (Severity.MEDIUM, "The application exited with an error"),
    "sandbox.hang": (Severity.MEDIUM, "The application stopped taking frames"),
    "sandbox.emulated-timing": (Severity.INFO, "Timings measured under CPU emulation"),
    "sandbox.skipped": (Severity.LOW, "The resource profile could not run"),
}


def _finding(rule: str, message: str, location: Location, **props: object) -> Finding:
    severity, title = RULES[rule]
    return Finding.create(
        rule_id=rule,
        category=Category.RESOURCE,
        severity=severity,
        message=message,
        location=location,
        title=title,
        properties=props,
    )


def _mb(n: float) -> str:
    return f"{n / MB:.1f} MB"


def budget_findings(
    profile: ResourceProfile, budgets: Budgets, artifact: str, path: str = ""
) -> list[Finding]:
    """Findings for every budget the profile exceeds (and for crashes, hangs, skips).

    A profile that did not run gives one ``sandbox.skipped`` finding; otherwise each check
    below adds at most one finding, in the order the reports list them.
    """
    loc = Location(artifact, path.lstrip("/"))
    if not profile.ran:
        return [
            _finding(
                "sandbox.skipped",
                f"resource profile skipped: {profile.reason}",
                loc,
                reason=profile.reason,
            )
        ]
    found = (check(profile, budgets, loc) for check in _CHECKS)
    return [f for f in found if f is not None]


def _memory(profile: ResourceProfile, budgets: Budgets, loc: Location) -> Finding | None:
    """Peak memory over ``max_memory_mb``."""
    if profile.peak_memory_bytes is None or profile.peak_memory_bytes <= budgets.max_memory_mb * MB:
        return None
    return _finding(
        "sandbox.memory-over-budget",
        f"peak memory {_mb(profile.peak_memory_bytes)} is over the budget of "
        f"{budgets.max_memory_mb:g} MB; reduce buffers or raise resources.max_memory_mb",
        loc,
        measured_bytes=profile.peak_memory_bytes,
        budget_mb=budgets.max_memory_mb,
    )


def _oom(profile: ResourceProfile, budgets: Budgets, loc: Location) -> Finding | None:
    """Killed at the sandbox's hard memory limit."""
    if not profile.oom_killed:
        return None
    return _finding(
        "sandbox.oom-killed",
        "the application was killed by the out-of-memory killer at the sandbox's hard "
        "memory limit; on a device it would take memory from every other application",
        loc,
    )


def _cpu(profile: ResourceProfile, budgets: Budgets, loc: Location) -> Finding | None:
    """CPU over ``max_cpu_percent``; under emulation only a note that timings are not real."""
    if profile.emulated:
        return _finding(
            "sandbox.emulated-timing",
            "CPU figures come from qemu user emulation and are not held against the CPU "
            "budget; profile on an arm64 host for real timings",
            loc,
        )
    if profile.cpu_percent is None or profile.cpu_percent <= budgets.max_cpu_percent:
        return None
    return _finding(
        "sandbox.cpu-over-budget",
        f"CPU use {profile.cpu_percent:.0f}% (100% = one core) is over the budget of "
        f"{budgets.max_cpu_percent:g}%; profile the hot loop or raise "
        "resources.max_cpu_percent",
        loc,
        measured_percent=profile.cpu_percent,
        budget_percent=budgets.max_cpu_percent,
    )


def _disk(profile: ResourceProfile, budgets: Budgets, loc: Location) -> Finding | None:
    """Bytes written over ``max_disk_write_mb``."""
    written = profile.disk_written_bytes
    if written is None or written <= budgets.max_disk_write_mb * MB:
        return None
    return _finding(
        "sandbox.disk-over-budget",
        f"{_mb(written)} written is over the budget of "
        f"{budgets.max_disk_write_mb:g} MB; the device's storage is shared and small",
        loc,
        measured_bytes=written,
        budget_mb=budgets.max_disk_write_mb,
    )


def _processes(profile: ResourceProfile, budgets: Budgets, loc: Location) -> Finding | None:
    """More processes/threads than ``max_processes``, or forks refused at the hard limit."""
    props = profile.properties
    hits = int(props.get("pids_limit_hits") or 0)
    at_limit = bool(props.get("pids_limit_reached"))
    over = profile.max_processes is not None and profile.max_processes > budgets.max_processes
    if not (over or hits or at_limit):
        return None
    if hits:
        why = f"; {hits} fork(s) refused at the hard limit"
    elif at_limit:
        why = "; the hard limit was reached"
    else:
        why = ""
    return _finding(
        "sandbox.processes-over-budget",
        f"{profile.max_processes} processes/threads at peak is over the budget of "
        f"{budgets.max_processes}" + why,
        loc,
        measured=profile.max_processes,
        budget=budgets.max_processes,
        refused_forks=hits,
    )


def _network(profile: ResourceProfile, budgets: Budgets, loc: Location) -> Finding | None:
    """Any network attempt when the policy forbids network access."""
    if budgets.allow_network or not profile.network_attempts:
        return None
    targets = list(profile.properties.get("network_targets") or [])[:3]
    return _finding(
        "sandbox.network-attempt",
        f"{profile.network_attempts} network attempt(s) although the policy forbids "
        "network access" + (f" (e.g. {', '.join(targets)})" if targets else ""),
        loc,
        attempts=profile.network_attempts,
    )


def _ending(profile: ResourceProfile, budgets: Budgets, loc: Location) -> Finding | None:
    """How the run ended, when not cleanly: a hang (killed at the deadline) or a crash.

    An OOM kill already has its own finding, so its non-zero exit is not also a crash.
    """
    props = profile.properties
    if props.get("timed_out"):
        return _finding(
            "sandbox.hang",
            f"the application did not take a frame or exit within the time limit "
            f"({profile.wall_seconds:.1f} s) and was killed",
            loc,
            frames_processed=profile.frames_processed,
        )
    if profile.exit_code in (0, None) or profile.oom_killed:
        return None
    exc = props.get("exception")
    return _finding(
        "sandbox.crashed",
        f"the application exited with code {profile.exit_code}"
        + (f" ({exc})" if exc else "")
        + f" after {profile.frames_processed or 0} frame(s)",
        loc,
        exit_code=profile.exit_code,
    )


# In report order; each returns its finding or None.
_CHECKS: tuple[Callable[[ResourceProfile, Budgets, Location], Finding | None], ...] = (
    _memory,
    _oom,
    _cpu,
    _disk,
    _processes,
    _network,
    _ending,
)
