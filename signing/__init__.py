"""Signing and verification of approved Panorama targets, in the ecosystem's own formats.

Public API (everything else is internal and may change):

* keys: :class:`KeyType`, :func:`write_keypair`, :func:`load_private_key`,
  :func:`load_public_key`, :func:`key_id`;
* signers: :class:`Signer`, :class:`Verifier`, :func:`load_signer` (PEM private key file or
  ``awskms://`` reference), :func:`load_verifier` (PEM public key or ``awskms://``);
* digests: :func:`sha256_file` (streaming, 1 MiB reads, read once), :func:`sha256_bytes`;
* gate: :func:`sign_target` (refuses unless approved and digests match) and
  :func:`verify_target` (fails closed), with :class:`SignResult` / :class:`VerifyResult`;
* detached blobs: :func:`sign_blob` / :func:`verify_blob` (cosign ``sign-blob`` form);
* keyless: :class:`KeylessIdentity`, :func:`verify_keyless_digest` (offline);
* formats: :data:`PREDICATE_TYPE`, :data:`ATTESTATION_FILE`;
* errors: :class:`SigningError`, :class:`KeyLoadError`, :class:`SignRefusedError`,
  :class:`VerificationError` (each with ``diagnostics()``; the last two carry a ``reason``).

Example::

    from pathlib import Path
    from signing import load_signer, load_verifier, sign_target, verify_target

    sign_target(Path("app"), Path("report.json"), load_signer("ci.key", b"pw"), Path("sigs"))
    verify_target(Path("app"), Path("sigs"), load_verifier("ci.pub"))
"""

from __future__ import annotations

from signing.blob import sign_blob, verify_blob
from signing.digest import CHUNK_SIZE, FileDigest, sha256_bytes, sha256_file
from signing.errors import (
    KeyLoadError,
    Reason,
    SigningError,
    SignRefusedError,
    VerificationError,
)
from signing.keyless import KeylessIdentity, verify_keyless_digest, verify_keyless_dsse
from signing.keys import KeyType, key_id, load_private_key, load_public_key, write_keypair
from signing.sign import ATTESTATION_FILE, SignResult, sign_target
from signing.signer import Signer, Verifier, load_signer, load_verifier
from signing.statement import PREDICATE_TYPE
from signing.verify import VerifyResult, verify_attestation, verify_target

__all__ = [
    "ATTESTATION_FILE",
    "CHUNK_SIZE",
    "PREDICATE_TYPE",
    "FileDigest",
    "KeyLoadError",
    "KeyType",
    "KeylessIdentity",
    "Reason",
    "SignRefusedError",
    "SignResult",
    "Signer",
    "SigningError",
    "VerificationError",
    "Verifier",
    "VerifyResult",
    "key_id",
    "load_private_key",
    "load_public_key",
    "load_signer",
    "load_verifier",
    "sha256_bytes",
    "sha256_file",
    "sign_blob",
    "sign_target",
    "verify_attestation",
    "verify_blob",
    "verify_keyless_digest",
    "verify_keyless_dsse",
    "verify_target",
    "write_keypair",
]
