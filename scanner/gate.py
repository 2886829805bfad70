"""The gate: scan a target, apply waivers and a baseline, and decide with the policy.

``run_gate`` is what ``scan`` and ``publish`` call; it returns the Report with its Verdict.
The only impure parts live here: reading the waivers and baseline files and today's date
(injectable for tests); the decision itself is ``scanner.policy.decide``, a pure function.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from scanner.config import ScanConfig
from scanner.models import Report
from scanner.pipeline import Progress, scan
from scanner.policy import Policy, Waiver, decide, load_baseline, load_waivers

__all__ = ["judge", "run_gate"]


def _today() -> dt.date:
    """Today's date in UTC: the one clock the gate reads (tests replace it)."""
    return dt.datetime.now(dt.UTC).date()


def _decide(
    report: Report,
    policy: Policy,
    waivers: Sequence[Waiver],
    baseline: frozenset[str] | None,
    today: dt.date | None,
) -> Report:
    report = dataclasses.replace(
        report,
        config_audit={
            **dict(report.config_audit),
            "policy": {"name": policy.name, "sha256": policy.sha256, "source": policy.source},
        },
    )
    # The wall clock is read here, never inside the policy, so decisions replay exactly.
    when = today if today is not None else _today()
    return decide(report, policy, today=when, waivers=waivers, baseline=baseline)


def judge(
    report: Report,
    policy: Policy,
    *,
    waivers: Path | None = None,
    baseline: Path | None = None,
    today: dt.date | None = None,
) -> Report:
    """Attach the policy's verdict to an existing report (waivers and baseline files read here)."""
    extra = load_waivers(waivers) if waivers is not None else ()
    base = load_baseline(baseline) if baseline is not None else None
    return _decide(report, policy, extra, base, today)


def run_gate(
    target: Path,
    config: ScanConfig,
    policy: Policy,
    *,
    waivers: Path | None = None,
    baseline: Path | None = None,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> Report:
    """Scan ``target`` and attach the policy's verdict.

    The waivers and baseline files are read before the scan, so a typo in them fails in a
    second (exit 2) rather than after a long scan.
    """
    extra = load_waivers(waivers) if waivers is not None else ()
    base = load_baseline(baseline) if baseline is not None else None
    return _decide(scan(target, config, progress=progress), policy, extra, base, today)
