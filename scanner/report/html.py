"""One self-contained HTML page (``--format html``): verdict, filters, per-artifact detail.

No external resources: styles and the small filter script are inline, and a Content-Security-
Policy allows exactly those two (by hash) and nothing else, so text from a scanned artifact
cannot run script even if escaping were ever wrong. Filters (category, minimum severity,
waived) can also be preset from the URL fragment, e.g.
``report.html#category=secret&severity=high``.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import TextIO

from scanner.models import Category, Decision, Report
from scanner.report._common import (
    DECISION_TEXT,
    SEVERITIES,
    by_artifact,
    finding_status,
    no_surrogates,
    printable,
    summarize,
)

__all__ = ["HtmlWriter"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;
color:#1d2433;background:#f6f7f9}
header{padding:16px 24px;color:#fff}
header.approved{background:#1a7f37}header.rejected{background:#b42318}header.incomplete{background:#b54708}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0}
main{padding:16px 24px;max-width:1200px}
table{border-collapse:collapse;width:100%;background:#fff;margin:8px 0 16px}
th,td{border:1px solid #d0d5dd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f3}td.n{text-align:right}
.sev{font-weight:600}.sev-critical{color:#7a0916}.sev-high{color:#b42318}.sev-medium{color:#b54708}
.sev-low{color:#175cd3}.sev-info{color:#667085}
tr.waived td{color:#98a2b3;text-decoration:line-through}
.st-blocking{font-weight:700;color:#b42318}
#filters{background:#fff;border:1px solid #d0d5dd;padding:8px 12px;margin:8px 0}
#filters label{margin-right:16px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
li.lv-incomplete,li.lv-reject{font-weight:600}
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


class HtmlWriter:
    """``--format html``."""

    name = "html"
    media_type = "text/html"

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the page."""
        s = summarize(report)
        v = report.verdict
        t = report.target
        decision = v.decision if v is not None else Decision.INCOMPLETE
        csp = (
            f"default-src 'none'; style-src {_csp_hash(_CSS)}; script-src {_csp_hash(_JS)}; "
            "img-src 'none'; base-uri 'none'; form-action 'none'"
        )
        out: list[str] = [
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
        out.append('<h2>Why</h2><ul id="reasons">')
        out.extend(
            f'<li class="lv-{_e(r.level)}" data-code="{_e(r.code)}">'
            f"[{_e(r.level)}] {_e(r.message)}</li>"
            for r in (v.reasons if v is not None else ())
        )
        out.append("</ul>")
        out.append(
            f"<p>{len(report.artifacts)} artifact(s), {len(report.components)} component(s), "
            f"{s.total} finding(s) ({s.waived} waived), {len(report.failures)} failure(s).</p>"
        )
        # Summary table: category x severity of unwaived findings.
        out.append('<h2>Summary</h2><table id="summary"><thead><tr><th>category</th>')
        out.extend(f"<th>{sev.label}</th>" for sev in SEVERITIES)
        out.append("</tr></thead><tbody>")
        for cat in Category:
            row = s.active_by_category.get(cat)
            if row is None:
                continue
            out.append(f'<tr data-category="{cat.value}"><td>{cat.value}</td>')
            out.extend(f'<td class="n">{row[sev]}</td>' for sev in SEVERITIES)
            out.append("</tr>")
        out.append("<tr><th>total</th>")
        out.extend(f'<th class="n">{s.active_by_severity[sev]}</th>' for sev in SEVERITIES)
        out.append("</tr></tbody></table>")
        # Filters.
        cats = sorted({f.category.value for f in report.findings})
        out.append('<h2>Findings</h2><div id="filters">')
        out.append('<label>category <select id="f-category"><option value="">all</option>')
        out.extend(f'<option value="{c}">{c}</option>' for c in cats)
        out.append("</select></label>")
        out.append('<label>severity at least <select id="f-severity"><option value="">any</option>')
        out.extend(f'<option value="{sev.label}">{sev.label}</option>' for sev in SEVERITIES)
        out.append("</select></label>")
        out.append('<label><input type="checkbox" id="f-waived" checked> show waived</label>')
        # The script rewrites this; the static text differs so a test can tell that it ran.
        out.append(f'<span id="shown">{s.total} finding(s)</span></div>')
        for artifact, group in by_artifact(report.findings):
            out.append(
                f'<section class="artifact" data-artifact="{_e(artifact)}">'
                f"<h3><code>{_e(artifact or '(target)')}</code> ({len(group)})</h3>"
                "<table><thead><tr><th>status</th><th>severity</th><th>category</th><th>rule</th>"
                "<th>where</th><th>message</th><th>fingerprint</th></tr></thead><tbody>"
            )
            for f in group:
                status = finding_status(f, s)
                where = f.location.path + (f":{f.location.line}" if f.location.line else "")
                cwe = f" (CWE-{f.cwe})" if f.cwe is not None else ""
                out.append(
                    f'<tr class="finding {status}" data-category="{f.category.value}" '
                    f'data-severity="{f.severity.label}" data-status="{status}" '
                    f'data-fingerprint="{_e(f.fingerprint)}">'
                    f'<td class="st-{status}">{status}</td>'
                    f'<td class="sev sev-{f.severity.label}">{f.severity.label}</td>'
                    f"<td>{f.category.value}</td><td><code>{_e(f.rule_id)}</code>{_e(cwe)}</td>"
                    f"<td><code>{_e(where)}</code></td><td>{_e(f.message)}</td>"
                    f"<td><code>{_e(f.fingerprint)}</code></td></tr>"
                )
            out.append("</tbody></table></section>")
        if v is not None and v.waivers:
            out.append(
                '<h2>Waivers</h2><table id="waivers"><thead><tr><th>id</th><th>status</th>'
                "<th>owner</th><th>expires</th><th>findings</th><th>reason</th></tr></thead><tbody>"
            )
            out.extend(
                f'<tr data-status="{_e(u.status)}"><td><code>{_e(u.id)}</code></td>'
                f"<td>{_e(u.status)}</td><td>{_e(u.owner)}</td><td>{_e(u.expires)}</td>"
                f'<td class="n">{len(u.fingerprints)}</td><td>{_e(u.reason)}</td></tr>'
                for u in v.waivers
            )
            out.append("</tbody></table>")
        if report.failures:
            out.append(
                '<h2>Failures</h2><table id="failures"><thead><tr><th>analyzer</th><th>where</th>'
                "<th>reason</th></tr></thead><tbody>"
            )
            for fail in report.failures:
                where = str(fail.location) if fail.location else "-"
                out.append(
                    f"<tr><td>{_e(fail.analyzer)}</td><td><code>{_e(where)}</code></td>"
                    f"<td>{_e(fail.reason)}</td></tr>"
                )
            out.append("</tbody></table>")
        if report.artifacts:
            out.append(
                '<h2>Artifacts</h2><table id="artifacts"><thead><tr><th>name</th><th>kind</th>'
                "<th>size</th><th>sha256</th></tr></thead><tbody>"
            )
            out.extend(
                f"<tr><td><code>{_e(a.name)}</code></td><td>{a.kind.value}</td>"
                f'<td class="n">{a.size}</td>'
                f"<td><code>{_e(a.digest.hex if a.digest else '-')}</code></td></tr>"
                for a in report.artifacts
            )
            out.append("</tbody></table>")
        out.append(f"</main><script>{_JS}</script></body></html>")
        fp.write(no_surrogates("\n".join(out)))
        fp.write("\n")
