"""Canonical base64 only: one signature, one encoding.

Python's decoder ignores the unused low bits of a base64 string's last character, so
``...Q==`` and ``...R==`` decode to the same bytes. A verifier that took both would accept a
changed signature file or envelope as the original (and the property "any changed byte fails
verification" would not hold). Everything this project writes is canonical, and so is what
cosign and sigstore write; anything else is refused.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode_canonical"]


def decode_canonical(text: str | bytes) -> bytes:
    """The bytes ``text`` encodes in standard base64; ``binascii.Error`` unless canonical."""
    raw = text.encode("ascii") if isinstance(text, str) else text
    data = base64.b64decode(raw, validate=True)
    if base64.b64encode(data) != raw:
        raise binascii.Error("not the canonical base64 of its bytes")
    return data
