"""AWS KMS keys (``awskms://``): round trips against moto's server on loopback, and negative
paths through botocore's Stubber (moto accepts what real KMS rejects: it ignores
``MessageType=DIGEST`` and signs the digest as a message, so moto signatures only verify
through moto; Stubber gives the exact KMS answers instead)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signing import (
    KeyLoadError,
    Reason,
    SigningError,
    VerificationError,
    load_signer,
    load_verifier,
    sign_target,
    verify_target,
)
from signing.keys import public_key_pem
from signing.signer import KmsVerifier, parse_kms_uri
from tests.helpers.project_builder import BuiltProject


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def kms_alias(moto_endpoint: str, aws_env: None) -> str:
    client = boto3.client("kms", endpoint_url=f"http://{moto_endpoint}")
    key = client.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    alias = f"alias/gate-{key[:8]}"
    client.create_alias(AliasName=alias, TargetKeyId=key)
    return f"awskms://{moto_endpoint}/{alias}"


def test_parse_kms_uri() -> None:
    assert parse_kms_uri("awskms:///alias/gate").key == "alias/gate"
    assert parse_kms_uri("awskms:///alias/gate").endpoint_url is None
    ref = parse_kms_uri("awskms://localhost:4566/arn:aws:kms:us-east-1:123456789012:key/abc")
    assert ref.key == "arn:aws:kms:us-east-1:123456789012:key/abc"
    assert ref.endpoint_url == "http://localhost:4566"
    assert (
        parse_kms_uri("awskms://kms.eu-west-1.amazonaws.com/alias/x").endpoint_url
        == "https://kms.eu-west-1.amazonaws.com"
    )
    with pytest.raises(KeyLoadError, match="expected awskms://"):
        parse_kms_uri("awskms://host-only")


def test_kms_sign_verify_round_trip_on_moto(kms_alias: str) -> None:
    signer = load_signer(kms_alias)
    verifier = load_verifier(kms_alias)
    assert signer.key_id == verifier.key_id
    sig = signer.sign(b"message")
    assert verifier.verify(sig, b"message")
    assert not verifier.verify(sig, b"other message")


def test_sign_target_with_kms_on_moto(
    kms_alias: str, project: BuiltProject, report_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sigs"
    result = sign_target(project.root, report_path, load_signer(kms_alias), out)
    assert result.signatures
    assert not result.model_signatures  # model-signing needs a key file
    assert any("model-signing" in n for n in result.notes)
    verify_target(project.root, out, load_verifier(kms_alias))
    assert project.container_asset is not None
    project.container_asset.write_bytes(b"changed")
    with pytest.raises(VerificationError) as info:
        verify_target(project.root, out, load_verifier(kms_alias))
    assert info.value.reason is Reason.SUBJECT_MISMATCH


# --- Stubber: exact KMS answers for the negative paths --------------------------------------

ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _public_key_response(
    spec: str = "ECC_NIST_P256", algs: tuple[str, ...] = ("ECDSA_SHA_256",)
) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "KeyId": ARN,
        "PublicKey": der,
        "KeySpec": spec,
        "KeyUsage": "SIGN_VERIFY",
        "SigningAlgorithms": list(algs),
    }


@pytest.fixture
def stubbed(aws_env: None) -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("kms", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_kms_rsa_key_is_refused(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response(
        "get_public_key",
        _public_key_response("RSA_2048", ("RSASSA_PSS_SHA_256",)),
        {"KeyId": "alias/rsa"},
    )
    with pytest.raises(KeyLoadError, match="'RSA_2048' is not supported"):
        load_signer("awskms:///alias/rsa", kms_client=client)


def test_kms_missing_key_is_a_key_error(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_client_error("get_public_key", "NotFoundException", "Alias alias/none is not found.")
    with pytest.raises(KeyLoadError, match="cannot read the KMS public key"):
        load_verifier("awskms:///alias/none", kms_client=client)


def test_kms_invalid_signature_is_false(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response("get_public_key", _public_key_response(), {"KeyId": "alias/gate"})
    stub.add_client_error("verify", "KMSInvalidSignatureException", "invalid")
    verifier = load_verifier("awskms:///alias/gate", kms_client=client)
    assert isinstance(verifier, KmsVerifier)
    assert verifier.verify(b"sig", b"message") is False


def test_kms_verify_anything_but_true_is_false(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response("get_public_key", _public_key_response(), {"KeyId": "alias/gate"})
    stub.add_response(
        "verify", {"KeyId": ARN, "SignatureValid": False, "SigningAlgorithm": "ECDSA_SHA_256"}
    )
    assert load_verifier("awskms:///alias/gate", kms_client=client).verify(b"sig", b"m") is False


def test_kms_verify_service_error_is_not_a_pass(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response("get_public_key", _public_key_response(), {"KeyId": "alias/gate"})
    stub.add_client_error("verify", "KMSInternalException", "boom")
    verifier = load_verifier("awskms:///alias/gate", kms_client=client)
    with pytest.raises(SigningError, match="KMS Verify failed") as info:
        verifier.verify(b"sig", b"m")
    assert info.value.exit_code == 3


def test_kms_sign_denied(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response("get_public_key", _public_key_response(), {"KeyId": "alias/gate"})
    stub.add_client_error("sign", "AccessDeniedException", "not allowed to kms:Sign")
    signer = load_signer("awskms:///alias/gate", kms_client=client)
    with pytest.raises(SigningError, match="KMS Sign failed.*kms:Sign"):
        signer.sign_sha256(b"\0" * 32)


def test_kms_sign_sends_the_digest(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response("get_public_key", _public_key_response(), {"KeyId": "alias/gate"})
    digest = bytes(range(32))
    stub.add_response(
        "sign",
        {
            "KeyId": ARN,
            "Signature": b"\x30\x06\x02\x01\x01\x02\x01\x01",
            "SigningAlgorithm": "ECDSA_SHA_256",
        },
        {
            "KeyId": "alias/gate",
            "Message": digest,
            "MessageType": "DIGEST",
            "SigningAlgorithm": "ECDSA_SHA_256",
        },
    )
    assert (
        load_signer("awskms:///alias/gate", kms_client=client)
        .sign_sha256(digest)
        .startswith(b"\x30")
    )


def test_cli_sign_and_verify_with_kms_needs_no_password(
    kms_alias: str,
    project: BuiltProject,
    report_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scanner.cli import main

    monkeypatch.delenv("PANORAMA_GATE_KEY_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    out = tmp_path / "sigs"
    assert (
        main(
            [
                "sign",
                str(project.root),
                "--key",
                kms_alias,
                "--report",
                str(report_path),
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert main(["verify", str(project.root), "--key", kms_alias, "--signatures", str(out)]) == 0


@pytest.mark.aws
@pytest.mark.online
def test_real_kms_signatures_verify_with_the_exported_public_key(
    project: BuiltProject, report_path: Path, tmp_path: Path
) -> None:
    """Real AWS KMS (off by default): set PANORAMA_GATE_TEST_KMS_KEY=awskms:///alias/... .

    moto cannot show this: real KMS signs the digest itself, so the signatures verify offline
    with the exported public key (what the deploy side and openssl use).
    """
    ref = os.environ.get("PANORAMA_GATE_TEST_KMS_KEY")
    if not ref:
        pytest.skip("set PANORAMA_GATE_TEST_KMS_KEY to an ECC_NIST_P256 awskms:// key")
    signer = load_signer(ref)
    out = tmp_path / "sigs"
    sign_target(project.root, report_path, signer, out)
    pub = tmp_path / "kms.pub"
    pub.write_bytes(public_key_pem(signer.public_key()))
    verify_target(project.root, out, load_verifier(pub))
