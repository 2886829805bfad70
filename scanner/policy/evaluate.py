"""Deciding: ``evaluate(report, policy) -> Verdict`` and ``decide`` (waivers + baseline + verdict).

Both are pure functions: no I/O and no clock (``decide`` takes ``today``). The rules, in order
of precedence:

1. **incomplete** when a required analyzer failed or did not run, when the tool itself failed
   (a failure from something that is not a known analyzer);
2. **rejected** when an unwaived finding is at or above its category's threshold;
3. **approved** otherwise, with warnings for failures of optional analyzers, findings below
   threshold, expired and stale waivers.

Every reason names the findings (fingerprints) or failures (indices into ``report.failures``)
behind it.

Example::

    report = decide(report, policy, today=date.today(), waivers=load_waivers(path))
    report.verdict.decision  # Decision.APPROVED
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence

from scanner.models import (
    Decision,
    Finding,
    Reason,
    Report,
    Verdict,
    WaiverUse,
)
from scanner.policy.model import Policy
from scanner.policy.ratings import rate_findings
from scanner.policy.waivers import Waiver, apply_baseline, apply_waivers

__all__ = ["LEVELS", "decide", "evaluate"]

# Reason levels, most decisive first; the verdict lists reasons in this order.
LEVELS = ("incomplete", "reject", "warning", "info")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _failure_reasons(report: Report, policy: Policy) -> list[Reason]:
    out: list[Reason] = []
    ran = set(report.analyzers)
    required: dict[str, list[int]] = {}
    optional: dict[str, list[int]] = {}
    for i, failure in enumerate(report.failures):
        # A failure from something that is not an analyzer that ran (the pipeline, a source)
        # is the tool failing: never optional.
        if failure.analyzer in ran and not policy.is_required(failure.analyzer):
            optional.setdefault(failure.analyzer, []).append(i)
        else:
            required.setdefault(failure.analyzer, []).append(i)
    for name, idx in sorted(required.items()):
        first = report.failures[idx[0]].reason
        out.append(
            Reason(
                code="analyzer-failed",
                message=(
                    f"{name or 'the scanner'} failed {_plural(len(idx), 'time')} "
                    f"(first: {first}); nothing can be approved"
                ),
                failures=tuple(idx),
                level="incomplete",
            )
        )
    for name, idx in sorted(optional.items()):
        out.append(
            Reason(
                code="optional-analyzer-failed",
                message=(
                    f"{name} failed {_plural(len(idx), 'time')} (not required by the policy; "
                    f"first: {report.failures[idx[0]].reason})"
                ),
                failures=tuple(idx),
                level="warning",
            )
        )
    if isinstance(policy.required_analyzers, tuple):
        missing = [a for a in policy.required_analyzers if a not in ran]
        if missing:
            out.append(
                Reason(
                    code="required-analyzer-missing",
                    message=f"required analyzer(s) did not run: {', '.join(missing)}",
                    level="incomplete",
                )
            )
    return out


def _finding_reasons(findings: Sequence[Finding], policy: Policy) -> list[Reason]:
    out: list[Reason] = []
    active = [f for f in findings if not f.waived]
    blocking = [f for f in active if f.severity >= policy.threshold(f.category)]
    by_rule: dict[str, list[Finding]] = {}
    for f in blocking:
        by_rule.setdefault(f.rule_id, []).append(f)
    for rule, group in sorted(by_rule.items()):
        worst = max(group, key=lambda f: (int(f.severity), f.sort_key()))
        where = str(worst.location)
        more = f" and {len(group) - 1} more" if len(group) > 1 else ""
        out.append(
            Reason(
                code="finding-over-threshold",
                message=(
                    f"{rule} ({worst.severity.label}, {worst.category.value} threshold "
                    f"{policy.threshold(worst.category).label}) at {where}{more}: {worst.message}"
                ),
                fingerprints=tuple(sorted({f.fingerprint for f in group})),
                level="reject",
            )
        )
    below = [f for f in active if f.severity < policy.threshold(f.category)]
    if below:
        counts = Counter(f.severity for f in below)
        text = ", ".join(f"{counts[s]} {s.label}" for s in sorted(counts, reverse=True))
        out.append(
            Reason(
                code="findings-below-threshold",
                message=f"{_plural(len(below), 'finding')} below the policy's thresholds ({text})",
                fingerprints=tuple(sorted({f.fingerprint for f in below})),
                level="warning",
            )
        )
    waived = [f for f in findings if f.waived and not f.properties.get("baseline")]
    if waived:
        out.append(
            Reason(
                code="findings-waived",
                message=(
                    f"{_plural(len(waived), 'finding')} waived (kept in the report, not counted)"
                ),
                fingerprints=tuple(sorted({f.fingerprint for f in waived})),
                level="info",
            )
        )
    baselined = [f for f in findings if f.waived and f.properties.get("baseline")]
    if baselined:
        out.append(
            Reason(
                code="findings-in-baseline",
                message=(
                    f"{_plural(len(baselined), 'finding')} already in the baseline report, "
                    "not counted"
                ),
                fingerprints=tuple(sorted({f.fingerprint for f in baselined})),
                level="info",
            )
        )
    return out


def _waiver_reasons(uses: Sequence[WaiverUse]) -> list[Reason]:
    out: list[Reason] = []
    for u in uses:
        if u.status == "expired":
            hit = (
                f"; it no longer waives {_plural(len(u.fingerprints), 'finding')}"
                if u.fingerprints
                else ""
            )
            out.append(
                Reason(
                    code="waiver-expired",
                    message=f"waiver {u.id} (owner {u.owner}) expired on {u.expires}{hit}",
                    fingerprints=u.fingerprints,
                    level="warning",
                )
            )
        elif u.status == "stale":
            out.append(
                Reason(
                    code="waiver-stale",
                    message=f"waiver {u.id} (owner {u.owner}) matched no finding; remove it",
                    level="warning",
                )
            )
    return out


def _profile_reasons(report: Report) -> list[Reason]:
    # Whether a profile that could not run is incomplete is the sandbox analyzer's to say
    # (resources.when_unavailable: incomplete makes it an AnalyzerFailure); here it is only
    # made visible, so that "approved" never hides that the application was not run.
    res = report.resources
    if res is not None and res.ran:
        return []
    if res is None:
        return [
            Reason(
                code="profile-not-run",
                message="no resource profile: profiling was not requested",
                level="info",
            )
        ]
    return [
        Reason(
            code="profile-not-run",
            message=f"no resource profile: {res.reason or 'the sandbox did not run'}",
            level="warning",
        )
    ]


def evaluate(report: Report, policy: Policy, *, waivers: Sequence[WaiverUse] = ()) -> Verdict:
    """Decide on ``report`` as it stands (waived flags already set); pure.

    ``waivers`` are the uses ``apply_waivers`` returned, reported as reasons and in the verdict.
    """
    reasons = (
        _failure_reasons(report, policy)
        + _profile_reasons(report)
        + _finding_reasons(report.findings, policy)
        + _waiver_reasons(waivers)
    )
    levels = {r.level for r in reasons}
    if "incomplete" in levels:
        decision = Decision.INCOMPLETE
    elif "reject" in levels:
        decision = Decision.REJECTED
    else:
        decision = Decision.APPROVED
        reasons.append(
            Reason(
                code="clean",
                message=(
                    "no unwaived finding at or above the policy's thresholds "
                    f"(default {policy.severity_threshold.label})"
                ),
                level="info",
            )
        )
    # Stable order: most decisive first; within a level, the order the rules produced.
    rank = {lv: i for i, lv in enumerate(LEVELS)}
    ordered = sorted(enumerate(reasons), key=lambda p: (rank.get(p[1].level, len(LEVELS)), p[0]))
    return Verdict(
        decision=decision,
        reasons=tuple(r for _, r in ordered),
        policy_name=policy.name,
        policy_sha256=policy.sha256,
        waivers=tuple(waivers),
    )


def decide(
    report: Report,
    policy: Policy,
    *,
    today: dt.date,
    waivers: Sequence[Waiver] = (),
    baseline: frozenset[str] | None = None,
) -> Report:
    """Apply the policy's ratings of rules, the policy's and the given waivers, then the
    baseline, then evaluate; pure.

    Only the policy decides what is waived: any ``waived`` flag an analyzer set is cleared
    first. Returns the report with updated findings and its verdict.
    """
    rated = rate_findings(report.findings, policy)
    findings, uses = apply_waivers(rated, (*policy.waivers, *waivers), today=today)
    if baseline is not None:
        findings = apply_baseline(findings, baseline)
    judged = dataclasses.replace(report, findings=findings)
    return dataclasses.replace(judged, verdict=evaluate(judged, policy, waivers=uses))
