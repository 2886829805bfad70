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


def check_code_sources(folder: Path, dockerfile: Path | None) -> CodeCheck:
    """Check that the code the Dockerfile copies into the image is in ``folder``."""
    if dockerfile is None:
        if _has_own_files(folder):
            return CodeCheck(True)
        return CodeCheck(False, reason="the folder has no Dockerfile and no source files")
    try:
        with dockerfile.open("rb") as f:
            text = f.read(MAX_DOCKERFILE_BYTES).decode("utf-8", "replace")
    except OSError as exc:
        return CodeCheck(False, reason=f"its Dockerfile cannot be read ({exc.strerror or exc})")
    copies = 0
    missing: list[tuple[str, int]] = []
    for ins in parse_dockerfile(text):
        spec = copy_spec(ins)
        if spec is None or spec.from_stage:
            continue
        for src in spec.sources:
            if "://" in src or "$" in src:
                continue  # a download or a build argument: not a file of the folder
            copies += 1
            if not _exists_in(folder, src):
                missing.append((src, ins.line_of(src)))
    if missing:
        names = ", ".join(f"{s} (Dockerfile line {n})" for s, n in missing[:5])
        return CodeCheck(
            False,
            missing,
            f"the Dockerfile copies {names}, which {'is' if len(missing) == 1 else 'are'} not in "
            "the package folder",
            missing[0][1],
        )
    if copies == 0:
        return CodeCheck(
            False,
            reason="the Dockerfile copies nothing from the package folder, so the code would "
            "come from its base image, which is not part of this target",
        )
    return CodeCheck(True)
