"""Extracting a tar member the way Python's ``tar`` extraction filter does, on every Python 3.11.

The extraction filters (``filter="tar"``, ``tarfile.FilterError``) arrived in Python 3.11.4 and
were backported to some distributions' builds only: Debian 12's ``python3`` (3.11.2) has them in
some security updates and not in others. Where they exist they are used; elsewhere the same
rules are applied here (as the filter's documentation states them), so that ``profile`` and the
pre-push hook behave the same on every supported interpreter:

- a leading ``/`` is stripped; a member whose real path would leave ``dest`` is refused;
- setuid, setgid and sticky bits and group/other write bits are cleared.

Links are left as they are, as the ``tar`` filter leaves them (the ``data`` filter would not).

Example::

    with tarfile.open(path, "r|*") as tf:
        for member in tf:
            extract_member(tf, member, dest)      # raises UnsafeMemberError
"""

from __future__ import annotations

import copy
import os
import stat
import tarfile
from pathlib import Path

__all__ = ["HAS_FILTERS", "UnsafeMemberError", "extract_member"]

HAS_FILTERS = hasattr(tarfile, "tar_filter")

# what the "tar" filter clears from a member's mode
_CLEARED = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | stat.S_IWGRP | stat.S_IWOTH


class UnsafeMemberError(tarfile.TarError):
    """A member the ``tar`` extraction filter refuses (it would land outside the folder)."""


def extract_member(tf: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> None:
    """Extract ``member`` under ``dest`` through the ``tar`` filter (or its rules)."""
    if HAS_FILTERS:
        try:
            tf.extract(member, dest, filter="tar")
        except tarfile.FilterError as exc:
            raise UnsafeMemberError(str(exc)) from exc
        return
    tf.extract(_filtered(member, dest), dest)


def _filtered(member: tarfile.TarInfo, dest: Path) -> tarfile.TarInfo:
    """``member`` as the ``tar`` filter would let it through; raises UnsafeMemberError."""
    root = os.path.realpath(dest)
    name = member.name.lstrip("/" + os.sep)
    if os.path.isabs(name):
        raise UnsafeMemberError(f"{member.name!r} is an absolute path")
    target = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([target, root]) != root:
        raise UnsafeMemberError(f"{member.name!r} would be extracted to {target!r}, outside {root}")
    out = copy.copy(member)
    out.name = name
    if member.mode is not None:
        out.mode = member.mode & 0o7777 & ~_CLEARED
    return out
