"""The decision: thresholds, required analyzers, waivers (expiry, staleness), baseline."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.errors import PolicyError
from scanner.models import AnalyzerFailure, Decision, Location, ResourceProfile
from scanner.policy import apply_waivers, decide, evaluate, load_baseline, load_waivers
from scanner.report.json import report_to_dict
from tests.helpers import report_sample as sample
from tests.helpers.report_sample import TODAY, policy_from, waiver


def _codes(report: object) -> list[tuple[str, str]]:
    v = report.verdict  # type: ignore[attr-defined]
    return [(r.code, r.level) for r in v.reasons]


def test_planted_findings_reject_with_reasons_naming_them() -> None:
    r = decide(sample.report(), sample.default_policy(), today=TODAY)
    assert r.verdict is not None
    assert r.verdict.decision is Decision.REJECTED
    rejects = [x for x in r.verdict.reasons if x.level == "reject"]
    assert [x.code for x in rejects] == ["finding-over-threshold"] * 3
    by_rule = {f.rule_id: f.fingerprint for f in r.findings}
    # archive is held from medium by the default policy; secrets from medium; vulns from high.
    assert [x.fingerprints for x in rejects] == [
        (by_rule["archive.high-ratio"],),
        (by_rule["secrets.aws-access-key-id"],),
        (by_rule["vulns.osv"],),
    ]
    assert "secrets.aws-access-key-id" in rejects[1].message
    assert "panorama/app.py:3" in rejects[1].message
    # Below-threshold findings are warnings, not silence.
    assert ("findings-below-threshold", "warning") in _codes(r)
    assert r.verdict.policy_name == "sample"
    assert r.verdict.policy_sha256 == sample.default_policy().sha256


def test_reasons_are_ordered_most_decisive_first() -> None:
    r = sample.decided(failure=True)
    levels = [x.level for x in r.verdict.reasons]  # type: ignore[union-attr]
    order = ["incomplete", "reject", "warning", "info"]
    assert levels == sorted(levels, key=order.index)


def test_waiving_every_finding_approves_and_findings_stay_in_the_report() -> None:
    ws = [waiver(id=f"W{i}", fingerprint=f.fingerprint) for i, f in enumerate(sample.findings())]
    r = decide(sample.report(), sample.default_policy(), today=TODAY, waivers=ws)
    assert r.verdict is not None
    assert r.verdict.decision is Decision.APPROVED
    assert len(r.findings) == 5
    assert all(f.waived for f in r.findings)
    assert r.findings[0].properties["waiver"]["owner"] == "sec@example.com"
    assert {u.status for u in r.verdict.waivers} == {"applied"}
    assert ("findings-waived", "info") in _codes(r)
    assert ("clean", "info") in _codes(r)


def test_expired_waivers_stop_waiving_and_are_reported() -> None:
    ws = [waiver(id=f"W{i}", fingerprint=f.fingerprint) for i, f in enumerate(sample.findings())]
    later = dt.date(2027, 1, 1)
    r = decide(sample.report(), sample.default_policy(), today=later, waivers=ws)
    assert r.verdict is not None
    assert r.verdict.decision is Decision.REJECTED
    assert not any(f.waived for f in r.findings)
    expired = [x for x in r.verdict.reasons if x.code == "waiver-expired"]
    assert len(expired) == 5
    assert "expired on 2026-12-31" in expired[0].message
    assert {u.status for u in r.verdict.waivers} == {"expired"}


def test_waiver_is_valid_through_its_expiry_day() -> None:
    w = waiver(rule="secrets.*", expires=TODAY)
    assert not w.is_expired(TODAY)
    assert w.is_expired(TODAY + dt.timedelta(days=1))


def test_stale_waiver_is_reported_without_changing_the_decision() -> None:
    clean = dataclasses.replace(sample.report(), findings=())
    r = decide(clean, sample.default_policy(), today=TODAY, waivers=[waiver(rule="nothing.here")])
    assert r.verdict is not None
    assert r.verdict.decision is Decision.APPROVED
    assert ("waiver-stale", "warning") in _codes(r)


@pytest.mark.parametrize(
    ("scope", "waived_rules"),
    [
        ({"rule": "secrets.aws-access-key-id"}, {"secrets.aws-access-key-id"}),
        ({"rule": "secrets.*"}, {"secrets.aws-access-key-id"}),
        ({"package": "URLLIB3"}, {"vulns.osv"}),
        ({"vulnerability": "PYSEC-2019-133"}, {"vulns.osv"}),
        ({"vulnerability": "cve-2019-11324"}, {"vulns.osv"}),
        ({"rule": "code.*", "path": "panorama/*.py"}, {"code.B602"}),
        ({"rule": "code.*", "path": "other/*"}, set()),
        ({"package": "urllib3", "vulnerability": "CVE-1999-0001"}, set()),
    ],
    ids=[
        "rule",
        "rule-glob",
        "package",
        "vuln-id",
        "vuln-alias",
        "path",
        "path-miss",
        "and-scopes",
    ],
)
def test_waiver_scopes(scope: dict[str, str], waived_rules: set[str]) -> None:
    findings, uses = apply_waivers(sample.findings(), [waiver(**scope)], today=TODAY)
    assert {f.rule_id for f in findings if f.waived} == waived_rules
    assert uses[0].status == ("applied" if waived_rules else "stale")


def test_analyzer_set_waived_flags_are_not_trusted() -> None:
    rep = sample.report()
    forged = dataclasses.replace(
        rep, findings=tuple(dataclasses.replace(f, waived=True) for f in rep.findings)
    )
    r = decide(forged, sample.default_policy(), today=TODAY)
    assert r.verdict is not None
    assert r.verdict.decision is Decision.REJECTED
    assert not any(f.waived for f in r.findings)


def test_required_analyzer_failure_is_incomplete_and_points_at_it() -> None:
    r = sample.decided(failure=True)
    assert r.verdict is not None
    assert r.verdict.decision is Decision.INCOMPLETE
    first = r.verdict.reasons[0]
    assert (first.code, first.level, first.failures) == ("analyzer-failed", "incomplete", (0,))
    assert "bandit crashed" in first.message


def test_optional_analyzer_failure_is_a_warning() -> None:
    policy = policy_from(
        "severity_threshold: critical\nrequired_analyzers: [secrets, vulns, archive]\n"
    )
    clean = dataclasses.replace(sample.report(failure=True), findings=())
    r = decide(clean, policy, today=TODAY)
    assert r.verdict is not None
    assert r.verdict.decision is Decision.APPROVED
    assert ("optional-analyzer-failed", "warning") in _codes(r)


def test_failure_from_outside_any_analyzer_is_always_incomplete() -> None:
    policy = policy_from("severity_threshold: critical\nrequired_analyzers: [secrets]\n")
    rep = dataclasses.replace(
        sample.report(),
        findings=(),
        failures=(AnalyzerFailure("pipeline", "disk full", Location("x")),),
    )
    r = decide(rep, policy, today=TODAY)
    assert r.verdict is not None
    assert r.verdict.decision is Decision.INCOMPLETE


def test_required_analyzer_that_did_not_run_is_incomplete() -> None:
    policy = policy_from("severity_threshold: critical\nrequired_analyzers: [secrets, models]\n")
    r = decide(dataclasses.replace(sample.report(), findings=()), policy, today=TODAY)
    assert r.verdict is not None
    assert r.verdict.decision is Decision.INCOMPLETE
    assert "models" in r.verdict.reasons[0].message


@pytest.mark.parametrize(
    ("resources", "level"),
    [
        (None, "info"),
        (ResourceProfile(ran=False, reason="arm64 image on x86_64 without qemu"), "warning"),
    ],
    ids=["not-requested", "could-not-run"],
)
def test_missing_profile_is_visible_but_not_decisive(
    resources: ResourceProfile | None, level: str
) -> None:
    rep = dataclasses.replace(sample.report(), findings=(), resources=resources)
    r = decide(rep, policy_from("severity_threshold: critical\n"), today=TODAY)
    assert r.verdict is not None
    assert r.verdict.decision is Decision.APPROVED
    reason = next(x for x in r.verdict.reasons if x.code == "profile-not-run")
    assert reason.level == level
    if resources is not None:
        assert "arm64 image" in reason.message


def test_baseline_accepts_only_known_findings(tmp_path: Path) -> None:
    earlier = decide(sample.report(), sample.default_policy(), today=TODAY)
    path = tmp_path / "base.json"
    path.write_text(json.dumps(report_to_dict(earlier)))
    base = load_baseline(path)
    # Same findings, lines moved: still matched (fingerprints leave the line out).
    moved = dataclasses.replace(
        sample.report(),
        findings=tuple(
            dataclasses.replace(
                f, location=dataclasses.replace(f.location, line=(f.location.line or 0) + 7)
            )
            for f in sample.findings()
        ),
    )
    r = decide(moved, sample.default_policy(), today=TODAY, baseline=base)
    assert r.verdict is not None
    assert r.verdict.decision is Decision.APPROVED
    assert all(f.properties.get("baseline") for f in r.findings)
    # A new finding is not in the baseline and rejects.
    new = next(f for f in sample.findings() if f.rule_id.startswith("secrets."))
    new = dataclasses.replace(new, fingerprint="f" * 32)
    r2 = decide(
        dataclasses.replace(moved, findings=(*moved.findings, new)),
        sample.default_policy(),
        today=TODAY,
        baseline=base,
    )
    assert r2.verdict is not None
    assert r2.verdict.decision is Decision.REJECTED
    assert r2.verdict.reasons[0].fingerprints == ("f" * 32,)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json", r"baseline is not a JSON report"),
        ('{"findings": []}', r"not a panorama-gate JSON report"),
        ('{"schema_version": 1, "findings": [{}]}', r"findings\[0\] has no fingerprint"),
        ("[" * 100000 + "]" * 100000, r"baseline is not a JSON report"),
    ],
)
def test_bad_baseline_files(tmp_path: Path, content: str, match: str) -> None:
    p = tmp_path / "b.json"
    p.write_text(content)
    with pytest.raises(PolicyError, match=match):
        load_baseline(p)


def test_waivers_file_errors_name_line_and_key(tmp_path: Path) -> None:
    p = tmp_path / "w.yaml"
    p.write_text(
        "waivers:\n  - id: A\n    rule: x.y\n    reason: r\n    owner: o\n    expires: "
        "2030-01-01\n    colour: red\n"
    )
    with pytest.raises(PolicyError, match=r"w\.yaml:7: waivers\[0\]\.colour: unknown key"):
        load_waivers(p)
    p.write_text(
        "waivers:\n  - id: A\n    rule: x.y\n    reason: r\n    owner: o\n    expires: 2030-01-01\n"
        "  - id: A\n    rule: x.z\n    reason: r\n    owner: o\n    expires: 2030-01-01\n"
    )
    with pytest.raises(
        PolicyError, match=r"w\.yaml:7: waiver id 'A' is already used at .*w\.yaml:2"
    ):
        load_waivers(p)


def test_evaluate_is_pure_and_deterministic() -> None:
    rep = sample.report(failure=True)
    policy = sample.default_policy()
    assert evaluate(rep, policy) == evaluate(rep, policy)
    assert decide(rep, policy, today=TODAY) == decide(rep, policy, today=TODAY)


@settings(max_examples=60, deadline=None)
@given(
    waived=st.lists(st.booleans(), min_size=5, max_size=5),
    threshold=st.sampled_from(["critical", "high", "medium", "low", "info"]),
)
def test_decision_invariants(waived: list[bool], threshold: str) -> None:
    """Approved iff no unwaived finding at or above threshold; every blocking one is named."""
    policy = policy_from(f"severity_threshold: {threshold}\n")
    findings = sample.findings()
    ws = [
        waiver(id=f"W{i}", fingerprint=f.fingerprint)
        for i, (f, w) in enumerate(zip(findings, waived, strict=True))
        if w
    ]
    r = decide(sample.report(), policy, today=TODAY, waivers=ws)
    assert r.verdict is not None
    blocking = {
        f.fingerprint
        for f in r.findings
        if not f.waived and f.severity >= policy.severity_threshold
    }
    named = {fp for x in r.verdict.reasons if x.level == "reject" for fp in x.fingerprints}
    assert named == blocking
    assert (r.verdict.decision is Decision.APPROVED) == (not blocking)


@pytest.mark.parametrize(
    ("entry", "waived_rule"),
    [
        ("id: CVE-2019-11324", "vulns.osv"),
        ("id: secrets.aws-access-key-id", "secrets.aws-access-key-id"),
        ("rule_id: code.B602", "code.B602"),
        ("vulnerability_id: PYSEC-2019-133", "vulns.osv"),
    ],
    ids=["id-as-alias", "id-as-rule", "rule_id-key", "vulnerability_id-key"],
)
def test_waiver_id_alone_and_key_aliases_scope_a_waiver(
    tmp_path: Path, entry: str, waived_rule: str
) -> None:
    p = tmp_path / "w.yaml"
    p.write_text(f"- {entry}\n  reason: r\n  owner: o\n  expires: 2030-01-01\n")
    findings, uses = apply_waivers(sample.findings(), load_waivers(p), today=TODAY)
    assert [f.rule_id for f in findings if f.waived] == [waived_rule]
    assert uses[0].status == "applied"


def test_waiver_id_alone_by_fingerprint(tmp_path: Path) -> None:
    target = sample.findings()[2]
    p = tmp_path / "w.yaml"
    p.write_text(f"- id: {target.fingerprint}\n  reason: r\n  owner: o\n  expires: 2030-01-01\n")
    findings, _ = apply_waivers(sample.findings(), load_waivers(p), today=TODAY)
    assert [f.fingerprint for f in findings if f.waived] == [target.fingerprint]
