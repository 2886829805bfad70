"""``sign``: sign an approved target, refusing anything the report does not vouch for.

Steps, each failing closed:

1. read the JSON report; refuse unless its verdict is ``approved``;
2. hash every artifact the report lists (one streaming read each) and refuse unless every
   SHA-256 (and size) matches the report; a folder artifact's tree digest
   (:mod:`scanner.treedigest`: its exact file set, modes and bytes) must be the report's, and
   its files become the subjects;
3. refuse when a deployable file of the target (an asset, a manifest, a file of a folder
   artifact) is not among the scanned ones;
4. write, per artifact file, a detached ``<file name>.sig`` (cosign ``sign-blob`` form) and, for
   models with an ECDSA key file, an OpenSSF model-signing bundle ``<file name>.model.sig``;
5. build the in-toto statement (subjects: exactly the scanned files; predicate: verdict,
   report/policy/SBOM digests, the release it is for, sizes, tool, time, signature file
   names) and write it as a DSSE envelope in a Sigstore bundle, ``attestation.sigstore.json``,
   last.

Example::

    result = sign_target(Path("app"), Path("r.json"), load_signer("k.key", b"pw"),
                         Path("signatures"))
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from scanner import TOOL_NAME, __version__
from scanner.errors import UsageError
from scanner.fsutil import atomic_write_bytes
from scanner.models import Artifact, ArtifactKind, Decision, Digest
from scanner.treedigest import tree_manifest
from signing._target import (
    ReportFacts,
    discover_files,
    manifest_files,
    read_report,
    resolve,
    subject_name,
)
from signing.blob import encode_signature, sign_digest_or_blob
from signing.bundle import key_bundle_json
from signing.digest import FileDigest, sha256_file
from signing.dsse import IN_TOTO_PAYLOAD_TYPE, sign_envelope
from signing.errors import InputError, Reason, SigningError, SignRefusedError
from signing.keyless import sign_statement_keyless
from signing.model_bundle import MODEL_SIGNATURE_SUFFIX, can_sign_models, sign_model
from signing.signer import Signer
from signing.statement import (
    ArtifactEntry,
    FileRef,
    FolderEntry,
    GatePredicate,
    ReleaseInfo,
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
    mode: int | None = None  # for files of a folder artifact: the mode git would record


def _artifact_name(target: Path, a: Artifact) -> str:
    name = subject_name(target, a.path)
    # A lone folder target (model folder) names its one artifact after the folder itself.
    if target.is_dir() and name == target.name and not (target / name).exists():
        return "."
    return name


def _check_artifacts(
    target: Path, report: ReportFacts, out_dir: Path
) -> tuple[list[_Item], list[FolderEntry]]:
    if not report.artifacts:
        raise InputError(f"{report.path}: invalid report: it lists no artifacts")
    items: list[_Item] = []
    folders: list[FolderEntry] = []
    # Package manifests are subjects of the attestation, but only assets get a detached
    # signature ("<asset file name>.sig"): every package has a package.json and a
    # descriptor.json, whose base names would collide in one signatures folder.
    manifests = set(manifest_files(target))
    for a in report.artifacts:
        name = _artifact_name(target, a)
        path = resolve(target, name)
        if a.digest is None:
            raise InputError(
                f"{report.path}: invalid report: artifact {a.name!r} has no sha256 "
                "(written by an earlier version? scan again)"
            )
        if path.is_dir() and not path.is_symlink():
            items.extend(_check_folder(target, name, path, a, report, out_dir))
            folders.append(FolderEntry(name, a.digest.hex))
            continue
        if not path.is_file() or path.is_symlink():
            raise SignRefusedError(
                Reason.MISSING_ARTIFACT,
                f"artifact {a.name!r}: {path} does not exist or is not a regular file",
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
        detached = name not in manifests
        items.append(_Item(name, path, a.kind.value, d, detached, model, name))
    return _dedupe(items), folders


def _check_folder(
    target: Path, name: str, path: Path, a: Artifact, report: ReportFacts, out_dir: Path
) -> list[_Item]:
    """The files of a folder artifact, refused unless its tree digest is the report's."""
    assert a.digest is not None
    if out_dir.absolute().is_relative_to(path.absolute()):
        raise UsageError(
            f"-o {out_dir}: the signatures folder is inside {path}, which is being signed",
            hint="write the signatures outside the folder (e.g. -o ../signatures)",
        )
    try:
        tree = tree_manifest(path)
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the folder: {exc.strerror or exc}") from exc
    if tree.digest != a.digest.hex:
        changed = changed_after(path, report.path)
        which = (
            f"changed after {report.path.name} was written: {', '.join(changed[:10])}"
            + (f" (and {len(changed) - 10} more)" if len(changed) > 10 else "")
            if changed
            else "which files cannot be told (one may have been removed, or changed before "
            "the report was written)"
        )
        raise SignRefusedError(
            Reason.DIGEST_MISMATCH,
            f"{name}: the folder is not the one that was scanned (its tree sha256 is "
            f"{tree.digest}, the report says {a.digest.hex}); {which}",
            hint="scan again and sign the new report",
        )
    base = f"{name}/" if name not in ("", ".") else ""
    items = []
    for entry in tree.entries:
        if entry.kind != "file":
            what = "a symbolic link" if entry.kind == "link" else "not a regular file"
            raise SignRefusedError(
                Reason.UNSIGNABLE_ENTRY,
                f"{base}{entry.path} is {what}: only regular files can be signed subjects",
                hint="replace it with the file it stands for, or remove it, then scan again",
            )
        digest = FileDigest(Digest.from_hex(entry.sha256), entry.size)
        f = path.joinpath(*entry.path.split("/"))
        items.append(_Item(f"{base}{entry.path}", f, a.kind.value, digest, False, mode=entry.mode))
    if not items:
        raise SignRefusedError(Reason.MISSING_ARTIFACT, f"{name}: folder artifact is empty")
    if a.kind is ArtifactKind.MODEL:
        items[-1].model = path
        items[-1].model_root = name
    return items


def changed_after(folder: Path, reference: Path) -> list[str]:
    """Entries of ``folder`` changed after ``reference`` was last modified (by change time).

    The change time is set by the kernel on every write, chmod or rename and cannot be set
    back by a user, so a file edited or added after the report was written shows up here. A
    folder listed with a trailing ``/`` had an entry added, removed or renamed.
    """
    try:
        since = reference.stat().st_mtime_ns
    except OSError:
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        with contextlib.suppress(OSError):
            if here != folder and here.lstat().st_mtime_ns > since:
                out.append(here.relative_to(folder).as_posix() + "/")
        for n in (*filenames, *(d for d in dirnames if (here / d).is_symlink())):
            with contextlib.suppress(OSError):
                if (here / n).lstat().st_ctime_ns > since:
                    out.append((here / n).relative_to(folder).as_posix())
    with contextlib.suppress(OSError):
        if folder.lstat().st_mtime_ns > since:
            out.append("./ (an entry was added, removed or renamed)")
    return sorted(out)


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
        seen.mode = seen.mode if seen.mode is not None else i.mode
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
    licenses: Path | None = None,
    release: ReleaseInfo | None = None,
    model_signatures: bool = True,
    clock: Callable[[], datetime] = _utc_now,
    identity_token: str | None = None,
) -> SignResult:
    """Sign an approved ``target`` whose report is ``report_path``; write into ``out_dir``.

    Raises :class:`~signing.errors.SignRefusedError` when the verdict is not approved, any
    artifact's bytes (or a folder's exact file set) differ from the report, or a deployable
    file was not scanned, before anything is written. ``release`` names the application,
    version and destination the statement is for (default: the report's target name and
    version, no destination).

    With ``signer=None`` and an OIDC ``identity_token`` the attestation is signed keylessly
    through Sigstore (ONLINE: Fulcio and Rekor); detached and model signatures need a key and
    are then not written.
    """
    if signer is None and not identity_token:
        raise SigningError("sign_target needs a signer or an OIDC identity token")
    target = Path(target)
    if not target.exists():
        raise InputError(f"{target}: target does not exist")
    report = read_report(report_path)
    if report.verdict.decision is not Decision.APPROVED:
        why = "; ".join(r.message for r in report.verdict.reasons[:3])
        raise SignRefusedError(
            Reason.NOT_APPROVED,
            f"{report_path}: the verdict is {report.verdict.decision.value!r}, not 'approved'"
            + (f" ({why})" if why else ""),
        )
    items, folders = _check_artifacts(target, report, out_dir)
    _refuse_unscanned(target, out_dir, items, folders)
    sig_names = _signature_names(items, signer)
    written, model_written, model_names, model_shas, notes = _write_signatures(
        items, signer, out_dir, sig_names, model_signatures
    )
    predicate = _predicate(
        report,
        items,
        folders,
        (sig_names, model_names, model_shas),
        _file_ref(sbom),
        _file_ref(licenses),
        release,
        clock,
    )
    statement = build_statement([Subject(i.name, i.digest.hex) for i in items], predicate)
    attestation = out_dir / ATTESTATION_FILE
    if signer is None:
        assert identity_token is not None
        _write_public(attestation, sign_statement_keyless(statement.to_dict(), identity_token))
    else:
        envelope = sign_envelope(signer, IN_TOTO_PAYLOAD_TYPE, statement_bytes(statement))
        _write_public(attestation, key_bundle_json(envelope, signer.key_id))
    return SignResult(attestation, statement, written, model_written, notes)


def _predicate(
    report: ReportFacts,
    items: list[_Item],
    folders: list[FolderEntry],
    names: tuple[dict[str, str], dict[str, str], dict[str, str]],
    sbom: FileRef | None,
    licenses: FileRef | None,
    release: ReleaseInfo | None,
    clock: Callable[[], datetime],
) -> GatePredicate:
    """The predicate: the verdict, what it was decided on, the release, each subject's facts."""
    sig_names, model_names, model_shas = names
    entries = tuple(
        ArtifactEntry(
            i.name,
            i.kind,
            i.digest.hex,
            sig_names.get(i.name),
            model_names.get(i.name),
            i.model_root if i.name in model_names else None,
            model_shas.get(i.name),
            i.digest.size,
            f"{i.mode:04o}" if i.mode is not None else None,
        )
        for i in sorted(items, key=lambda x: x.name)
    )
    return GatePredicate(
        decision=report.verdict.decision.value,
        reasons=tuple({"code": r.code, "message": r.message} for r in report.verdict.reasons),
        policy_name=report.verdict.policy_name,
        policy_sha256=report.verdict.policy_sha256,
        report_sha256=report.digest.hex,
        report_size=report.digest.size,
        sbom=sbom,
        licenses=licenses,
        tool_name=report.tool_name or TOOL_NAME,
        tool_version=__version__,
        target=report.target,
        release=_release_info(release, report),
        folders=tuple(sorted(folders, key=lambda f: f.name)),
        artifacts=entries,
        signed_at=clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _release_info(given: ReleaseInfo | None, report: ReportFacts) -> ReleaseInfo:
    """The release the statement is for: what the caller gave, else the report's target."""
    given = given or ReleaseInfo()
    return ReleaseInfo(
        given.application or report.target.get("name") or None,
        given.version or report.target.get("version") or None,
        given.destination,
    )


def _file_ref(path: Path | None) -> FileRef | None:
    if path is None:
        return None
    d = sha256_file(path)
    return FileRef(d.hex, d.size)


def _refuse_unscanned(
    target: Path, out_dir: Path, items: list[_Item], folders: list[FolderEntry]
) -> None:
    """Every deployable file must be a subject, and every subject a file the scan covered.

    Verify demands the first; refusing now beats signing something that can never verify,
    and a manifest the report does not list was never scanned.
    """
    names = {i.name for i in items}
    discovered = set(discover_files(target, out_dir, (f.name for f in folders)))
    extras = sorted(discovered - names)
    if extras:
        more = f" (and {len(extras) - 1} more)" if len(extras) > 1 else ""
        raise SignRefusedError(
            Reason.UNSCANNED_FILE,
            f"{extras[0]}{more} is in the target but not among the report's artifacts, so it "
            "was not scanned",
            hint="remove files left over from earlier builds (and keep reports outside the "
            "target), then scan and sign again",
        )


def _signature_names(items: list[_Item], signer: Signer | None) -> dict[str, str]:
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
    return sig_names


def _write_signatures(
    items: list[_Item],
    signer: Signer | None,
    out_dir: Path,
    sig_names: dict[str, str],
    model_signatures: bool,
) -> tuple[tuple[Path, ...], tuple[Path, ...], dict[str, str], dict[str, str], tuple[str, ...]]:
    """Detached and model signatures; returns what was written, with names and pins."""
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
        return (), (), {}, {}, tuple(notes)
    for i in items:
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
    return tuple(written), tuple(model_written), model_names, model_shas, tuple(notes)
