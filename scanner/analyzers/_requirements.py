"""Parsing declared requirements: ``requirements*.txt``, constraints files, ``pyproject.toml``,
lock files, and the ``pip install`` lines of a code package's Dockerfile.

An unbuilt code package (a checkout) has no installed metadata to read; what it declares is its
inventory. Each requirement keeps its specifier and, when it names exactly one version, that
version; a line number points at the line that names it (continuations included).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, replace

from scanner.sources.dockerfile import parse_dockerfile, pip_install, run_commands

__all__ = [
    "DeclaredRequirement",
    "decode_text",
    "parse_dockerfile_requirements",
    "parse_requirements",
]


def decode_text(data: bytes) -> str:
    """UTF-8, else Latin-1: metadata and requirement files are UTF-8 by spec, old ones are
    sometimes Latin-1, and reading them must never fail."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@dataclass(frozen=True, slots=True)
class DeclaredRequirement:
    """A dependency declared in a requirements/constraints/pyproject/lock file or a Dockerfile.

    ``constraint`` marks a line of a constraints file: it pins a package that something else
    requests, and requests nothing itself.
    """

    name: str
    version: str  # the pinned version ("" when the requirement is not pinned to one version)
    specifier: str
    path: str
    line: int | None = None
    constraint: bool = False


_REQ_RX = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
# A wheel's file name says what it is: name-version(-build)?-python-abi-platform.whl
_WHEEL_RX = re.compile(r"([A-Za-z0-9][A-Za-z0-9._]*)-([0-9][A-Za-z0-9.+!_]*)(?:-[^-/]+){2,3}\.whl")


_EGG_RX = re.compile(r"#egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


def _requirement(text: str, path: str, line: int | None) -> DeclaredRequirement | None:
    egg = _EGG_RX.search(text)
    text = text.split(" #", 1)[0].split(";", 1)[0].strip()
    wheel = _WHEEL_RX.search(text.rsplit("/", 1)[-1]) if text.endswith(".whl") else None
    if wheel is not None:  # a wheel by path or URL: pinned by its file name
        version = wheel.group(2)
        return DeclaredRequirement(wheel.group(1), version, f"=={version}", path, line)
    if egg is not None and text.startswith(("git+", "hg+", "svn+", "bzr+", "http:", "https:")):
        # A VCS or archive URL names no version: declared, not pinned (its URL is the spec).
        url = text.split("#", 1)[0].split("?", 1)[0]  # a query string may carry a token
        return DeclaredRequirement(egg.group(1), "", f"@ {url}", path, line)
    if not text or text.startswith(("#", "-", "git+", "http:", "https:", "file:", ".", "/")):
        return None
    m = _REQ_RX.match(text)
    if m is None:
        return None
    spec = m.group(3).strip()
    if spec.startswith("@"):  # PEP 508 direct reference: keep the URL, never its query string
        spec = spec.split("?", 1)[0].split("#", 1)[0]
    pinned = ""
    pin = re.fullmatch(r"===?\s*([A-Za-z0-9.+!_-]+)", spec)
    if pin and "*" not in pin.group(1):
        pinned = pin.group(1)
    return DeclaredRequirement(m.group(1), pinned, spec, path, line)


def _requirement_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, logical line) of a requirements file, continuations joined."""
    start, parts = 0, list[str]()
    for no, raw in enumerate(text.splitlines(), 1):
        if not parts:
            start = no
        if raw.endswith("\\"):
            parts.append(raw[:-1])
            continue
        parts.append(raw)
        yield start, " ".join(parts)
        parts = []
    if parts:
        yield start, " ".join(parts)


_VAR_RX = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_ASSIGN_RX = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S*)")


def _expand(text: str, values: dict[str, str]) -> str:
    """``$VAR``/``${VAR}`` replaced by the ARG/ENV defaults known so far (others left as is)."""
    return _VAR_RX.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), text)


def parse_dockerfile_requirements(data: bytes, path: str) -> list[DeclaredRequirement]:
    """The ``pip install`` requirements of a Dockerfile, each at the line that names it.

    ``pip install x==1.2`` is pinned; ``pip install x`` is declared but not pinned; a wheel named
    through a build argument (``ARG WHL=torch-1.10.0-...whl`` then ``pip install ${WHL}``) is
    read with the argument's default. Requirement and constraint files the command names are
    read where they are (their own patterns).
    """
    out: list[DeclaredRequirement] = []
    values: dict[str, str] = {}
    for ins in parse_dockerfile(decode_text(data)):
        if ins.keyword in ("ARG", "ENV"):
            values.update((k, v.strip("\"'")) for k, v in _ASSIGN_RX.findall(ins.args))
            continue
        for cmd in run_commands(ins):
            pip = pip_install(cmd)
            if pip is None:
                continue
            for spec in pip.requirements:
                req = _requirement(_expand(spec, values), path, ins.line_of(spec))
                if req:
                    out.append(req)
    return out


def parse_requirements(data: bytes, path: str) -> list[DeclaredRequirement]:
    """Requirements from ``requirements*.txt``, constraints files, ``pyproject.toml``, a lock
    file, or a code package's ``Dockerfile``.

    Raises ``ValueError`` when a TOML/JSON file does not parse (callers record a failure).
    """
    base = path.rsplit("/", 1)[-1]
    text = decode_text(data)
    out: list[DeclaredRequirement] = []
    if base == "Dockerfile":
        return parse_dockerfile_requirements(data, path)
    if base.endswith(".txt"):
        constraint = base.startswith("constraints")
        for i, line in _requirement_lines(text):
            # hashes continue a requirement line; they never name one
            req = _requirement(line.split(" --hash", 1)[0], path, i)
            if req:
                out.append(replace(req, constraint=True) if constraint else req)
    elif base == "pyproject.toml":
        doc = tomllib.loads(text)
        project = doc.get("project") or {}
        deps: list[str] = list(project.get("dependencies") or [])
        poetry = ((doc.get("tool") or {}).get("poetry") or {}).get("dependencies") or {}
        for name, spec in poetry.items():
            if name.lower() == "python":
                continue
            ver = spec if isinstance(spec, str) else str((spec or {}).get("version", ""))
            ver = ver.strip()
            deps.append(f"{name}=={ver}" if re.fullmatch(r"[0-9][A-Za-z0-9.+!_-]*", ver) else name)
        for dep in deps:
            req = _requirement(str(dep), path, None)
            if req:
                out.append(req)
    elif base in ("poetry.lock", "uv.lock"):
        doc = tomllib.loads(text)
        for pkg in doc.get("package") or []:
            name, ver = str(pkg.get("name", "")), str(pkg.get("version", ""))
            if name and ver:
                out.append(DeclaredRequirement(name, ver, f"=={ver}", path))
    elif base == "Pipfile.lock":
        import json

        doc = json.loads(text)
        for section in ("default",):
            for name, info in (doc.get(section) or {}).items():
                ver = str((info or {}).get("version", "")).lstrip("=")
                out.append(DeclaredRequirement(name, ver, f"=={ver}" if ver else "", path))
    return out
