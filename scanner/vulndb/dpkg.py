"""Debian package version comparison, exactly as ``dpkg --compare-versions`` does it.

A version is ``[epoch:]upstream[-revision]``. Epochs compare as integers; upstream and revision
compare with dpkg's ``verrevcmp``: alternating runs of non-digits (compared character by
character, where ``~`` sorts before everything, even the end of the string, and letters sort
before other characters) and digits (compared numerically).

Example::

    >>> compare_versions("1:1.2.11.dfsg-2+deb11u2", "1:1.2.11.dfsg-2+deb11u1") > 0
    True
    >>> compare_versions("1.0~rc1", "1.0") < 0
    True
"""

from __future__ import annotations

import functools
import re

__all__ = ["DpkgVersion", "InvalidDpkgVersionError", "compare_versions"]


class InvalidDpkgVersionError(ValueError):
    """A string that dpkg would not accept as a version."""


_VALID = re.compile(r"[A-Za-z0-9.+~:\-]+\Z")


def _order(c: str) -> int:
    if c.isdigit():
        return 0
    if c.isalpha():
        return ord(c)
    if c == "~":
        return -1
    return ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        first_diff = 0
        while (i < la and not a[i].isdigit()) or (j < lb and not b[j].isdigit()):
            ac = _order(a[i]) if i < la else 0
            bc = _order(b[j]) if j < lb else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < la and a[i] == "0":
            i += 1
        while j < lb and b[j] == "0":
            j += 1
        while i < la and a[i].isdigit() and j < lb and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < la and a[i].isdigit():
            return 1
        if j < lb and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


@functools.total_ordering
class DpkgVersion:
    """A parsed Debian version; ``InvalidDpkgVersionError`` when malformed."""

    __slots__ = ("epoch", "revision", "text", "upstream")

    def __init__(self, text: str) -> None:
        v = text.strip()
        if not v or not _VALID.match(v):
            raise InvalidDpkgVersionError(f"invalid Debian version {text!r}")
        epoch = 0
        if ":" in v:
            e, _, v = v.partition(":")
            if not e.isdigit():
                raise InvalidDpkgVersionError(f"invalid epoch in Debian version {text!r}")
            epoch = int(e)
        upstream, sep, revision = v.rpartition("-")
        if not sep:
            upstream, revision = v, ""
        if not upstream or not upstream[0].isdigit():
            raise InvalidDpkgVersionError(f"Debian version {text!r} does not start with a digit")
        self.text = text
        self.epoch = epoch
        self.upstream = upstream
        self.revision = revision

    def _cmp(self, other: DpkgVersion) -> int:
        if self.epoch != other.epoch:
            return -1 if self.epoch < other.epoch else 1
        return _verrevcmp(self.upstream, other.upstream) or _verrevcmp(
            self.revision, other.revision
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DpkgVersion) and self._cmp(other) == 0

    def __lt__(self, other: DpkgVersion) -> bool:
        return self._cmp(other) < 0

    def __hash__(self) -> int:
        # Equal versions ("1.0", "0:1.0", "1.00", "1.0-0") must hash alike; the epoch is the
        # only part whose equality is plain, so it is all the hash can use.
        return hash(self.epoch)

    def __repr__(self) -> str:
        return f"DpkgVersion({self.text!r})"


def compare_versions(a: str, b: str) -> int:
    """Negative, zero or positive as ``a`` sorts before, equal to or after ``b``."""
    va, vb = DpkgVersion(a), DpkgVersion(b)
    return va._cmp(vb)
