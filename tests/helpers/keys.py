"""Test keys and certificates made with ``cryptography`` (no openssl binary needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

__all__ = ["rsa_pem", "self_signed_cert", "write_rsa_keypair"]


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # small: tests only


def rsa_pem(*, password: bytes | None = None, traditional: bool = False) -> bytes:
    """A fresh RSA private key: PKCS#8 (optionally encrypted) or traditional OpenSSL PEM."""
    fmt = ser.PrivateFormat.TraditionalOpenSSL if traditional else ser.PrivateFormat.PKCS8
    enc: ser.KeySerializationEncryption = (
        ser.BestAvailableEncryption(password) if password else ser.NoEncryption()
    )
    return _key().private_bytes(ser.Encoding.PEM, fmt, enc)


def self_signed_cert(key_pem: bytes) -> bytes:
    """A self-signed PEM certificate for ``key_pem`` (CN=shelf, valid two days)."""
    key = ser.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shelf")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(ser.Encoding.PEM)


def write_rsa_keypair(private: Path, public: Path, bits: int = 3072) -> None:
    """An unencrypted PKCS#8 RSA private key and its SubjectPublicKeyInfo, as PEM files (3072
    bits by default: the envelope-encryption keyring refuses small keys)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private.write_bytes(
        key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
    )
