"""Writers under hostile text: paths and messages come from the scanned artifact.

Control characters, escape sequences, newlines, markup and undecodable bytes (surrogates) in
any finding field must never crash a writer, break its format, or reach a terminal raw.
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.models import Category, Finding, Location, Severity
from scanner.policy import decide
from tests.helpers import report_sample as sample
from tests.helpers.report_agree import FORMATS_CHECKED, assert_reports_agree, render

HOSTILE = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("\x1b[31m\n\r\t\x00\x07|`*<>&\"'#!\\")),
        st.sampled_from(["\udc80", "\udcff", "\u202e", "é", "😀"]),
        st.characters(min_codepoint=32, max_codepoint=126),
    ),
    max_size=40,
)


@st.composite
def hostile_findings(draw: st.DrawFn) -> tuple[Finding, ...]:
    n = draw(st.integers(min_value=1, max_value=6))
    out = []
    for i in range(n):
        out.append(
            Finding.create(
                rule_id=f"secrets.rule-{i}",
                category=draw(st.sampled_from(list(Category))),
                severity=draw(st.sampled_from(list(Severity))),
                message=draw(HOSTILE) or "m",
                location=Location(
                    draw(HOSTILE), draw(HOSTILE).lstrip("/"), draw(st.none() | st.integers(1, 9))
                ),
                evidence=str(i),
                title=draw(HOSTILE),
            )
        )
    return tuple(sorted(out, key=lambda f: f.sort_key()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(findings=hostile_findings(), waive=st.booleans())
def test_writers_survive_hostile_text(findings: tuple[Finding, ...], waive: bool) -> None:
    ws = [sample.waiver(id="W", fingerprint=findings[0].fingerprint)] if waive else []
    report = decide(
        dataclasses.replace(sample.report(), findings=findings),
        sample.default_policy(),
        today=sample.TODAY,
        waivers=ws,
    )
    outputs = {fmt: render(report, fmt) for fmt in FORMATS_CHECKED}
    for fmt, text in outputs.items():
        text.encode("utf-8")  # strict: a report file must be valid UTF-8
        assert "\udc80" not in text, fmt
    data = json.loads(outputs["json"])
    assert len(data["findings"]) == len(findings)
    assert len(json.loads(outputs["sarif"])["runs"][0]["results"]) == len(findings)
    ET.fromstring(outputs["junit"])  # noqa: S314 - well-formed XML despite control characters
    terminal = outputs["terminal"]
    assert "\x1b" not in terminal
    assert sum(1 for line in terminal.splitlines() if line.startswith("verdict: ")) == 1
    rows = [
        line
        for line in outputs["markdown"].splitlines()
        if line.startswith(("| blocking", "| warning", "| waived"))
    ]
    assert len(rows) == len(findings)
    assert_reports_agree(report)
