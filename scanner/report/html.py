"""One self-contained HTML page (``--format html``): verdict, filters, per-file detail.

Read top to bottom: the verdict; why, one line per reason (a blocking rule links to each of
its findings); counts; then the findings grouped by file, a container asset named by its role
("container of shelf_code") rather than its digest. Below 700 px wide each finding is a card
instead of a table row, so a phone never scrolls sideways.

No external resources: styles and the small filter script are inline, and a Content-Security-
Policy allows exactly those two (by hash) and nothing else, so text from a scanned artifact
cannot run script even if escaping were ever wrong. Filters (category, minimum severity,
waived) can also be preset from the URL fragment, e.g.
``report.html#category=secret&severity=high``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from html import escape
from typing import TextIO

from scanner.models import Category, Decision, Finding, Reason, Report, Verdict
from scanner.report._common import (
    DECISION_TEXT,
    SEVERITIES,
    Summary,
    by_file,
    finding_status,
    no_surrogates,
    printable,
    reason_head,
    summarize,
    where_in_file,
)

__all__ = ["HtmlWriter"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;
color:#1d2433;background:#f6f7f9}
header{padding:16px 24px;color:#fff}
header.approved{background:#1a7f37}header.rejected{background:#b42318}header.incomplete{background:#b54708}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;overflow-wrap:anywhere}
header code{color:#fff}
main{padding:8px 24px 24px;max-width:1280px}
h2{margin:20px 0 8px;font-size:18px}h3{margin:18px 0 4px;font-size:15px}
h3 small{font-weight:400;color:#475467}
.scroll{overflow-x:auto}
table{border-collapse:collapse;background:#fff;margin:4px 0 12px}
table.findings{width:100%}
th,td{border:1px solid #d0d5dd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f3;font-weight:600}td.n,th.n{text-align:right}
.sev{font-weight:600}.sev-critical{color:#7a0916}.sev-high{color:#b42318}.sev-medium{color:#b54708}
.sev-low{color:#175cd3}.sev-info{color:#667085}
tr.waived td{color:#98a2b3;text-decoration:line-through}
.st-blocking{font-weight:700;color:#b42318}
#filters{background:#fff;border:1px solid #d0d5dd;padding:8px 12px;margin:8px 0}
#filters label{margin-right:16px;display:inline-block}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
.fp{display:block;color:#98a2b3;font-size:11px;margin-top:2px}
#reasons{list-style:none;padding:0;margin:0}
#reasons li{margin:2px 0;padding:4px 8px;background:#fff;border-left:4px solid #d0d5dd}
#reasons li.lv-reject{border-color:#b42318}#reasons li.lv-incomplete{border-color:#b54708}
#reasons li.lv-warning{border-color:#f79009}
.tag{display:inline-block;min-width:64px;font-size:11px;font-weight:700;text-transform:uppercase;
color:#475467}
li.lv-reject .tag{color:#b42318}li.lv-incomplete .tag{color:#b54708}
#reasons a{color:inherit}
@media (max-width:700px){
main{padding:8px 12px 16px}header{padding:12px}
table.findings,table.findings tbody,table.findings tr,table.findings td{display:block;width:auto}
table.findings thead{display:none}
table.findings tr{border:1px solid #d0d5dd;margin:0 0 8px;background:#fff}
table.findings td{border:0;padding:2px 8px}
table.findings td[data-label]::before{content:attr(data-label) ": ";color:#667085}
#summary th,#summary td{padding:3px 5px;font-size:12px}
}
"""

_JS = """
(function () {
  var order = {critical: 4, high: 3, medium: 2, low: 1, info: 0};
  var cat = document.getElementById("f-category");
  var sev = document.getElementById("f-severity");
  var waived = document.getElementById("f-waived");
  function apply() {
    var shown = 0, total = 0;
    document.querySelectorAll("tr.finding").forEach(function (tr) {
      total += 1;
      var ok = (!cat.value || tr.dataset.category === cat.value) &&
        (!sev.value || order[tr.dataset.severity] >= order[sev.value]) &&
        (waived.checked || tr.dataset.status !== "waived");
      tr.hidden = !ok;
      if (ok) { shown += 1; }
    });
    document.querySelectorAll("section.artifact").forEach(function (s) {
      s.hidden = !s.querySelector("tr.finding:not([hidden])");
    });
    document.getElementById("shown").textContent = shown + " of " + total + " findings shown";
  }
  var p = new URLSearchParams(window.location.hash.slice(1));
  if (p.has("category")) { cat.value = p.get("category"); }
  if (p.has("severity")) { sev.value = p.get("severity"); }
  if (p.has("waived")) { waived.checked = p.get("waived") === "1"; }
  [cat, sev, waived].forEach(function (el) { el.addEventListener("change", apply); });
  window.addEventListener("hashchange", function () { window.location.reload(); });
  apply();
})();
"""


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _e(text: object) -> str:
    return escape(printable(str(text)), quote=True)


def _anchor(f: Finding) -> str:
    return f"f-{f.fingerprint[:16]}"


def _reason(r: Reason, report: Report) -> str:
    """One reason: a blocking one names its rule and links to each finding it covers."""
    head = f'<li class="lv-{_e(r.level)}" data-code="{_e(r.code)}"><span class="tag">'
    label = {"reject": "blocks", "incomplete": "incomplete"}.get(r.level, r.level)
    head += f"{_e(label)}</span> "
    if r.code != "finding-over-threshold" or not r.fingerprints:
        return f"{head}{_e(r.message)}</li>"
    by_fp = {f.fingerprint: f for f in report.findings}
    links = [
        f'<a href="#{_anchor(by_fp[fp])}"><code>{_e(_place(by_fp[fp], report))}</code></a>'
        for fp in r.fingerprints
        if fp in by_fp
    ]
    rule, _, rest = reason_head(r.message).partition(" ")
    return f"{head}<code>{_e(rule)}</code> {_e(rest)}: {', '.join(links)}</li>"


def _place(f: Finding, report: Report) -> str:
    group = next(g for g in by_file(report, [f]))
    where = where_in_file(f, report)
    return f"{group.title}: {where}" if where else group.title


def _finding_row(f: Finding, status: str, where: str) -> str:
    cwe = f" (CWE-{f.cwe})" if f.cwe is not None else ""
    return (
        f'<tr id="{_anchor(f)}" class="finding {status}" data-category="{f.category.value}" '
        f'data-severity="{f.severity.label}" data-status="{status}" '
        f'data-fingerprint="{_e(f.fingerprint)}">'
        f'<td class="st-{status}" data-label="status">{status}</td>'
        f'<td class="sev sev-{f.severity.label}" data-label="severity">{f.severity.label}</td>'
        f'<td data-label="rule"><code>{_e(f.rule_id)}</code>{_e(cwe)}</td>'
        f'<td data-label="where"><code>{_e(where or "-")}</code></td>'
        f'<td data-label="message">{_e(f.message)}<span class="fp">{f.category.value} · '
        f"fingerprint <code>{_e(f.fingerprint)}</code></span></td></tr>"
    )


class HtmlWriter:
    """``--format html``."""

    name = "html"
    media_type = "text/html"

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the page: one line per element, in reading order."""
        s = summarize(report)
        out: list[str] = [
            *_head(report),
            *_why(report),
            f"<p>{len(report.artifacts)} artifact(s), {len(report.components)} component(s), "
            f"{s.total} finding(s) ({s.waived} waived), {len(report.failures)} failure(s).</p>",
            *_summary_table(s),
            *_filters(report, s),
            *_findings_by_file(report, s),
            *_waivers(report.verdict),
            *_failures(report),
            *_artifacts(report),
            f"</main><script>{_JS}</script></body></html>",
        ]
        fp.write(no_surrogates("\n".join(out)))
        fp.write("\n")


def _head(report: Report) -> list[str]:
    """The document head (CSP, title, styles) and the verdict banner."""
    v = report.verdict
    t = report.target
    decision = v.decision if v is not None else Decision.INCOMPLETE
    csp = (
        f"default-src 'none'; style-src {_csp_hash(_CSS)}; script-src {_csp_hash(_JS)}; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(report.tool_name)}: {_e(DECISION_TEXT[decision])} "
        f"{_e(t.name or t.path)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<header class="{decision.value}" id="verdict" data-decision="{decision.value}">',
        f"<h1>{_e(DECISION_TEXT[decision])}</h1>",
        f"<p>{_e(t.kind.value)} <code>{_e(t.path)}</code>"
        + (f" · {_e(t.name)} {_e(t.version)}" if t.name else "")
        + (
            f" · policy {_e(v.policy_name)} (sha256 <code>{_e(v.policy_sha256[:16])}</code>)"
            if v is not None
            else ""
        )
        + f" · {_e(report.tool_name)} {_e(report.tool_version)}</p>",
        "</header><main>",
    ]


def _why(report: Report) -> Iterator[str]:
    """The verdict's reasons, one list item each."""
    v = report.verdict
    yield '<h2>Why</h2><ul id="reasons">'
    yield from (_reason(r, report) for r in (v.reasons if v is not None else ()))
    yield "</ul>"


def _summary_table(s: Summary) -> Iterator[str]:
    """Category x severity of unwaived findings, with totals."""
    yield '<h2>Summary</h2><div class="scroll"><table id="summary"><thead><tr>'
    yield "<th>category</th>"
    yield from (f'<th class="n">{sev.label}</th>' for sev in SEVERITIES)
    yield "</tr></thead><tbody>"
    for cat in Category:
        row = s.active_by_category.get(cat)
        if row is None:
            continue
        yield f'<tr data-category="{cat.value}"><td>{cat.value}</td>'
        yield from (f'<td class="n">{row[sev]}</td>' for sev in SEVERITIES)
        yield "</tr>"
    yield "<tr><th>total</th>"
    yield from (f'<th class="n">{s.active_by_severity[sev]}</th>' for sev in SEVERITIES)
    yield "</tr></tbody></table></div>"


def _filters(report: Report, s: Summary) -> Iterator[str]:
    """The filter controls the inline script reads (category, minimum severity, waived)."""
    cats = sorted({f.category.value for f in report.findings})
    yield '<h2>Findings</h2><div id="filters">'
    yield '<label>category <select id="f-category"><option value="">all</option>'
    yield from (f'<option value="{c}">{c}</option>' for c in cats)
    yield "</select></label>"
    yield '<label>severity at least <select id="f-severity"><option value="">any</option>'
    yield from (f'<option value="{sev.label}">{sev.label}</option>' for sev in SEVERITIES)
    yield "</select></label>"
    yield '<label><input type="checkbox" id="f-waived" checked> show waived</label>'
    # The script rewrites this; the static text differs so a test can tell that it ran.
    yield f'<span id="shown">{s.total} finding(s)</span></div>'


def _findings_by_file(report: Report, s: Summary) -> Iterator[str]:
    """One section per file, its findings as table rows (cards on a narrow screen)."""
    for group in by_file(report, report.findings):
        detail = f" <small><code>{_e(group.detail)}</code></small>" if group.detail else ""
        yield (
            f'<section class="artifact" data-artifact="{_e(group.path)}">'
            f"<h3>{_e(group.title)}{detail} ({len(group.findings)})</h3>"
            '<table class="findings"><thead><tr><th>status</th><th>severity</th>'
            "<th>rule</th><th>where</th><th>message</th></tr></thead><tbody>"
        )
        yield from (
            _finding_row(f, finding_status(f, s), where_in_file(f, report)) for f in group.findings
        )
        yield "</tbody></table></section>"


def _waivers(v: Verdict | None) -> Iterator[str]:
    """The waivers the policy applied, when it has any."""
    if v is None or not v.waivers:
        return
    yield (
        '<h2>Waivers</h2><table id="waivers"><thead><tr><th>id</th><th>status</th>'
        "<th>owner</th><th>expires</th><th>findings</th><th>reason</th></tr></thead><tbody>"
    )
    yield from (
        f'<tr data-status="{_e(u.status)}"><td><code>{_e(u.id)}</code></td>'
        f"<td>{_e(u.status)}</td><td>{_e(u.owner)}</td><td>{_e(u.expires)}</td>"
        f'<td class="n">{len(u.fingerprints)}</td><td>{_e(u.reason)}</td></tr>'
        for u in v.waivers
    )
    yield "</tbody></table>"


def _failures(report: Report) -> Iterator[str]:
    """Analyzers that failed, and where."""
    if not report.failures:
        return
    yield (
        '<h2>Failures</h2><table id="failures"><thead><tr><th>analyzer</th><th>where</th>'
        "<th>reason</th></tr></thead><tbody>"
    )
    for fail in report.failures:
        where = str(fail.location) if fail.location else "-"
        yield (
            f"<tr><td>{_e(fail.analyzer)}</td><td><code>{_e(where)}</code></td>"
            f"<td>{_e(fail.reason)}</td></tr>"
        )
    yield "</tbody></table>"


def _artifacts(report: Report) -> Iterator[str]:
    """The artifacts scanned: file, kind, package, size and digest."""
    if not report.artifacts:
        return
    yield (
        '<h2>Artifacts</h2><table id="artifacts" class="findings"><thead><tr>'
        "<th>file</th><th>kind</th><th>package</th><th>size</th><th>sha256</th>"
        "</tr></thead><tbody>"
    )
    yield from (
        f'<tr><td data-label="file"><code>{_e(a.path or a.name)}</code></td>'
        f'<td data-label="kind">{a.kind.value}</td>'
        f'<td data-label="package">{_e(a.package or "")}</td>'
        f'<td class="n" data-label="size">{a.size}</td>'
        f'<td data-label="sha256"><code>{_e(a.digest.hex if a.digest else "-")}</code>'
        "</td></tr>"
        for a in report.artifacts
    )
    yield "</tbody></table>"
