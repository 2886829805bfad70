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


def _shipped_root() -> dict[str, object]:
    import importlib.resources

    ref = (
        importlib.resources.files("sigstore._store")
        / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
        / "trusted_root.json"
    )
    doc: dict[str, object] = json.loads(ref.read_text(encoding="utf-8"))
    return doc


def _self_signed_ca_der() -> bytes:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore.dev"),
            x509.NameAttribute(NameOID.COMMON_NAME, "sigstore"),
        ]
    )
    now = datetime.datetime(2021, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .sign(key, hashes.SHA384())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_explicit_trusted_root_is_used(bundle: bytes, tmp_path: Path) -> None:
    import base64

    good = tmp_path / "trusted_root.json"
    good.write_text(json.dumps(_shipped_root()), encoding="utf-8")
    verify_keyless_digest(bundle, DIGEST, KeylessIdentity(IDENTITY.identity, IDENTITY.issuer, good))
    # The same root with every Fulcio CA replaced by an impostor CA of the same name: the
    # bundle's certificate no longer chains to a trusted CA, so the root file is what decides.
    doc = _shipped_root()
    impostor = base64.b64encode(_self_signed_ca_der()).decode()
    for ca in doc["certificateAuthorities"]:  # type: ignore[attr-defined]
        ca["certChain"]["certificates"] = [{"rawBytes": impostor}]
    other = tmp_path / "other_root.json"
    other.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(VerificationError) as info:
        verify_keyless_digest(
            bundle, DIGEST, KeylessIdentity(IDENTITY.identity, IDENTITY.issuer, other)
        )
    assert info.value.reason is Reason.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), (b"not json", "not a Sigstore trusted root"), (b"{}", "not a Sig")],
)
def test_unusable_trusted_root_is_a_usage_error(
    bundle: bytes, tmp_path: Path, content: bytes | None, message: str
) -> None:
    from scanner.errors import UsageError

    path = tmp_path / "root.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        verify_keyless_digest(
            bundle, DIGEST, KeylessIdentity(IDENTITY.identity, IDENTITY.issuer, path)
        )


def test_cli_trusted_root_only_with_keyless(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scanner.cli import main

    root = tmp_path / "trusted_root.json"
    root.write_text("{}")
    rc = main(["verify", str(tmp_path), "--key", "k.pem", "--trusted-root", str(root)])
    assert rc == 2
    assert "--trusted-root is for keyless" in capsys.readouterr().err
