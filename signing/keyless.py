"""Keyless signing (Sigstore: Fulcio certificate + Rekor entry) and OFFLINE keyless verification.

Signing needs an OIDC identity token, which CI provides (GitHub Actions with ``id-token: write``,
GitLab ``id_tokens``), and Sigstore's public services: :func:`sign_statement_keyless` is an
*online* path. Verification is offline: the trusted root is the one ``sigstore-python`` ships in
its package (production instance), never fetched, unless the caller names a
``trusted_root.json`` (a private Sigstore deployment, or a root newer than the package's); the
bundle must carry its own Rekor inclusion proof/SET. The identity (certificate SAN) and issuer
must match exactly.

Example::

    identity = KeylessIdentity(
        identity="https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1",
        issuer="https://token.actions.githubusercontent.com",
    )
    verify_keyless_digest(bundle_json, bytes.fromhex(sha256_hex), identity)
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import UsageError
from signing.errors import Reason, SigningError, VerificationError

__all__ = [
    "KeylessIdentity",
    "ambient_identity_token",
    "sign_statement_keyless",
    "trusted_root",
    "verify_keyless_digest",
    "verify_keyless_dsse",
]

# The production trusted root that sigstore-python ships as its TUF bootstrap data.
_PRODUCTION_STORE = "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"


@dataclass(frozen=True, slots=True)
class KeylessIdentity:
    """Who must have signed: the certificate identity (SAN) and the OIDC issuer, exactly.

    ``trusted_root`` names a Sigstore ``trusted_root.json`` to verify against instead of the
    production root shipped with sigstore-python.
    """

    identity: str
    issuer: str
    trusted_root: Path | None = None


def trusted_root(path: Path | None = None) -> Any:
    """The trusted root in ``path``, or Sigstore's production root shipped in the ``sigstore``
    package (no network either way)."""
    from sigstore.models import TrustedRoot

    if path is not None:
        try:
            return TrustedRoot.from_file(str(path))
        except OSError as exc:
            raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        except ValueError as exc:
            first = str(exc).strip().splitlines()
            raise UsageError(
                f"{path}: not a Sigstore trusted root ({first[0][:160] if first else exc})",
                hint="give a trusted_root.json (media type "
                "application/vnd.dev.sigstore.trustedroot+json), as `cosign trusted-root` "
                "or Sigstore's TUF repository provides",
            ) from exc
    ref = importlib.resources.files("sigstore._store") / _PRODUCTION_STORE / "trusted_root.json"
    try:
        with importlib.resources.as_file(ref) as path:
            return TrustedRoot.from_file(str(path))
    except (OSError, ValueError) as exc:
        raise SigningError(
            "cannot load the Sigstore trusted root shipped with sigstore-python",
            hint="reinstall the sigstore package",
        ) from exc


def _verifier_and_bundle(bundle_json: bytes, identity: KeylessIdentity) -> tuple[Any, Any, Any]:
    from sigstore.models import Bundle, InvalidBundle
    from sigstore.verify import Verifier, policy

    try:
        bundle = Bundle.from_json(bundle_json)
    except (InvalidBundle, ValueError) as exc:
        raise VerificationError(
            Reason.MALFORMED_BUNDLE, f"not a valid keyless Sigstore bundle: {exc}"
        ) from exc
    verifier = Verifier(trusted_root=trusted_root(identity.trusted_root))
    return verifier, bundle, policy.Identity(identity=identity.identity, issuer=identity.issuer)


def _failed(exc: Exception, identity: KeylessIdentity) -> VerificationError:
    text = str(exc)
    reason = Reason.BAD_SIGNATURE
    # sigstore reports a wrong SAN or issuer as a policy failure; name it as such.
    if "identity" in text.lower() or "issuer" in text.lower() or "san" in text.lower():
        reason = Reason.IDENTITY_MISMATCH
    return VerificationError(
        reason,
        f"keyless bundle does not verify for identity {identity.identity!r} issued by "
        f"{identity.issuer!r}: {text}",
    )


def verify_keyless_dsse(bundle_json: bytes, identity: KeylessIdentity) -> tuple[str, bytes]:
    """Verify a keyless DSSE bundle offline; returns ``(payload_type, payload)``."""
    from sigstore.errors import VerificationError as SigstoreVerificationError

    verifier, bundle, pol = _verifier_and_bundle(bundle_json, identity)
    try:
        payload_type, payload = verifier.verify_dsse(bundle, pol)
    except (SigstoreVerificationError, ValueError) as exc:
        raise _failed(exc, identity) from exc
    return str(payload_type), bytes(payload)


def verify_keyless_digest(bundle_json: bytes, sha256: bytes, identity: KeylessIdentity) -> None:
    """Verify a keyless message-signature bundle for an artifact known by its SHA-256, offline."""
    from sigstore.errors import VerificationError as SigstoreVerificationError
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    verifier, bundle, pol = _verifier_and_bundle(bundle_json, identity)
    try:
        verifier.verify_artifact(
            Hashed(algorithm=HashAlgorithm.SHA2_256, digest=sha256), bundle, pol
        )
    except (SigstoreVerificationError, ValueError) as exc:
        raise _failed(exc, identity) from exc


def ambient_identity_token() -> str | None:  # pragma: no cover - needs a CI OIDC provider
    """The CI's ambient OIDC token (GitHub Actions, GitLab, ...), or ``None`` outside CI."""
    from sigstore.oidc import detect_credential

    try:
        token = detect_credential()
    except Exception as exc:  # noqa: BLE001 - sigstore/id raise various provider errors
        raise SigningError(f"cannot obtain the CI's OIDC identity token: {exc}") from exc
    return str(token) if token else None


def sign_statement_keyless(
    statement: dict[str, Any], token: str
) -> bytes:  # pragma: no cover - online: Fulcio and Rekor
    """ONLINE: sign an in-toto statement keylessly; returns the Sigstore bundle JSON."""
    from sigstore import dsse
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext

    try:
        ctx = SigningContext.from_trust_config(ClientTrustConfig.production())
        with ctx.signer(IdentityToken(token), cache=True) as signer:
            bundle = signer.sign_dsse(dsse.Statement(_statement_json(statement)))
    except Exception as exc:  # noqa: BLE001 - network, OIDC and Sigstore errors alike stop signing
        raise SigningError(f"keyless signing failed: {exc}") from exc
    return str(bundle.to_json()).encode("utf-8")


def _statement_json(statement: dict[str, Any]) -> bytes:
    import json

    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")
