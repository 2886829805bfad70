"""Where the scanned target sits in its repository, for reports that link to files.

SARIF and GitLab Code Quality locations are repository paths (see
:mod:`scanner.report._paths`). The repository root is ``--source-root`` when given, else what
``git rev-parse --show-toplevel`` says for the target, else the current directory. A target
outside that root gets absolute paths (no UI links them, but they still name the file).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from scanner.errors import UsageError
from scanner.report._paths import SourceRoot

__all__ = ["find_source_root"]


def _git_toplevel(folder: Path) -> Path | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None  # no git: fall back to the current directory
    out = proc.stdout.strip()
    return Path(out) if proc.returncode == 0 and out else None


def find_source_root(target: Path, given: Path | None = None) -> SourceRoot:
    """The :class:`SourceRoot` of ``target`` (a folder, or a file whose folder holds it)."""
    target = Path(target).resolve()
    base = target if target.is_dir() else target.parent
    if given is not None:
        root = Path(given).resolve()
        if not root.is_dir():
            raise UsageError(f"{given}: --source-root is not a folder")
        if not base.is_relative_to(root):
            raise UsageError(f"{given}: --source-root does not contain the target {target}")
    else:
        root = (_git_toplevel(base) or Path.cwd()).resolve()
    if not base.is_relative_to(root):
        return SourceRoot(base.as_posix())
    rel = base.relative_to(root).as_posix()
    return SourceRoot("" if rel == "." else rel, root.as_posix())
