"""Keyless verification, offline, against the trusted root shipped with sigstore-python.

The oracle is a real keyless bundle from Sigstore's public-good instance (shared/reference);
network access is blocked in these tests, so passing proves verification is offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signing import KeylessIdentity, Reason, VerificationError, verify_keyless_digest
from signing.bundle import parse_bundle
from signing.verify import verify_attestation

DIGEST = bytes.fromhex("c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201")
IDENTITY = KeylessIdentity(
    identity="https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
    issuer="https://token.actions.githubusercontent.com",
)


@pytest.fixture
def bundle(shared_reference: Path) -> bytes:
    return (
        shared_reference / "sigstore-keyless" / "rfc8785-0.1.2-py3-none-any.whl.sigstore.json"
    ).read_bytes()


def test_reference_bundle_verifies_offline(bundle: bytes) -> None:
    verify_keyless_digest(bundle, DIGEST, IDENTITY)
    assert parse_bundle(bundle).keyless


def test_other_digest_fails(bundle: bytes) -> None:
    with pytest.raises(VerificationError) as info:
        verify_keyless_digest(bundle, bytes(32), IDENTITY)
    assert info.value.reason is Reason.BAD_SIGNATURE


@pytest.mark.parametrize(
    "identity",
    [
        KeylessIdentity(IDENTITY.identity.replace("v0.1.2", "v0.1.3"), IDENTITY.issuer),
        KeylessIdentity(IDENTITY.identity, "https://accounts.google.com"),
    ],
    ids=["other-identity", "other-issuer"],
)
def test_other_identity_or_issuer_fails(bundle: bytes, identity: KeylessIdentity) -> None:
    with pytest.raises(VerificationError) as info:
        verify_keyless_digest(bundle, DIGEST, identity)
    assert info.value.reason is Reason.IDENTITY_MISMATCH
    assert identity.identity in str(info.value)


def test_changed_signature_byte_fails(bundle: bytes) -> None:
    doc = json.loads(bundle)
    sig = doc["messageSignature"]["signature"]
    doc["messageSignature"]["signature"] = ("A" if sig[10] != "A" else "B").join(
        [sig[:10], sig[11:]]
    )
    with pytest.raises(VerificationError):
        verify_keyless_digest(json.dumps(doc).encode(), DIGEST, IDENTITY)


def test_changed_certificate_byte_fails(bundle: bytes) -> None:
    doc = json.loads(bundle)
    material = doc["verificationMaterial"]
    key = "certificate" if "certificate" in material else "x509CertificateChain"
    cert = (
        material[key]["rawBytes"]
        if key == "certificate"
        else material[key]["certificates"][0]["rawBytes"]
    )
    changed = cert[:200] + ("A" if cert[200] != "A" else "B") + cert[201:]
    if key == "certificate":
        material[key]["rawBytes"] = changed
    else:
        material[key]["certificates"][0]["rawBytes"] = changed
    with pytest.raises(VerificationError):
        verify_keyless_digest(json.dumps(doc).encode(), DIGEST, IDENTITY)


def test_keyless_bundle_given_to_key_verify_is_refused(bundle: bytes) -> None:
    with pytest.raises(VerificationError, match="keyless") as info:
        verify_attestation(bundle, None)
    assert info.value.reason is Reason.WRONG_KEY


def test_message_signature_bundle_is_not_an_attestation(bundle: bytes) -> None:
    # The reference bundle signs a wheel, not a DSSE statement: verify_target must not accept it.
    with pytest.raises(VerificationError) as info:
        verify_attestation(bundle, None, identity=IDENTITY)
    assert info.value.reason in (Reason.BAD_SIGNATURE, Reason.MALFORMED_BUNDLE)


@pytest.mark.online
def test_keyless_sign_then_offline_verify(tmp_path: Path) -> None:
    """ONLINE (Fulcio, Rekor): only where the CI provides an OIDC identity."""
    from sigstore.oidc import IdentityToken

    from signing.keyless import ambient_identity_token, sign_statement_keyless

    token = ambient_identity_token()
    if not token:
        pytest.skip("no ambient OIDC identity (needs CI with id-token permission)")
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "a", "digest": {"sha256": "00" * 32}}],
        "predicateType": "https://panorama-gate.dev/attestation/gate-verdict/v1",
        "predicate": {},
    }
    bundle = sign_statement_keyless(statement, token)
    ident = IdentityToken(token)
    identity = KeylessIdentity(str(ident.identity), str(ident.federated_issuer))
    from signing.keyless import verify_keyless_dsse

    payload_type, payload = verify_keyless_dsse(bundle, identity)
    assert payload_type == "application/vnd.in-toto+json"
    assert json.loads(payload)["subject"][0]["name"] == "a"


def test_cli_keyless_without_identity_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scanner.cli import main

    monkeypatch.delenv("SIGSTORE_ID_TOKEN", raising=False)
    monkeypatch.setattr("signing.keyless.ambient_identity_token", lambda: None)
    (tmp_path / "r.json").write_text("{}")
    assert main(["sign", str(tmp_path), "--keyless", "--report", str(tmp_path / "r.json")]) == 2
    assert "needs an OIDC identity" in capsys.readouterr().err
