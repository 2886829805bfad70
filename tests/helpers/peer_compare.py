"""Run picklescan, modelscan, fickling and panorama-gate over the peers' own samples.

The tool adapters and the comparison behind ``benchmarks/peer_suites.py`` (which prints the
table) and ``tests/integration/test_peer_suites.py`` (which asserts the claim). "Flags" means,
per tool:

- picklescan: a dangerous global (``issues_count``/``infected_files``);
- modelscan: at least one issue;
- fickling: ``scan_file`` rates the file above LIKELY_SAFE without a parse error;
- panorama-gate: ``scan`` (model analyzers, the default policy) reports a finding at medium or
  above, or cannot walk the file (a failure: the verdict is never approved).
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scanner.config import ScanConfig
from scanner.gate import run_gate
from scanner.models import Decision, Severity
from scanner.policy.model import load_policy
from tests.helpers.peer_samples import PeerSample, build_peer_samples

__all__ = ["PEERS", "Ours", "fickling", "modelscan", "picklescan", "run", "summary"]

Outcome = str  # "yes" | "no" | "err"


def picklescan(path: Path) -> Outcome:
    """picklescan: a dangerous global."""
    from picklescan.scanner import scan_file_path

    try:
        r = scan_file_path(str(path))
    except Exception:  # noqa: BLE001 - a peer's crash is its outcome
        return "err"
    if r.infected_files or r.issues_count:
        return "yes"
    return "err" if r.scan_err else "no"


def modelscan(path: Path) -> Outcome:
    """modelscan: any issue."""
    from modelscan.modelscan import ModelScan

    try:
        res = ModelScan().scan(str(path))
    except Exception:  # noqa: BLE001
        return "err"
    if res.get("summary", {}).get("total_issues", 0):
        return "yes"
    return "err" if res.get("errors") else "no"


def fickling(path: Path) -> Outcome:
    """fickling: rated above LIKELY_SAFE with no parse error."""
    import fickling as fk

    try:
        r = fk.scan_file(str(path), graceful=True)
    except Exception:  # noqa: BLE001
        return "err"
    if getattr(r, "errors", None):
        return "err"
    name = getattr(r.severity, "name", str(r.severity))
    return "no" if name in ("LIKELY_SAFE", "OK") else "yes"


class Ours:
    """panorama-gate through the real pipeline: model analyzers, default policy."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.policy = load_policy(None)
        self.detail: dict[str, str] = {}

    def __call__(self, path: Path) -> Outcome:
        config = ScanConfig(analyzers=("tag:model",), offline=True, work_dir=self.work)
        try:
            report = run_gate(path, config, self.policy)
        except Exception as exc:  # noqa: BLE001 - a usage error on a sample is recorded
            self.detail[str(path)] = f"error: {exc}"
            return "err"
        serious = [f for f in report.findings if f.severity >= Severity.MEDIUM]
        worst = max(serious, key=lambda f: int(f.severity), default=None)
        blocks = report.verdict is not None and report.verdict.decision is not Decision.APPROVED
        if worst is not None:
            self.detail[str(path)] = f"{worst.rule_id} ({worst.severity.label})"
        elif report.failures:
            self.detail[str(path)] = f"failure: {report.failures[0].reason[:60]}"
        else:
            self.detail[str(path)] = ", ".join(sorted({f.rule_id for f in report.findings})) or "-"
        self.detail[str(path)] += "; blocks" if blocks else "; approved"
        return "yes" if serious or report.failures else "no"


def run(
    root: Path,
) -> tuple[list[PeerSample], dict[int, dict[str, Outcome]], dict[int, str], float]:
    """Write every sample and run every tool; returns the samples, outcomes and our details."""
    samples = build_peer_samples()
    ours = Ours(root / "work")
    tools: dict[str, Callable[[Path], Outcome]] = {
        "picklescan": picklescan,
        "modelscan": modelscan,
        "fickling": fickling,
        "panorama-gate": ours,
    }
    table: dict[int, dict[str, Outcome]] = {}
    details: dict[int, str] = {}
    logging.disable(logging.CRITICAL)  # the peers log every finding
    started = time.perf_counter()
    try:
        for i, s in enumerate(samples):
            folder = root / f"{i:03d}"
            folder.mkdir(parents=True)
            path = folder / s.filename
            path.write_bytes(s.data)
            row: dict[str, Outcome] = {}
            for name, tool in tools.items():
                with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    row[name] = tool(path)
            table[i] = row
            details[i] = ours.detail.get(str(path), "")
    finally:
        logging.disable(logging.NOTSET)
    return samples, table, details, time.perf_counter() - started


PEERS = ("picklescan", "modelscan", "fickling")


def summary(samples: list[PeerSample], table: dict[int, dict[str, Outcome]]) -> dict[str, Any]:
    """Per peer: samples it flags, how many of those we flag, and the ones we do not."""
    out: dict[str, Any] = {}
    for peer in PEERS:
        flagged = [i for i in table if table[i][peer] == "yes"]
        missed = [i for i in flagged if table[i]["panorama-gate"] != "yes"]
        out[peer] = {
            "flags": len(flagged),
            "we_flag_too": len(flagged) - len(missed),
            "missed": [f"{samples[i].suite}: {samples[i].name}" for i in missed],
        }
    for suite in sorted({s.suite for s in samples}):
        idx = [i for i, s in enumerate(samples) if s.suite == suite]
        hostile = [i for i in idx if samples[i].hostile]
        benign = [i for i in idx if not samples[i].hostile]
        out[suite] = {
            tool: {
                "hostile_flagged": sum(table[i][tool] == "yes" for i in hostile),
                "hostile": len(hostile),
                "benign_flagged": sum(table[i][tool] == "yes" for i in benign),
                "benign": len(benign),
            }
            for tool in (*PEERS, "panorama-gate")
        }
    return out
