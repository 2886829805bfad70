"""Budgets from the policy and the findings they turn measurements into."""

from __future__ import annotations

import pytest

from scanner.errors import ConfigError
from scanner.models import Category, ResourceProfile, Severity, frozen_mapping
from scanner.sandbox import Budgets, Limits
from scanner.sandbox.budgets import RULES, budget_findings

MB = 1024 * 1024


def test_defaults_match_the_contract():
    b = Budgets()
    assert (b.max_memory_mb, b.max_cpu_percent, b.max_disk_write_mb, b.max_processes) == (
        1024,
        200,
        256,
        64,
    )
    assert b.allow_network is False
    assert b.when_unavailable == "warn"


def test_policy_section_is_read_and_unset_keys_keep_defaults():
    b = Budgets.from_options(
        {
            "max_memory_mb": 512,
            "allow_network": True,
            "max_processes": None,
            "when_unavailable": "incomplete",
            "frames": 10,
        }
    )
    assert b.max_memory_mb == 512
    assert b.allow_network is True
    assert b.max_processes == 64
    assert b.when_unavailable == "incomplete"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_memory": 5}, "unknown key"),
        ({"max_memory_mb": "lots"}, "expected a number"),
        ({"max_memory_mb": 0}, "positive"),
        ({"max_processes": True}, "positive"),
        ({"allow_network": "no"}, "true or false"),
        ({"when_unavailable": "ignore"}, "warn or incomplete"),
    ],
    ids=["unknown", "not-a-number", "zero", "bool-as-number", "string-bool", "bad-choice"],
)
def test_invalid_sections_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        Budgets.from_options(options)


def test_hard_limits_sit_above_the_budgets():
    lim = Limits.for_budgets(Budgets(max_memory_mb=256, max_processes=16, max_disk_write_mb=64))
    assert lim.memory_bytes == 768 * MB
    assert lim.pids == 80
    assert lim.writable_bytes == 128 * MB
    assert lim.cpu_percent is None
    lim = Limits.for_budgets(
        Budgets(), {"memory_limit_mb": 300, "pids_limit": 10, "cpu_limit_percent": 150}
    )
    assert (lim.memory_bytes, lim.pids, lim.cpu_percent) == (300 * MB, 10, 150.0)


def _profile(**kw):
    base = {
        "ran": True,
        "sandbox": "docker",
        "cpu_seconds": 1.0,
        "cpu_percent": 20.0,
        "peak_memory_bytes": 50 * MB,
        "disk_written_bytes": 0,
        "max_processes": 2,
        "network_attempts": 0,
        "exit_code": 0,
        "oom_killed": False,
        "frames_processed": 30,
        "wall_seconds": 5.0,
    }
    props = kw.pop("properties", {})
    base.update(kw)
    return ResourceProfile(**base, properties=frozen_mapping(props))


CASES = [
    ({}, set()),
    ({"peak_memory_bytes": 2048 * MB}, {"sandbox.memory-over-budget"}),
    ({"cpu_percent": 250.0}, {"sandbox.cpu-over-budget"}),
    ({"cpu_percent": 250.0, "emulated": True}, {"sandbox.emulated-timing"}),
    ({"disk_written_bytes": 300 * MB}, {"sandbox.disk-over-budget"}),
    ({"max_processes": 65}, {"sandbox.processes-over-budget"}),
    ({"properties": {"pids_limit_reached": True}}, {"sandbox.processes-over-budget"}),
    ({"network_attempts": 2}, {"sandbox.network-attempt"}),
    ({"exit_code": 1}, {"sandbox.crashed"}),
    ({"exit_code": 137, "oom_killed": True}, {"sandbox.oom-killed"}),
    ({"exit_code": 137, "properties": {"timed_out": True}}, {"sandbox.hang"}),
]


@pytest.mark.parametrize(
    ("overrides", "expected"), CASES, ids=[",".join(sorted(e)) or "clean" for _, e in CASES]
)
def test_budget_findings(overrides, expected):
    findings = budget_findings(_profile(**overrides), Budgets(), "app.tar.gz", "/panorama/app.py")
    assert {f.rule_id for f in findings} == expected
    for f in findings:
        assert f.category is Category.RESOURCE
        assert f.severity is RULES[f.rule_id][0]
        assert f.location.path == "panorama/app.py"
        assert f.analyzer == "sandbox"


def test_network_allowed_by_policy_is_no_finding():
    p = _profile(network_attempts=3)
    assert budget_findings(p, Budgets(allow_network=True), "a") == []


def test_fingerprints_do_not_move_with_the_numbers():
    one = budget_findings(_profile(peak_memory_bytes=2000 * MB), Budgets(), "a", "x.py")
    two = budget_findings(_profile(peak_memory_bytes=3000 * MB), Budgets(), "a", "x.py")
    assert one[0].fingerprint == two[0].fingerprint
    assert one[0].message != two[0].message


def test_a_profile_that_did_not_run_is_a_low_finding_with_the_reason():
    p = ResourceProfile(ran=False, reason="no Docker engine answers")
    (f,) = budget_findings(p, Budgets(), "a")
    assert f.rule_id == "sandbox.skipped"
    assert f.severity is Severity.LOW
    assert "no Docker engine" in f.message
