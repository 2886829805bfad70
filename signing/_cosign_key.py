"""cosign's encrypted private key format: scrypt + NaCl secretbox around a PKCS#8 key (internal).

cosign writes a private key as PEM type ``ENCRYPTED SIGSTORE PRIVATE KEY`` (``ENCRYPTED COSIGN
PRIVATE KEY`` before v2) whose body is the JSON of go-securesystemslib's ``encrypted``
package::

    {"kdf": {"name": "scrypt", "params": {"N": 65536, "r": 8, "p": 1}, "salt": "<base64>"},
     "cipher": {"name": "nacl/secretbox", "nonce": "<base64, 24 bytes>"},
     "ciphertext": "<base64: XSalsa20-Poly1305 of the PKCS#8 DER key>"}

The password is stretched with scrypt (memory-hard: N=2^16, r=8 takes 64 MiB per guess) into
the 32-byte secretbox key. The parameters travel in the file, so cosign reads what is written
here and this module reads what cosign writes (tested with a key and password from cosign's
own test data). scrypt comes from ``cryptography``; secretbox from PyNaCl (libsodium).

Example::

    pem = encrypt_pkcs8(der, b"password")
    der = decrypt_pkcs8(pem, b"password")
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

import nacl.exceptions
import nacl.secret
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

__all__ = ["PEM_TYPES", "SIGSTORE_PEM_TYPE", "CosignKeyError", "decrypt_pkcs8", "encrypt_pkcs8"]

SIGSTORE_PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY"
PEM_TYPES = (SIGSTORE_PEM_TYPE, "ENCRYPTED COSIGN PRIVATE KEY")

SCRYPT_N = 1 << 16
SCRYPT_R = 8
SCRYPT_P = 1
# Bounds on what a key file may ask for: a hostile file must not make scrypt take gigabytes.
_MAX_N = 1 << 20
_MAX_R = 32
_MAX_P = 16


class CosignKeyError(ValueError):
    """The file is not a cosign key, or the password does not open it (never says which bytes)."""


def _b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise CosignKeyError(f"{what} is missing")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CosignKeyError(f"{what} is not base64") from exc


def _key(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=nacl.secret.SecretBox.KEY_SIZE, n=n, r=r, p=p).derive(password)


def encrypt_pkcs8(der: bytes, password: bytes) -> bytes:
    """A PEM ``ENCRYPTED SIGSTORE PRIVATE KEY`` holding the PKCS#8 DER ``der``."""
    salt = os.urandom(32)
    nonce = os.urandom(nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(_key(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))
    sealed = box.encrypt(der, nonce).ciphertext
    # The field order of go-securesystemslib's structs, so the JSON reads like cosign's own.
    doc = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    body = base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join(
        [f"-----BEGIN {SIGSTORE_PEM_TYPE}-----", *lines, f"-----END {SIGSTORE_PEM_TYPE}-----", ""]
    ).encode()


def pem_type(data: bytes) -> str | None:
    """The cosign PEM type ``data`` starts with, if any."""
    text = data.lstrip()
    for t in PEM_TYPES:
        if text.startswith(f"-----BEGIN {t}-----".encode()):
            return t
    return None


def _params(doc: Any) -> tuple[bytes, int, int, int, bytes, bytes]:
    if not isinstance(doc, dict):
        raise CosignKeyError("not a cosign key document")
    kdf, cipher = doc.get("kdf"), doc.get("cipher")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise CosignKeyError("unsupported key derivation (only scrypt)")
    if not isinstance(cipher, dict) or cipher.get("name") != "nacl/secretbox":
        raise CosignKeyError("unsupported cipher (only nacl/secretbox)")
    params = kdf.get("params")
    if not isinstance(params, dict):
        raise CosignKeyError("scrypt parameters are missing")
    n, r, p = params.get("N"), params.get("r"), params.get("p")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (n, r, p)):
        raise CosignKeyError("scrypt parameters are not positive integers")
    assert isinstance(n, int)
    assert isinstance(r, int)
    assert isinstance(p, int)
    if n & (n - 1) or n > _MAX_N or r > _MAX_R or p > _MAX_P:
        raise CosignKeyError(f"scrypt parameters N={n} r={r} p={p} are out of bounds")
    nonce = _b64(cipher.get("nonce"), "nonce")
    if len(nonce) != nacl.secret.SecretBox.NONCE_SIZE:
        raise CosignKeyError("the nonce is not 24 bytes")
    return _b64(kdf.get("salt"), "salt"), n, r, p, nonce, _b64(doc.get("ciphertext"), "ciphertext")


def decrypt_pkcs8(data: bytes, password: bytes) -> bytes:
    """The DER private key inside a cosign PEM; ``CosignKeyError`` on anything wrong."""
    kind = pem_type(data)
    if kind is None:
        raise CosignKeyError("not a cosign encrypted private key")
    text = data.decode("ascii", errors="replace").strip()
    end = f"-----END {kind}-----"
    if not text.endswith(end):
        raise CosignKeyError("the PEM block is not closed")
    body = text[len(f"-----BEGIN {kind}-----") : -len(end)]
    try:
        doc = json.loads(base64.b64decode("".join(body.split()), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise CosignKeyError("the PEM body is not base64 JSON") from exc
    salt, n, r, p, nonce, sealed = _params(doc)
    try:
        return nacl.secret.SecretBox(_key(password, salt, n, r, p)).decrypt(sealed, nonce)
    except nacl.exceptions.CryptoError as exc:
        raise CosignKeyError("wrong password or corrupt key") from exc
