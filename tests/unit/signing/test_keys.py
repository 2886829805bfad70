"""Key generation and loading: types, encryption, PEM interop with openssl, refusals."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from signing.errors import KeyLoadError
from signing.keys import (
    KeyType,
    key_id,
    load_private_key,
    load_public_key,
    private_key_pem,
    write_keypair,
)
from signing.signer import load_signer, load_verifier
from tests.unit.signing.conftest import PASSWORD, Keys


@pytest.mark.parametrize("key_type", list(KeyType), ids=[k.value for k in KeyType])
def test_keygen_writes_encrypted_private_and_standard_public(
    tmp_path: Path, key_type: KeyType
) -> None:
    priv, pub = write_keypair(tmp_path / "k", key_type, PASSWORD)
    assert (priv.name, pub.name) == ("k.key", "k.pub")
    text = priv.read_text()
    assert text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert pub.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    key = load_private_key(priv, PASSWORD)
    expected = (
        ec.EllipticCurvePrivateKey if key_type is KeyType.ECDSA_P256 else ed25519.Ed25519PrivateKey
    )
    assert isinstance(key, expected)
    assert key_id(key.public_key()) == key_id(load_public_key(pub))


@pytest.mark.parametrize("key_type", list(KeyType), ids=[k.value for k in KeyType])
def test_openssl_reads_both_keys(tmp_path: Path, key_type: KeyType) -> None:
    priv, pub = write_keypair(tmp_path / "k", key_type, PASSWORD)
    out = subprocess.run(
        ["openssl", "pkey", "-in", str(priv), "-passin", f"pass:{PASSWORD.decode()}", "-pubout"],
        capture_output=True,
        check=True,
    ).stdout
    assert out == pub.read_bytes()
    subprocess.run(["openssl", "pkey", "-pubin", "-in", str(pub), "-noout"], check=True)


def test_wrong_password_is_a_clear_error_without_the_password(ec_keys: Keys) -> None:
    with pytest.raises(KeyLoadError, match="wrong password") as info:
        load_private_key(ec_keys.private, b"hunter2-wrong")
    assert "hunter2" not in info.value.diagnostics()
    assert info.value.exit_code == 2


def test_encrypted_key_without_password(ec_keys: Keys) -> None:
    with pytest.raises(KeyLoadError, match="no password was given"):
        load_private_key(ec_keys.private, None)


def test_refuses_to_overwrite_and_force_replaces(tmp_path: Path) -> None:
    priv, _ = write_keypair(tmp_path / "k", KeyType.ECDSA_P256, PASSWORD)
    before = priv.read_bytes()
    with pytest.raises(KeyLoadError, match="already exists"):
        write_keypair(tmp_path / "k", KeyType.ECDSA_P256, PASSWORD)
    assert priv.read_bytes() == before
    write_keypair(tmp_path / "k", KeyType.ECDSA_P256, PASSWORD, force=True)
    assert priv.read_bytes() != before
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600


def test_empty_password_refused() -> None:
    with pytest.raises(KeyLoadError, match="empty password"):
        private_key_pem(ec.generate_private_key(ec.SECP256R1()), b"")


def test_unsupported_curve_and_garbage(tmp_path: Path) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "p384.pub").write_bytes(
        p384.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(KeyLoadError, match="only P-256"):
        load_public_key(tmp_path / "p384.pub")
    (tmp_path / "junk.pub").write_text("not a key")
    with pytest.raises(KeyLoadError, match="not a PEM public key"):
        load_verifier(tmp_path / "junk.pub")
    with pytest.raises(KeyLoadError, match="cannot read private key"):
        load_signer(tmp_path / "absent.key", PASSWORD)


def test_signer_repr_hides_password(ec_keys: Keys) -> None:
    signer = load_signer(ec_keys.private, PASSWORD)
    assert PASSWORD.decode() not in repr(signer)
    assert "BEGIN" not in repr(signer)
