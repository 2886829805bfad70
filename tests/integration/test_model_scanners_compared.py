"""Detection comparison: panorama-gate versus picklescan, modelscan and fickling.

Every file of the malicious corpus (tests/helpers/model_corpus.py) is given to each
tool. The table is printed (``pytest -s`` shows it; ``python -m
tests.integration.test_model_scanners_compared`` prints it on its own). The test asserts that
panorama-gate blocks every case any other tool detects, and strictly more cases overall.

"Detected" means: picklescan reports a dangerous global; modelscan reports an issue; fickling
rates the file above LIKELY_SAFE; panorama-gate reports a finding at high or above or a
failure (both make the default policy refuse the model). Tool errors are shown as ``err``.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import peer_compare as peers
from tests.helpers.model_corpus import Case, build_corpus, clean_cases
from tests.helpers.model_runner import blocking, run_models

Outcome = str  # "yes" | "no" | "err"


def ours(case: Case, path: Path) -> Outcome:
    return "yes" if blocking(run_models(case.filename, path.read_bytes())) else "no"


def picklescan(case: Case, path: Path) -> Outcome:
    return peers.picklescan(path)


def modelscan(case: Case, path: Path) -> Outcome:
    return peers.modelscan(path)


def fickling(case: Case, path: Path) -> Outcome:
    return peers.fickling(path)


TOOLS: dict[str, Callable[[Case, Path], Outcome]] = {
    "panorama-gate": ours,
    "picklescan": picklescan,
    "modelscan": modelscan,
    "fickling": fickling,
}


def compare(root: Path) -> tuple[list[Case], dict[str, dict[str, Outcome]]]:
    """Write the corpus (malicious, then clean) under ``root`` and run every tool on each file."""
    cases = [c for c in build_corpus() if c.blocks] + clean_cases()
    table: dict[str, dict[str, Outcome]] = {}
    logging.disable(logging.CRITICAL)  # the other tools log every finding
    try:
        for case in cases:
            d = root / case.key
            d.mkdir(parents=True, exist_ok=True)
            path = d / case.filename
            path.write_bytes(case.data)
            row: dict[str, Outcome] = {}
            for tool, fn in TOOLS.items():
                with contextlib.redirect_stdout(io.StringIO()):
                    row[tool] = fn(case, path)
            table[case.key] = row
    finally:
        logging.disable(logging.NOTSET)
    return cases, table


def render(cases: list[Case], table: dict[str, dict[str, Outcome]]) -> str:
    tools = list(TOOLS)
    width = max(len(c.key) for c in cases) + 2
    lines = ["case".ljust(width) + "".join(t.ljust(15) for t in tools) + "technique"]
    for c in cases:
        row = table[c.key]
        lines.append(c.key.ljust(width) + "".join(row[t].ljust(15) for t in tools) + c.technique)
    bad = [c for c in cases if c.blocks]
    good = [c for c in cases if not c.blocks]
    for label, group in (("detected", bad), ("false alarms", good)):
        totals = {t: sum(table[c.key][t] == "yes" for c in group) for t in tools}
        lines.append(label.ljust(width) + "".join(f"{totals[t]}/{len(group)}".ljust(15)
                                                   for t in tools))  # fmt: skip
    return "\n".join(lines)


@pytest.mark.slow
def test_we_detect_everything_the_others_detect_and_more(tmp_path: Path) -> None:
    pytest.importorskip("picklescan")
    pytest.importorskip("modelscan")
    pytest.importorskip("fickling")
    cases, table = compare(tmp_path)
    print("\n" + render(cases, table))
    clean = [c for c in cases if not c.blocks]
    assert [c.key for c in clean if table[c.key]["panorama-gate"] != "no"] == []
    cases = [c for c in cases if c.blocks]
    missed = [
        (c.key, t)
        for c in cases
        for t in TOOLS
        if t != "panorama-gate"
        and table[c.key][t] == "yes"
        and table[c.key]["panorama-gate"] != "yes"
    ]
    assert missed == [], f"cases another tool detects and we do not: {missed}"
    ours_total = sum(table[c.key]["panorama-gate"] == "yes" for c in cases)
    for tool in TOOLS:
        if tool != "panorama-gate":
            assert ours_total > sum(table[c.key][tool] == "yes" for c in cases), tool
    assert ours_total == len(cases)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(render(*compare(Path(tmp))))
