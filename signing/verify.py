"""``verify``: check an attestation and every signature before deploy; fail closed.

Checks, in order (the first failure raises :class:`~signing.errors.VerificationError` with its
own ``reason``):

1. ``attestation.sigstore.json`` exists and is a well-formed bundle (any serialisation of it:
   nothing in the unsigned wrapper is trusted);
2. the DSSE signature verifies with the given key (``wrong-key`` when the bundle names another
   key, ``bad-signature`` otherwise) or, for keyless bundles, against Sigstore's trusted root
   with the expected identity and issuer, offline;
3. the statement is ours; its verdict is ``approved``; its policy SHA-256 is the expected one;
   it is for the expected application, version (not older than a pinned minimum) and
   destination (``wrong-release``, ``rollback``); when given, the report file is the attested
   one;
4. every subject's file exists in the target with the attested SHA-256 and size (and, for files
   of a folder artifact, execute bit), and every file of the target that must be signed is a
   subject (``missing-subject``), every file of each attested folder included;
5. every detached ``.sig`` and model-signing bundle the statement lists exists and verifies.

Example::

    result = verify_target(Path("app"), Path("signatures"), load_verifier("k.pub"),
                           expected_policy_sha256="3f…")
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from scanner.models import Decision, Digest
from signing._target import discover_files, resolve
from signing.blob import decode_signature, verify_digest_or_blob
from signing.bundle import ParsedBundle, parse_bundle
from signing.digest import FileDigest, sha256_file
from signing.dsse import IN_TOTO_PAYLOAD_TYPE, verify_envelope
from signing.errors import InputError, Reason, SigningError, VerificationError
from signing.keyless import KeylessIdentity, verify_keyless_dsse
from signing.model_bundle import verify_model
from signing.release import ReleaseExpectation, check_release
from signing.sign import ATTESTATION_FILE
from signing.signer import PublicKeyVerifier, Verifier
from signing.statement import ArtifactEntry, Statement, parse_statement

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
        # The wrapper around the signed payload is not itself signed, and nothing in it is
        # trusted: the key comes from the caller, the statement from the signed payload. A
        # bundle re-serialised by another tool (key order, spacing) is the same bundle; what
        # parse_bundle accepted has exactly one envelope whose signature is checked below.
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
    release: ReleaseExpectation | None = None,
) -> VerifyResult:
    """Verify ``target`` against the signatures in ``signatures_dir``; raise on any failure.

    ``expected_policy_sha256`` pins the policy that must have decided; ``report`` is a JSON
    report file that must be the very one the attested verdict came from; ``release`` is the
    application, version (or minimum version) and destination the statement must be for.
    """
    target = Path(target)
    if not target.exists():
        raise InputError(f"{target}: target does not exist")
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
    _check_predicate(statement, expected_policy_sha256, report, release)
    digests = _check_subjects(target, Path(signatures_dir), statement)
    n_sigs, n_models = _check_signature_files(
        target, Path(signatures_dir), statement, digests, verifier
    )
    return VerifyResult(statement, len(statement.subjects), n_sigs, n_models, who)


def _check_predicate(
    statement: Statement,
    expected_policy_sha256: str | None,
    report: Path | None,
    release: ReleaseExpectation | None,
) -> None:
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
    if release is not None:
        check_release(pred.release, release)
    if report is not None:
        got = sha256_file(Path(report)).hex
        if got != pred.report_sha256.lower():
            raise VerificationError(
                Reason.REPORT_MISMATCH,
                f"{report} has sha256 {got}; the attested verdict came from a report with "
                f"sha256 {pred.report_sha256}",
            )


def _check_subjects(
    target: Path, signatures_dir: Path, statement: Statement
) -> dict[str, FileDigest]:
    """Every attested file is present with the attested bytes (and size, and execute bit),
    and every deployable file of the target is attested."""
    entries = {a.name: a for a in statement.predicate.artifacts}
    digests: dict[str, FileDigest] = {}
    for subject in statement.subjects:
        try:
            path = resolve(target, subject.name)
        except SigningError as exc:
            raise VerificationError(Reason.SUBJECT_MISSING_FILE, str(exc)) from exc
        if path.is_symlink() or not path.is_file():
            raise VerificationError(
                Reason.SUBJECT_MISSING_FILE,
                f"subject {subject.name!r} is attested but {path} does not exist or is not a "
                "regular file",
            )
        d = sha256_file(path)
        if d.hex != subject.sha256.lower():
            raise VerificationError(
                Reason.SUBJECT_MISMATCH,
                f"{subject.name}: sha256 is {d.hex}, the attestation says {subject.sha256}",
                hint="the file changed after signing: do not deploy it",
            )
        entry = entries.get(subject.name)
        if entry is not None and entry.mode is not None:
            # The execute bit is what a build or a container runs; read/write bits follow the
            # umask of whoever checked the folder out, so only this bit is compared.
            attested_x = int(entry.mode, 8) & stat.S_IXUSR
            if bool(path.stat().st_mode & stat.S_IXUSR) != bool(attested_x):
                raise VerificationError(
                    Reason.SUBJECT_MISMATCH,
                    f"{subject.name}: its execute bit differs from the attested mode {entry.mode}",
                )
        digests[subject.name] = d
    # The other way round: nothing deployable was added beside the signed files.
    folders = [f.name for f in statement.predicate.folders]
    for name in discover_files(target, signatures_dir, folders):
        if name not in digests:
            raise VerificationError(
                Reason.MISSING_SUBJECT,
                f"{name} is in the target but is not a subject of the attestation "
                "(added or renamed after signing?)",
            )
    return digests


def _check_signature_files(
    target: Path,
    signatures_dir: Path,
    statement: Statement,
    digests: dict[str, FileDigest],
    verifier: Verifier | None,
) -> tuple[int, int]:
    """Detached signatures and model bundles the statement lists; returns how many."""
    n_sigs = n_models = 0
    for entry in statement.predicate.artifacts:
        if entry.name not in digests or digests[entry.name].hex != entry.sha256.lower():
            raise VerificationError(
                Reason.MALFORMED_STATEMENT,
                f"predicate artifact {entry.name!r} does not match a subject",
            )
        if entry.size is not None and digests[entry.name].size != entry.size:
            raise VerificationError(
                Reason.MALFORMED_STATEMENT,
                f"predicate artifact {entry.name!r}: attested size {entry.size} is not the "
                f"subject's {digests[entry.name].size}",
            )
        path = resolve(target, entry.name)
        if entry.signature is not None:
            _check_detached(signatures_dir, entry.name, entry.signature, path, digests, verifier)
            n_sigs += 1
        if entry.model_signature is not None:
            _check_model(target, signatures_dir, entry, verifier)
            n_models += 1
    return n_sigs, n_models


def _check_detached(
    signatures_dir: Path,
    name: str,
    signature: str,
    path: Path,
    digests: dict[str, FileDigest],
    verifier: Verifier | None,
) -> None:
    if verifier is None:
        raise VerificationError(
            Reason.MISSING_SIGNATURE, f"{signature}: a key is needed to check detached signatures"
        )
    sig_path = signatures_dir / Path(signature).name
    try:
        text = sig_path.read_bytes()
    except FileNotFoundError as exc:
        raise VerificationError(
            Reason.MISSING_SIGNATURE, f"{sig_path}: detached signature is missing"
        ) from exc
    sig = decode_signature(text)  # only the canonical base64 `sign` wrote (``_base64``)
    if sig is None:
        raise VerificationError(
            Reason.BAD_DETACHED_SIGNATURE, f"{sig_path}: not a base64 signature"
        )
    digest = Digest("sha256", digests[name].digest.value)
    if not verify_digest_or_blob(verifier, sig, digest, path):
        raise VerificationError(
            Reason.BAD_DETACHED_SIGNATURE,
            f"{sig_path}: does not verify {name} with key {_short(verifier.key_id)}…",
        )


def _check_model(
    target: Path, signatures_dir: Path, entry: ArtifactEntry, verifier: Verifier | None
) -> None:
    assert entry.model_signature is not None
    msig = signatures_dir / Path(entry.model_signature).name
    if not msig.is_file():
        raise VerificationError(
            Reason.MISSING_SIGNATURE, f"{msig}: model-signing bundle is missing"
        )
    pinned = entry.model_signature_sha256
    if pinned is not None and sha256_file(msig).hex != pinned.lower():
        raise VerificationError(
            Reason.BAD_MODEL_SIGNATURE, f"{msig}: the model-signing bundle changed after signing"
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
