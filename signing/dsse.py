"""DSSE (Dead Simple Signing Envelope) v1: pre-authentication encoding, sign and verify.

The signature is over ``PAE(payloadType, payload)``::

    "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload

(lengths in ASCII decimal), so ``openssl dgst -sha256 -verify pub.pem -signature sig.der pae.bin``
checks an ECDSA envelope signature without our tool.

Example::

    env = sign_envelope(signer, IN_TOTO_PAYLOAD_TYPE, statement_bytes)
    assert verify_envelope(env, verifier)
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from signing._base64 import decode_canonical
from signing.errors import Reason, VerificationError
from signing.signer import Signer, Verifier

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "Envelope",
    "EnvelopeSignature",
    "pae",
    "sign_envelope",
    "verify_envelope",
]

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of ``payload`` with its type."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@dataclass(frozen=True, slots=True)
class EnvelopeSignature:
    """One signature of an envelope; ``keyid`` may be empty."""

    sig: bytes
    keyid: str = ""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A DSSE envelope: payload bytes, their type, and one or more signatures."""

    payload: bytes
    payload_type: str
    signatures: tuple[EnvelopeSignature, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used inside a Sigstore bundle (standard base64)."""
        return {
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "payloadType": self.payload_type,
            "signatures": [
                {"sig": base64.b64encode(s.sig).decode("ascii"), "keyid": s.keyid}
                for s in self.signatures
            ],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Envelope:
        """Parse the JSON form strictly (anything odd: a malformed-bundle error)."""
        try:
            if not isinstance(data, dict):
                raise TypeError("dsseEnvelope is not an object")
            if set(data) - {"payload", "payloadType", "signatures"}:
                raise TypeError("dsseEnvelope has unknown fields")  # as protobuf's parser says
            payload = decode_canonical(data["payload"])
            payload_type = data["payloadType"]
            if not isinstance(payload_type, str):
                raise TypeError("payloadType is not a string")
            sigs = []
            for s in data["signatures"]:
                if not isinstance(s, dict) or set(s) - {"sig", "keyid"}:
                    raise TypeError("a signature is not an object of sig and keyid")
                keyid = s.get("keyid", "") or ""
                if not isinstance(keyid, str):
                    raise TypeError("keyid is not a string")
                sigs.append(EnvelopeSignature(decode_canonical(s["sig"]), keyid))
        except (KeyError, TypeError, AttributeError, binascii.Error, ValueError) as exc:
            raise VerificationError(
                Reason.MALFORMED_BUNDLE, f"DSSE envelope is malformed: {exc}"
            ) from exc
        if not sigs:
            raise VerificationError(Reason.MALFORMED_BUNDLE, "DSSE envelope has no signature")
        return cls(payload, payload_type, tuple(sigs))


def sign_envelope(signer: Signer, payload_type: str, payload: bytes) -> Envelope:
    """Sign ``payload`` as a DSSE envelope with one signature whose keyid is the signer's."""
    sig = signer.sign(pae(payload_type, payload))
    return Envelope(payload, payload_type, (EnvelopeSignature(sig, signer.key_id),))


def verify_envelope(envelope: Envelope, verifier: Verifier) -> bool:
    """Whether any signature of ``envelope`` verifies with ``verifier`` over its PAE."""
    message = pae(envelope.payload_type, envelope.payload)
    return any(verifier.verify(s.sig, message) for s in envelope.signatures)
