"""The terminal summary: readable in ten seconds, colour only on a TTY.

Layout, top to bottom: what was scanned; details grouped by file (a container asset is named
by its role, "container of shelf_code", not by its digest; worst first, capped); failures;
waivers; then the part a person reads first when the command ends, at the bottom of the
screen: counts by category and severity, and the verdict with the reasons that decided it. A
blocking finding is listed once, in the details (marked BLOCKS); its reason below only names
the rule and threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from scanner.models import Category, Decision, Finding, Reason, Report, Severity, Verdict
from scanner.report._common import (
    SEVERITIES,
    Summary,
    by_file,
    finding_status,
    no_surrogates,
    one_line,
    reason_head,
    summarize,
    where_in_file,
)

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
_LEVEL_MARK = {"incomplete": "!", "reject": "x", "warning": "~", "info": "-"}
_RESET = "\033[0m"


class TerminalWriter:
    """``--format terminal``: counts by category and severity, the verdict and why, details."""

    name = "terminal"
    media_type = "text/plain"

    def __init__(
        self,
        *,
        colour: bool | None = None,
        details: bool = True,
        max_details: int = 50,
        max_reasons: int = 15,
    ) -> None:
        self.colour = colour
        self.details = details
        self.max_details = max_details
        # Reasons are ordered most decisive first, so a cap keeps what decided the verdict.
        self.max_reasons = max_reasons

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the summary to ``fp``."""
        isatty = getattr(fp, "isatty", None)
        colour = self.colour if self.colour is not None else bool(isatty and isatty())
        out = _Screen(fp, colour)
        s = summarize(report)
        _header(out, report, s)
        active = [f for f in report.findings if not f.waived]
        listed: set[str] = set()
        if self.details and active:
            listed = self._details(out, report, s, active)
        _failures(out, report)
        v = report.verdict
        if v is not None and v.waivers:
            _waivers(out, v)
        if active:
            _counts(out, s)
        if v is not None:
            self._verdict(out, v, listed)

    def _details(self, out: _Screen, report: Report, s: Summary, active: list[Finding]) -> set[str]:
        """Active findings grouped by file, worst first, up to ``max_details``; returns the
        fingerprints listed (the verdict's reasons refer to them rather than repeat them)."""
        listed: set[str] = set()
        out.w("\n")
        for group in by_file(report, active):
            if len(listed) >= self.max_details:
                break
            detail = f"  ({one_line(group.detail)})" if group.detail else ""
            out.w(f"{one_line(group.title)}{detail}\n")
            for f in group.findings:
                if len(listed) >= self.max_details:
                    break
                where = one_line(where_in_file(f, report))
                sev = out.paint(f"{f.severity.label:<8}", _COLOURS[f.severity])
                mark = "BLOCKS " if finding_status(f, s) == "blocking" else ""
                head = f"  {sev} {mark}{one_line(f.rule_id)}  {where}".rstrip()
                out.w(f"{head}\n           {one_line(f.message)}\n")
                listed.add(f.fingerprint)
        if len(listed) < len(active):
            out.w(f"  ... {len(active) - len(listed)} more (see the JSON report)\n")
        return listed

    def _verdict(self, out: _Screen, v: Verdict, listed: set[str]) -> None:
        """The verdict and the reasons that decided it, up to ``max_reasons``."""
        out.w("\n")
        out.w(
            "verdict: "
            + out.paint(v.decision.value.upper(), _DECISION_COLOURS[v.decision])
            + f"  (policy {one_line(v.policy_name)}, sha256 {v.policy_sha256[:12]})\n"
        )
        for r in v.reasons[: self.max_reasons]:
            out.w(f"  {_LEVEL_MARK.get(r.level, '-')} {one_line(_reason_text(r, listed))}\n")
        if len(v.reasons) > self.max_reasons:
            out.w(f"  ... {len(v.reasons) - self.max_reasons} more reason(s) in the JSON report\n")


@dataclass(frozen=True, slots=True)
class _Screen:
    """Where the summary goes, and whether it may be coloured."""

    fp: TextIO
    colour: bool

    def w(self, text: str) -> None:
        """Write ``text`` (surrogates from undecodable names made printable)."""
        self.fp.write(no_surrogates(text))

    def paint(self, text: str, code: str) -> str:
        """``text`` in the ANSI colour ``code`` when colour is on."""
        return f"{code}{text}{_RESET}" if self.colour else text


def _header(out: _Screen, report: Report, s: Summary) -> None:
    """What was scanned, and how much was found."""
    t = report.target
    out.w(f"{report.tool_name} {report.tool_version}: {t.kind.value} {one_line(t.path)}\n")
    if t.name:
        out.w(f"  application {one_line(t.name)} {one_line(t.version)}".rstrip() + "\n")
    out.w(
        f"  {len(report.artifacts)} artifact(s), {len(report.components)} component(s), "
        f"{s.total} finding(s) ({s.waived} waived), {len(report.failures)} failure(s)\n"
    )


def _failures(out: _Screen, report: Report) -> None:
    """Analyzers that failed, and where."""
    if not report.failures:
        return
    out.w("\nfailures:\n")
    for fail in report.failures:
        where = one_line(str(fail.location)) if fail.location else "-"
        failed = out.paint("FAILED", _COLOURS[Severity.HIGH])
        out.w(f"  {failed}  {one_line(fail.analyzer)}  {where}\n")
        out.w(f"          {one_line(fail.reason)}\n")


def _waivers(out: _Screen, v: Verdict) -> None:
    """Each waiver: its status, owner, expiry and how many findings it covers."""
    out.w("\nwaivers:\n")
    for u in v.waivers:
        out.w(
            f"  {u.status:<8} {one_line(u.id)}  owner {one_line(u.owner)}, "
            f"expires {u.expires}, {len(u.fingerprints)} finding(s)\n"
        )


def _counts(out: _Screen, s: Summary) -> None:
    """Active findings by category and severity, with totals."""
    out.w("\n")
    header = f"  {'category':<14}" + "".join(f"{sev.label:>10}" for sev in SEVERITIES)
    out.w(header + "\n")
    for cat in Category:
        row = s.active_by_category.get(cat)
        if row is None:
            continue
        cells = "".join(
            out.paint(f"{row[sev]:>10}", _COLOURS[sev]) if row[sev] else f"{0:>10}"
            for sev in SEVERITIES
        )
        out.w(f"  {cat.value:<14}{cells}\n")
    out.w(f"  {'total':<14}" + "".join(f"{s.active_by_severity[sev]:>10}" for sev in SEVERITIES))
    out.w("\n")


def _reason_text(r: Reason, listed: set[str]) -> str:
    """A reason; a blocking one whose findings are all listed above only names its rule."""
    if r.code == "finding-over-threshold" and r.fingerprints and set(r.fingerprints) <= listed:
        n = len(r.fingerprints)
        return f"{reason_head(r.message)}: {n} finding{'s' if n > 1 else ''} marked BLOCKS above"
    return r.message
