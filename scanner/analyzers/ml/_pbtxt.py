"""TensorFlow text protobufs (``saved_model.pbtxt``, ``graph.pbtxt``): the ops their graphs use.

TensorFlow loads a SavedModel from ``saved_model.pbtxt`` as readily as from the binary form,
so its graph is checked the same way. In the text format a ``NodeDef`` (in a graph or a
function library) names its operation as ``op: "ReadFile"``; op *definitions* in the stripped
op list are ``op { name: ... }`` blocks and do not match. The text is streamed line by line.

Example::

    ops = pbtxt_ops(io.BytesIO(b'node { name: "r" op: "ReadFile" }'))   # {"ReadFile": "r"}
"""

from __future__ import annotations

import re
from typing import BinaryIO

__all__ = ["pbtxt_ops"]

_OP = re.compile(rb'\bop\s*:\s*"((?:[^"\\]|\\.){1,200})"')
_NAME = re.compile(rb'\bname\s*:\s*"((?:[^"\\]|\\.){0,500})"')
_MAX_LINE = 1 << 20


def pbtxt_ops(f: BinaryIO, max_bytes: int = 1 << 32) -> dict[str, str]:
    """Op type -> name of the first node using it, for a text-format graph or SavedModel."""
    ops: dict[str, str] = {}
    last_name = ""
    read = 0
    while read < max_bytes:
        line = f.readline(_MAX_LINE)
        if not line:
            break
        read += len(line)
        # name and op may share a line (one-line nodes): take them in order of appearance
        events = sorted(
            [(m.start(), "name", m.group(1)) for m in _NAME.finditer(line)]
            + [(m.start(), "op", m.group(1)) for m in _OP.finditer(line)]
        )
        for _, what, value in events:
            text = value.decode("utf-8", "replace")
            if what == "name":
                last_name = text
            else:
                ops.setdefault(text, last_name)
    return ops
