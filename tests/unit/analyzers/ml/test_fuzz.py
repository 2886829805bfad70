"""Mutated corpus files never crash an analyzer: each outcome is a finding, failure or nothing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.models import AnalyzerFailure, Finding, Skipped
from tests.helpers.entries import make_entry
from tests.helpers.model_corpus import build_corpus
from tests.helpers.model_runner import FILE_ANALYZERS

CORPUS = [c for c in build_corpus() if len(c.data) < 200_000]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(min_value=0, max_value=len(CORPUS) - 1),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(min_value=1)),
)
def test_mutations_are_handled(index: int, edits: list[tuple[int, int]], cut: int | None) -> None:
    case = CORPUS[index]
    data = bytearray(case.data)
    for pos, value in edits:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data) or 1]
    for cls in FILE_ANALYZERS:
        analyzer = cls()
        if not analyzer.wants(case.filename, len(data)):
            continue
        for out in analyzer.analyze(make_entry(case.filename, bytes(data))):
            assert isinstance(out, Finding | AnalyzerFailure | Skipped)
