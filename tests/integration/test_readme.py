"""The README is a front door and the manual under docs/ is a site: both checked the same way.

- The README opens with the two commands CI relies on, stays a few hundred lines, and links to
  every page of the manual.
- Every relative link in the README and in every page resolves to a file of the repository.
- Every ``panorama-gate`` command shown in a code block of the README or of any page parses
  with the real argument parser (a renamed flag cannot leave the documentation behind).
- The manual builds as a site with MkDocs ``--strict`` (broken links, pages off the nav).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.cli import build_parser
from tests.helpers.requirements import missing_requirement

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PAGES = sorted((REPO / "docs").glob("*.md"))
DOCUMENTS = [README, *PAGES]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_readme_opens_with_the_run_and_test_commands() -> None:
    head = README.read_text().split("## What it does")[0]
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    assert venv + "python3 -m pip install . && panorama-gate scan examples/shelf-monitor" in head
    test_cmd = venv + "python3 -m pip install -e '.[dev]' && python3 -m pytest -q tests"
    assert test_cmd in head
    # CI runs the documented command itself (quieter pip), in a fresh venv
    ci = (REPO / ".ci" / "run").read_text()
    assert test_cmd.replace("install -e", "install -q -e") in ci


def test_readme_is_a_front_door_to_the_manual() -> None:
    text = README.read_text()
    assert len(text.splitlines()) < 400
    linked = {Path(m).name for m in LINK.findall(text) if m.startswith("docs/")}
    assert {p.name for p in PAGES} <= linked, "every page of the manual is linked from the README"


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(doc: Path) -> None:
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        assert (doc.parent / path).exists(), f"{doc.name}: link to {target} leads nowhere"


def _commands(text: str) -> list[str]:
    """``panorama-gate`` commands of the shell code blocks (a synopsis's ``[...]`` left out)."""
    out: list[str] = []
    for block in re.findall(r"```(?:sh|bash|console)\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            lexer = shlex.shlex(line.strip().removeprefix("$ "), posix=True, punctuation_chars=True)
            lexer.commenters = "#"
            lexer.wordchars += "=$:/.,@{}*~…-"
            tokens = list(lexer)
            while "panorama-gate" in tokens:
                at = tokens.index("panorama-gate")
                before, tokens = tokens[at - 1 : at], tokens[at + 1 :]
                if before in (["-t"], ["--tag"]):
                    continue  # `docker build -t panorama-gate .`: an image name, not a command
                words: list[str] = []
                depth = 0
                for tok in tokens:
                    if set(tok) <= set("|&;<>()"):
                        break  # a shell operator ends the command
                    depth += tok.count("[") - tok.count("]")
                    if depth == 0 and "]" not in tok:
                        words.append(tok)
                out.append(shlex.join(words))
    return out


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_documented_command_parses(doc: Path) -> None:
    parser = build_parser()
    for command in _commands(doc.read_text()):
        try:
            parser.parse_args(shlex.split(command))
        except SystemExit as exc:  # argparse's way of saying "no such flag"
            pytest.fail(f"{doc.name}: `panorama-gate {command}` does not parse (exit {exc.code})")


def test_the_manual_builds_with_mkdocs_strict(tmp_path: Path) -> None:
    try:
        import mkdocs  # noqa: F401 - only asked whether it is installed
    except ImportError:
        missing_requirement("MkDocs", "pip install -e '.[dev]' installs it")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "ownership" / "index.html").is_file()
