"""``sign``: sign an approved target, refusing anything the report does not vouch for.

Steps, each failing closed:

1. read the JSON report; refuse unless its verdict is ``approved``;
2. hash every artifact the report lists (one streaming read each) and refuse unless every
   SHA-256 (and size) matches the report; folders are expanded to their files;
3. write, per artifact file, a detached ``<file name>.sig`` (cosign ``sign-blob`` form) and, for
   models with an ECDSA key file, an OpenSSF model-signing bundle ``<file name>.model.sig``;
4. build the in-toto statement (subjects: every artifact file plus the package manifests;
   predicate: verdict, report/policy/SBOM digests, tool, time, signature file names) and write
   it as a DSSE envelope in a Sigstore bundle, ``attestation.sigstore.json``, last.

Example::

    result = sign_target(Path("app"), Path("r.json"), load_signer("k.key", b"pw"),
                         Path("signatures"))
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from scanner import TOOL_NAME, __version__
from scanner.fsutil import atomic_write_bytes
from scanner.models import ArtifactKind, Decision
from signing._target import (
    ReportFacts,
    discover_files,
    manifest_files,
    read_report,
    resolve,
    subject_name,
    walk_files,
)
from signing.blob import encode_signature, sign_digest_or_blob
from signing.bundle import key_bundle_json
from signing.digest import FileDigest, sha256_file
from signing.dsse import IN_TOTO_PAYLOAD_TYPE, sign_envelope
from signing.errors import Reason, SigningError, SignRefusedError
from signing.keyless import sign_statement_keyless
from signing.model_bundle import MODEL_SIGNATURE_SUFFIX, can_sign_models, sign_model
from signing.signer import Signer
from signing.statement import (
    ArtifactEntry,
    GatePredicate,
    Statement,
    Subject,
    build_statement,
    statement_bytes,
)

__all__ = ["ATTESTATION_FILE", "SIGNATURE_SUFFIX", "SignResult", "sign_target"]

log = logging.getLogger(__name__)

ATTESTATION_FILE = "attestation.sigstore.json"
SIGNATURE_SUFFIX = ".sig"


@dataclass(frozen=True, slots=True)
class SignResult:
    """What ``sign_target`` wrote and signed."""

    attestation: Path
    statement: Statement
    signatures: tuple[Path, ...] = ()
    model_signatures: tuple[Path, ...] = ()
    notes: tuple[str, ...] = field(default=())


def _write_public(path: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(path, data)
        # Signatures are public: readable by the deploy side (mkstemp creates files 0600).
        os.chmod(path, 0o644)
    except OSError as exc:
        raise SigningError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Item:
    name: str  # subject name
    path: Path
    kind: str
    digest: FileDigest
    detached: bool  # gets a .sig
    model: Path | None = None  # model file or folder to model-sign
    model_root: str | None = None  # its name relative to the target


def _check_artifacts(target: Path, report: ReportFacts, out_dir: Path) -> list[_Item]:
    if not report.artifacts:
        raise SignRefusedError(Reason.BAD_REPORT, f"{report.path}: the report lists no artifacts")
    items: list[_Item] = []
    # Package manifests are subjects of the attestation, but only assets get a detached
    # signature ("<asset file name>.sig"): every package has a package.json and a
    # descriptor.json, whose base names would collide in one signatures folder.
    manifests = set(manifest_files(target))
    for a in report.artifacts:
        name = subject_name(target, a.path)
        path = resolve(target, name)
        if path.is_dir():
            # A folder artifact (code package, SavedModel folder): each file is a subject;
            # the report's folder digest is the pipeline's own tree hash, so the per-file
            # digests taken now are what is signed.
            files = walk_files(path, out_dir)
            if not files:
                raise SignRefusedError(Reason.MISSING_ARTIFACT, f"{name}: folder artifact is empty")
            for f in files:
                rel = f.relative_to(target).as_posix() if target.is_dir() else f.name
                items.append(_Item(rel, f, a.kind.value, sha256_file(f), detached=False))
            if a.kind is ArtifactKind.MODEL:
                items[-1].model = path
                items[-1].model_root = name
            continue
        if not path.is_file():
            raise SignRefusedError(
                Reason.MISSING_ARTIFACT,
                f"artifact {a.name!r}: {path} does not exist or is not a regular file",
            )
        if a.digest is None:
            raise SignRefusedError(
                Reason.BAD_REPORT, f"{report.path}: artifact {a.name!r} has no sha256"
            )
        d = sha256_file(path)
        if d.digest != a.digest:
            raise SignRefusedError(
                Reason.DIGEST_MISMATCH,
                f"artifact {a.name!r}: {path} has sha256 {d.hex}, the report says {a.digest.hex}",
                hint="the bytes changed after the scan: scan again and sign the new report",
            )
        if a.size >= 0 and d.size != a.size:
            raise SignRefusedError(
                Reason.DIGEST_MISMATCH,
                f"artifact {a.name!r}: {path} is {d.size} bytes, the report says {a.size}",
            )
        model = path if a.kind is ArtifactKind.MODEL else None
        items.append(
            _Item(
                name,
                path,
                a.kind.value,
                d,
                detached=name not in manifests,
                model=model,
                model_root=name,
            )
        )
    return _dedupe(items)


def _dedupe(items: list[_Item]) -> list[_Item]:
    """One item per subject name (a report may list a file and the folder holding it)."""
    by_name: dict[str, _Item] = {}
    for i in items:
        seen = by_name.get(i.name)
        if seen is None:
            by_name[i.name] = i
            continue
        if seen.digest != i.digest:
            raise SigningError(f"{i.name}: changed while being signed; sign again")
        seen.detached = seen.detached or i.detached
        if seen.model is None and i.model is not None:
            seen.model, seen.model_root = i.model, i.model_root
    return list(by_name.values())


def sign_target(
    target: Path,
    report_path: Path,
    signer: Signer | None,
    out_dir: Path,
    *,
    sbom: Path | None = None,
    model_signatures: bool = True,
    clock: Callable[[], datetime] = _utc_now,
    identity_token: str | None = None,
) -> SignResult:
    """Sign an approved ``target`` whose report is ``report_path``; write into ``out_dir``.

    Raises :class:`~signing.errors.SignRefusedError` when the verdict is not approved or any
    artifact's bytes differ from the report, before anything is written.

    With ``signer=None`` and an OIDC ``identity_token`` the attestation is signed keylessly
    through Sigstore (ONLINE: Fulcio and Rekor); detached and model signatures need a key and
    are then not written.
    """
    if signer is None and not identity_token:
        raise SigningError("sign_target needs a signer or an OIDC identity token")
    target = Path(target)
    if not target.exists():
        raise SigningError(f"{target}: target does not exist")
    report = read_report(report_path)
    if report.verdict.decision is not Decision.APPROVED:
        why = "; ".join(r.message for r in report.verdict.reasons[:3])
        raise SignRefusedError(
            Reason.NOT_APPROVED,
            f"{report_path}: the verdict is {report.verdict.decision.value!r}, not 'approved'"
            + (f" ({why})" if why else ""),
        )
    items = _check_artifacts(target, report, out_dir)
    names = {i.name for i in items}
    for m in manifest_files(target):
        if m not in names:
            p = target / m
            items.append(_Item(m, p, ArtifactKind.DESCRIPTOR.value, sha256_file(p), False))
            names.add(m)

    # Verify demands that every deployable file be a subject; refuse now rather than sign
    # something that can never verify (and never sign a file the scan did not look at).
    extras = sorted(set(discover_files(target, out_dir)) - names)
    if extras:
        more = f" (and {len(extras) - 1} more)" if len(extras) > 1 else ""
        raise SignRefusedError(
            Reason.UNSCANNED_FILE,
            f"{extras[0]}{more} is in the target but not among the report's artifacts, so it "
            "was not scanned",
            hint="remove files left over from earlier builds (and keep reports outside the "
            "target), then scan and sign again",
        )

    sig_names: dict[str, str] = {}
    for i in items:
        if i.detached and signer is not None:
            file_name = Path(i.name).name + SIGNATURE_SUFFIX
            if file_name in sig_names.values():
                raise SigningError(
                    f"two artifacts share the file name {Path(i.name).name!r}; their detached "
                    "signatures would collide in one folder"
                )
            sig_names[i.name] = file_name

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SigningError(f"{out_dir}: cannot create: {exc.strerror or exc}") from exc

    attestation = out_dir / ATTESTATION_FILE
    # An earlier attestation must not sit beside half-written new signatures: remove it first,
    # so an interrupted run leaves a folder that fails verification (missing attestation).
    try:
        attestation.unlink(missing_ok=True)
    except OSError as exc:
        raise SigningError(f"{attestation}: cannot replace: {exc.strerror or exc}") from exc
    notes: list[str] = []
    written: list[Path] = []
    model_written: list[Path] = []
    model_names: dict[str, str] = {}
    model_shas: dict[str, str] = {}
    if signer is None:
        notes.append("keyless: only the attestation is signed (no detached or model signatures)")
    for i in items:
        if signer is None:
            break
        if i.name in sig_names:
            sig = sign_digest_or_blob(signer, i.digest.digest, i.path)
            out = out_dir / sig_names[i.name]
            _write_public(out, encode_signature(sig))
            written.append(out)
        if i.model is not None and model_signatures:
            why_not = can_sign_models(signer)
            if why_not is not None:
                notes.append(f"{i.name}: no model-signing bundle: {why_not}")
                log.warning("%s: no model-signing bundle: %s", i.name, why_not)
                continue
            out = out_dir / (i.model.name + MODEL_SIGNATURE_SUFFIX)
            sign_model(i.model, signer, out)
            os.chmod(out, 0o644)
            model_written.append(out)
            model_names[i.name] = out.name
            # Pin the bundle's bytes in the attestation: model-signing itself would accept
            # edits to its unsigned JSON wrapper.
            model_shas[i.name] = sha256_file(out).hex

    sbom_sha = sha256_file(sbom).hex if sbom is not None else None
    entries = tuple(
        ArtifactEntry(
            i.name,
            i.kind,
            i.digest.hex,
            sig_names.get(i.name),
            model_names.get(i.name),
            i.model_root if i.name in model_names else None,
            model_shas.get(i.name),
        )
        for i in sorted(items, key=lambda x: x.name)
    )
    predicate = GatePredicate(
        decision=report.verdict.decision.value,
        reasons=tuple({"code": r.code, "message": r.message} for r in report.verdict.reasons),
        policy_name=report.verdict.policy_name,
        policy_sha256=report.verdict.policy_sha256,
        report_sha256=report.digest.hex,
        report_size=report.digest.size,
        sbom_sha256=sbom_sha,
        tool_name=report.tool_name or TOOL_NAME,
        tool_version=__version__,
        target=report.target,
        artifacts=entries,
        signed_at=clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    statement = build_statement([Subject(i.name, i.digest.hex) for i in items], predicate)
    if signer is None:
        assert identity_token is not None
        _write_public(attestation, sign_statement_keyless(statement.to_dict(), identity_token))
    else:
        envelope = sign_envelope(signer, IN_TOTO_PAYLOAD_TYPE, statement_bytes(statement))
        _write_public(attestation, key_bundle_json(envelope, signer.key_id))
    return SignResult(attestation, statement, tuple(written), tuple(model_written), tuple(notes))
