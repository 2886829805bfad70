"""Every technique of the malicious-model corpus is reported with its rule and location."""

from __future__ import annotations

import pytest

from scanner.models import Severity
from tests.helpers.model_corpus import Case, build_corpus
from tests.helpers.model_runner import blocking, failures, findings, run_models

CORPUS = build_corpus()


@pytest.mark.parametrize("case", CORPUS, ids=[c.key for c in CORPUS])
def test_corpus_case_is_detected(case: Case) -> None:
    out = run_models(case.filename, case.data, artifact="evil-model.tar.gz")
    assert blocking(out) or not case.blocks, f"{case.key} ({case.technique}) not blocked: {out}"
    if case.rule == "failure":
        fails = failures(out)
        assert fails, out
        assert all(f.location is not None and f.location.path == case.filename for f in fails)
        return
    got = {f.rule_id for f in findings(out)}
    assert case.rule in got, f"{case.key}: expected {case.rule}, got {sorted(got)}"
    for extra in case.also:
        assert extra in got, f"{case.key}: expected also {extra}, got {sorted(got)}"
    hits = [f for f in findings(out) if f.rule_id == case.rule]
    for f in hits:
        # The finding names the archive (artifact) and the member path inside it.
        assert f.location.artifact == "evil-model.tar.gz"
        assert f.location.path == case.filename
        assert f.category.value in ("model", "secret")
    if case.detail:
        text = " ".join(f.message + " " + repr(dict(f.properties)) for f in findings(out))
        assert case.detail in text, f"{case.key}: {case.detail!r} not named in {text}"


def test_code_execution_is_critical_and_unknown_is_high() -> None:
    by_key = {c.key: c for c in CORPUS}
    evil = findings(run_models("p2.pkl", by_key["proto2"].data))
    assert [f.severity for f in evil if f.rule_id == "pickle.code-execution"] == [Severity.CRITICAL]
    custom = findings(run_models("custom.pkl", by_key["unknown-global"].data))
    assert [(f.rule_id, f.severity) for f in custom] == [("pickle.unknown-global", Severity.HIGH)]


def test_member_and_global_are_in_properties() -> None:
    case = next(c for c in CORPUS if c.key == "torch-zip")
    (f,) = [f for f in findings(run_models(case.filename, case.data)) if f.severity >= 3]
    assert f.properties["member"] == "archive/data.pkl"
    assert f.properties["global"] == "os.system"
    assert "model.pt!archive/data.pkl" in f.message


def test_secrets_are_redacted() -> None:
    for case in CORPUS:
        if case.rule.endswith("metadata-secret"):
            for f in findings(run_models(case.filename, case.data)):
                assert "AKIAQYLPMN5HHHFPZAM2" not in f.message + repr(dict(f.properties))
