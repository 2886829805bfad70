"""Where a finding is in the repository: the file a code-scanning UI can link to.

A finding's :class:`~scanner.models.Location` names an artifact (by its report name) and a path
inside it. Reports that CI systems render (SARIF, GitLab Code Quality) need a path from the
*repository root* instead, and only files that exist in the checkout can be linked:

- a file of a folder artifact (a code package): ``<target>/<artifact path>/<path>``;
- a member of an archive (a container asset, a model archive): the archive file, with the
  member named beside it (no UI can open a file inside a tarball);
- a key in a JSON or YAML manifest: the manifest file, with the key path beside it.

:class:`SourceRoot` says where the scanned target sits under the repository root
(``%SRCROOT%``); the CLI finds it from git (or ``--source-root``). Without one, paths are taken
relative to the directory the target was named from, as given on the command line.
"""

from __future__ import annotations

import dataclasses
import posixpath

from scanner.models import Location, Report, TargetKind

__all__ = ["ARCHIVE_SUFFIXES", "RepoLocation", "SourceRoot", "repo_location"]

ARCHIVE_SUFFIXES = (
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.zst",
    ".tar.zstd",
    ".tzst",
    ".tar.xz",
    ".txz",
    ".tar.bz2",
    ".zip",
    ".whl",
    ".oci",
)
# Files whose findings are located by a key path inside them (graph.json, package.json).
STRUCTURED_SUFFIXES = (".json", ".yaml", ".yml", ".toml")
_FOLDER_KINDS = (TargetKind.PROJECT, TargetKind.CODE_PACKAGE)


@dataclasses.dataclass(frozen=True, slots=True)
class SourceRoot:
    """Where artifact paths start, relative to the repository root.

    ``base`` is the folder the report's artifact paths are relative to (the target folder, or
    the folder holding a target file), as a POSIX path under the root ("" for the root itself).
    ``root`` is the root's absolute path when known (for SARIF's ``originalUriBaseIds``);
    ``None`` with a relative ``base`` means "relative to the current directory". A ``base``
    that starts with ``/`` lies outside any known root: paths are absolute.
    """

    base: str
    root: str | None = None

    @property
    def absolute(self) -> bool:
        """Whether paths are absolute (the target is outside the repository root)."""
        return self.base.startswith("/")

    @classmethod
    def from_report(cls, report: Report, target_path: str | None = None) -> SourceRoot:
        """Artifact paths under the target as named (``target_path``, else the report's).

        The fallback without git; the hook uses it with the target's repository path.
        """
        target = posixpath.normpath(target_path or report.target.path or ".")
        folder = report.target.kind in _FOLDER_KINDS or _names_a_folder(report, target)
        base = target if folder else posixpath.dirname(target)
        return cls("" if base in (".", "") else base)


def _names_a_folder(report: Report, target: str) -> bool:
    """A model or container target is a file unless its artifact paths say it is a folder."""
    name = posixpath.basename(target)
    return not any(a.path == name for a in report.artifacts)


@dataclasses.dataclass(frozen=True, slots=True)
class RepoLocation:
    """A finding's place in the repository: a file, and what inside it when not a line."""

    path: str  # the file, from the repository root (POSIX, no leading "./")
    inner: str = ""  # member of an archive, or key path in a manifest
    inner_kind: str = ""  # "member" | "key" | ""
    line: int | None = None  # a line of ``path`` itself (never a member's line)
    member_line: int | None = None  # the line inside an archive member

    def describe(self) -> str:
        """``path:line``, ``archive!member:line`` or ``manifest (key)``, for people."""
        if self.inner_kind == "member":
            line = f":{self.member_line}" if self.member_line else ""
            return f"{self.path}!{self.inner}{line}"
        text = f"{self.path}:{self.line}" if self.line else self.path
        return f"{text} ({self.inner})" if self.inner_kind == "key" else text


def repo_location(loc: Location, artifact_paths: dict[str, str], root: SourceRoot) -> RepoLocation:
    """Where ``loc`` is in the repository (see the module docstring)."""
    art = artifact_paths.get(loc.artifact, loc.artifact) if loc.artifact else ""
    base = _join(root.base, art)
    line = loc.line if loc.line is not None and loc.line > 0 else None
    lower = base.lower()
    if not loc.path:
        return RepoLocation(base, line=line)
    if not loc.artifact:
        return RepoLocation(_join(root.base, loc.path), line=line)
    if lower.endswith(ARCHIVE_SUFFIXES):
        return RepoLocation(base, loc.path, "member", member_line=line)
    if lower.endswith(STRUCTURED_SUFFIXES):
        return RepoLocation(base, loc.path, "key", line=line)
    return RepoLocation(_join(base, loc.path), line=line)


def _join(*parts: str) -> str:
    kept = [p for p in parts if p]
    joined = posixpath.normpath(posixpath.join(*kept)) if kept else "."
    return "" if joined == "." else joined
