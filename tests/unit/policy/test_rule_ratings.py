"""A policy rates rules: ``rules: {code.B506: high}`` decides what a finding weighs, the report
keeps what the analyzer said and why the policy differs, and the default's choices show."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.errors import PolicyError
from scanner.models import (
    Category,
    Decision,
    Finding,
    Location,
    Report,
    Severity,
    Target,
    TargetKind,
)
from scanner.policy.evaluate import decide
from scanner.policy.model import load_policy, parse_policy

REPO = Path(__file__).resolve().parents[3]


def _finding(rule: str, severity: Severity = Severity.MEDIUM) -> Finding:
    return Finding.create(
        rule_id=rule,
        category=Category.CODE,
        severity=severity,
        message="m",
        location=Location("a", "app.py", 3),
        evidence=rule,
    )


def _report(*findings: Finding) -> Report:
    return Report(
        tool_name="t",
        tool_version="0",
        created_at="2026-01-01T00:00:00Z",
        target=Target("x", TargetKind.CODE_PACKAGE, "x"),
        findings=findings,
    )


def _decide(policy_text: str, *findings: Finding) -> Report:
    policy = parse_policy(policy_text.encode(), "p.yaml")
    return decide(_report(*findings), policy, today=dt.date(2026, 1, 1))


def test_a_rated_rule_decides_with_the_policys_severity() -> None:
    out = _decide(
        "severity_threshold: high\nrules:\n  code.B506:\n    severity: high\n"
        "    reason: one word fixes it\n",
        _finding("code.B506"),
    )
    (f,) = out.findings
    assert f.severity is Severity.HIGH
    assert f.properties["analyzer_severity"] == "medium"
    assert f.properties["rated_by"] == "policy rules.code.B506"
    assert f.properties["rating_reason"] == "one word fixes it"
    assert out.verdict is not None
    assert out.verdict.decision is Decision.REJECTED


def test_an_exact_rule_beats_a_glob_and_a_longer_glob_a_shorter_one() -> None:
    policy = (
        "severity_threshold: high\nrules:\n  'code.*': info\n  'code.B5*': high\n  code.B501: low\n"
    )
    out = _decide(policy, _finding("code.B501"), _finding("code.B506"), _finding("code.B101"))
    got = {f.rule_id: f.severity for f in out.findings}
    assert got == {
        "code.B501": Severity.LOW,
        "code.B506": Severity.HIGH,
        "code.B101": Severity.INFO,
    }


def test_a_rating_for_every_rule_is_refused() -> None:
    with pytest.raises(PolicyError, match="rate every rule"):
        parse_policy(b"severity_threshold: high\nrules:\n  '*': info\n", "p.yaml")


def test_the_default_policy_blocks_outside_data_reaching_code_and_says_why() -> None:
    policy = load_policy(None)
    out = decide(
        _report(
            _finding("code.untrusted-input-deserialized", Severity.HIGH), _finding("code.B307")
        ),
        policy,
        today=dt.date(2026, 1, 1),
    )
    assert out.verdict is not None
    assert out.verdict.decision is Decision.REJECTED
    shown = subprocess.run(
        [sys.executable, "-m", "scanner", "policy", "show"],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=True,
    ).stdout  # fmt: skip
    for rule in ("code.untrusted-input-executed", "code.B506", "onnx.custom-domain",
                 "model-format.unrecognised", "privacy.email"):  # fmt: skip
        assert f"  {rule}:" in shown, rule
    assert "remote code execution on the device" in shown
