"""Turning pydantic validation errors into one-line messages that name file, line and key."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from scanner.errors import PolicyError
from scanner.policy._yaml import YamlDocument, dotted

__all__ = ["validation_error"]

_FRIENDLY = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def _real_path(loc: tuple[Any, ...], data: Any) -> tuple[str | int, ...]:
    """Keep only the parts of a pydantic ``loc`` that index into the data.

    pydantic adds union-branch and validator names (``"literal['all']"``, ``"tuple[...]"``)
    to ``loc``; they are not keys a person can find in the file.
    """
    out: list[str | int] = []
    cur = data
    for part in loc:
        in_dict = isinstance(cur, dict) and isinstance(part, str) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if in_dict or in_list:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and isinstance(part, str) and not any(c in part for c in "[]'("):
            # A missing key: name it, its line is its parent's.
            out.append(part)
            cur = None
        else:
            continue
    return tuple(out)


def validation_error(exc: ValidationError, doc: YamlDocument) -> PolicyError:
    """One ``PolicyError`` listing every problem as ``file:line: key: what``, first one first."""
    lines: list[str] = []
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    for err in exc.errors(include_url=False):
        path = _real_path(tuple(err.get("loc", ())), doc.data)
        msg = _FRIENDLY.get(str(err.get("type")), str(err.get("msg", "invalid")))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        line = doc.line(path)
        where = f"{doc.source}:{line}" if line else doc.source
        lines.append(f"{where}: {dotted(path)}: {msg}")
    return PolicyError("\n".join(lines) or f"{doc.source}: invalid")
