"""``publish``: the gate in one step for CI: (scan →) policy → sign → encrypt → upload.

Nothing is uploaded unless the verdict is approved and the signed statement vouches for the
exact report being uploaded. The release index is written last, so a release is either
complete or invisible: ``pull`` treats a release without an index as missing.

Layout under the destination (``s3://BUCKET/PREFIX`` or ``file://DIR``), one folder per
application version; every key in the index is relative to that folder::

    APP/VERSION/
      index.json                      the release index, written last (the only fixed name)
      meta/<sha256>/attestation.sigstore.json   signed in-toto statement (DSSE, bundle v0.3)
      meta/<sha256>/report.json       the JSON report the verdict came from
      meta/<sha256>/sbom.cdx.json, meta/<sha256>/licenses.json   when available
      signatures/<sha256>/<file>.sig  cosign-style detached signature of each plaintext asset
      objects/sha256/<hex>.enc        each signed file, encrypted (AWS Encryption SDK format),
                                      named by its plaintext SHA-256, written only if absent

Two publishers racing for one version never overwrite each other: every object but the index
is named by its content or written only if absent (a loser adopts the winner's encryption of
the same file), and exactly one index wins, naming one complete release.

Example::

    report = run_gate(target, config, policy)
    result = publish_release(target, report, PublishOptions(
        destination="s3://releases/panorama", signer=signer, keyring=keyring))
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from scanner import TOOL_NAME, __version__
from scanner.errors import UsageError
from scanner.models import Decision, Report
from scanner.report import FORMATS, get_writer
from signing.encrypt import (
    ALGORITHM,
    CONTEXT_SHA256,
    FRAME_LENGTH,
    EncryptResult,
    Keyring,
    encrypt_file,
    encryption_context,
)
from signing.errors import Reason, SigningError
from signing.sign import ATTESTATION_FILE, sign_target
from signing.signer import Signer
from signing.statement import Statement
from signing.store import (
    ObjectExistsError,
    ObjectStore,
    RetryPolicy,
    TransferProgress,
    open_store,
)

__all__ = [
    "INDEX_FILE",
    "INDEX_SCHEMA",
    "PublishOptions",
    "PublishRefusedError",
    "PublishResult",
    "PlannedObject",
    "publish_release",
    "release_url",
]

log = logging.getLogger(__name__)

INDEX_FILE = "index.json"
INDEX_SCHEMA = "https://panorama-gate.dev/release-index/v1"
REPORT_FILE = "report.json"
META_DIR = "meta"
OBJECTS_DIR = "objects/sha256"
SIGNATURES_DIR = "signatures"
# Optional extra reports, written when a writer of that name is registered.
EXTRA_REPORTS = (
    ("cyclonedx", "sbom.cdx.json", "sbom"),
    ("licenses-json", "licenses.json", "licenses"),
)

_SAFE_SEGMENT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+")


class PublishRefusedError(SigningError):
    """publish will not upload: rejected (exit 1), incomplete (exit 3), or inconsistent."""

    def __init__(self, reason: Reason, message: str, *, exit_code: int = 1, hint: str = ""):
        super().__init__(f"refusing to publish ({reason.value}): {message}", hint=hint)
        self.reason = reason
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class PublishOptions:
    """Everything publish needs besides the target and its report."""

    destination: str
    signer: Signer | None
    keyring: Keyring | None
    application: str | None = None
    version: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    fips: bool = False
    sse_kms_key_id: str | None = None
    dry_run: bool = False
    state_dir: Path | None = None
    progress: TransferProgress | None = None
    retry: RetryPolicy | None = None
    client: Any = None
    part_size: int = 8 * 1024 * 1024
    workers: int = 4
    identity_token: str | None = None  # keyless signing through Sigstore (instead of signer)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class PlannedObject:
    """One object of the release: where it goes and what happened to it."""

    key: str
    size: int
    what: str
    action: str = "upload"  # upload | skip | uploaded | skipped


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What publish did (or, for a dry run, would do)."""

    url: str
    application: str
    version: str
    objects: tuple[PlannedObject, ...]
    dry_run: bool = False
    already_published: bool = False
    index: Mapping[str, Any] | None = None

    @property
    def uploaded(self) -> tuple[PlannedObject, ...]:
        """Objects actually sent this run."""
        return tuple(o for o in self.objects if o.action == "uploaded")

    @property
    def skipped(self) -> tuple[PlannedObject, ...]:
        """Objects already present with the same digest."""
        return tuple(o for o in self.objects if o.action == "skipped")


def _check_segment(value: str, what: str) -> str:
    if not value or value in (".", "..") or any(c not in _SAFE_SEGMENT for c in value):
        raise UsageError(
            f"{what} {value!r}: use letters, digits and . _ - + only (it becomes an object key)"
        )
    return value


def release_url(destination: str, application: str, version: str) -> str:
    """The release folder's URL: ``DEST/APP/VERSION``."""
    return f"{destination.rstrip('/')}/{application}/{version}"


def _canonical(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8")


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
    return _check_segment(app, "application name"), _check_segment(version, "version")


def _write_reports(report: Report, work: Path) -> dict[str, Path]:
    written: dict[str, Path] = {}
    for fmt, file_name, role in (("json", REPORT_FILE, "report"), *EXTRA_REPORTS):
        if fmt not in FORMATS:
            log.info("no %s writer registered; the release has no %s", fmt, file_name)
            continue
        buf = io.StringIO()
        get_writer(fmt).write(report, buf)
        path = work / file_name
        path.write_text(buf.getvalue(), encoding="utf-8", newline="\n")
        written[role] = path
    return written


def _file_entry(key: str, path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"key": key, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


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
    state_root = options.state_dir or Path(tempfile.gettempdir()) / "panorama-gate-publish"
    state_dir = state_root / hashlib.sha256(url.encode()).hexdigest()[:24]
    state_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="panorama-gate-publish.") as tmp:
        work = Path(tmp)
        reports = _write_reports(report, work)
        signed = sign_target(
            target,
            reports["report"],
            options.signer,
            work / "signatures",
            sbom=reports.get("sbom"),
            identity_token=options.identity_token,
        )
        statement = signed.statement
        report_sha = hashlib.sha256(reports["report"].read_bytes()).hexdigest()
        if statement.predicate.report_sha256 != report_sha:
            raise PublishRefusedError(
                Reason.DIGEST_MISMATCH,
                f"the signed statement vouches for report sha256 "
                f"{statement.predicate.report_sha256}, not the uploaded {report_sha}",
                exit_code=3,
            )
        if statement.predicate.decision != Decision.APPROVED.value:
            raise PublishRefusedError(Reason.NOT_APPROVED, "the signed verdict is not approved")
        if existing is not None:
            return _already_published(store, statement, url, app, version)
        layout = "file" if target.is_file() else "folder"
        return _upload(
            store,
            target,
            statement,
            signed.attestation,
            reports,
            state_dir,
            options,
            url,
            app,
            version,
            layout,
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


def _object_metadata(
    sha: str,
    keyring: Keyring,
    ctx: Mapping[str, str],
    result: EncryptResult | None,
    ciphertext_sha256: str = "",
) -> dict[str, str]:
    meta = {
        "pg-sha256": sha,
        "pg-verdict": Decision.APPROVED.value,
        "pg-keyring": keyring.fingerprint(),
        "pg-context": hashlib.sha256(_canonical(dict(ctx))).hexdigest(),
    }
    if result is not None:
        meta["pg-ciphertext-sha256"] = ciphertext_sha256
        meta["pg-plaintext-size"] = str(result.plaintext_size)
    return meta


def _tags(sha: str) -> dict[str, str]:
    return {"panorama-gate:sha256": sha, "panorama-gate:verdict": Decision.APPROVED.value}


def _upload(
    store: ObjectStore,
    target: Path,
    statement: Statement,
    attestation: Path,
    reports: Mapping[str, Path],
    state_dir: Path,
    options: PublishOptions,
    url: str,
    app: str,
    version: str,
    layout: str,
) -> PublishResult:
    assert options.keyring is not None
    keyring = options.keyring
    done: list[PlannedObject] = []
    files: list[dict[str, Any]] = []
    sig_by_name = {a.name: a for a in statement.predicate.artifacts}
    seen_objects: dict[str, dict[str, Any]] = {}
    for name, path, sha in _subject_files(target, statement):
        key = f"{OBJECTS_DIR}/{sha}.enc"
        ctx = encryption_context(sha, application=app, version=version)
        obj = seen_objects.get(sha)
        if obj is None:
            obj = _put_encrypted(store, key, path, sha, ctx, keyring, state_dir, done)
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
        art = sig_by_name.get(name)
        if art is not None:
            entry["kind"] = art.kind
            for field_name, sig_file in (
                ("signature", art.signature),
                ("model_signature", art.model_signature),
            ):
                if sig_file is None:
                    continue
                local = attestation.parent / sig_file
                # Content-addressed like everything but the index: a publisher racing for this
                # version never overwrites a signature the winner's index pins.
                sig_sha = hashlib.sha256(local.read_bytes()).hexdigest()
                sig_key = f"{SIGNATURES_DIR}/{sig_sha}/{sig_file}"
                entry[field_name] = _file_entry(sig_key, local)
                store.put_bytes(
                    sig_key,
                    local.read_bytes(),
                    metadata={"pg-sha256": sha},
                    tags=_tags(sha),
                    content_type="text/plain",
                )
                done.append(PlannedObject(sig_key, local.stat().st_size, "signature", "uploaded"))
        files.append(entry)

    meta_files: dict[str, Any] = {}
    for role, path, ctype in (
        ("attestation", attestation, "application/vnd.dev.sigstore.bundle.v0.3+json"),
        *((r, p, "application/json") for r, p in reports.items()),
    ):
        key = f"{META_DIR}/{hashlib.sha256(path.read_bytes()).hexdigest()}/{path.name}"
        meta_files[role] = _file_entry(key, path)
        sha = meta_files[role]["sha256"]
        store.put_bytes(
            key, path.read_bytes(), metadata={"pg-sha256": sha}, tags=_tags(sha), content_type=ctype
        )
        done.append(PlannedObject(key, path.stat().st_size, role, "uploaded"))

    predicate = statement.predicate
    index = {
        "schema": INDEX_SCHEMA,
        "application": app,
        "version": version,
        "created_at": options.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
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
            "keyring": keyring.describe(),
        },
        **{role: meta_files.get(role) for role in ("attestation", "report", "sbom", "licenses")},
        "files": sorted(files, key=lambda f: f["name"]),
    }
    data = _canonical(index)
    # Last: a reader that sees the index sees a complete release. Written only if absent, so
    # of two publishers racing for one version exactly one index wins (pull then rejects any
    # file the loser overwrote: the index pins every digest).
    try:
        store.put_bytes(
            INDEX_FILE,
            data,
            metadata={
                "pg-sha256": hashlib.sha256(data).hexdigest(),
                "pg-verdict": predicate.decision,
            },
            tags={"panorama-gate:verdict": predicate.decision},
            content_type="application/json",
            if_absent=True,
        )
    except ObjectExistsError:
        return _lost_race(store, statement, url, app, version, meta_files, files)
    done.append(PlannedObject(INDEX_FILE, len(data), "index", "uploaded"))
    with contextlib.suppress(OSError):
        shutil.rmtree(state_dir)
    return PublishResult(
        url=url, application=app, version=version, objects=tuple(done), index=index
    )


def _put_encrypted(
    store: ObjectStore,
    key: str,
    path: Path,
    sha: str,
    ctx: Mapping[str, str],
    keyring: Keyring,
    state_dir: Path,
    done: list[PlannedObject],
) -> dict[str, Any]:
    """Encrypt and upload one file unless the same encryption of it is already there."""
    wanted = _object_metadata(sha, keyring, ctx, None)
    info = store.head(key)
    if info is not None and all(info.metadata.get(k) == v for k, v in wanted.items()):
        ct_sha = info.metadata.get("pg-ciphertext-sha256", "")
        size_text = info.metadata.get("pg-plaintext-size", "")
        if len(ct_sha) == 64 and size_text.isdigit():
            log.info("%s: already uploaded (same digest and keys); skipped", key)
            done.append(PlannedObject(key, info.size, "encrypted asset", "skipped"))
            return {"sha256": ct_sha, "size": info.size, "plaintext_size": int(size_text)}
    # The ciphertext is staged under the state folder and kept until its upload completes:
    # encryption is randomised, so a rerun must reuse the same bytes to resume a multipart
    # upload instead of starting over.
    staged = state_dir / f"{sha}.enc"
    staged_meta = state_dir / f"{sha}.json"
    result: EncryptResult | None = None
    if staged.is_file() and staged_meta.is_file():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            doc = json.loads(staged_meta.read_text(encoding="utf-8"))
            if doc["metadata"] == wanted and doc["ciphertext_size"] == staged.stat().st_size:
                result = EncryptResult(
                    sha, int(doc["plaintext_size"]), int(doc["ciphertext_size"]), dict(ctx)
                )
    if result is None:
        result = encrypt_file(path, staged, keyring, ctx)
        staged_meta.write_text(
            json.dumps(
                {
                    "metadata": wanted,
                    "plaintext_size": result.plaintext_size,
                    "ciphertext_size": result.ciphertext_size,
                }
            ),
            encoding="utf-8",
        )
    if result.context.get(CONTEXT_SHA256) != sha:
        raise SigningError(f"{path}: staged ciphertext does not belong to sha256 {sha}")
    # One read of the ciphertext gives its SHA-256 (for the index and metadata) and the
    # per-part checksums of the upload.
    digests = store.digest_file(staged)
    if digests.size != result.ciphertext_size:
        raise SigningError(
            f"{staged}: staged ciphertext is {digests.size} bytes, "
            f"{result.ciphertext_size} were written"
        )
    upload = functools.partial(
        store.put_file,
        key,
        staged,
        digests=digests,
        metadata=_object_metadata(sha, keyring, ctx, result, digests.sha256_hex),
        tags=_tags(sha),
        resume_state=state_dir / f"{sha}.upload.json",
    )
    try:
        # Only where the key was free when looked at: a publisher racing for the same
        # release may have written it since, and its object must not be replaced.
        put = upload(if_absent=info is None)
    except ObjectExistsError:
        adopted = _adopt(store, key, wanted, done)
        if adopted is not None:
            return adopted
        # An object that never got its metadata was left by an interrupted run: replace it.
        put = upload(if_absent=False)
    staged.unlink()
    staged_meta.unlink()
    done.append(
        PlannedObject(
            key,
            result.ciphertext_size,
            f"encrypted asset ({put.parts_sent} parts sent, {put.parts_reused} reused)",
            "uploaded",
        )
    )
    return {
        "sha256": digests.sha256_hex,
        "size": result.ciphertext_size,
        "plaintext_size": result.plaintext_size,
    }


def _adopt(
    store: ObjectStore, key: str, wanted: Mapping[str, str], done: list[PlannedObject]
) -> dict[str, Any] | None:
    """Another publisher wrote the same encryption of this file first: use its object.

    Its metadata may land a moment after the object (the file store writes it second), so
    look for about two seconds; ``None`` when it never completes (a run interrupted between
    writing the object and its metadata).
    """
    for _ in range(20):
        info = store.head(key)
        if info is not None:
            if not all(info.metadata.get(k) == v for k, v in wanted.items()):
                raise SigningError(
                    f"{key}: another publisher wrote this object with other keys or context "
                    "at the same time; run one publisher per release"
                )
            ct_sha = info.metadata.get("pg-ciphertext-sha256", "")
            size_text = info.metadata.get("pg-plaintext-size", "")
            if len(ct_sha) == 64 and size_text.isdigit():
                done.append(PlannedObject(key, info.size, "encrypted asset", "skipped"))
                return {"sha256": ct_sha, "size": info.size, "plaintext_size": int(size_text)}
        time.sleep(0.1)
    return None


def _already_published(
    store: ObjectStore, statement: Statement, url: str, app: str, version: str
) -> PublishResult:
    """A complete release is immutable: same files → nothing to do; different → refuse."""
    raw = store.get_bytes(INDEX_FILE, max_size=64 * 1024 * 1024)
    for attempt in range(40):
        # A racing winner's index can be visible a moment before its metadata (the file
        # store writes it second); wait for the complete object rather than misread it.
        if raw is not None:
            break
        time.sleep(0.05 * (attempt + 1) if attempt < 10 else 0.25)
        raw = store.get_bytes(INDEX_FILE, max_size=64 * 1024 * 1024)
    try:
        index = json.loads(raw or b"")
        published = {(f["name"], f["sha256"]) for f in index["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise SigningError(f"{url}/{INDEX_FILE}: existing release index is unreadable") from exc
    ours = {(s.name, s.sha256) for s in statement.subjects}
    if published != ours:
        raise PublishRefusedError(
            Reason.DIGEST_MISMATCH,
            f"{url} is already published with different files; releases are immutable",
            exit_code=2,
            hint="publish under a new version (--app-version)",
        )
    return PublishResult(
        url=url, application=app, version=version, objects=(), already_published=True, index=index
    )


def _lost_race(
    store: ObjectStore,
    statement: Statement,
    url: str,
    app: str,
    version: str,
    meta_files: Mapping[str, Any],
    files: list[dict[str, Any]],
) -> PublishResult:
    """Another publisher wrote the index first. Same release and nothing of its overwritten:
    already published. Otherwise say so: pull will (rightly) reject the damaged files."""
    result = _already_published(store, statement, url, app, version)
    theirs = result.index or {}
    ours: dict[str, str] = {}
    for entry in meta_files.values():
        if entry is not None:
            ours[entry["key"]] = entry["sha256"]
    for f in files:
        ours[f["object"]["key"]] = f["object"]["sha256"]
        for sig in (f.get("signature"), f.get("model_signature")):
            if sig is not None:
                ours[sig["key"]] = sig["sha256"]
    recorded: dict[str, str] = {}
    for role in ("attestation", "report", "sbom", "licenses"):
        entry = theirs.get(role)
        if isinstance(entry, dict):
            recorded[str(entry.get("key"))] = str(entry.get("sha256"))
    for f in theirs.get("files", []):
        recorded[str(f["object"]["key"])] = str(f["object"]["sha256"])
        for sig in (f.get("signature"), f.get("model_signature")):
            if isinstance(sig, dict):
                recorded[str(sig.get("key"))] = str(sig.get("sha256"))
    clobbered = sorted(k for k, sha in ours.items() if k in recorded and recorded[k] != sha)
    if clobbered:
        raise PublishRefusedError(
            Reason.DIGEST_MISMATCH,
            f"another publisher completed {url} while this run was uploading; this run "
            f"overwrote {len(clobbered)} of its files ({', '.join(clobbered[:3])}), so pull "
            "will reject that release",
            exit_code=3,
            hint="publish the release again under a new version; run one publisher per version",
        )
    return result


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
    for fmt, file_name, role in EXTRA_REPORTS:
        if fmt in FORMATS:
            planned.append(PlannedObject(file_name, 0, role))
    planned.append(PlannedObject(INDEX_FILE, 0, "index (written last)"))
    return PublishResult(
        url=url,
        application=app,
        version=version,
        objects=tuple(planned),
        dry_run=True,
        already_published=exists,
    )
