"""Reading manifest JSON safely, finding the line of a JSON path, and looking values up in it.

Manifests are untrusted: ``parse_json_text`` refuses what is not strict UTF-8 JSON or is
nested absurdly deep, with a one-line reason; ``line_index`` maps JSON paths to lines without
recursion; the lookup helpers (``jget``, ``jlist``, ``jstr``, ``jobjects``) walk parsed
documents without ever raising on a value of the wrong type.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator, Mapping
from json.decoder import scanstring  # type: ignore[attr-defined]  # untyped in typeshed
from typing import Any

JsonPath = tuple[str | int, ...]


def jget(data: Any, *keys: str | int) -> Any:
    """Defensive lookup in untrusted JSON: ``None`` as soon as a step has the wrong type."""
    cur = data
    for k in keys:
        if isinstance(k, str) and isinstance(cur, Mapping):
            cur = cur.get(k)
        elif isinstance(k, int) and isinstance(cur, list) and 0 <= k < len(cur):
            cur = cur[k]
        else:
            return None
    return cur


def jlist(value: Any) -> list[Any]:
    """``value`` when it is a JSON list, else an empty list."""
    return value if isinstance(value, list) else []


def jstr(value: Any) -> str | None:
    """``value`` when it is a JSON string, else ``None``."""
    return value if isinstance(value, str) else None


def jobjects(items: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(index, object) for the objects of a JSON list, skipping anything else."""
    for i, item in enumerate(jlist(items)):
        if isinstance(item, Mapping):
            yield i, item


def format_path(parts: JsonPath) -> str:
    """``("nodeGraph", "nodes", 2, "name")`` -> ``nodeGraph.nodes[2].name``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else p
    return out


# --------------------------------------------------------------------------------------------
# Reading JSON safely, depth, and line numbers
# --------------------------------------------------------------------------------------------


def json_depth(data: Any, limit: int = 1000) -> int:
    """Nesting depth of a parsed JSON value, counted iteratively (stops early past ``limit``)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = value.values() if isinstance(value, dict) else value
            stack.extend((c, depth + 1) for c in children)
    return deepest


class JsonTextError(ValueError):
    """A manifest's text is not acceptable JSON; the message is one line."""


def _reject_constant(name: str) -> Any:
    raise JsonTextError(f"{name} is not valid JSON")


def parse_json_text(raw: bytes, *, max_depth: int = 64) -> Any:
    """Parse manifest bytes strictly: UTF-8, real JSON only (no NaN), bounded nesting.

    Raises ``JsonTextError`` with a one-line reason (never a traceback-worthy exception).
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonTextError(f"not UTF-8 text (byte {exc.start})") from exc
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise JsonTextError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise JsonTextError("JSON is nested too deeply") from exc
    except ValueError as exc:  # e.g. int-string conversion limits on huge numbers
        raise JsonTextError(f"invalid JSON: {str(exc).splitlines()[0]}") from exc
    depth = json_depth(data, max_depth)
    if depth > max_depth:
        raise JsonTextError(f"JSON is nested deeper than {max_depth} levels")
    return data


_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


def line_index(text: str, *, max_depth: int = 128) -> dict[JsonPath, int]:
    """Map every JSON path in ``text`` to the 1-based line of its key (or array element).

    A small iterative scanner (no recursion, so deep documents are safe); on malformed input, or
    past ``max_depth`` levels (paths would grow quadratically), it stops and returns what it has
    found so far.
    """
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def line_at(pos: int) -> int:
        return bisect.bisect_right(newlines, pos - 1) + 1

    out: dict[JsonPath, int] = {}
    # Each frame: [is_object, path, next_index_or_key, expecting_key]
    stack: list[list[Any]] = []
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    pending_key: JsonPath | None = ()  # path of the value about to start

    def value_path() -> JsonPath | None:
        if not stack:
            return ()
        frame = stack[-1]
        if frame[0]:
            return pending_key
        return (*frame[1], frame[2])

    try:
        while pos < len(text):
            ch = text[pos]
            if ch in "{[":
                vp = value_path()
                if vp is None:
                    return out
                if len(stack) >= max_depth:
                    return out
                if stack and not stack[-1][0]:
                    out.setdefault(vp, line_at(pos))
                stack.append([ch == "{", vp, 0, ch == "{"])
                pos += 1
            elif ch in "}]":
                stack.pop()
                pos += 1
            elif ch == ",":
                if stack:
                    frame = stack[-1]
                    if frame[0]:
                        frame[3] = True
                    else:
                        frame[2] += 1
                pos += 1
            elif ch == ":":
                pos += 1
            elif ch == '"':
                s, end = scanstring(text, pos + 1)
                if stack and stack[-1][0] and stack[-1][3]:
                    frame = stack[-1]
                    pending_key = (*frame[1], s)
                    out.setdefault(pending_key, line_at(pos))
                    frame[3] = False
                elif stack and not stack[-1][0]:
                    out.setdefault((*stack[-1][1], stack[-1][2]), line_at(pos))
                pos = end
            else:
                m = _SCALAR.match(text, pos)
                if m is None:
                    return out
                if stack and not stack[-1][0]:
                    out.setdefault((*stack[-1][1], stack[-1][2]), line_at(pos))
                pos = m.end()
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
    except (ValueError, IndexError):
        return out
    return out


def line_of(index: Mapping[JsonPath, int], parts: JsonPath) -> int | None:
    """The line of ``parts`` or of its nearest ancestor found in ``index`` (``None`` if none)."""
    p = tuple(parts)
    while p:
        if p in index:
            return index[p]
        p = p[:-1]
    return None
