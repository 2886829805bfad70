"""What the README tells a reader to type exists: every command of its table parses, and the
first command's output is explained.

The commands table is checked against the real argument parser (placeholders such as TARGET
or DIR stand for any value), so a renamed flag cannot leave the README behind. The bundled
example's blocking findings are each named in the paragraph under the commands, so a reader
who runs command 1 is told why every blocking line is there (the stale-database one too).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
HEAD = (REPO / "README.md").read_text()


def _table_commands() -> list[str]:
    rows = re.findall(r"^\| `([^`]+)`(?: / `([^`]+)`)? \|", HEAD, re.M)
    return [c for row in rows for c in row if c]


def _argv(command: str) -> list[str]:
    # one|two|three (escaped pipes in the table) stands for any of them: take the first
    words = shlex.split(command.replace("\\|", "|"))
    out = []
    for w in words:
        w = w.split("|")[0]
        # an upper-case placeholder (TARGET, DIR, s3://BUCKET/PREFIX) stands for any value
        out.append(re.sub(r"\b[A-Z][A-Z0-9_]+\b", "x", w) if re.search(r"[A-Z]{2}", w) else w)
    return out


@pytest.mark.parametrize("command", _table_commands())
def test_every_command_in_the_readme_table_parses(command: str) -> None:
    parser = build_parser()
    try:
        parser.parse_args(_argv(command))
    except SystemExit as exc:  # argparse's way of saying "no such flag"
        pytest.fail(f"README command `{command}` does not parse (exit {exc.code})")


def test_the_table_lists_the_commands_that_exist() -> None:
    listed = {c.split()[0] for c in _table_commands()}
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")  # noqa: SLF001 - argparse
    assert listed <= set(sub.choices), listed - set(sub.choices)


# What the README's paragraph says for each rule that blocks the bundled example.
EXPLAINED = {
    "secrets.aws-access-key-id": "hard-coded AWS key",
    "secrets.aws-secret-access-key": "hard-coded AWS key",
    "secrets.credential-url": "camera credentials in an RTSP URL",
    "code.B602": "`shell=True`",
    "licenses.denied": "GPL-3.0 package",
    "vulns.known-vulnerability": "known CVEs",
    "pickle.code-execution": "pickled model",
    "vulns.database-stale": "`vulns.database-stale`",
}


@pytest.mark.slow
def test_every_blocking_finding_of_the_example_is_explained(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "examples/shelf-monitor", "--vuln-db"]
        + ["examples/osv-db", "--offline", "--no-profile", "--no-cache"]
        + ["--format", "json", "-o", str(report)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    data = json.loads(report.read_text())
    blocking = {
        r["message"].split(" ", 1)[0] for r in data["verdict"]["reasons"] if r["level"] == "reject"
    }
    assert blocking == set(EXPLAINED), "update the README's paragraph and EXPLAINED"
    paragraph = HEAD.split("```", 2)[2].split("## What it does")[0]
    for rule, phrase in EXPLAINED.items():
        assert phrase in paragraph, f"the README does not explain {rule} ({phrase!r})"
