"""Which files of an artifact are the application's own code (the ``code`` analyzer scans those).

App code is the ``panorama/`` tree of a container, the files of a code package folder that its
Dockerfile copies into the image (``COPY src /panorama``: ``src/``; ``COPY . .``: all of them),
and every module the descriptor's entry point reaches through local imports.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scanner.sources.dockerfile import copy_spec, parse_dockerfile
from scanner.sources.interface import SourceArtifact

__all__ = [
    "LIBRARY",
    "app_files_of_folder",
    "descriptor_of",
    "entry_candidates",
    "entry_names",
    "reached_from",
]

# Installed libraries and the interpreter's own modules: not the app's code.
LIBRARY = re.compile(
    r"(?:^|/)(?:site-packages|dist-packages|node_modules|__pycache__)/"
    r"|^(?:usr/(?:local/)?lib(?:64)?/python[0-9.]*|usr/share|opt/conda|lib/python[0-9.]*)/"
)


def entry_names(descriptor: Mapping[str, Any] | None) -> list[str]:
    """The entry-point script a runtime descriptor names (none when it names none)."""
    if not isinstance(descriptor, Mapping):
        return []
    rt = descriptor.get("runtimeDescriptor")
    entry = rt.get("entry") if isinstance(rt, Mapping) else None
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return [name] if isinstance(name, str) and name.strip() else []


def descriptor_of(artifact: SourceArtifact) -> Mapping[str, Any] | None:
    """The artifact's descriptor; for a lone code package, its ``descriptor.json``."""
    if artifact.descriptor is not None or artifact.package_dir is None:
        return artifact.descriptor
    path = artifact.package_dir / "descriptor.json"
    try:
        data = json.loads(path.read_bytes()) if path.is_file() else None
    except (OSError, ValueError):
        return None  # the manifest analyzer reports an unreadable descriptor
    return data if isinstance(data, Mapping) else None


def entry_candidates(name: str) -> list[str]:
    """Where an entry point in the image (``/panorama/app.py``) may sit in a tree."""
    rel = name.strip().lstrip("/")
    out = [rel]
    if rel.startswith("panorama/"):
        rest = rel[len("panorama/") :]
        out += [f"src/{rest}", rest]  # a code package before build: COPY src /panorama
    return out


def _imports(source: bytes) -> list[tuple[str, int, list[str]]]:
    """(module, level, imported names) of every import statement; unparsable source yields none."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []  # bandit reports the file itself; reach stops here
    found: list[tuple[str, int, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((a.name, 0, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level, [a.name for a in node.names]))
    return found


def reached_from(root: Path, entry: str, available: set[str]) -> set[str]:
    """Files in ``available`` (relative to ``root``) that ``entry`` imports, even indirectly."""
    if entry not in available:
        return set()
    top = entry.rsplit("/", 1)[0] if "/" in entry else ""
    seen = {entry}
    todo = [entry]

    def resolve(base: str, dotted: str) -> list[str]:
        stem = "/".join(p for p in [base, *dotted.split(".")] if p)
        return [c for c in (f"{stem}.py", f"{stem}/__init__.py") if c in available]

    while todo:
        cur = todo.pop()
        here = cur.rsplit("/", 1)[0] if "/" in cur else ""
        try:
            source = (root / cur).read_bytes()
        except OSError:
            continue
        for module, level, names in _imports(source):
            if level:
                base = here
                for _ in range(level - 1):
                    base = base.rsplit("/", 1)[0] if "/" in base else ""
                bases = [base]
            else:
                bases = [top, here]
            for base in bases:
                hits = resolve(base, module) if module else []
                for name in names:
                    hits += resolve(base, f"{module}.{name}" if module else name)
                for h in hits:
                    if h not in seen:
                        seen.add(h)
                        todo.append(h)
    return seen


def app_files_of_folder(artifact: SourceArtifact, available: set[str]) -> set[str]:
    """The files of a code package folder that its Dockerfile copies into the image.

    ``COPY src /panorama`` takes ``src/``; ``COPY . .`` takes everything. Without a readable
    Dockerfile every file is taken: nothing the image might hold goes unscanned.
    """
    path = artifact.package_dir / "Dockerfile" if artifact.package_dir is not None else None
    try:
        text = path.read_bytes()[: 1024 * 1024].decode("utf-8", "replace") if path else ""
    except OSError:
        text = ""
    sources = [
        src.strip("\"'").lstrip("/").removeprefix("./").rstrip("/")
        for ins in parse_dockerfile(text)
        if (spec := copy_spec(ins)) is not None and not spec.from_stage
        for src in spec.sources
        if "://" not in src and "$" not in src
    ]
    if not text or not sources or any(s in ("", ".") for s in sources):
        return {f for f in available if not LIBRARY.search(f)}
    return {
        f
        for f in available
        if any(f == s or f.startswith(f"{s}/") or fnmatch.fnmatch(f, s) for s in sources)
    }
