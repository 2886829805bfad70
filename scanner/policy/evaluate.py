"""``evaluate(report, policy) -> Verdict``: a pure function, no I/O."""

from __future__ import annotations

from scanner.models import Decision, Reason, Report, Verdict
from scanner.policy.model import Policy

__all__ = ["evaluate"]


def evaluate(report: Report, policy: Policy) -> Verdict:
    """Decide: any analyzer failure makes it incomplete; any unwaived finding at or above its
    category's threshold rejects; otherwise approved."""
    reasons: list[Reason] = []
    if report.failures:
        reasons.append(
            Reason(
                code="analyzer-failed",
                message=f"{len(report.failures)} analyzer failure(s): nothing can be approved",
                failures=tuple(range(len(report.failures))),
            )
        )
    blocking = [
        f
        for f in report.findings
        if not f.waived and f.severity >= policy.threshold(f.category)
    ]
    if blocking:
        by_rule: dict[str, list[str]] = {}
        for f in blocking:
            by_rule.setdefault(f.rule_id, []).append(f.fingerprint)
        for rule, fps in sorted(by_rule.items()):
            sample = next(f for f in blocking if f.rule_id == rule)
            reasons.append(
                Reason(
                    code="finding-over-threshold",
                    message=(
                        f"{len(fps)} x {rule} ({sample.severity.label}, at or above the "
                        f"{sample.category.value} threshold "
                        f"{policy.threshold(sample.category).label}): {sample.message}"
                    ),
                    fingerprints=tuple(fps),
                )
            )
    if report.failures:
        decision = Decision.INCOMPLETE
    elif blocking:
        decision = Decision.REJECTED
    else:
        decision = Decision.APPROVED
        reasons.append(Reason(code="clean", message="no finding at or above the policy's thresholds"))
    return Verdict(decision, tuple(reasons), policy.name, policy.sha256)
