"""OpenSSF model-signing bundles for model archives and model folders.

Made with the ``model-signing`` package's *key* method (ECDSA keys from a PEM file), so its own
CLI verifies them without our tool::

    model_signing verify key --public_key cosign.pub --signature model.tar.gz.model.sig model.tar.gz

``model-signing`` hashes the model itself (every file of a folder; the file of an archive) and
signs an in-toto statement of its own inside a Sigstore bundle.

Example::

    sign_model(Path("assets/abc.tar.gz"), signer, Path("signatures/abc.tar.gz.model.sig"))
    verify_model(Path("assets/abc.tar.gz"), public_key, Path("signatures/abc.tar.gz.model.sig"))
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from signing.errors import SigningError
from signing.keys import KeyType, PublicKey, public_key_pem
from signing.signer import LocalKeySigner, Signer

__all__ = ["MODEL_SIGNATURE_SUFFIX", "can_sign_models", "sign_model", "verify_model"]

MODEL_SIGNATURE_SUFFIX = ".model.sig"


def can_sign_models(signer: Signer) -> str | None:
    """``None`` when ``signer`` can make model-signing bundles, else the reason why not."""
    if not isinstance(signer, LocalKeySigner):
        return "model-signing's key method needs a private key file (not KMS or keyless)"
    if signer.key_type is not KeyType.ECDSA_P256:
        return "model-signing's key method supports ECDSA keys only, not Ed25519"
    return None


def sign_model(model: Path, signer: Signer, out: Path) -> None:
    """Write a model-signing bundle for ``model`` (file or folder) to ``out``."""
    why_not = can_sign_models(signer)
    if why_not is not None:
        raise SigningError(f"{model}: cannot make a model-signing bundle: {why_not}")
    assert isinstance(signer, LocalKeySigner)
    import model_signing

    # model-signing reads keys only from PEM files (not cosign's format): hand it the key in
    # a private temporary folder, encrypted with a one-time password, deleted right after.
    one_time = secrets.token_hex(32).encode()
    with tempfile.TemporaryDirectory(prefix="panorama-gate-key.") as tmp:
        key_file = Path(tmp) / "model-signing.key"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fp:
            fp.write(signer.export_pkcs8_pem(one_time))
        try:
            config = model_signing.signing.Config()  # type: ignore[no-untyped-call]
            # model-signing hands the password straight to cryptography, which wants bytes
            # (its annotation says str).
            config.use_elliptic_key_signer(
                private_key=key_file,
                password=one_time,  # type: ignore[arg-type]
            ).sign(model, out)
        except (OSError, ValueError, TypeError) as exc:
            raise SigningError(f"{model}: model-signing failed: {exc}") from exc


def verify_model(model: Path, public_key: PublicKey, signature: Path) -> str | None:
    """Verify a model-signing bundle; ``None`` when valid, else model-signing's reason."""
    import model_signing

    fd, tmp = tempfile.mkstemp(prefix="panorama-gate-", suffix=".pub")
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(public_key_pem(public_key))
        config = model_signing.verifying.Config()  # type: ignore[no-untyped-call]
        config.use_elliptic_key_verifier(public_key=tmp).verify(model, signature)
    except Exception as exc:  # noqa: BLE001 - any failure inside model-signing is a failed check
        # model-signing raises ValueError, protobuf and cryptography errors alike; each means
        # "not verified", and the caller fails closed with this text.
        return f"{type(exc).__name__}: {exc}"
    finally:
        os.unlink(tmp)
    return None
