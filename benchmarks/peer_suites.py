"""The peers' own test suites, side by side: picklescan, modelscan, fickling and panorama-gate.

Every sample the three peers' test suites build (rebuilt in ``tests/helpers/peer_samples.py``)
is written to a temporary folder under its suite's file name and given to each tool, in one
run. "Flags" means, per tool:

- picklescan: a dangerous global (``issues_count``/``infected_files``);
- modelscan: at least one issue;
- fickling: ``scan_file`` rates the file above LIKELY_SAFE without a parse error;
- panorama-gate: ``scan`` (model analyzers, the default policy) reports a finding at medium or
  above, or cannot walk the file (a failure: the verdict is never approved).

The table lists every sample; the summary counts, per peer, the samples it flags and how many
of those panorama-gate flags, and names the ones it does not. The samples are built by
``tests/helpers/peer_samples.py``, the tools run by ``tests/helpers/peer_compare.py``.

    python benchmarks/peer_suites.py                 # markdown table + summary
    python benchmarks/peer_suites.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.peer_compare import PEERS, Outcome, run, summary  # noqa: E402
from tests.helpers.peer_samples import PeerSample  # noqa: E402


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: tuple[str, ...]) -> list[str]:
    return [_row(*header), _row(*("---" for _ in header))]


def render(
    samples: list[PeerSample], table: dict[int, dict[str, Outcome]], details: dict[int, str]
) -> str:
    """A markdown table per suite, then the per-suite and per-peer summaries."""
    tools = (*PEERS, "panorama-gate")
    lines: list[str] = []
    for suite in dict.fromkeys(s.suite for s in samples):
        header = ("sample", "suite expects", *tools, "panorama-gate says")
        lines += [f"### {suite}", "", *_table(header)]
        for i, s in enumerate(samples):
            if s.suite == suite:
                name = s.name + (f" ({s.note})" if s.note else "")
                expect = "hostile" if s.hostile else "clean"
                lines.append(_row(name, expect, *(table[i][t] for t in tools), details[i]))
        lines.append("")
    summ = summary(samples, table)
    lines += ["### Summary", "", *_table(("suite", "tool", "hostile flagged", "clean flagged"))]
    for suite in dict.fromkeys(s.suite for s in samples):
        for tool, c in summ[suite].items():
            hostile = f"{c['hostile_flagged']}/{c['hostile']}"
            lines.append(_row(suite, tool, hostile, f"{c['benign_flagged']}/{c['benign']}"))
    lines += ["", *_table(("peer", "samples it flags", "panorama-gate flags too"))]
    lines += [_row(p, summ[p]["flags"], summ[p]["we_flag_too"]) for p in PEERS]
    misses = [(p, m) for p in PEERS for m in summ[p]["missed"]]
    head = "Flagged by a peer, not by panorama-gate:"
    lines += ["", head if misses else "No sample a peer flags is missed by panorama-gate."]
    lines += [f"- {p}: {m}" for p, m in misses]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the raw outcomes here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        samples, table, details, seconds = run(Path(tmp))
    print(render(samples, table, details))
    print(f"\n{len(samples)} samples, 4 tools, {seconds:.1f} s")
    if args.json:
        rows = [
            {"suite": s.suite, "sample": s.name, "file": s.filename, "hostile": s.hostile,
             **table[i], "panorama-gate says": details[i]}
            for i, s in enumerate(samples)
        ]  # fmt: skip
        args.json.write_text(
            json.dumps({"rows": rows, "summary": summary(samples, table)}, indent=2)
        )


if __name__ == "__main__":
    main()
