"""License report exports: CSV, JSON, Markdown, HTML and a third-party NOTICE file.

Each row is one component: name, version, ecosystem, purl, its SPDX licenses (``UNKNOWN`` when
none could be determined), how the license was found, where the component is, and the policy
outcome as the ``licenses`` analyzer recorded it (``denied``, ``not-allowed``, ``unknown``,
``ok``, or ``not evaluated`` when that analyzer did not run); waived findings say so. Writers
only present what the report holds: they decide nothing. Then the columns added for legal review:
``scope`` (``app`` for an application dependency, ``os`` for an OS package), ``evidence`` (the
evidence the license came from, e.g. ``license-field: GPL-3.0-only (GNU GPL v3)``),
``vendored_in`` (the wheel that carries a vendored native library) and ``conflicts`` (other
evidence naming a different license family).

The HTML page is self-contained (no external resources; a strict CSP), readable without
JavaScript, and with JavaScript offers a filter box (also settable from the URL fragment,
``report.html#q=GPL``) and status filters.

The NOTICE file holds, per component, each license text exactly as found in the artifact (the
``packages`` analyzer keeps them when ``license_texts`` is on, as ``panorama-gate licenses
--format notice`` arranges).

Example::

    LicenseCsvWriter().write(report, sys.stdout)
"""

from __future__ import annotations

import csv
import html
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, TextIO

from scanner.models import Category, Component, Finding, Report

__all__ = [
    "LicenseCsvWriter",
    "LicenseHtmlWriter",
    "LicenseJsonWriter",
    "LicenseMarkdownWriter",
    "LicenseRow",
    "NoticeWriter",
    "license_rows",
]

FIELDS = (
    "name",
    "version",
    "ecosystem",
    "licenses",
    "license_source",
    "status",
    "purl",
    "artifact",
    "path",
    "scope",
    "evidence",
    "vendored_in",
    "conflicts",
)


@dataclass(frozen=True, slots=True)
class LicenseRow:
    """One component as the license exports show it."""

    name: str
    version: str
    ecosystem: str
    licenses: str
    license_source: str
    status: str
    purl: str
    artifact: str
    path: str
    scope: str = ""  # "app" (an application dependency) or "os" (an OS package)
    evidence: str = ""  # the evidence used: "license-field: GNU GPL v3"
    vendored_in: str = ""  # the wheel carrying a vendored library
    conflicts: str = ""  # other evidence naming another license family
    texts: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, str]:
        """The row's exported fields."""
        return {k: getattr(self, k) for k in FIELDS}


def _finding_key(f: Finding) -> tuple[str, str, str, str]:
    p: Any = f.properties
    return (
        f.location.artifact,
        f.location.path,
        str(p.get("package", "")),
        str(p.get("version", "")),
    )


def license_rows(report: Report) -> list[LicenseRow]:
    """One row per component, in a stable order, with the licenses analyzer's outcome."""
    evaluated = "licenses" in report.analyzers
    # reports written before license scopes judged every component
    judged = set(report.config_audit.get("license_scopes", ("app", "os")))
    outcome: dict[tuple[str, str, str, str], str] = {}
    for f in report.findings:
        if f.category is not Category.LICENSE:
            continue
        status = str(f.properties.get("outcome", f.rule_id.rsplit(".", 1)[-1]))
        outcome[_finding_key(f)] = f"{status} (waived)" if f.waived else status
    rows: list[LicenseRow] = []
    seen: set[tuple[str, ...]] = set()
    for c in sorted(report.components, key=lambda c: c.sort_key()):
        key = (c.location.artifact, c.location.path, c.name, c.version)
        if key in seen:
            continue
        seen.add(key)
        if c.properties.get("declared"):
            status = "not installed"
        elif key in outcome:
            status = outcome[key]
        elif not evaluated:
            status = "not evaluated"
        elif str(c.properties.get("scope", "app")) not in judged:
            status = f"not judged ({c.properties.get('scope')})"
        else:
            status = "ok"
        rows.append(
            LicenseRow(
                name=c.name,
                version=c.version,
                ecosystem=c.ecosystem,
                licenses=" AND ".join(c.licenses) if c.licenses else "UNKNOWN",
                license_source=str(c.properties.get("license_source", "none")),
                status=status,
                purl=c.purl,
                artifact=c.location.artifact,
                path=c.location.path,
                scope=component_scope(c),
                evidence=_evidence(c),
                vendored_in=str(c.properties.get("parent_name", "")),
                conflicts="; ".join(_evidence_text(e) for e in _items(c, "license_conflicts")),
                texts=_texts(c),
            )
        )
    return rows


def component_scope(c: Component) -> str:
    """``app`` or ``os``: the inventory's ``scope`` property, else by ecosystem."""
    given = str(c.properties.get("scope", ""))
    if given:
        return given
    return "os" if c.ecosystem in ("deb", "apk", "rpm") else "app"


def _items(c: Component, key: str) -> list[Any]:
    raw = c.properties.get(key) or ()
    return [item for item in raw if hasattr(item, "get")]


def _evidence_text(e: Any) -> str:
    detail = str(e.get("detail", ""))
    text = f"{e.get('kind', '')}: {e.get('expression', '')}"
    return f"{text} ({detail})" if detail else text


def _evidence(c: Component) -> str:
    """The evidence the license came from (the first, most specific, one recorded)."""
    items = _items(c, "license_evidence")
    return _evidence_text(items[0]) if items and c.licenses else ""


def _texts(c: Component) -> tuple[tuple[str, str], ...]:
    raw = c.properties.get("license_texts") or ()
    return tuple(
        (str(item.get("path", "")), str(item.get("text", "")))
        for item in raw
        if hasattr(item, "get")
    )


def _summary(rows: list[LicenseRow]) -> list[tuple[str, int]]:
    counts = Counter(r.licenses for r in rows)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


class LicenseCsvWriter:
    """``licenses --format csv``: one row per component."""

    name = "licenses-csv"
    media_type = "text/csv"

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the CSV with a header row."""
        w = csv.DictWriter(fp, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        for row in license_rows(report):
            w.writerow(row.as_dict())


class LicenseJsonWriter:
    """``licenses --format json``: components plus a summary by license."""

    name = "licenses-json"
    media_type = "application/json"

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the JSON document."""
        rows = license_rows(report)
        doc = {
            "schema_version": 1,
            "tool": {"name": report.tool_name, "version": report.tool_version},
            "target": {"path": report.target.path, "kind": report.target.kind.value},
            "created_at": report.created_at,
            "summary": [{"license": k, "components": n} for k, n in _summary(rows)],
            "components": [r.as_dict() for r in rows],
        }
        json.dump(doc, fp, indent=2, ensure_ascii=False)
        fp.write("\n")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class LicenseMarkdownWriter:
    """``licenses --format markdown``: summary and component tables."""

    name = "licenses-markdown"
    media_type = "text/markdown"

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the Markdown document."""
        rows = license_rows(report)
        fp.write(f"# Third-party licenses: {_md(report.target.name or report.target.path)}\n\n")
        fp.write(f"{len(rows)} components; generated by {report.tool_name} ")
        fp.write(f"{report.tool_version} at {report.created_at}.\n\n")
        fp.write("## Summary by license\n\n| License | Components |\n| --- | ---: |\n")
        for lic, n in _summary(rows):
            fp.write(f"| {_md(lic)} | {n} |\n")
        fp.write("\n## Components\n\n")
        fp.write(
            "| Name | Version | Ecosystem | Licenses | Found from | Status | Location | Scope "
            "| Evidence | Vendored in | Conflicts |\n"
        )
        fp.write("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
        for r in rows:
            fp.write(
                f"| {_md(r.name)} | {_md(r.version)} | {r.ecosystem} | {_md(r.licenses)} | "
                f"{_md(r.license_source)} | {_md(r.status)} | `{_md(r.artifact)}:{_md(r.path)}` "
                f"| {r.scope} | {_md(r.evidence)} | {_md(r.vendored_in)} | {_md(r.conflicts)} |\n"
            )


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.meta{color:#57606a;margin:0 0 1rem}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}td.num{text-align:right}
code{font-size:.85em;word-break:break-all}.status-ok{color:#1a7f37}
.status-denied,.status-not-allowed{color:#cf222e;font-weight:600}.status-unknown{color:#9a6700}
.controls{display:flex;gap:1rem;align-items:center;margin:.5rem 0;flex-wrap:wrap}
input[type=search]{font:inherit;padding:.3rem .5rem;width:22rem;max-width:100%}
tr.hidden{display:none}#count{color:#57606a}
@media print{.controls{display:none}th{position:static}}
"""

_JS = """
(function(){
  var q=document.getElementById('q'), count=document.getElementById('count');
  var rows=[].slice.call(document.querySelectorAll('#components tbody tr'));
  var boxes=[].slice.call(document.querySelectorAll('input[name=status]'));
  function apply(){
    var text=q.value.trim().toLowerCase(), on={};
    boxes.forEach(function(b){on[b.value]=b.checked;});
    var shown=0;
    rows.forEach(function(r){
      var ok=(!text||r.textContent.toLowerCase().indexOf(text)>=0)
        &&on[r.getAttribute('data-group')]!==false;
      r.classList.toggle('hidden',!ok); if(ok){shown++;}
    });
    count.textContent=shown+' of '+rows.length+' components shown';
  }
  var m=/[#&]q=([^&]*)/.exec(location.hash); if(m){q.value=decodeURIComponent(m[1]);}
  q.addEventListener('input',apply);
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  apply();
})();
"""


def _group(status: str) -> str:
    s = status.split(" ", 1)[0]
    if s in ("denied", "not-allowed"):
        return "problem"
    if s == "unknown":
        return "unknown"
    return "ok"


class LicenseHtmlWriter:
    """``licenses --format html``: a self-contained page a lawyer can read."""

    name = "licenses-html"
    media_type = "text/html"

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the HTML page."""
        e = html.escape
        rows = license_rows(report)
        title = f"Third-party licenses: {report.target.name or report.target.path}"
        problems = sum(1 for r in rows if _group(r.status) == "problem")
        unknown = sum(1 for r in rows if _group(r.status) == "unknown")
        out: list[str] = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
            f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{e(title)}</h1>",
            f'<p class="meta">{len(rows)} components in {e(report.target.kind.value)} '
            f"<code>{e(report.target.path)}</code>; {problems} with a license the policy does "
            f"not accept, {unknown} with an unknown license. Generated by "
            f"{e(report.tool_name)} {e(report.tool_version)} at {e(report.created_at)}.</p>",
            '<h2>Summary by license</h2><table id="summary"><thead><tr><th>License</th>'
            "<th>Components</th></tr></thead><tbody>",
        ]
        out.extend(
            f'<tr><td>{e(lic)}</td><td class="num">{n}</td></tr>' for lic, n in _summary(rows)
        )
        out.append("</tbody></table><h2>Components</h2>")
        out.append(
            '<div class="controls"><label>Filter <input type="search" id="q" '
            'placeholder="name, license, status…" autocomplete="off"></label>'
            '<label><input type="checkbox" name="status" value="problem" checked> not accepted'
            '</label><label><input type="checkbox" name="status" value="unknown" checked> '
            'unknown</label><label><input type="checkbox" name="status" value="ok" checked> '
            'accepted</label><span id="count"></span></div>'
        )
        out.append(
            '<table id="components"><thead><tr><th>Name</th><th>Version</th><th>Ecosystem</th>'
            "<th>Licenses</th><th>Found from</th><th>Status</th><th>Location</th><th>Scope</th>"
            "<th>Evidence</th><th>Vendored in</th><th>Conflicts</th></tr></thead>"
            "<tbody>"
        )
        for r in rows:
            status_cls = "status-" + r.status.split(" ", 1)[0]
            out.append(
                f'<tr data-group="{_group(r.status)}"><td>{e(r.name)}</td><td>{e(r.version)}</td>'
                f"<td>{e(r.ecosystem)}</td><td>{e(r.licenses)}</td><td>{e(r.license_source)}</td>"
                f'<td class="{e(status_cls)}">{e(r.status)}</td>'
                f"<td><code>{e(r.artifact)}:{e(r.path)}</code></td><td>{e(r.scope)}</td>"
                f"<td>{e(r.evidence)}</td><td>{e(r.vendored_in)}</td><td>{e(r.conflicts)}</td></tr>"
            )
        out.append("</tbody></table>")
        out.append(f"<script>{_JS}</script></body></html>")
        fp.write("\n".join(out))
        fp.write("\n")


class NoticeWriter:
    """``licenses --format notice``: a third-party notices file with the license texts."""

    name = "notice"
    media_type = "text/plain"

    def write(self, report: Report, fp: TextIO) -> None:
        """Write every component with each license text as found in the artifact."""
        rows = [r for r in license_rows(report) if r.status != "not installed"]
        rule = "=" * 78
        fp.write("THIRD-PARTY SOFTWARE NOTICES AND INFORMATION\n\n")
        fp.write(
            f"{report.target.name or report.target.path} includes the third-party software "
            "listed below.\nEach license text is reproduced as found in the artifact.\n\n"
        )
        missing: list[LicenseRow] = []
        for r in rows:
            if not r.texts:
                missing.append(r)
                continue
            fp.write(
                f"{rule}\n{r.name} {r.version} ({r.ecosystem}, {r.scope})\nLicense: {r.licenses}\n"
            )
            if r.evidence:
                fp.write(f"License found from: {r.evidence}\n")
            for path, text in r.texts:
                fp.write(f"\n--- {r.artifact}:{path} ---\n\n{text.rstrip()}\n")
            fp.write("\n")
        if missing:
            fp.write(f"{rule}\nComponents whose license text was not found in the artifact:\n\n")
            for r in missing:
                where = f", vendored in {r.vendored_in}" if r.vendored_in else ""
                found = f"; from {r.evidence}" if r.evidence else ""
                fp.write(f"- {r.name} {r.version} ({r.ecosystem}{where}): {r.licenses}{found}\n")
