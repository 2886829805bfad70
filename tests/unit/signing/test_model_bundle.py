"""OpenSSF model-signing bundles: verified by model-signing's own CLI, for archives and folders."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from signing import SigningError, load_signer
from signing.keys import load_public_key
from signing.model_bundle import can_sign_models, sign_model, verify_model
from tests.helpers.project_builder import make_model_archive
from tests.helpers.signing_fixtures import PASSWORD, Keys


def _model_signing_cli() -> list[str]:
    exe = shutil.which("model_signing")
    return [exe] if exe else [sys.executable, "-m", "model_signing"]


def _cli_verify(keys: Keys, signature: Path, model: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *_model_signing_cli(),
            "verify",
            "key",
            "--public_key",
            str(keys.public),
            "--signature",
            str(signature),
            str(model),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "model.tar.gz"
    path.write_bytes(make_model_archive({"model.pth": b"weights" * 100}))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "saved_model"
    (root / "variables").mkdir(parents=True)
    (root / "saved_model.pb").write_bytes(b"graph")
    (root / "variables" / "variables.data-00000-of-00001").write_bytes(b"\0" * 4096)
    return root


@pytest.mark.parametrize("kind", ["archive", "folder"])
def test_model_signing_cli_verifies_our_bundles(
    ec_keys: Keys, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    model: Path = request.getfixturevalue(kind)
    sig = tmp_path / "model.sig"
    sign_model(model, load_signer(ec_keys.private, PASSWORD), sig)
    ok = _cli_verify(ec_keys, sig, model)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert verify_model(model, load_public_key(ec_keys.public), sig) is None
    # change the model: both model-signing's CLI and our wrapper refuse
    target = model if model.is_file() else model / "saved_model.pb"
    target.write_bytes(target.read_bytes() + b"!")
    assert _cli_verify(ec_keys, sig, model).returncode != 0
    assert verify_model(model, load_public_key(ec_keys.public), sig) is not None


def test_other_key_fails(ec_keys: Keys, other_keys: Keys, archive: Path, tmp_path: Path) -> None:
    sig = tmp_path / "model.sig"
    sign_model(archive, load_signer(ec_keys.private, PASSWORD), sig)
    assert _cli_verify(other_keys, sig, archive).returncode != 0
    assert verify_model(archive, load_public_key(other_keys.public), sig) is not None


def test_ed25519_cannot_make_model_bundles(ed_keys: Keys, archive: Path, tmp_path: Path) -> None:
    signer = load_signer(ed_keys.private, PASSWORD)
    assert "ECDSA keys only" in (can_sign_models(signer) or "")
    with pytest.raises(SigningError, match="ECDSA keys only"):
        sign_model(archive, signer, tmp_path / "m.sig")
