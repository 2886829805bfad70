"""Sigstore bundle v0.3 JSON around a DSSE envelope.

Key-based bundles use the public-key *hint* form of ``verificationMaterial`` (no certificate,
no transparency-log entry), which ``cosign verify-blob-attestation --bundle ... --key`` and
sigstore clients accept for keyed verification::

    {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
     "verificationMaterial": {"publicKey": {"hint": "<key id>"}, "tlogEntries": []},
     "dsseEnvelope": {"payload": "...", "payloadType": "application/vnd.in-toto+json",
                      "signatures": [{"sig": "...", "keyid": "<key id>"}]}}

Keyless bundles (certificate, Rekor entry) are recognised here and verified by
:mod:`signing.keyless`.

Example::

    data = key_bundle_json(envelope, signer.key_id)
    parsed = parse_bundle(data)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from signing.dsse import Envelope
from signing.errors import Reason, VerificationError

__all__ = [
    "BUNDLE_MEDIA_TYPES",
    "BUNDLE_V03_MEDIA_TYPE",
    "ParsedBundle",
    "key_bundle",
    "key_bundle_json",
    "parse_bundle",
]

BUNDLE_V03_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_MEDIA_TYPES = (
    BUNDLE_V03_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
)


def key_bundle(envelope: Envelope, key_hint: str) -> dict[str, Any]:
    """The bundle dict for an envelope signed with a key whose id is ``key_hint``."""
    return {
        "mediaType": BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key_hint}, "tlogEntries": []},
        "dsseEnvelope": envelope.to_dict(),
    }


def key_bundle_json(envelope: Envelope, key_hint: str) -> bytes:
    """Canonical-enough bytes of :func:`key_bundle`: sorted keys, indented, trailing newline."""
    text = json.dumps(key_bundle(envelope, key_hint), indent=2, sort_keys=True)
    return (text + "\n").encode("utf-8")


@dataclass(frozen=True, slots=True)
class ParsedBundle:
    """What a bundle holds: its envelope (if DSSE), key hint, and whether it is keyless."""

    media_type: str
    envelope: Envelope | None
    key_hint: str | None
    keyless: bool
    raw: bytes


# The fields of Bundle and VerificationMaterial in sigstore's protobuf-specs (lowerCamelCase,
# as every sigstore client writes them).
_BUNDLE_FIELDS = frozenset(
    {"mediaType", "verificationMaterial", "dsseEnvelope", "messageSignature"}
)
_MATERIAL_FIELDS = frozenset(
    {"publicKey", "x509CertificateChain", "certificate", "tlogEntries", "timestampVerificationData"}
)


def _known_fields(doc: dict[str, Any], known: frozenset[str], what: str) -> None:
    unknown = sorted(set(doc) - known)
    if unknown:
        names = ", ".join(repr(k[:40]) for k in unknown[:5])
        raise VerificationError(Reason.MALFORMED_BUNDLE, f"{what} has unknown fields: {names}")


def parse_bundle(data: bytes) -> ParsedBundle:
    """Parse a bundle's JSON strictly; any problem is ``VerificationError`` (malformed-bundle)."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(Reason.MALFORMED_BUNDLE, f"bundle is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise VerificationError(Reason.MALFORMED_BUNDLE, "bundle is not a JSON object")
    # a field this parser does not know is refused, as protobuf's JSON parser refuses it: it
    # could carry meaning that was never checked (a misspelt ``tlogEntries`` is not "none")
    _known_fields(doc, _BUNDLE_FIELDS, "bundle")
    media_type = doc.get("mediaType")
    if media_type not in BUNDLE_MEDIA_TYPES:
        raise VerificationError(
            Reason.MALFORMED_BUNDLE, f"unsupported bundle media type {media_type!r}"
        )
    material = doc.get("verificationMaterial")
    if not isinstance(material, dict):
        raise VerificationError(Reason.MALFORMED_BUNDLE, "bundle has no verificationMaterial")
    _known_fields(material, _MATERIAL_FIELDS, "verificationMaterial")
    keyless = "certificate" in material or "x509CertificateChain" in material
    hint: str | None = None
    if not keyless:
        pk = material.get("publicKey")
        if not isinstance(pk, dict) or not isinstance(pk.get("hint", ""), str):
            raise VerificationError(
                Reason.MALFORMED_BUNDLE,
                "bundle has neither a certificate nor a publicKey hint in verificationMaterial",
            )
        hint = pk.get("hint") or None
    envelope = None
    if "dsseEnvelope" in doc:
        envelope = Envelope.from_dict(doc["dsseEnvelope"])
    elif "messageSignature" not in doc:
        raise VerificationError(
            Reason.MALFORMED_BUNDLE, "bundle has neither dsseEnvelope nor messageSignature"
        )
    return ParsedBundle(str(media_type), envelope, hint, keyless, data)
