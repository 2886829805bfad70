"""Independent clients read what we write: securesystemslib verifies the DSSE envelope, the
in-toto-attestation reference library validates the statement (both ship with sigstore /
model-signing, not with us)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from signing import load_signer, sign_target
from tests.helpers.project_builder import BuiltProject
from tests.helpers.signing_fixtures import PASSWORD, Keys


@pytest.fixture
def bundle(
    project: BuiltProject, report_path: Path, keys: Keys, tmp_path: Path
) -> dict[str, object]:
    r = sign_target(project.root, report_path, load_signer(keys.private, PASSWORD), tmp_path / "s")
    return json.loads(r.attestation.read_text())  # type: ignore[no-any-return]


def test_securesystemslib_verifies_the_envelope(
    bundle: dict[str, object], keys: Keys, other_keys: Keys
) -> None:
    dsse = pytest.importorskip("securesystemslib.dsse")
    from securesystemslib.exceptions import VerificationError as SslibVerificationError
    from securesystemslib.signer import SSlibKey

    envelope = dsse.Envelope.from_dict(bundle["dsseEnvelope"])
    hint = bundle["verificationMaterial"]["publicKey"]["hint"]  # type: ignore[index]
    key = SSlibKey.from_crypto(load_pem_public_key(keys.public.read_bytes()), keyid=hint)
    assert set(envelope.verify([key], 1)) == {hint}
    wrong = SSlibKey.from_crypto(load_pem_public_key(other_keys.public.read_bytes()), keyid=hint)
    with pytest.raises(SslibVerificationError):
        envelope.verify([wrong], 1)


def test_in_toto_attestation_validates_the_statement(bundle: dict[str, object]) -> None:
    pytest.importorskip("in_toto_attestation.v1.statement")
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement

    payload = base64.b64decode(bundle["dsseEnvelope"]["payload"])  # type: ignore[index]
    pb = json_format.Parse(payload, statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()
    assert pb.predicate_type == "https://panorama-gate.dev/attestation/gate-verdict/v1"
    assert all(len(s.digest["sha256"]) == 64 for s in pb.subject)
