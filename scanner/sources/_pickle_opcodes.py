"""Pickle opcode framing for the sniffer: does a head walk as pickle opcodes?

Protocol 0 and 1 pickles have no header; this is how they are recognised, from argument
framing alone (no stack), cheaply. Private to ``scanner.sources.sniff``.
"""

from __future__ import annotations

import re

__all__ = ["TEXT_BYTES", "pickle_opcodes_walk"]


# Argument framing of every pickle opcode: "line" (newline-terminated), "line2" (two lines),
# a fixed byte count, or ("len", width) for a length-prefixed argument.
_ARGS: dict[int, object] = {
    **dict.fromkeys(b"().012NQRabdelostu}]", 0),
    **dict.fromkeys(bytes([0x81, *range(0x85, 0x8A), *range(0x8F, 0x95), 0x97, 0x98]), 0),
    ord("c"): "line2",
    ord("i"): "line2",
    **dict.fromkeys(b"FIKLPSVgp", "line"),
    ord("G"): 8,
    ord("J"): 4,
    ord("K"): 1,
    ord("M"): 2,
    ord("h"): 1,
    ord("j"): 4,
    ord("q"): 1,
    ord("r"): 4,
    0x80: 1,
    0x82: 1,
    0x83: 2,
    0x84: 4,
    0x95: 8,
    0x8A: ("len", 1),
    0x8B: ("len", 4),
    ord("T"): ("len", 4),
    ord("U"): ("len", 1),
    ord("X"): ("len", 4),
    ord("B"): ("len", 4),
    ord("C"): ("len", 1),
    0x8C: ("len", 1),
    0x8D: ("len", 8),
    0x8E: ("len", 8),
    0x96: ("len", 8),
}
TEXT_BYTES = bytes(range(0x20, 0x7F)) + b"\t\r\n\f\x1b" + bytes(range(0x80, 0x100))
# Protocol 0 is printable: its opcodes (and only those) can make up a pickle with no control byte.
_PROTOCOL0 = {op: _ARGS[op] for op in b"(.012FILNPRSVabcdgilpst"}
# A pickle starts by pushing something: it never opens with POP, DUP, REDUCE, BUILD, a memo
# store or STOP (prose such as "0.20.4" would otherwise be POP, STOP).
_FIRST = frozenset(b"(cFILNPSVGJKMTUXBC)]}" + bytes([0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x8D, 0x8E]))
_FIRST |= frozenset(bytes([0x8F, 0x95, 0x96, 0x97, 0x82, 0x83, 0x84]))
_IDENT = re.compile(rb"[A-Za-z_][\w.]*\Z")
_NUMBER = re.compile(rb"-?(?:\d+L?|0x[0-9a-fA-F]+|\d*\.\d*(?:[eE][-+]?\d+)?|inf|nan)\Z")


def pickle_opcodes_walk(data: bytes, *, min_ops: int = 12) -> bool:
    """Whether ``data`` walks as pickle opcodes to a STOP (or to its end, after ``min_ops``).

    Only argument framing is checked (no stack): cheap, and text or random bytes fail within a
    few opcodes. Protocol 0/1 pickles have no header, so this is how they are recognised. Text
    (no control bytes) walks with protocol 0's printable opcodes, twice as far: prose that
    happens to start with an opcode letter fails on its argument lines. Protocol 1+ opcodes can
    be printable too (``M90.``, names put in the memo): such a text counts when it reaches STOP
    with at least six opcodes, or is a whole tiny pickle.
    """
    if not data or data[0] not in _FIRST:
        return False
    if data.translate(None, TEXT_BYTES):
        outcome, _, _ = _walk(data, _ARGS, min_ops)
        return outcome != "fail"
    outcome, _, _ = _walk(data, _PROTOCOL0, 2 * min_ops)
    if outcome != "fail":
        return True
    outcome, end, ops = _walk(data, _ARGS, 1 << 30)
    return outcome == "stop" and (ops >= 6 or end == len(data))


def _walk(data: bytes, allowed: dict[int, object], min_ops: int) -> tuple[str, int, int]:
    """Walk opcodes: ("stop", offset after STOP, ops), ("ran-out", ...) after ``min_ops``
    opcodes with the data ending mid-pickle, or ("fail", ...)."""
    pos = 0
    ops = 0
    n = len(data)
    while pos < n:
        op = data[pos]
        spec = allowed.get(op)
        if spec is None:
            return "fail", pos, ops
        pos += 1
        ops += 1
        if op == ord("."):
            return ("stop" if ops >= 2 else "fail"), pos, ops
        if spec == 0:
            continue
        if isinstance(spec, int):
            pos += spec
            continue
        if spec in ("line", "line2"):
            for i in range(2 if spec == "line2" else 1):
                end = data.find(b"\n", pos)
                if end < 0:
                    return ("ran-out" if ops >= min_ops else "fail"), pos, ops
                if not _line_arg_ok(op, data[pos:end], i):
                    return "fail", pos, ops
                pos = end + 1
            continue
        assert isinstance(spec, tuple)
        width = spec[1]
        if pos + width > n:
            return ("ran-out" if ops >= min_ops else "fail"), pos, ops
        length = int.from_bytes(data[pos : pos + width], "little", signed=width == 4)
        if length < 0 or length > 1 << 40:
            return "fail", pos, ops
        pos += width + length
    return ("ran-out" if ops >= min_ops else "fail"), pos, ops


def _line_arg_ok(op: int, arg: bytes, index: int) -> bool:
    if op in (ord("c"), ord("i")):
        return _IDENT.match(arg.strip()) is not None or (index == 1 and arg[:1].isalpha())
    if op in (ord("I"), ord("L"), ord("F"), ord("g"), ord("p")):
        return _NUMBER.match(arg.strip()) is not None
    if op == ord("S"):
        return len(arg) >= 2 and arg[:1] in (b"'", b'"') and arg[-1:] == arg[:1]
    return True  # V (unicode), P (persistent id)
