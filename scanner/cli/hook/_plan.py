"""Which Panorama parts a set of changed files belongs to: pure path logic, no git, no I/O.

- a file under ``packages/<pkg>/`` of a code package (its Dockerfile, ``src/``...): that code
  package folder;
- a manifest (``graphs/``, ``package.json``/``descriptor.json``) or an asset under ``assets/``:
  the whole project (unchanged container assets come from the cache, keyed by content digest);
- a model file (``.onnx``, ``.pth``, ``.pkl``...) or an archive outside a project: that file.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable

from scanner.sources import sniff

__all__ = ["ARCHIVE_SUFFIXES", "MODEL_SUFFIXES", "HookTarget", "plan_targets"]

# Loose model files a push may add outside a project: the one list of model names, kept with the
# content sniffer (a push only names paths; names are what the hook has to go on).
MODEL_SUFFIXES = sniff.MODEL_SUFFIXES
ARCHIVE_SUFFIXES = sniff.ARCHIVE_SUFFIXES
PACKAGE_MANIFESTS = ("package.json", "descriptor.json")


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class HookTarget:
    """A repository path to scan at a commit: ``project``, ``code-package``, ``model`` or
    ``archive`` (scanned when its content is a model or container)."""

    path: str
    kind: str

    @property
    def display(self) -> str:
        """The path as shown to the developer ("." for the repository root)."""
        return self.path or "."


def _parent(path: str) -> str:
    return posixpath.dirname(path)


def _under(path: str, root: str) -> bool:
    return root == "" or path == root or path.startswith(root + "/")


def _rel(path: str, root: str) -> str:
    return path if root == "" else path[len(root) + 1 :]


def plan_targets(changed: Iterable[str], files: Iterable[str]) -> list[HookTarget]:
    """The scan targets for ``changed`` paths, given every file of the pushed tree.

    A project root is a folder holding ``graphs/<app>/graph.json`` and a ``packages/``
    folder; a code package is a folder holding ``package.json`` and a ``Dockerfile``.
    """
    all_files = set(files)
    projects: set[str] = set()
    dirs_with: dict[str, set[str]] = {}
    for f in all_files:
        parts = f.split("/")
        if len(parts) >= 3 and parts[-1] == "graph.json" and parts[-3] == "graphs":
            root = "/".join(parts[:-3])
            projects.add(root)
        dirs_with.setdefault(_parent(f), set()).add(posixpath.basename(f))
    projects = {
        r
        for r in projects
        if any(f.startswith(f"{r}/packages/" if r else "packages/") for f in all_files)
    }
    code_packages = {d for d, names in dirs_with.items() if {"package.json", "Dockerfile"} <= names}
    targets: set[HookTarget] = set()
    for path in changed:
        if path not in all_files:
            continue  # deleted at the tip: nothing to scan
        target = _target_for(path, projects, code_packages)
        if target is not None:
            targets.add(target)
    return _prune(targets)


def _deepest(path: str, roots: Iterable[str]) -> str | None:
    best: str | None = None
    for r in roots:
        if _under(path, r) and path != r and (best is None or len(r) > len(best)):
            best = r
    return best


def _target_for(path: str, projects: set[str], code_packages: set[str]) -> HookTarget | None:
    project = _deepest(path, projects)
    if project is not None:
        rel = _rel(path, project)
        top, _, rest = rel.partition("/")
        if top in ("graphs", "assets"):
            return HookTarget(project, "project")
        if top == "packages" and "/" in rest:
            pkg = posixpath.join(project, "packages", rest.split("/", 1)[0])
            if rest.split("/", 1)[1] in PACKAGE_MANIFESTS or pkg not in code_packages:
                return HookTarget(project, "project")  # a manifest: check it in context
            return HookTarget(pkg, "code-package")
    package = _deepest(path, code_packages)
    if package is not None:
        return HookTarget(package, "code-package")
    name = posixpath.basename(path).lower()
    if name == "saved_model.pb":
        return HookTarget(_parent(path), "model")
    if name.endswith(MODEL_SUFFIXES):
        return HookTarget(path, "model")
    if name.endswith(ARCHIVE_SUFFIXES):
        return HookTarget(path, "archive")
    return None


def _prune(targets: set[HookTarget]) -> list[HookTarget]:
    """Drop model and archive targets inside a project or code package that is scanned.

    A changed code package stays a target of its own even when its project is scanned: the
    folder scan checks what only it sees (e.g. a link out of the folder), and it is small.
    """
    keep = []
    for t in sorted(targets):
        covered = t.kind in ("model", "archive") and any(
            o.kind in ("project", "code-package") and _under(t.path, o.path) and o.path != t.path
            for o in targets
        )
        if not covered:
            keep.append(t)
    return keep
