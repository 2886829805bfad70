"""The one Dockerfile parser: instructions with their lines, shell commands, pip installs, COPY.

A code package's ``Dockerfile`` is read by several parts of the gate: the ``dockerfile``
analyzer (build-time risks), the inventory of an unbuilt package (``pip install x==1.2`` pins)
and the project source (which folders ``COPY`` brings into the image, to tell whether the code
is in the checkout at all). They all read it through this module, so they agree on what an
instruction, a line and a command are.

What is understood:

- instructions, with continuation lines joined (``# escape=`` honoured), comment lines dropped
  and BuildKit heredocs (``RUN <<EOF``) kept as the instruction's script; every instruction
  remembers its physical lines, so a word can be reported at the line that holds it;
- shell-form and exec-form (JSON array) arguments of ``RUN``;
- a ``RUN`` script as simple commands (``&&``, ``||``, ``;``, newlines) and pipelines (``|``),
  quotes respected (``shlex``); a script that does not tokenise is kept as one raw command;
- ``pip install`` / ``python -m pip install`` / ``uv pip install`` with their requirements,
  requirement and constraint files, index URLs, trusted hosts and find-links;
- ``COPY``/``ADD`` sources and destination (``--from`` copies from a stage, not the folder).

Example::

    for ins in parse_dockerfile(text):
        for cmd in run_commands(ins):
            pip = pip_install(cmd)
            if pip:
                print(ins.line_of(pip.requirements[0]), pip.requirements)
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "Command",
    "CopySpec",
    "Instruction",
    "PipInstall",
    "base_images",
    "copy_spec",
    "parse_dockerfile",
    "pip_install",
    "run_commands",
]

MAX_INSTRUCTIONS = 5000  # a generated or hostile file must not make every rule quadratic


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction: keyword (upper case), arguments, and the physical lines it spans.

    ``args`` has continuation lines joined with a space; ``script`` holds heredoc bodies (with
    their newlines) for ``RUN <<EOF``. ``physical`` is ``(line number, text)`` of every line
    the instruction spans, comments inside it included, for locating words.
    """

    keyword: str
    args: str
    line: int
    physical: tuple[tuple[int, str], ...] = ()
    script: str = ""

    @property
    def end_line(self) -> int:
        """The last physical line of the instruction."""
        return self.physical[-1][0] if self.physical else self.line

    def line_of(self, needle: str) -> int:
        """The first physical line that contains ``needle`` (the first line when none does)."""
        if needle:
            for no, text in self.physical:
                if needle in text:
                    return no
        return self.line


_ESCAPE_RX = re.compile(r"\s*#\s*escape\s*=\s*(\S)")
_HEREDOC_RX = re.compile(r"<<-?\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\1")


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions, continuation lines joined, comments dropped (``# escape=`` honoured).

    Parser directives are only read from the top of the file, as Docker does; at most
    ``MAX_INSTRUCTIONS`` are returned.
    """
    escape = "\\"
    m = _ESCAPE_RX.match(text)
    if m:
        escape = m.group(1)
    lines = text.splitlines()
    out: list[Instruction] = []
    i = 0
    while i < len(lines) and len(out) < MAX_INSTRUCTIONS:
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts: list[str] = []
        physical: list[tuple[int, str]] = []
        while i < len(lines):
            raw = lines[i]
            physical.append((i + 1, raw))
            piece = raw.strip()
            i += 1
            if piece.startswith("#") and parts:
                continue  # a comment line inside a continued instruction is dropped
            if piece.endswith(escape):
                parts.append(piece[: -len(escape)])
                continue
            parts.append(piece)
            break
        joined = " ".join(p.strip() for p in parts if p.strip())
        keyword, _, args = joined.partition(" ")
        script, i = _heredocs(args, lines, i, physical)
        out.append(Instruction(keyword.upper(), args.strip(), start + 1, tuple(physical), script))
    return out


def _heredocs(
    args: str, lines: list[str], i: int, physical: list[tuple[int, str]]
) -> tuple[str, int]:
    """Consume the bodies of the heredocs ``args`` opens; (bodies, next line index)."""
    bodies: list[str] = []
    for m in _HEREDOC_RX.finditer(args):
        end = m.group(2)
        body: list[str] = []
        while i < len(lines):
            physical.append((i + 1, lines[i]))
            i += 1
            if lines[i - 1].strip() == end:
                break
            body.append(lines[i - 1])
        bodies.append("\n".join(body))
    return "\n".join(bodies), i


# -- shell commands -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """One simple command of a ``RUN`` script: its words, and whether it pipes into the next."""

    words: tuple[str, ...]
    pipes_to_next: bool = False
    text: str = ""  # the raw script it came from (for rules that need the original form)

    @property
    def program(self) -> str:
        """The program's base name (``/usr/bin/curl`` -> ``curl``), after ``sudo``/``env``."""
        words = _unwrapped(self.words)
        return words[0].rsplit("/", 1)[-1] if words else ""

    @property
    def args(self) -> tuple[str, ...]:
        """The words after the program (``sudo``, ``env`` and ``VAR=value`` prefixes skipped)."""
        return _unwrapped(self.words)[1:]


# Programs that run another command given after their own options.
_WRAPPERS = frozenset({"sudo", "env", "exec", "command", "nohup", "nice", "time"})
_WRAPPER_VALUE_OPTIONS = frozenset({"-u", "-g", "-C", "-n", "-h", "-p", "-U"})


def _unwrapped(words: tuple[str, ...]) -> tuple[str, ...]:
    """``words`` without leading ``VAR=value`` assignments and wrappers (``sudo -H``, ``env``)."""
    i = 0
    while i < len(words):
        word = words[i]
        if "=" in word and not word.startswith("-") and re.match(r"[A-Za-z_]\w*=", word):
            i += 1
        elif word.rsplit("/", 1)[-1] in _WRAPPERS:
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 2 if words[i] in _WRAPPER_VALUE_OPTIONS else 1
        else:
            break
    return words[i:]


_RAW_OPERATORS = re.compile(r"&&|\|\||;|\|")
_OPERATORS = frozenset({"&&", "||", ";", "|", "&", ";;", "(", ")", "|&"})


def _tokens(script: str) -> list[str] | None:
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # an unclosed quote: the command is kept raw
        return None


def run_commands(ins: Instruction) -> list[Command]:
    """The simple commands of a ``RUN`` instruction (empty for other instructions)."""
    if ins.keyword != "RUN":
        return []
    args = ins.args
    while args.startswith("--"):  # RUN --mount=... --network=... flags
        _, _, args = args.partition(" ")
        args = args.lstrip()
    if args.startswith("["):
        try:
            words = json.loads(args)
        except ValueError:
            words = None
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            # exec form: no shell, unless the program is a shell given a script
            if len(words) >= 3 and words[0].rsplit("/", 1)[-1] in _SHELLS and words[1] == "-c":
                return _split(words[2])
            return [Command(tuple(words), text=args)]
    script = args if not ins.script else f"{_HEREDOC_RX.sub('', args)}\n{ins.script}"
    return _split(script)


_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash", "ksh"})


def _split(script: str) -> list[Command]:
    out: list[Command] = []
    for line in script.split("\n"):  # heredoc scripts: one shell line at a time
        out.extend(_split_line(line, script))
    return out


def _split_line(line: str, script: str) -> list[Command]:
    tokens = _tokens(line)
    if tokens is None:  # unbalanced quotes: split on the operators only, words on blanks
        parts = (p.split() for p in _RAW_OPERATORS.split(line))
        return [Command(tuple(words), text=script) for words in parts if words]
    out: list[Command] = []
    words: list[str] = []
    for tok in tokens:
        if tok in _OPERATORS or (tok and set(tok) <= set(";&|()")):
            if words:
                out.append(Command(tuple(words), pipes_to_next=tok in ("|", "|&"), text=script))
            words = []
            continue
        words.append(tok)
    if words:
        out.append(Command(tuple(words), text=script))
    return out


# -- pip ------------------------------------------------------------------------------------

# pip install options that take a value (so the value is not taken for a requirement).
_PIP_VALUE_OPTIONS = frozenset(
    {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--trusted-host",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--src",
        "--upgrade-strategy",
        "--progress-bar",
        "--log",
        "--proxy",
        "--retries",
        "--timeout",
        "--exists-action",
        "--cert",
        "--client-cert",
        "--cache-dir",
        "--global-option",
        "--install-option",
        "--config-settings",
        "-C",
        "--no-binary",
        "--only-binary",
        "--report",
        "-e",
        "--editable",
        "--python",
    }
)
_PIP_PROGRAM = re.compile(r"pip(?:[0-9.]*)$")
_PYTHON_PROGRAM = re.compile(r"python(?:[0-9.]*)$")


@dataclass(frozen=True, slots=True)
class PipInstall:
    """What one ``pip install`` command asks for."""

    requirements: tuple[str, ...]  # requirement specifiers, paths and URLs, as written
    requirement_files: tuple[str, ...] = ()
    constraint_files: tuple[str, ...] = ()
    index_urls: tuple[str, ...] = ()  # --index-url and --extra-index-url values
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    editable: tuple[str, ...] = ()
    options: tuple[str, ...] = field(default=())


def _pip_words(cmd: Command) -> list[str] | None:
    """The words after ``install`` when ``cmd`` is a pip install, else ``None``."""
    prog, args = cmd.program, list(cmd.args)
    if _PYTHON_PROGRAM.fullmatch(prog):
        # python -m pip install ..., skipping interpreter options such as -I or -u
        while args and args[0].startswith("-") and args[0] != "-m":
            args.pop(0)
        if len(args) < 2 or args[0] != "-m" or not _PIP_PROGRAM.fullmatch(args[1]):
            return None
        args = args[2:]
    elif prog == "uv" and args[:1] == ["pip"]:
        args = args[1:]
    elif not _PIP_PROGRAM.fullmatch(prog):
        return None
    while args and args[0].startswith("-"):  # global options before the sub-command
        args.pop(0)
    if not args or args[0] != "install":
        return None
    return args[1:]


def pip_install(cmd: Command) -> PipInstall | None:
    """Parse ``cmd`` as a pip install (``None`` when it is something else)."""
    words = _pip_words(cmd)
    if words is None:
        return None
    reqs: list[str] = []
    found: dict[str, list[str]] = {}
    options: list[str] = []
    it = iter(words)
    for word in it:
        if word.startswith("-"):
            name, eq, value = word.partition("=")
            if name.startswith("--") and eq:
                found.setdefault(name, []).append(value)
            elif name in _PIP_VALUE_OPTIONS:
                found.setdefault(name, []).append(next(it, ""))
            elif len(name) > 2 and not name.startswith("--") and name[:2] in _PIP_VALUE_OPTIONS:
                found.setdefault(name[:2], []).append(name[2:])  # -rrequirements.txt
            else:
                options.append(name)
            continue
        reqs.append(word)

    def values(*names: str) -> tuple[str, ...]:
        return tuple(v for n in names for v in found.get(n, ()))

    return PipInstall(
        requirements=tuple(reqs),
        requirement_files=values("-r", "--requirement"),
        constraint_files=values("-c", "--constraint"),
        index_urls=values("-i", "--index-url", "--extra-index-url"),
        find_links=values("-f", "--find-links"),
        trusted_hosts=values("--trusted-host"),
        editable=values("-e", "--editable"),
        options=tuple(options),
    )


# -- COPY / ADD / FROM ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopySpec:
    """A ``COPY``/``ADD``: flags, sources (relative to the build context) and destination."""

    flags: tuple[str, ...]
    sources: tuple[str, ...]
    dest: str

    @property
    def from_stage(self) -> bool:
        """``--from=...``: the sources come from another stage or image, not the folder."""
        return any(f.startswith("--from") for f in self.flags)


def copy_spec(ins: Instruction) -> CopySpec | None:
    """The sources and destination of a ``COPY``/``ADD`` (``None`` for other instructions)."""
    if ins.keyword not in ("COPY", "ADD"):
        return None
    args = ins.args
    flags: list[str] = []
    while args.startswith("--"):
        flag, _, args = args.partition(" ")
        flags.append(flag)
        args = args.lstrip()
    words: list[str] | None = None
    if args.startswith("["):
        try:
            parsed = json.loads(args)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(w, str) for w in parsed):
            words = parsed
    if words is None:
        words = args.split()
    if len(words) < 2:
        return CopySpec(tuple(flags), (), words[0] if words else "")
    return CopySpec(tuple(flags), tuple(words[:-1]), words[-1])


def base_images(instructions: list[Instruction]) -> Iterator[tuple[Instruction, str]]:
    """(instruction, image) of each ``FROM`` naming an image, not an earlier stage or scratch."""
    stages: set[str] = set()
    for ins in instructions:
        if ins.keyword != "FROM":
            continue
        words = [w for w in ins.args.split() if not w.startswith("--")]
        if not words:
            continue
        image = words[0]
        earlier = image.lower() in stages or image.lower() == "scratch"
        if len(words) >= 3 and words[1].lower() == "as":
            stages.add(words[2].lower())
        if not earlier:
            yield ins, image
