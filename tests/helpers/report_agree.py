"""Checks that every report format says the same thing as the JSON report.

Used by the writer unit tests on the sample report and by the end-to-end tests on a scanned
planted-issue project.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

from scanner.models import Report
from scanner.report import get_writer


def render(report: Report, fmt: str) -> str:
    """One format's output as text."""
    buf = io.StringIO()
    get_writer(fmt).write(report, buf)
    return buf.getvalue()


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.decision = ""
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tr" and "finding" in a.get("class", ""):
            self.rows[a["data-fingerprint"]] = a
        if tag == "header":
            self.decision = a.get("data-decision", "")
        if tag == "script":
            self.scripts += 1


FORMATS_CHECKED = ("json", "sarif", "junit", "markdown", "html", "terminal")


def assert_reports_agree(report: Report) -> dict[str, Any]:
    """Render every format and check each against the JSON; returns the JSON dict."""
    return assert_outputs_agree({fmt: render(report, fmt) for fmt in FORMATS_CHECKED})


def assert_outputs_agree(outputs: dict[str, str]) -> dict[str, Any]:
    """Check every rendered format (``FORMATS_CHECKED``) against the JSON one."""
    data = json.loads(outputs["json"])
    verdict = data["verdict"]
    findings = data["findings"]
    fps = [f["fingerprint"] for f in findings]
    waived = {f["fingerprint"] for f in findings if f["waived"]}
    blocking = {
        fp for r in verdict["reasons"] if r["level"] == "reject" for fp in r["fingerprints"]
    }
    assert blocking <= set(fps) - waived

    # SARIF: one result per finding, same rules, fingerprints, suppressions and verdict.
    sarif = json.loads(outputs["sarif"])
    run = sarif["runs"][0]
    results = run["results"]
    assert [r["partialFingerprints"]["panoramaGateFingerprint/v1"] for r in results] == fps
    assert [r["ruleId"] for r in results] == [f["rule_id"] for f in findings]
    assert {
        r["partialFingerprints"]["panoramaGateFingerprint/v1"]
        for r in results
        if r.get("suppressions")
    } == waived
    assert run["properties"]["verdict"] == verdict
    assert run["invocations"][0]["executionSuccessful"] == (not data["failures"])
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in results)

    # JUnit: the verdict case, one case per rule, failures exactly for blocking rules.
    root = ET.fromstring(outputs["junit"])  # noqa: S314 - our own output
    vcase = root.find("testsuite[@name='verdict']/testcase")
    assert vcase is not None
    assert (vcase.find("failure") is not None) == (verdict["decision"] == "rejected")
    assert (vcase.find("error") is not None) == (verdict["decision"] == "incomplete")
    failing_rules = {
        c.get("name")
        for s in root.findall("testsuite")
        if s.get("name") not in ("verdict", "analyzers")
        for c in s.findall("testcase")
        if c.find("failure") is not None
    }
    by_fp = {f["fingerprint"]: f for f in findings}
    assert failing_rules == {by_fp[fp]["rule_id"] for fp in blocking}
    rule_cases = {
        c.get("name")
        for s in root.findall("testsuite")
        if s.get("name") not in ("verdict", "analyzers")
        for c in s.findall("testcase")
    }
    assert rule_cases == {f["rule_id"] for f in findings}
    assert int(root.get("tests", "0")) == len(root.findall("testsuite/testcase"))

    # Markdown: the decision, every rule, the waivers.
    md = outputs["markdown"]
    assert verdict["decision"].upper() in md.splitlines()[0]
    for f in findings:
        assert f["rule_id"] in md
    for w in verdict.get("waivers", []):
        assert w["status"] in md

    # HTML: one row per finding with the status the verdict gave it; no injected script.
    parser = _Rows()
    parser.feed(outputs["html"])
    assert parser.decision == verdict["decision"]
    assert set(parser.rows) == set(fps)
    for fp, row in parser.rows.items():
        expected = "waived" if fp in waived else "blocking" if fp in blocking else "warning"
        assert row["data-status"] == expected, fp
    assert parser.scripts == 1

    # Terminal: the verdict line.
    text = outputs["terminal"]
    assert re.search(rf"^verdict: {verdict['decision'].upper()}\b", text, re.M)
    return data
