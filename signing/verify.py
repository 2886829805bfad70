"""``verify``: check an attestation and every signature before deploy; fail closed.

Checks, in order (the first failure raises :class:`~signing.errors.VerificationError` with its
own ``reason``):

1. ``attestation.sigstore.json`` exists and is a well-formed bundle (key bundles must be in the
   exact form ``sign`` writes: the unsigned wrapper cannot be edited unnoticed);
2. the DSSE signature verifies with the given key (``wrong-key`` when the bundle names another
   key, ``bad-signature`` otherwise) or, for keyless bundles, against Sigstore's trusted root
   with the expected identity and issuer, offline;
3. the statement is ours; its verdict is ``approved``; its policy SHA-256 is the expected one
   (and, when given, the report file is the attested one);
4. every subject's file exists in the target with the attested SHA-256, and every file of the
   target that must be signed is a subject (``missing-subject``);
5. every detached ``.sig`` and model-signing bundle the statement lists exists and verifies.

Example::

    result = verify_target(Path("app"), Path("signatures"), load_verifier("k.pub"),
                           expected_policy_sha256="3f…")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scanner.models import Decision, Digest
from signing._target import discover_files, resolve
from signing.blob import decode_signature, encode_signature, verify_digest_or_blob
from signing.bundle import ParsedBundle, key_bundle_json, parse_bundle
from signing.digest import FileDigest, sha256_file
from signing.dsse import IN_TOTO_PAYLOAD_TYPE, verify_envelope
from signing.errors import Reason, SigningError, VerificationError
from signing.keyless import KeylessIdentity, verify_keyless_dsse
from signing.model_bundle import verify_model
from signing.sign import ATTESTATION_FILE
from signing.signer import PublicKeyVerifier, Verifier
from signing.statement import Statement, parse_statement

__all__ = ["VerifyResult", "verify_attestation", "verify_target"]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What was verified."""

    statement: Statement
    subjects: int
    signatures: int
    model_signatures: int
    signer: str


def _short(hexid: str) -> str:
    return hexid[:16]


def verify_attestation(
    bundle_bytes: bytes,
    verifier: Verifier | None = None,
    *,
    identity: KeylessIdentity | None = None,
) -> tuple[Statement, str]:
    """Verify a bundle's signature and parse its statement; returns it and who signed it.

    Give ``verifier`` for key bundles or ``identity`` for keyless ones.
    """
    parsed: ParsedBundle = parse_bundle(bundle_bytes)
    if parsed.keyless:
        if identity is None:
            raise VerificationError(
                Reason.WRONG_KEY,
                "the attestation is keyless (signed with a Sigstore certificate) but a key was "
                "given",
                hint="pass --certificate-identity and --certificate-oidc-issuer instead of --key",
            )
        payload_type, payload = verify_keyless_dsse(bundle_bytes, identity)
        who = f"{identity.identity} ({identity.issuer})"
    else:
        if verifier is None:
            raise VerificationError(
                Reason.WRONG_KEY,
                "the attestation was signed with a key but none was given",
                hint="pass --key with the signer's public key",
            )
        envelope = parsed.envelope
        if envelope is None:
            raise VerificationError(
                Reason.MALFORMED_BUNDLE, "the attestation bundle has no DSSE envelope"
            )
        hint = parsed.key_hint
        if hint is not None and hint != verifier.key_id:
            raise VerificationError(
                Reason.WRONG_KEY,
                f"the attestation names key {_short(hint)}…, not the given key "
                f"{_short(verifier.key_id)}…",
                hint="verify with the public key that belongs to the signing key",
            )
        if any(s.keyid not in ("", hint) for s in envelope.signatures):
            raise VerificationError(
                Reason.MALFORMED_BUNDLE,
                "a DSSE signature's keyid differs from the bundle's public-key hint",
            )
        # The wrapper around the signed payload is not itself signed: accept only the exact
        # bytes `sign` writes, so no edit to it (whitespace, non-canonical base64) goes unseen.
        if key_bundle_json(envelope, hint or "") != bundle_bytes:
            raise VerificationError(
                Reason.MALFORMED_BUNDLE,
                "the attestation bundle is not byte-for-byte in the form panorama-gate writes "
                "(edited after signing?)",
            )
        if not verify_envelope(envelope, verifier):
            raise VerificationError(
                Reason.BAD_SIGNATURE,
                f"the attestation's DSSE signature does not verify with key "
                f"{_short(verifier.key_id)}… (the bundle was altered, or signed by another key)",
            )
        payload_type, payload = envelope.payload_type, envelope.payload
        who = f"key {_short(verifier.key_id)}…"
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise VerificationError(
            Reason.MALFORMED_STATEMENT,
            f"payload type is {payload_type!r}, expected {IN_TOTO_PAYLOAD_TYPE}",
        )
    return parse_statement(payload), who


def verify_target(
    target: Path,
    signatures_dir: Path,
    verifier: Verifier | None = None,
    *,
    identity: KeylessIdentity | None = None,
    expected_policy_sha256: str | None = None,
    report: Path | None = None,
) -> VerifyResult:
    """Verify ``target`` against the signatures in ``signatures_dir``; raise on any failure.

    ``expected_policy_sha256`` pins the policy that must have decided; ``report`` is a JSON
    report file that must be the very one the attested verdict came from.
    """
    target = Path(target)
    if not target.exists():
        raise SigningError(f"{target}: target does not exist")
    bundle_path = Path(signatures_dir) / ATTESTATION_FILE
    try:
        bundle_bytes = bundle_path.read_bytes()
    except FileNotFoundError as exc:
        raise VerificationError(
            Reason.MISSING_SIGNATURE, f"{bundle_path}: no attestation (was the target signed?)"
        ) from exc
    except OSError as exc:
        raise SigningError(f"{bundle_path}: cannot read: {exc.strerror or exc}") from exc

    statement, who = verify_attestation(bundle_bytes, verifier, identity=identity)
    pred = statement.predicate
    if pred.decision != Decision.APPROVED.value:
        raise VerificationError(
            Reason.VERDICT_NOT_APPROVED,
            f"the attested verdict is {pred.decision!r}, not 'approved' "
            f"(policy {pred.policy_name!r})",
        )
    if expected_policy_sha256 is not None:
        expected = expected_policy_sha256.strip().lower().removeprefix("sha256:")
        if pred.policy_sha256.lower() != expected:
            raise VerificationError(
                Reason.UNEXPECTED_POLICY,
                f"the attestation was decided by policy {pred.policy_name!r} with sha256 "
                f"{pred.policy_sha256}, not the expected {expected}",
            )

    if report is not None:
        got = sha256_file(Path(report)).hex
        if got != pred.report_sha256.lower():
            raise VerificationError(
                Reason.REPORT_MISMATCH,
                f"{report} has sha256 {got}; the attested verdict came from a report with "
                f"sha256 {pred.report_sha256}",
            )

    # Subjects: every attested file is present with the attested bytes.
    digests: dict[str, FileDigest] = {}
    for subject in statement.subjects:
        try:
            path = resolve(target, subject.name)
        except SigningError as exc:
            raise VerificationError(Reason.SUBJECT_MISSING_FILE, str(exc)) from exc
        if not path.is_file():
            raise VerificationError(
                Reason.SUBJECT_MISSING_FILE,
                f"subject {subject.name!r} is attested but {path} does not exist",
            )
        d = sha256_file(path)
        if d.hex != subject.sha256.lower():
            raise VerificationError(
                Reason.SUBJECT_MISMATCH,
                f"{subject.name}: sha256 is {d.hex}, the attestation says {subject.sha256}",
                hint="the file changed after signing: do not deploy it",
            )
        digests[subject.name] = d
    # The other way round: nothing deployable was added beside the signed files.
    for name in discover_files(target, Path(signatures_dir)):
        if name not in digests:
            raise VerificationError(
                Reason.MISSING_SUBJECT,
                f"{name} is in the target but is not a subject of the attestation "
                "(added or renamed after signing?)",
            )

    # Detached signatures and model bundles the statement lists.
    n_sigs = n_models = 0
    for entry in pred.artifacts:
        if entry.name not in digests or digests[entry.name].hex != entry.sha256.lower():
            raise VerificationError(
                Reason.MALFORMED_STATEMENT,
                f"predicate artifact {entry.name!r} does not match a subject",
            )
        path = resolve(target, entry.name)
        if entry.signature is not None:
            if verifier is None:
                raise VerificationError(
                    Reason.MISSING_SIGNATURE,
                    f"{entry.signature}: a key is needed to check detached signatures",
                )
            sig_path = Path(signatures_dir) / Path(entry.signature).name
            try:
                text = sig_path.read_bytes()
            except FileNotFoundError as exc:
                raise VerificationError(
                    Reason.MISSING_SIGNATURE, f"{sig_path}: detached signature is missing"
                ) from exc
            sig = decode_signature(text)
            # Only the exact base64 `sign` wrote: a flipped padding bit must not pass.
            if sig is None or encode_signature(sig) != text.strip():
                raise VerificationError(
                    Reason.BAD_DETACHED_SIGNATURE, f"{sig_path}: not a base64 signature"
                )
            digest = Digest("sha256", digests[entry.name].digest.value)
            if not verify_digest_or_blob(verifier, sig, digest, path):
                raise VerificationError(
                    Reason.BAD_DETACHED_SIGNATURE,
                    f"{sig_path}: does not verify {entry.name} with key {_short(verifier.key_id)}…",
                )
            n_sigs += 1
        if entry.model_signature is not None:
            msig = Path(signatures_dir) / Path(entry.model_signature).name
            if not msig.is_file():
                raise VerificationError(
                    Reason.MISSING_SIGNATURE, f"{msig}: model-signing bundle is missing"
                )
            pinned = entry.model_signature_sha256
            if pinned is not None and sha256_file(msig).hex != pinned.lower():
                raise VerificationError(
                    Reason.BAD_MODEL_SIGNATURE,
                    f"{msig}: the model-signing bundle changed after signing",
                )
            if not isinstance(verifier, PublicKeyVerifier):
                raise VerificationError(
                    Reason.BAD_MODEL_SIGNATURE,
                    f"{msig}: model-signing bundles are verified with a PEM public key (--key)",
                )
            try:
                model = resolve(target, entry.model_root or entry.name)
            except SigningError as exc:
                raise VerificationError(Reason.MALFORMED_STATEMENT, str(exc)) from exc
            problem = verify_model(model, verifier.public_key, msig)
            if problem is not None:
                raise VerificationError(
                    Reason.BAD_MODEL_SIGNATURE, f"{msig}: model-signing says: {problem}"
                )
            n_models += 1
    return VerifyResult(statement, len(statement.subjects), n_sigs, n_models, who)
