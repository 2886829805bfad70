"""Is this a pickle? Sniffs on a file's first bytes, answered by walking them.

A prefix counts when the symbolic machine (``_pickle_vm``) walks it cleanly up to the point
where the bytes run out, so the sniffs agree with what a full scan would accept.
"""

from __future__ import annotations

import io

from scanner.analyzers.ml._pickle_vm import PickleError, scan_pickle

__all__ = ["looks_like_pickle"]


def looks_like_pickle(prefix: bytes) -> bool:
    """A cheap sniff: protocol 2+ header, or a protocol 0/1 stream opening with a plausible op."""
    if len(prefix) >= 2 and prefix[0] == 0x80 and prefix[1] <= 5:
        return True
    return bool(prefix[:1]) and prefix[:1] in (b"c", b"(", b"]", b"}", b")") and _parses(prefix)


def _parses(prefix: bytes) -> bool:
    """Whether a short prefix walks cleanly up to the point where it runs out of bytes."""
    try:
        scan_pickle(io.BytesIO(prefix), max_ops=10_000)
    except PickleError as exc:
        return str(exc).startswith("truncated")
    return True
