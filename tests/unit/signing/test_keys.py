"""Key generation and loading: types, encryption, PEM interop with openssl, refusals."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.secret
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
from tests.helpers.signing_fixtures import PASSWORD, Keys


@pytest.mark.parametrize("key_type", list(KeyType), ids=[k.value for k in KeyType])
def test_keygen_writes_encrypted_private_and_standard_public(
    tmp_path: Path, key_type: KeyType
) -> None:
    priv, pub = write_keypair(tmp_path / "k", key_type, PASSWORD)
    assert (priv.name, pub.name) == ("k.key", "k.pub")
    text = priv.read_text()
    # cosign's own format: scrypt (memory-hard) + NaCl secretbox around the PKCS#8 key.
    assert text.startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    doc = _cosign_json(priv)
    assert doc["kdf"]["name"] == "scrypt"
    assert doc["kdf"]["params"]["N"] >= 2**15
    assert doc["cipher"]["name"] == "nacl/secretbox"
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert pub.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    key = load_private_key(priv, PASSWORD)
    expected = (
        ec.EllipticCurvePrivateKey if key_type is KeyType.ECDSA_P256 else ed25519.Ed25519PrivateKey
    )
    assert isinstance(key, expected)
    assert key_id(key.public_key()) == key_id(load_public_key(pub))


def _cosign_json(path: Path) -> dict[str, Any]:
    lines = path.read_text().strip().splitlines()
    return json.loads(base64.b64decode("".join(lines[1:-1])))  # type: ignore[no-any-return]


@pytest.mark.parametrize("key_type", list(KeyType), ids=[k.value for k in KeyType])
def test_key_opened_by_hand_is_read_by_openssl(tmp_path: Path, key_type: KeyType) -> None:
    # The format decoded by hand, as cosign's Go code does it (scrypt from hashlib, secretbox
    # from libsodium), gives a PKCS#8 key that openssl reads: the same public key.
    priv, pub = write_keypair(tmp_path / "k", key_type, PASSWORD)
    doc = _cosign_json(priv)
    params = doc["kdf"]["params"]
    key = hashlib.scrypt(
        PASSWORD,
        salt=base64.b64decode(doc["kdf"]["salt"]),
        n=params["N"],
        r=params["r"],
        p=params["p"],
        maxmem=256 * 1024 * 1024,
        dklen=32,
    )
    der = nacl.secret.SecretBox(key).decrypt(
        base64.b64decode(doc["ciphertext"]), base64.b64decode(doc["cipher"]["nonce"])
    )
    (tmp_path / "k.der").write_bytes(der)
    out = subprocess.run(
        ["openssl", "pkey", "-inform", "DER", "-in", str(tmp_path / "k.der"), "-pubout"],
        capture_output=True,
        check=True,
    ).stdout
    assert out == pub.read_bytes()
    subprocess.run(["openssl", "pkey", "-pubin", "-in", str(pub), "-noout"], check=True)


# A key and password from cosign's own test data (sigstore/cosign pkg/cosign/keys_test.go,
# `pemsigstorekey`, Apache-2.0), written by cosign's key code: the reader is checked against
# a file cosign made, not only against our own writer.
COSIGN_KEY = """-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----
eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjozMjc2OCwiciI6
OCwicCI6MX0sInNhbHQiOiI3T3VGd2VsbWZZNXVId2NoaURSc210anNwZ2ZlZjFG
Mk5lOGFDTjVLYVpZPSJ9LCJjaXBoZXIiOnsibmFtZSI6Im5hY2wvc2VjcmV0Ym94
Iiwibm9uY2UiOiJQNHk4OGhCb3ZTa09MbXN0bFVBaGJwdDJ0K2xTNUxQSCJ9LCJj
aXBoZXJ0ZXh0IjoiMnB1QzdyZldJOWh3bnJlQ2s4aUZDRlVwQlRrSzRJNlIvbFBF
cnBDekpXUGpJWXl4eGVIL1A2VW52cFJHdVhla1NNb3JMdGhLamdoQ1JlNy82NDVH
QWtoVm1LRC92eEF0S2EvbE1abENSQ3FlekJGUFd1dzNpeFRtZ2xhb2J1ZFVSbUVs
bmNGOGlZbzBTMVl6Y1ZOMVFwY2J2c0dNcUlYRzVlbmdteGp5dCtBcXlyZTF0Q0Y0
V01tU1BlaEljNlBqd2h1Q2xHaVpJUWRvTGc9PSJ9
-----END ENCRYPTED SIGSTORE PRIVATE KEY-----
"""


def test_a_key_cosign_made_signs_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "cosign.key"
    path.write_text(COSIGN_KEY)
    signer = load_signer(path, b"hello")
    assert signer.key_type is KeyType.ECDSA_P256
    signature = signer.sign(b"payload")
    pub = tmp_path / "cosign.pub"
    pub.write_bytes(
        signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert load_verifier(pub).verify(signature, b"payload")
    with pytest.raises(KeyLoadError, match="wrong password"):
        load_private_key(path, b"hell0")


def test_keys_written_by_earlier_versions_still_load(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    old = tmp_path / "old.key"
    old.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSWORD),
        )
    )
    assert key_id(load_private_key(old, PASSWORD).public_key()) == key_id(key.public_key())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["kdf"]["params"].update(N=2**30), "out of bounds"),
        (lambda d: d["kdf"]["params"].update(N=1000), "out of bounds"),
        (lambda d: d["kdf"].update(name="pbkdf2"), "only scrypt"),
        (lambda d: d["cipher"].update(nonce="AAAA"), "not 24 bytes"),
        (lambda d: d.update(ciphertext="%%%"), "not base64"),
    ],
    ids=["huge-N", "N-not-power-of-two", "other-kdf", "short-nonce", "bad-ciphertext"],
)
def test_hostile_key_files_are_refused_quickly(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    priv, _ = write_keypair(tmp_path / "k", KeyType.ECDSA_P256, PASSWORD)
    doc = _cosign_json(priv)
    change(doc)
    body = base64.b64encode(json.dumps(doc).encode()).decode()
    priv.write_text(
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
        + body
        + "\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    )
    with pytest.raises(KeyLoadError, match=message) as info:
        load_private_key(priv, PASSWORD)
    assert info.value.exit_code == 2
    assert PASSWORD.decode() not in info.value.diagnostics()


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
