"""``publish``: the gate in one step for CI: (scan →) policy → sign → encrypt → upload.

Nothing is uploaded unless the verdict is approved and the signed statement vouches for the
exact report being uploaded. The statement names the application, the version and the
destination (``pull`` checks them against the URL it is given), and every file's size.
The release index is written last, so a release is either
complete or invisible: ``pull`` treats a release without an index as missing.

Layout under the destination (``s3://BUCKET/PREFIX`` or ``file://DIR``), one folder per
application version; every key in the index is relative to that folder::

    APP/VERSION/
      index.json                      the release index, written last (the only fixed name)
      meta/<sha256>/attestation.sigstore.json   signed in-toto statement (DSSE, bundle v0.3)
      meta/<sha256>/report.json       the JSON report the verdict came from
      meta/<sha256>/sbom.cdx.json, meta/<sha256>/licenses.json   when available (their
                                      digests and sizes are signed too)
      signatures/<sha256>/<file>.sig  cosign-style detached signature of each plaintext asset
      objects/sha256/<hex>.enc        each signed file, encrypted (AWS Encryption SDK format),
                                      named by its plaintext SHA-256, written only if absent

Two publishers racing for one version never overwrite each other: every object but the index
is named by its content or written only if absent (a loser adopts the winner's encryption of
the same file), and exactly one index wins, naming one complete release.

Example::

    report = run_gate(target, config, policy)
    result = publish_release(target, report, PublishOptions(
        destination="s3://releases/panorama", signer=signer, keyring=keyring,
        documents=write_release_documents))
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from scanner import TOOL_NAME, __version__
from scanner.errors import UsageError
from scanner.models import Decision, Report
from signing._publish_objects import Uploader
from signing._publish_race import already_published, lost_race
from signing._publish_types import (
    DocumentWriter,
    PlannedObject,
    PublishOptions,
    PublishRefusedError,
    PublishResult,
)
from signing._release_index import (
    INDEX_FILE,
    INDEX_SCHEMA,
    OBJECTS_DIR,
    REPORT_FILE,
    SIGNATURES_DIR,
    canonical_json,
)
from signing._state import default_state_dir, private_dir
from signing.encrypt import ALGORITHM, FRAME_LENGTH, encryption_context
from signing.errors import Reason, SigningError
from signing.sign import ATTESTATION_FILE, sign_target
from signing.signer import PublicKeyVerifier
from signing.statement import ReleaseInfo, Statement
from signing.store import ObjectExistsError, open_store

__all__ = [
    "INDEX_FILE",
    "INDEX_SCHEMA",
    "DocumentWriter",
    "PlannedObject",
    "PublishOptions",
    "PublishRefusedError",
    "PublishResult",
    "check_segment",
    "publish_release",
    "release_url",
]

log = logging.getLogger(__name__)

# Documents beside the report, when the document writer provides them.
EXTRA_DOCUMENTS = (("sbom", "sbom.cdx.json"), ("licenses", "licenses.json"))

_SAFE_SEGMENT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+")


def check_segment(value: str, what: str) -> str:
    """``value`` if it can be one segment of an object key; ``UsageError`` (exit 2) else."""
    if not value or value in (".", "..") or any(c not in _SAFE_SEGMENT for c in value):
        raise UsageError(
            f"{what} {value!r}: use letters, digits and . _ - + only (it becomes an object key)"
        )
    return value


def release_url(destination: str, application: str, version: str) -> str:
    """The release folder's URL: ``DEST/APP/VERSION``."""
    return f"{destination.rstrip('/')}/{application}/{version}"


def _decide(report: Report) -> None:
    verdict = report.verdict
    if verdict is None:
        raise PublishRefusedError(Reason.BAD_REPORT, "the report has no verdict", exit_code=3)
    if verdict.decision is Decision.APPROVED:
        return
    why = "; ".join(r.message for r in verdict.reasons[:3])
    detail = f" ({why})" if why else ""
    if verdict.decision is Decision.INCOMPLETE:
        raise PublishRefusedError(
            Reason.NOT_APPROVED,
            f"the verdict is 'incomplete'{detail}; nothing was uploaded",
            exit_code=3,
        )
    raise PublishRefusedError(
        Reason.NOT_APPROVED, f"the verdict is 'rejected'{detail}; nothing was uploaded"
    )


def _names(report: Report, options: PublishOptions) -> tuple[str, str]:
    app = options.application or report.target.name
    version = options.version or report.target.version
    if not app:
        raise UsageError("cannot tell the application's name from the target: pass --app NAME")
    if not version:
        raise UsageError(
            "cannot tell the application's version from the target: pass --app-version VERSION"
        )
    return check_segment(app, "application name"), check_segment(version, "version")


def publish_release(target: Path, report: Report, options: PublishOptions) -> PublishResult:
    """Sign, encrypt and upload an approved target; see the module docstring for the layout.

    Raises :class:`PublishRefusedError` (before anything is uploaded) when the verdict is not
    approved, and :class:`~signing.errors.SigningError` subclasses for any other failure; a
    failed run never writes the index, and a rerun skips what was already uploaded.
    """
    _decide(report)
    app, version = _names(report, options)
    url = release_url(options.destination, app, version)
    store = open_store(
        url,
        endpoint_url=options.endpoint_url,
        region=options.region,
        fips=options.fips,
        sse_kms_key_id=options.sse_kms_key_id,
        progress=options.progress,
        retry=options.retry,
        client=options.client,
        part_size=options.part_size,
        workers=options.workers,
    )
    existing = store.head(INDEX_FILE)
    if options.dry_run:
        return _plan(report, target, url, app, version, existing is not None)
    if (options.signer is None) == (options.identity_token is None) or options.keyring is None:
        raise UsageError(
            "publish needs one way to sign (--key, or --keyless) and an encryption key "
            "(--kms-key, --encrypt-to or --raw-aes-key-file)"
        )
    if options.documents is None:
        raise UsageError("publish needs a document writer (the JSON report at least)")
    state_root = private_dir(options.state_dir or default_state_dir())
    state_dir = private_dir(state_root / hashlib.sha256(url.encode()).hexdigest()[:24])
    with tempfile.TemporaryDirectory(prefix="panorama-gate-publish.") as tmp:
        work = Path(tmp)
        docs = dict(options.documents(report, work))
        release = ReleaseInfo(app, version, options.destination.rstrip("/"))
        signed = sign_target(
            target,
            docs["report"],
            options.signer,
            work / "signatures",
            sbom=docs.get("sbom"),
            licenses=docs.get("licenses"),
            release=release,
            identity_token=options.identity_token,
        )
        statement = signed.statement
        report_sha = hashlib.sha256(docs["report"].read_bytes()).hexdigest()
        if statement.predicate.report_sha256 != report_sha:
            raise PublishRefusedError(
                Reason.DIGEST_MISMATCH,
                f"the signed statement vouches for report sha256 "
                f"{statement.predicate.report_sha256}, not the uploaded {report_sha}",
                exit_code=3,
            )
        if statement.predicate.decision != Decision.APPROVED.value:
            raise PublishRefusedError(Reason.NOT_APPROVED, "the signed verdict is not approved")
        verifier = (
            PublicKeyVerifier(options.signer.public_key()) if options.signer is not None else None
        )
        if existing is not None:
            return already_published(store, statement, url, app, version, verifier)
        layout = "file" if target.is_file() else "folder"
        uploader = Uploader(store, options.keyring, state_dir, [])
        return _upload(
            uploader, target, statement, signed.attestation, docs, options, url, layout, verifier
        )


def _subject_files(target: Path, statement: Statement) -> list[tuple[str, Path, str]]:
    """(subject name, local path, plaintext sha256) for every subject."""
    base = target if target.is_dir() else target.parent
    out: list[tuple[str, Path, str]] = []
    for s in statement.subjects:
        pure = PurePosixPath(s.name)
        if pure.is_absolute() or ".." in pure.parts:
            raise SigningError(f"statement subject {s.name!r} is not a relative path")
        path = base.joinpath(*pure.parts)
        if not path.is_file():
            raise SigningError(f"statement subject {s.name!r}: {path} is not a file")
        out.append((s.name, path, s.sha256))
    return out


def _upload(
    up: Uploader,
    target: Path,
    statement: Statement,
    attestation: Path,
    docs: dict[str, Path],
    options: PublishOptions,
    url: str,
    layout: str,
    verifier: PublicKeyVerifier | None,
) -> PublishResult:
    release = statement.predicate.release
    app, version = str(release.application), str(release.version)
    files: list[dict[str, Any]] = []
    by_name = {a.name: a for a in statement.predicate.artifacts}
    seen_objects: dict[str, dict[str, Any]] = {}
    for name, path, sha in _subject_files(target, statement):
        key = f"{OBJECTS_DIR}/{sha}.enc"
        ctx = encryption_context(sha, application=app, version=version)
        obj = seen_objects.get(sha)
        if obj is None:
            obj = up.put_encrypted(key, path, sha, ctx)
            seen_objects[sha] = obj
        entry: dict[str, Any] = {
            "name": name,
            "sha256": sha,
            "size": int(obj["plaintext_size"]),
            "object": {"key": key, "sha256": obj["sha256"], "size": obj["size"]},
            "context": ctx,
            "signature": None,
            "model_signature": None,
        }
        art = by_name.get(name)
        if art is not None:
            entry["kind"] = art.kind
            if art.signature is not None:
                entry["signature"] = up.put_signature(attestation.parent / art.signature, sha)
            if art.model_signature is not None:
                entry["model_signature"] = up.put_signature(
                    attestation.parent / art.model_signature, sha
                )
        files.append(entry)
    meta_files = {
        "attestation": up.put_document(
            "attestation", attestation, "application/vnd.dev.sigstore.bundle.v0.3+json"
        )
    }
    for role, path in docs.items():
        meta_files[role] = up.put_document(role, path, "application/json")
    index = _index(statement, options, up, meta_files, files, layout)
    data = canonical_json(index)
    # Last: a reader that sees the index sees a complete release. Written only if absent, so
    # of two publishers racing for one version exactly one index wins (pull then rejects any
    # file the loser overwrote: the index pins every digest).
    try:
        up.store.put_bytes(
            INDEX_FILE,
            data,
            metadata={"pg-sha256": hashlib.sha256(data).hexdigest(), "pg-verdict": "approved"},
            tags={"panorama-gate:verdict": "approved"},
            content_type="application/json",
            if_absent=True,
        )
    except ObjectExistsError:
        return lost_race(up.store, statement, url, app, version, meta_files, files, verifier)
    up.done.append(PlannedObject(INDEX_FILE, len(data), "index", "uploaded"))
    _forget_state(up.state_dir)
    return PublishResult(
        url=url, application=app, version=version, objects=tuple(up.done), index=index
    )


def _forget_state(state_dir: Path) -> None:
    """The release is complete: its staged ciphertexts and records are no longer needed."""
    for p in state_dir.iterdir():
        if not p.is_dir() or p.is_symlink():
            p.unlink(missing_ok=True)
    try:
        state_dir.rmdir()
    except OSError as exc:
        log.debug("%s: not removed (%s)", state_dir, exc)


def _index(
    statement: Statement,
    options: PublishOptions,
    up: Uploader,
    meta_files: dict[str, Any],
    files: list[dict[str, Any]],
    layout: str,
) -> dict[str, Any]:
    predicate = statement.predicate
    return {
        "schema": INDEX_SCHEMA,
        "application": predicate.release.application,
        "version": predicate.release.version,
        "created_at": options.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool": {"name": TOOL_NAME, "version": __version__},
        "target": {**dict(predicate.target), "layout": layout},
        "verdict": {
            "decision": predicate.decision,
            "policy": {"name": predicate.policy_name, "sha256": predicate.policy_sha256},
        },
        "encryption": {
            "format": "aws-encryption-sdk",
            "algorithm": ALGORITHM.name,
            "frame_length": FRAME_LENGTH,
            "keyring": up.keyring.describe(),
        },
        **{role: meta_files.get(role) for role in ("attestation", "report", "sbom", "licenses")},
        "files": sorted(files, key=lambda f: f["name"]),
    }


def _plan(
    report: Report, target: Path, url: str, app: str, version: str, exists: bool
) -> PublishResult:
    """What a real run would upload (no signing, encryption or upload happens)."""
    planned: list[PlannedObject] = []
    base = target if target.is_dir() else target.parent
    for a in sorted(report.artifacts, key=lambda x: x.name):
        if a.digest is None:
            continue
        size = a.size
        with contextlib.suppress(OSError):
            size = (base / a.path).stat().st_size if (base / a.path).is_file() else a.size
        planned.append(
            PlannedObject(f"{OBJECTS_DIR}/{a.digest.hex}.enc", size, f"encrypted {a.name}")
        )
        planned.append(
            PlannedObject(
                f"{SIGNATURES_DIR}/{PurePosixPath(a.path).name}.sig", 0, f"signature of {a.name}"
            )
        )
    planned.append(PlannedObject(ATTESTATION_FILE, 0, "attestation"))
    planned.append(PlannedObject(REPORT_FILE, 0, "report"))
    for role, file_name in EXTRA_DOCUMENTS:
        planned.append(PlannedObject(file_name, 0, f"{role} (when written)"))
    planned.append(PlannedObject(INDEX_FILE, 0, "index (written last)"))
    return PublishResult(
        url=url,
        application=app,
        version=version,
        objects=tuple(planned),
        dry_run=True,
        already_published=exists,
    )
