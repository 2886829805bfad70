"""Is a code package's code in the checkout? What its Dockerfile copies, and whether that is there.

A code package that is not built (no container asset on disk) is scanned from its folder. That
stands in for the container only if the folder holds what the image would hold: the files the
Dockerfile's ``COPY``/``ADD`` lines take from the build context. When a source they name is
missing (``COPY src /panorama`` with no ``src/``, a workshop that ships its code separately),
or the Dockerfile copies nothing at all, the application code is nowhere in the target and
nothing about it can be vouched for: the caller records that as a failure, so the verdict is
``incomplete``, never ``approved``.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from scanner.sources._reader import probe
from scanner.sources.dockerfile import copy_spec, parse_dockerfile

__all__ = ["CodeCheck", "check_code_sources"]

MAX_DOCKERFILE_BYTES = 1024 * 1024
# Files panorama-cli and editors keep in a package folder that are not application code.
_NOT_CODE = frozenset({"package.json", "descriptor.json", "Dockerfile", ".dockerignore"})


@dataclass(slots=True)
class CodeCheck:
    """The outcome: is the code there, and if not, what is missing (source, Dockerfile line)."""

    present: bool
    missing: list[tuple[str, int]] = field(default_factory=list)
    reason: str = ""
    line: int | None = None


def _exists_in(folder: Path, source: str) -> bool:
    """Whether a build-context source (a path or glob, relative to the folder) matches."""
    rel = source.strip("\"'").lstrip("/")
    while rel.startswith("./"):
        rel = rel[2:]
    if rel in ("", "."):
        return True
    if ".." in rel.split("/"):
        return True  # outside the build context: docker refuses it; not ours to judge here
    if any(ch in rel for ch in "*?["):
        try:
            return any(True for _ in folder.glob(rel))
        except (OSError, ValueError):
            return True
    found, error = probe(folder / rel)
    return found is not None or error is not None


def _has_own_files(folder: Path) -> bool:
    try:
        with os.scandir(folder) as it:
            return any(
                e.name not in _NOT_CODE
                and not e.name.startswith(".")
                and not e.name.endswith(".bup")
                for e in it
            )
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class _Copy:
    source: str  # as the Dockerfile writes it, relative to the package folder
    dest: str  # absolute path in the image
    line: int
    present: bool


def _norm(source: str) -> str:
    rel = source.strip("\"'").lstrip("/")
    while rel.startswith("./"):
        rel = rel[2:]
    return rel.rstrip("/")


def _copies(folder: Path, text: str) -> list[_Copy]:
    """The local COPY/ADD sources of a Dockerfile, with their destination in the image."""
    out: list[_Copy] = []
    workdir = "/"
    for ins in parse_dockerfile(text):
        if ins.keyword == "WORKDIR" and ins.args:
            arg = ins.args.split()[0].strip("\"'")
            workdir = posixpath.normpath(posixpath.join(workdir, arg))
            continue
        spec = copy_spec(ins)
        if spec is None or spec.from_stage:
            continue
        dest = posixpath.normpath(posixpath.join(workdir, spec.dest.strip("\"'")))
        for src in spec.sources:
            if "://" in src or "$" in src:
                continue  # a download or a build argument: not a file of the folder
            out.append(_Copy(src, dest, ins.line_of(src), _exists_in(folder, src)))
    return out


def _entry_source(folder: Path, copies: list[_Copy], entry: str) -> _Copy | bool | None:
    """Where the entry script comes from: ``True`` when a present source holds it, the missing
    COPY it can only come from, or ``None`` when the Dockerfile does not say."""
    missing: _Copy | None = None
    for c in copies:
        src = _norm(c.source)
        dest = c.dest.rstrip("/") or "/"
        inside = entry.startswith(dest.rstrip("/") + "/")
        as_file = entry in (dest, posixpath.join(dest, posixpath.basename(src)))
        if not (inside or as_file):
            continue
        if not c.present:
            missing = c
            continue
        top = folder / src if src not in ("", ".") else folder
        if top.is_file() or (inside and (top / entry[len(dest.rstrip("/")) + 1 :]).is_file()):
            return True
    return missing


def _has_python(folder: Path, sources: list[_Copy], limit: int = 20_000) -> bool:
    seen = 0
    for c in sources:
        rel = _norm(c.source)
        top = folder / rel if rel not in ("", ".") else folder
        if top.is_file():
            if top.suffix == ".py":
                return True
            continue
        for _dirpath, _dirs, files in os.walk(top):
            seen += len(files)
            if any(f.endswith(".py") for f in files):
                return True
            if seen > limit:
                return True  # too large to look through: assume it holds code
    return False


def check_code_sources(
    folder: Path, dockerfile: Path | None, entry: str | None = None
) -> CodeCheck:
    """Check that the code the Dockerfile copies into the image is in ``folder``.

    The code is missing when every source the Dockerfile copies is missing, when the entry
    script (``entry``, the descriptor's ``/panorama/app.py``) would come from a missing source,
    or when sources are missing and what is there holds no Python at all. Other missing sources
    (a model folder kept out of git) are listed in ``missing``, with the code present.
    """
    if dockerfile is None:
        if _has_own_files(folder):
            return CodeCheck(True)
        return CodeCheck(False, reason="the folder has no Dockerfile and no source files")
    try:
        with dockerfile.open("rb") as f:
            text = f.read(MAX_DOCKERFILE_BYTES).decode("utf-8", "replace")
    except OSError as exc:
        return CodeCheck(False, reason=f"its Dockerfile cannot be read ({exc.strerror or exc})")
    copies = _copies(folder, text)
    if not copies:
        return CodeCheck(
            False,
            reason="the Dockerfile copies nothing from the package folder, so the code would "
            "come from its base image, which is not part of this target",
        )
    missing = [(c.source, c.line) for c in copies if not c.present]
    names = ", ".join(f"{s} (Dockerfile line {n})" for s, n in missing[:5])
    verb = "is" if len(missing) == 1 else "are"
    provider = _entry_source(folder, copies, entry) if entry else None
    if isinstance(provider, _Copy):
        return CodeCheck(
            False,
            missing,
            f"its entry point {entry} comes from {provider.source} (Dockerfile line "
            f"{provider.line}), which is not in the package folder",
            provider.line,
        )
    present = [c for c in copies if c.present]
    if missing and (not present or not _has_python(folder, present)):
        return CodeCheck(
            False,
            missing,
            f"the Dockerfile copies {names}, which {verb} not in the package folder",
            missing[0][1],
        )
    return CodeCheck(True, missing)
