"""The terminal summary: readable in ten seconds, colour only on a TTY."""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from scanner.models import Decision, Report, Severity

__all__ = ["TerminalWriter"]

_COLOURS = {
    Severity.CRITICAL: "\033[1;31m",
    Severity.HIGH: "\033[31m",
    Severity.MEDIUM: "\033[33m",
    Severity.LOW: "\033[36m",
    Severity.INFO: "\033[2m",
}
_DECISION_COLOURS = {
    Decision.APPROVED: "\033[1;32m",
    Decision.REJECTED: "\033[1;31m",
    Decision.INCOMPLETE: "\033[1;33m",
}
_RESET = "\033[0m"


class TerminalWriter:
    """``--format terminal``: counts by category and severity, the verdict and why, details."""

    name = "terminal"
    media_type = "text/plain"

    def __init__(self, *, colour: bool | None = None, details: bool = True, max_details: int = 50):
        self.colour = colour
        self.details = details
        self.max_details = max_details

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the summary to ``fp``."""
        colour = self.colour if self.colour is not None else bool(getattr(fp, "isatty", bool)())

        def paint(text: str, code: str) -> str:
            return f"{code}{text}{_RESET}" if colour else text

        t = report.target
        fp.write(f"{report.tool_name} {report.tool_version}: {t.kind.value} {t.path}\n")
        if t.name:
            fp.write(f"  application {t.name} {t.version}".rstrip() + "\n")
        fp.write(
            f"  {len(report.artifacts)} artifact(s), {len(report.components)} component(s), "
            f"{len(report.findings)} finding(s), {len(report.failures)} failure(s)\n"
        )
        active = [f for f in report.findings if not f.waived]
        if report.findings:
            by_sev = Counter(f.severity for f in active)
            sev_text = ", ".join(
                paint(f"{by_sev[s]} {s.label}", _COLOURS[s])
                for s in sorted(by_sev, reverse=True)
            )
            waived = len(report.findings) - len(active)
            fp.write(f"  by severity: {sev_text or 'none'}")
            fp.write(f" ({waived} waived)\n" if waived else "\n")
            by_cat = Counter(f.category.value for f in active)
            fp.write(
                "  by category: " + ", ".join(f"{n} {c}" for c, n in sorted(by_cat.items())) + "\n"
            )
        if self.details and (active or report.failures):
            fp.write("\n")
            shown = 0
            ordered = sorted(active, key=lambda f: (f.location.artifact, -int(f.severity)))
            current = None
            for f in ordered:
                if shown >= self.max_details:
                    fp.write(f"  ... {len(ordered) - shown} more (see the JSON report)\n")
                    break
                if f.location.artifact != current:
                    current = f.location.artifact
                    fp.write(f"{current or '(target)'}\n")
                where = f.location.path + (f":{f.location.line}" if f.location.line else "")
                sev = paint(f"{f.severity.label:<8}", _COLOURS[f.severity])
                fp.write(f"  {sev} {f.rule_id}  {where}\n           {f.message}\n")
                shown += 1
            for fail in report.failures:
                where = str(fail.location) if fail.location else "-"
                fp.write(f"  {paint('FAILED  ', _COLOURS[Severity.HIGH])} {fail.analyzer}  {where}\n")
                fp.write(f"           {fail.reason}\n")
        v = report.verdict
        if v is not None:
            fp.write("\n")
            fp.write(
                "verdict: "
                + paint(v.decision.value.upper(), _DECISION_COLOURS[v.decision])
                + f"  (policy {v.policy_name}, sha256 {v.policy_sha256[:12]})\n"
            )
            for r in v.reasons:
                fp.write(f"  - {r.message}\n")
