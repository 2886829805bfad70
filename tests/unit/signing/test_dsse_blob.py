"""DSSE envelopes, bundles and detached blob signatures, cross-checked with openssl."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
from sigstore_models.bundle.v1 import Bundle as SigstoreBundle

from signing.blob import decode_signature, sign_blob, verify_blob
from signing.bundle import BUNDLE_V03_MEDIA_TYPE, key_bundle_json, parse_bundle
from signing.dsse import IN_TOTO_PAYLOAD_TYPE, Envelope, pae, sign_envelope, verify_envelope
from signing.errors import Reason, VerificationError
from signing.keys import KeyType
from signing.signer import load_signer, load_verifier
from tests.helpers.signing_fixtures import PASSWORD, Keys


def test_pae_matches_the_dsse_spec_vector() -> None:
    # The example from the DSSE v1 protocol document.
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def _openssl_verify(
    keys: Keys, sig: bytes, message_file: Path, tmp_path: Path
) -> subprocess.CompletedProcess[bytes]:
    sig_file = tmp_path / "sig.bin"
    sig_file.write_bytes(sig)
    if keys.key_type is KeyType.ECDSA_P256:
        cmd = [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            str(keys.public),
            "-signature",
            str(sig_file),
            str(message_file),
        ]
    else:
        cmd = [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            str(keys.public),
            "-rawin",
            "-in",
            str(message_file),
            "-sigfile",
            str(sig_file),
        ]
    return subprocess.run(cmd, capture_output=True)


def test_dsse_round_trip_and_openssl_checks_the_pae_signature(keys: Keys, tmp_path: Path) -> None:
    signer = load_signer(keys.private, PASSWORD)
    payload = json.dumps({"_type": "https://in-toto.io/Statement/v1"}).encode()
    env = sign_envelope(signer, IN_TOTO_PAYLOAD_TYPE, payload)
    assert verify_envelope(env, load_verifier(keys.public))
    pae_file = tmp_path / "pae.bin"
    pae_file.write_bytes(pae(IN_TOTO_PAYLOAD_TYPE, payload))
    ok = _openssl_verify(keys, env.signatures[0].sig, pae_file, tmp_path)
    assert ok.returncode == 0, ok.stderr
    pae_file.write_bytes(pae(IN_TOTO_PAYLOAD_TYPE, payload + b" "))
    assert _openssl_verify(keys, env.signatures[0].sig, pae_file, tmp_path).returncode != 0


def test_bundle_is_a_valid_sigstore_v03_bundle_with_key_hint(ec_keys: Keys) -> None:
    signer = load_signer(ec_keys.private, PASSWORD)
    env = sign_envelope(signer, IN_TOTO_PAYLOAD_TYPE, b"{}")
    data = key_bundle_json(env, signer.key_id)
    doc = json.loads(data)
    assert doc["mediaType"] == BUNDLE_V03_MEDIA_TYPE
    assert doc["verificationMaterial"] == {"publicKey": {"hint": signer.key_id}, "tlogEntries": []}
    SigstoreBundle.from_json(data)  # the official schema accepts it
    parsed = parse_bundle(data)
    assert parsed.key_hint == signer.key_id
    assert not parsed.keyless
    assert parsed.envelope == env


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"mediaType": "x"}',
        json.dumps(
            {"mediaType": BUNDLE_V03_MEDIA_TYPE, "verificationMaterial": {"publicKey": {}}}
        ).encode(),
        json.dumps(
            {
                "mediaType": BUNDLE_V03_MEDIA_TYPE,
                "verificationMaterial": {"publicKey": {}},
                "dsseEnvelope": {"payload": "!!", "payloadType": "x", "signatures": []},
            }
        ).encode(),
    ],
    ids=["not-json", "not-object", "media-type", "no-content", "bad-base64"],
)
def test_malformed_bundles(data: bytes) -> None:
    with pytest.raises(VerificationError) as info:
        parse_bundle(data)
    assert info.value.reason is Reason.MALFORMED_BUNDLE


def test_detached_blob_round_trip_and_openssl(keys: Keys, tmp_path: Path) -> None:
    blob = tmp_path / "asset.tar.gz"
    blob.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 5000)
    signer = load_signer(keys.private, PASSWORD)
    digest, sig_text = sign_blob(signer, blob)
    assert base64.b64encode(base64.b64decode(sig_text)) == sig_text  # plain standard base64
    verifier = load_verifier(keys.public)
    assert verify_blob(verifier, blob, sig_text) == digest
    raw = decode_signature(sig_text)
    assert raw is not None
    ok = _openssl_verify(keys, raw, blob, tmp_path)
    assert ok.returncode == 0, ok.stderr
    blob.write_bytes(blob.read_bytes() + b"!")
    assert verify_blob(verifier, blob, sig_text) is None
    assert _openssl_verify(keys, raw, blob, tmp_path).returncode != 0


def test_detached_signature_with_another_key_fails(
    ec_keys: Keys, other_keys: Keys, tmp_path: Path
) -> None:
    blob = tmp_path / "a"
    blob.write_bytes(b"payload")
    _, sig = sign_blob(load_signer(ec_keys.private, PASSWORD), blob)
    assert verify_blob(load_verifier(other_keys.public), blob, sig) is None
    assert verify_blob(load_verifier(ec_keys.public), blob, b"%%%") is None


def _other_spelling(b64: str) -> str | None:
    """The same bytes in base64 that is not canonical: the last character's lowest bit, which
    padding leaves unused and Python's decoder ignores, set otherwise (``None``: no padding)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    body = b64.rstrip("=")
    if body == b64:
        return None
    changed = body[:-1] + alphabet[alphabet.index(body[-1]) ^ 1] + b64[len(body) :]
    assert changed != b64
    assert base64.b64decode(changed) == base64.b64decode(b64)
    return changed


def test_a_signature_file_in_another_base64_spelling_is_refused(keys: Keys, tmp_path: Path) -> None:
    blob = tmp_path / "asset.tar.gz"
    signer, verifier = load_signer(keys.private, PASSWORD), load_verifier(keys.public)
    other = None
    for n in range(50):  # an ECDSA signature's length varies: one that base64 pads
        blob.write_bytes(b"payload %d" % n)
        digest, sig_text = sign_blob(signer, blob)
        other = _other_spelling(sig_text.decode())
        if other is not None:
            break
    assert other is not None
    assert verify_blob(verifier, blob, sig_text) == digest
    assert decode_signature(other.encode()) is None
    assert verify_blob(verifier, blob, other.encode()) is None
    assert decode_signature(b" " + sig_text + b"\n") is not None  # whitespace around is fine


def test_an_envelope_in_another_base64_spelling_is_refused(keys: Keys) -> None:
    signer = load_signer(keys.private, PASSWORD)
    envelope = sign_envelope(signer, IN_TOTO_PAYLOAD_TYPE, b'{"a": 1}').to_dict()
    assert Envelope.from_dict(envelope).payload == b'{"a": 1}'
    payload = _other_spelling(envelope["payload"])  # 8 bytes: one "=" of padding
    assert payload is not None
    with pytest.raises(VerificationError) as info:
        Envelope.from_dict({**envelope, "payload": payload})
    assert info.value.reason is Reason.MALFORMED_BUNDLE


@pytest.mark.parametrize(
    ("where", "field"),
    [("", "tlogEntrids"), ("verificationMaterial", "tlogEntrids"), ("dsseEnvelope", "payloadTyp")],
)
def test_a_bundle_with_an_unknown_field_is_refused(keys: Keys, where: str, field: str) -> None:
    signer = load_signer(keys.private, PASSWORD)
    doc = json.loads(key_bundle_json(sign_envelope(signer, IN_TOTO_PAYLOAD_TYPE, b"{}"), "hint"))
    parse_bundle(json.dumps(doc).encode())  # as written: fine
    (doc[where] if where else doc)[field] = []  # a misspelt field (one flipped bit)
    with pytest.raises(VerificationError) as info:
        parse_bundle(json.dumps(doc).encode())
    assert info.value.reason is Reason.MALFORMED_BUNDLE
