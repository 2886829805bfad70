"""The ``sandbox`` analyzer: when it runs, and what an impossible profile turns into."""

from __future__ import annotations

import pytest

from scanner.analyzers import load_analyzers
from scanner.analyzers.interface import AnalyzerContext
from scanner.analyzers.resources import SandboxAnalyzer
from scanner.config import ScanConfig
from scanner.errors import ConfigError
from scanner.models import AnalyzerFailure, Finding, ResourceProfile, Severity, Skipped
from scanner.sandbox import Unavailable
from scanner.sources.detect import detect_target
from tests.helpers.project_builder import ProjectSpec, build_project


def run(tmp_path, options, monkeypatch, profile=True):
    proj = build_project(tmp_path / "p", ProjectSpec(with_model=False))
    monkeypatch.setattr(
        "scanner.analyzers.resources.open_sandbox",
        lambda kind: Unavailable("no Docker engine and no bubblewrap"),
    )
    a = SandboxAnalyzer()
    a.configure(AnalyzerContext("sandbox", options, ScanConfig(profile=profile), tmp_path))
    return list(a.analyze_target(detect_target(proj.root)))


def test_registered_with_the_sandbox_tag():
    cls = load_analyzers()["sandbox"]
    assert cls is SandboxAnalyzer
    assert "sandbox" in cls.tags


def test_nothing_without_profiling(tmp_path, monkeypatch):
    assert run(tmp_path, {}, monkeypatch, profile=False) == []


def test_unavailable_sandbox_warns_by_default(tmp_path, monkeypatch):
    out = run(tmp_path, {}, monkeypatch)
    (profile,) = [o for o in out if isinstance(o, ResourceProfile)]
    assert profile.ran is False
    assert "no Docker engine" in profile.reason
    assert [type(o) for o in out if not isinstance(o, ResourceProfile)] == [Skipped, Finding]
    (finding,) = [o for o in out if isinstance(o, Finding)]
    assert finding.rule_id == "sandbox.skipped"
    assert finding.severity is Severity.LOW
    assert finding.location.path == "panorama/app.py"


def test_unavailable_sandbox_is_incomplete_when_the_policy_says_so(tmp_path, monkeypatch):
    out = run(tmp_path, {"when_unavailable": "incomplete"}, monkeypatch)
    failures = [o for o in out if isinstance(o, AnalyzerFailure)]
    assert len(failures) == 1
    assert failures[0].analyzer == "sandbox"
    assert not [o for o in out if isinstance(o, Finding)]


def test_bad_policy_section_fails_at_configure(tmp_path):
    with pytest.raises(ConfigError, match="max_memory_gb"):
        SandboxAnalyzer().configure(AnalyzerContext("sandbox", {"max_memory_gb": 1}))
