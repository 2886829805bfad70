"""Turning a measured ``ResourceProfile`` into ``resource`` findings against the policy's budgets.

Example::

    from scanner.sandbox.budgets import budget_findings
    from scanner.sandbox import Budgets
    findings = budget_findings(profile, Budgets(max_memory_mb=512), "app.tar.gz", "panorama/app.py")

Fingerprints hold the rule and the location only (never the measured figures), so a waiver
keeps matching when the numbers move.
"""

from __future__ import annotations

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
    """Findings for every budget the profile exceeds (and for crashes, hangs, skips)."""
    loc = Location(artifact, path.lstrip("/"))
    out: list[Finding] = []
    if not profile.ran:
        out.append(
            _finding(
                "sandbox.skipped",
                f"resource profile skipped: {profile.reason}",
                loc,
                reason=profile.reason,
            )
        )
        return out
    props = profile.properties
    if (
        profile.peak_memory_bytes is not None
        and profile.peak_memory_bytes > budgets.max_memory_mb * MB
    ):
        out.append(
            _finding(
                "sandbox.memory-over-budget",
                f"peak memory {_mb(profile.peak_memory_bytes)} is over the budget of "
                f"{budgets.max_memory_mb:g} MB; reduce buffers or raise resources.max_memory_mb",
                loc,
                measured_bytes=profile.peak_memory_bytes,
                budget_mb=budgets.max_memory_mb,
            )
        )
    if profile.oom_killed:
        out.append(
            _finding(
                "sandbox.oom-killed",
                "the application was killed by the out-of-memory killer at the sandbox's hard "
                "memory limit; on a device it would take memory from every other application",
                loc,
            )
        )
    if profile.emulated:
        out.append(
            _finding(
                "sandbox.emulated-timing",
                "CPU figures come from qemu user emulation and are not held against the CPU "
                "budget; profile on an arm64 host for real timings",
                loc,
            )
        )
    elif profile.cpu_percent is not None and profile.cpu_percent > budgets.max_cpu_percent:
        out.append(
            _finding(
                "sandbox.cpu-over-budget",
                f"CPU use {profile.cpu_percent:.0f}% (100% = one core) is over the budget of "
                f"{budgets.max_cpu_percent:g}%; profile the hot loop or raise "
                "resources.max_cpu_percent",
                loc,
                measured_percent=profile.cpu_percent,
                budget_percent=budgets.max_cpu_percent,
            )
        )
    if (
        profile.disk_written_bytes is not None
        and profile.disk_written_bytes > budgets.max_disk_write_mb * MB
    ):
        out.append(
            _finding(
                "sandbox.disk-over-budget",
                f"{_mb(profile.disk_written_bytes)} written is over the budget of "
                f"{budgets.max_disk_write_mb:g} MB; the device's storage is shared and small",
                loc,
                measured_bytes=profile.disk_written_bytes,
                budget_mb=budgets.max_disk_write_mb,
            )
        )
    hits = int(props.get("pids_limit_hits") or 0)
    at_limit = bool(props.get("pids_limit_reached"))
    if (
        (profile.max_processes is not None and profile.max_processes > budgets.max_processes)
        or hits
        or at_limit
    ):
        out.append(
            _finding(
                "sandbox.processes-over-budget",
                f"{profile.max_processes} processes/threads at peak is over the budget of "
                f"{budgets.max_processes}"
                + (
                    f"; {hits} fork(s) refused at the hard limit"
                    if hits
                    else "; the hard limit was reached"
                    if at_limit
                    else ""
                ),
                loc,
                measured=profile.max_processes,
                budget=budgets.max_processes,
                refused_forks=hits,
            )
        )
    if not budgets.allow_network and profile.network_attempts:
        targets = list(props.get("network_targets") or [])[:3]
        out.append(
            _finding(
                "sandbox.network-attempt",
                f"{profile.network_attempts} network attempt(s) although the policy forbids "
                "network access" + (f" (e.g. {', '.join(targets)})" if targets else ""),
                loc,
                attempts=profile.network_attempts,
            )
        )
    if props.get("timed_out"):
        out.append(
            _finding(
                "sandbox.hang",
                f"the application did not take a frame or exit within the time limit "
                f"({profile.wall_seconds:.1f} s) and was killed",
                loc,
                frames_processed=profile.frames_processed,
            )
        )
    elif profile.exit_code not in (0, None) and not profile.oom_killed:
        exc = props.get("exception")
        out.append(
            _finding(
                "sandbox.crashed",
                f"the application exited with code {profile.exit_code}"
                + (f" ({exc})" if exc else "")
                + f" after {profile.frames_processed or 0} frame(s)",
                loc,
                exit_code=profile.exit_code,
            )
        )
    return out
