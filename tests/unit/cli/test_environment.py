"""``PANORAMA_GATE_<FLAG>`` variables stand for flags not given on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.cli import apply_environment, build_parser


def _parse(argv: list[str]) -> object:
    parser = build_parser()
    args = parser.parse_args(argv)
    apply_environment(parser, args, argv)
    return args


def test_variable_fills_a_flag_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANORAMA_GATE_POLICY", "strict")
    monkeypatch.setenv("PANORAMA_GATE_OFFLINE", "yes")
    args = _parse(["scan", "app"])
    assert args.policy == Path("strict")  # type: ignore[attr-defined]
    assert args.offline is True  # type: ignore[attr-defined]


def test_command_line_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANORAMA_GATE_POLICY", "strict")
    args = _parse(["scan", "app", "--policy", "mine.yaml"])
    assert args.policy == Path("mine.yaml")  # type: ignore[attr-defined]


@pytest.mark.parametrize("blank", ["", "  "])
def test_empty_variable_is_not_given(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    # A CI template's default blanked by the user: the flag's own default applies, so the
    # project's [tool.panorama-gate] table may decide (not Path("") = the current folder).
    monkeypatch.setenv("PANORAMA_GATE_POLICY", blank)
    monkeypatch.setenv("PANORAMA_GATE_OFFLINE", blank)
    args = _parse(["scan", "app"])
    assert args.policy is None  # type: ignore[attr-defined]
    assert args.offline is False  # type: ignore[attr-defined]
