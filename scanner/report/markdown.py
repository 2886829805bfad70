"""A Markdown summary for a CI job summary or a merge-request comment (``--format markdown``).

The verdict and why come first, then a category × severity table, then findings grouped by
file (a container asset named by its role, not its digest; capped, so a comment stays within
forge limits), waivers and failures. Text from the artifact is escaped so that it cannot break
the table or inject links and HTML.
"""

from __future__ import annotations

import re
from typing import TextIO

from scanner.models import Category, Decision, Report
from scanner.report._common import (
    DECISION_TEXT,
    SEVERITIES,
    by_file,
    finding_status,
    no_surrogates,
    printable,
    reason_head,
    summarize,
    where_in_file,
)

__all__ = ["MarkdownWriter", "escape_md"]

_ICON = {Decision.APPROVED: "✅", Decision.REJECTED: "❌", Decision.INCOMPLETE: "⚠️"}
_LEVEL_ICON = {"incomplete": "⚠️", "reject": "❌", "warning": "🔸", "info": "ℹ️"}
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def escape_md(text: str) -> str:
    """Escape Markdown and HTML specials and flatten newlines (safe inside a table cell)."""
    flat = " ".join(printable(str(text)).split())
    return _SPECIAL.sub(r"\\\1", flat)


def _code(text: str) -> str:
    # Inline code cannot hold a backtick or a pipe inside a table; fall back to escaped text.
    if "`" in text or "|" in text or not text:
        return escape_md(text)
    return f"`{' '.join(printable(text).split())}`"


class MarkdownWriter:
    """``--format markdown``."""

    name = "markdown"
    media_type = "text/markdown"

    def __init__(self, *, max_findings: int = 100) -> None:
        self.max_findings = max_findings

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the summary."""
        s = summarize(report)
        v = report.verdict

        def w(text: str) -> None:
            fp.write(no_surrogates(text))

        t = report.target
        if v is not None:
            w(f"## {_ICON[v.decision]} panorama-gate: {DECISION_TEXT[v.decision]}\n\n")
        else:
            w("## panorama-gate: no verdict\n\n")
        w(
            f"Target {_code(t.path)} ({t.kind.value}"
            + (f", {escape_md(t.name)} {escape_md(t.version)}".rstrip() if t.name else "")
            + f"): {len(report.artifacts)} artifact(s), {len(report.components)} component(s), "
            f"{s.total} finding(s) ({s.waived} waived), {len(report.failures)} failure(s).\n\n"
        )
        if v is not None:
            w(f"Policy **{escape_md(v.policy_name)}** (sha256 `{v.policy_sha256[:16]}`)\n\n")
            w("### Why\n\n")
            for r in v.reasons:
                # a blocking rule: its findings are in the tables below, each marked blocking
                text = reason_head(r.message) if r.code == "finding-over-threshold" else r.message
                w(f"- {_LEVEL_ICON.get(r.level, '')} {escape_md(text)}\n")
            w("\n")
        if s.total:
            w("### Findings by category and severity (not waived)\n\n")
            w("| category | " + " | ".join(sev.label for sev in SEVERITIES) + " |\n")
            w("|---|" + "---:|" * len(SEVERITIES) + "\n")
            for cat in Category:
                row = s.active_by_category.get(cat)
                if row is None:
                    continue
                w(f"| {cat.value} | " + " | ".join(str(row[sev]) for sev in SEVERITIES) + " |\n")
            w(
                "| **total** | "
                + " | ".join(f"**{s.active_by_severity[sev]}**" for sev in SEVERITIES)
                + " |\n\n"
            )
            w("### Findings\n\n")
            shown = 0
            for group in by_file(report, report.findings):
                if shown >= self.max_findings:
                    break
                detail = f" ({_code(group.detail)})" if group.detail else ""
                w(f"#### {escape_md(group.title)}{detail}\n\n")
                w("| status | severity | rule | where | message |\n|---|---|---|---|---|\n")
                for f in group.findings:
                    if shown >= self.max_findings:
                        break
                    w(
                        f"| {finding_status(f, s)} | {f.severity.label} | {_code(f.rule_id)} | "
                        f"{_code(where_in_file(f, report))} | {escape_md(f.message)} |\n"
                    )
                    shown += 1
                w("\n")
            if shown < s.total:
                w(f"_{s.total - shown} more finding(s) in the JSON report._\n\n")
        if v is not None and v.waivers:
            w("### Waivers\n\n| id | status | owner | expires | findings | reason |\n")
            w("|---|---|---|---|---:|---|\n")
            for u in v.waivers:
                w(
                    f"| {_code(u.id)} | {u.status} | {escape_md(u.owner)} | {u.expires} | "
                    f"{len(u.fingerprints)} | {escape_md(u.reason)} |\n"
                )
            w("\n")
        if report.failures:
            w("### Failures\n\n| analyzer | where | reason |\n|---|---|---|\n")
            for fail in report.failures:
                where = str(fail.location) if fail.location else "-"
                w(f"| {_code(fail.analyzer)} | {_code(where)} | {escape_md(fail.reason)} |\n")
            w("\n")
