"""Key pairs: ECDSA P-256 (default) or Ed25519, encrypted private keys, PEM public keys.

The private key is always written encrypted, in cosign's own format (PEM ``ENCRYPTED SIGSTORE
PRIVATE KEY``: scrypt N=2^16 r=8 p=1, a memory-hard KDF, and NaCl secretbox around the PKCS#8
key; :mod:`signing._cosign_key`), so ``cosign sign-blob --key`` can use it and ``sign`` can use
keys cosign made. Keys written by earlier versions (PKCS#8 ``ENCRYPTED PRIVATE KEY``, PBKDF2 +
AES-256) are still read. The public key is a standard ``PUBLIC KEY`` (SubjectPublicKeyInfo)
PEM that ``openssl`` and ``cosign --key`` read. Passwords are arguments: reading
``PANORAMA_GATE_KEY_PASSWORD`` or prompting is the CLI's job.

Example::

    from signing.keys import KeyType, write_keypair, load_private_key
    priv, pub = write_keypair(Path("ci/cosign"), KeyType.ECDSA_P256, b"s3cret")
    key = load_private_key(priv, b"s3cret")
"""

from __future__ import annotations

import hashlib
import os
from enum import StrEnum
from pathlib import Path
from typing import TypeAlias

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from signing._cosign_key import CosignKeyError, decrypt_pkcs8, encrypt_pkcs8, pem_type
from signing.errors import KeyLoadError, SigningError

__all__ = [
    "KeyType",
    "PrivateKey",
    "PublicKey",
    "generate_private_key",
    "key_id",
    "key_type_of",
    "load_private_key",
    "load_public_key",
    "private_key_pem",
    "public_key_pem",
    "write_keypair",
]

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class KeyType(StrEnum):
    """Supported key algorithms (names as on the ``keygen --type`` flag)."""

    ECDSA_P256 = "ecdsa-p256"
    ED25519 = "ed25519"


def generate_private_key(key_type: KeyType = KeyType.ECDSA_P256) -> PrivateKey:
    """A fresh private key of ``key_type``."""
    if key_type is KeyType.ECDSA_P256:
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def key_type_of(key: PrivateKey | PublicKey) -> KeyType:
    """Which supported type a key is; ``KeyLoadError`` for anything else (e.g. P-384, RSA)."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return KeyType.ECDSA_P256
        raise KeyLoadError(f"unsupported elliptic curve {key.curve.name}: only P-256 is supported")
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return KeyType.ED25519
    raise KeyLoadError(f"unsupported key type {type(key).__name__}: use ECDSA P-256 or Ed25519")


def private_key_pem(key: PrivateKey, password: bytes) -> bytes:
    """cosign's encrypted PEM of ``key``; an empty password is refused (never write keys in
    clear)."""
    if not password:
        raise KeyLoadError(
            "an empty password is not allowed for a private key",
            hint="set PANORAMA_GATE_KEY_PASSWORD or type one at the prompt",
        )
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return encrypt_pkcs8(der, password)


def public_key_pem(key: PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM (``-----BEGIN PUBLIC KEY-----``)."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key: PublicKey) -> str:
    """A stable key id: lower-case hex SHA-256 of the DER SubjectPublicKeyInfo.

    Used as the bundle's public-key ``hint`` and the DSSE signature ``keyid``, so a verifier can
    say "signed by another key" instead of only "bad signature".
    """
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _write_new(path: Path, data: bytes, mode: int, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError as exc:
        raise KeyLoadError(
            f"{path}: already exists; refusing to overwrite a key",
            hint="pass --force to replace it",
        ) from exc
    except OSError as exc:
        raise SigningError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "wb") as fp:
        fp.write(data)
    if force:
        # O_CREAT's mode applies only to new files; an overwritten key must be private too.
        os.chmod(path, mode)


def write_keypair(
    prefix: Path,
    key_type: KeyType = KeyType.ECDSA_P256,
    password: bytes = b"",
    *,
    force: bool = False,
) -> tuple[Path, Path]:
    """Generate a key pair and write ``PREFIX.key`` (encrypted, mode 0600) and ``PREFIX.pub``.

    The names follow cosign's ``cosign.key``/``cosign.pub``. Returns both paths.
    """
    key = generate_private_key(key_type)
    priv_pem = private_key_pem(key, password)
    priv_path = Path(f"{prefix}.key")
    pub_path = Path(f"{prefix}.pub")
    if not priv_path.parent.exists():
        raise KeyLoadError(f"{priv_path.parent}: folder does not exist")
    if not force:
        for p in (priv_path, pub_path):
            if p.exists():
                raise KeyLoadError(
                    f"{p}: already exists; refusing to overwrite a key",
                    hint="pass --force to replace it",
                )
    _write_new(priv_path, priv_pem, 0o600, force)
    _write_new(pub_path, public_key_pem(key.public_key()), 0o644, force)
    return priv_path, pub_path


def load_private_key(path: Path, password: bytes | None) -> PrivateKey:
    """Read a private key: cosign's encrypted format, or an (encrypted) PKCS#8 PEM as earlier
    versions wrote; messages never contain the password."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyLoadError(f"{path}: cannot read private key: {exc.strerror or exc}") from exc
    encrypted = b"ENCRYPTED" in data
    if encrypted and not password:
        raise KeyLoadError(
            f"{path}: the private key is encrypted and no password was given",
            hint="set PANORAMA_GATE_KEY_PASSWORD or type it at the prompt",
        )
    try:
        if pem_type(data) is not None:
            assert password is not None
            key = serialization.load_der_private_key(decrypt_pkcs8(data, password), None)
        else:
            key = serialization.load_pem_private_key(data, password if encrypted else None)
    except CosignKeyError as exc:
        raise KeyLoadError(f"{path}: cannot load private key: {exc}") from exc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # cryptography's text ("Bad decrypt. Incorrect password?") carries no key material or
        # password, so chaining it is safe; our own message says what to do.
        what = "wrong password or corrupt key" if encrypted else "not a PEM private key"
        raise KeyLoadError(f"{path}: cannot load private key: {what}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise KeyLoadError(
            f"{path}: unsupported key type {type(key).__name__}: use ECDSA P-256 or Ed25519"
        )
    key_type_of(key)
    return key


def load_public_key(path: Path) -> PublicKey:
    """Read a PEM public key (SubjectPublicKeyInfo) of a supported type."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyLoadError(f"{path}: cannot read public key: {exc.strerror or exc}") from exc
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"{path}: not a PEM public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise KeyLoadError(
            f"{path}: unsupported key type {type(key).__name__}: use ECDSA P-256 or Ed25519"
        )
    key_type_of(key)
    return key
