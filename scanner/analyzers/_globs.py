"""``GlobSet``: many ``**``-aware globs matched against a relative path, fast.

Every file of a walk is asked "does any analyzer's name pattern match?" several times (the
analyzers' own patterns, the component stage's, the tree analyzers'): on a 20,000-file root
filesystem one combined regex of the form ``(?:(?:.*/)?a|(?:.*/)?b|...)\\Z`` took 3-5 µs per
path, because each ``(?:.*/)?`` alternative backtracks over every ``/`` of the path.

Most globs are ``**/<rest>`` with no other ``**`` and nothing in ``<rest>`` that can match a
``/``: such a ``<rest>`` only ever matches a string with exactly as many ``/`` as it has, so it
can only match the path's last that-many-plus-one segments. ``GlobSet`` groups those globs by
that count and matches each group's anchored regex against the path's tail; the other globs
keep one combined regex over the whole path. The answers are the combined regex's (a property
test compares them), about four times sooner.

Example::

    globs = GlobSet(["**/*.py", "**/requirements/*.txt", "Dockerfile"])
    globs.match("app/src/main.PY")            # True: names match case-insensitively
    globs.match("x/requirements/base.txt")    # True
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

__all__ = ["GlobSet", "glob_to_regex"]

_FLAGS = re.DOTALL | re.IGNORECASE


def glob_to_regex(glob: str) -> str:
    """Translate a ``**``-aware glob to a regex matched against the whole relative path."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            ch = glob[i]
            if ch == "*":
                out.append("[^/]*")
            elif ch == "?":
                out.append("[^/]")
            elif ch == "[":
                j = glob.find("]", i)
                if j == -1:
                    out.append(re.escape(ch))
                else:
                    out.append(fnmatch.translate(glob[i : j + 1])[4:-3])
                    i = j
            else:
                out.append(re.escape(ch))
            i += 1
    return "".join(out)


def _segment_bound(rest: str) -> bool:
    """Whether nothing in ``rest`` (a glob without its ``**/``) can match a ``/`` except its
    own ``/`` separators: no ``**``, and only bracket classes that cannot hold a ``/``."""
    if "**" in rest:
        return False
    i = rest.find("[")
    while i != -1:
        j = rest.find("]", i)
        if j == -1:
            break  # an unclosed ``[`` is a literal
        body = rest[i + 1 : j]
        if body.startswith(("!", "^")) or "/" in body or "-" in body:
            return False  # a negated class or a range may take in ``/``
        i = rest.find("[", j)
    return True


class GlobSet:
    """A set of globs; ``match(path)`` says whether any matches the whole relative path."""

    __slots__ = ("_rest", "_tails")

    def __init__(self, globs: Iterable[str]) -> None:
        tails: dict[int, list[str]] = {}
        rest: list[str] = []
        for glob in globs:
            tail = glob[3:] if glob.startswith("**/") else None
            if tail and _segment_bound(tail):
                tails.setdefault(tail.count("/"), []).append(glob_to_regex(tail))
            else:
                rest.append(glob_to_regex(glob))
        # (slashes in the tail, its regex), fewest first: the commonest globs (``**/*.py``)
        # need no split at all
        self._tails = [
            (n, re.compile("(?:" + "|".join(parts) + r")\Z", _FLAGS))
            for n, parts in sorted(tails.items())
        ]
        self._rest = re.compile("(?:" + "|".join(rest) + r")\Z", _FLAGS) if rest else None

    def match(self, path: str) -> bool:
        """Whether any glob matches all of ``path``."""
        for slashes, rx in self._tails:
            parts = path.rsplit("/", slashes + 1)
            if len(parts) == slashes + 2:
                # the last ``slashes + 1`` segments
                if rx.match(path, len(parts[0]) + 1) is not None:
                    return True
            elif len(parts) == slashes + 1 and rx.match(path) is not None:
                return True  # the path has exactly the tail's segments
        return self._rest is not None and self._rest.match(path) is not None
