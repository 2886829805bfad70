"""The merged file trees that TreeAnalyzers read: one folder per analyzer per artifact.

A TreeAnalyzer (bandit over a code tree, for instance) needs real files on disk; the walk copies
the files it wants into its folder as they pass, applies later layers' whiteouts, and hands the
folder over when the artifact ends. Files are written read-only; nothing outside the work folder
is ever written (paths come normalised from the safe archive readers).

Example::

    trees = TreeFolders(work_dir)
    trees.begin(["code"])
    failure = trees.add("code", entry)    # None, or an AnalyzerFailure saying why not
    root = trees.take("code")             # the caller analyses, then removes it
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from scanner.analyzers.entry import FileEntry
from scanner.models import AnalyzerFailure
from scanner.sources.safe_archive import CHUNK

__all__ = ["TreeFolders"]


class TreeFolders:
    """One fresh folder per tree analyzer for the artifact being walked."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self._roots: dict[str, Path] = {}

    def begin(self, names: Iterable[str]) -> None:
        """Fresh folders for a new artifact."""
        self._roots = {
            name: Path(tempfile.mkdtemp(prefix=f"tree-{name}-", dir=self.work_dir))
            for name in names
        }

    def add(self, name: str, entry: FileEntry) -> AnalyzerFailure | None:
        """Copy ``entry`` into ``name``'s folder (replacing a lower layer's copy)."""
        dest = self._roots[name] / entry.path
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_symlink() or dest.is_file():
                dest.unlink()
            with entry.open() as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            os.chmod(dest, 0o444)
        except OSError as exc:
            return AnalyzerFailure(
                name, f"cannot copy file for analysis: {exc.strerror or exc}", entry.location()
            )
        return None

    def remove(self, path: str) -> None:
        """A whiteout in a later layer: the file leaves every folder."""
        for root in self._roots.values():
            target = root / path
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            elif target.exists() or target.is_symlink():
                target.unlink()

    def take(self, name: str) -> Path:
        """``name``'s folder, no longer tracked: the caller analyses and removes it."""
        return self._roots.pop(name)
