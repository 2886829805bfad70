"""``--format FMT -o FILE`` pairs bind each -o to the --format before it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from scanner.cli._options import add_output_flags, output_pairs
from scanner.errors import UsageError


def _pairs(*argv: str) -> list[tuple[str, Path | None]]:
    p = argparse.ArgumentParser()
    add_output_flags(p)
    return output_pairs(p.parse_args(list(argv)))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ((), [("terminal", None)]),
        (
            ("--format", "terminal", "--format", "json", "-o", "r.json"),
            [("terminal", None), ("json", Path("r.json"))],
        ),
        (
            ("--format", "json", "-o", "r.json", "--format", "sarif", "-o", "r.sarif"),
            [("json", Path("r.json")), ("sarif", Path("r.sarif"))],
        ),
        (("-o", "r.json"), [("json", Path("r.json"))]),
        (("--format", "json", "-o", "-"), [("json", None)]),
    ],
    ids=["default", "terminal-then-json-file", "two-files", "lone-output", "stdout-dash"],
)
def test_pairs(argv: tuple[str, ...], expected: list[tuple[str, Path | None]]) -> None:
    assert _pairs(*argv) == expected


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (("--format", "json", "-o", "a", "-o", "b"), "needs a --format"),
        (("--format", "nope"), "unknown format"),
    ],
)
def test_bad_pairs(argv: tuple[str, ...], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        _pairs(*argv)
