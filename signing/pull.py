"""``pull``: the deploy side of ``publish``: download, verify, decrypt, and only then write.

Order of checks (the first failure raises, and nothing is left in the output folder):

1. the release index exists (no index: the release is missing or incomplete) and is well formed;
2. the attestation verifies with the given key (or keyless identity), its verdict is approved,
   and it vouches for the downloaded report's SHA-256;
3. the index lists exactly the statement's subjects, with the same digests;
4. each encrypted object has the SHA-256 and size the index records;
5. each object decrypts with the given keys, under an encryption context binding its
   plaintext SHA-256, the application and the version; the plaintext's SHA-256 matches the
   statement (checked while decrypting, into a temporary file);
6. the rebuilt target passes the full :func:`signing.verify_target` check (subjects both ways,
   detached signatures, model-signing bundles);
7. only then is the folder moved into place (one rename when ``DIR`` does not exist yet).

Example::

    pull_release("s3://releases/panorama/shelf/1.0.0", Path("deploy"),
                 verifier=load_verifier("ci.pub"), keyring=KmsKeyring([arn]))
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from scanner.errors import UsageError
from signing.encrypt import Keyring, decrypt_file, encryption_context
from signing.errors import Reason, SigningError, VerificationError
from signing.keyless import KeylessIdentity
from signing.publish import INDEX_FILE, INDEX_SCHEMA
from signing.sign import ATTESTATION_FILE
from signing.signer import Verifier
from signing.statement import Statement
from signing.store import (
    ObjectStore,
    RetryPolicy,
    TransferProgress,
    open_store,
)
from signing.verify import verify_attestation, verify_target

__all__ = ["META_DIR", "PullError", "PullResult", "pull_release"]

log = logging.getLogger(__name__)

META_DIR = ".panorama-gate"
"""Folder inside the output holding the index, attestation, report and signatures."""
MAX_METADATA = 64 * 1024 * 1024
"""Upper bound on an index, report or attestation: a hostile store cannot fill the disk."""


class PullError(VerificationError):
    """The release cannot be trusted or is not all there (exit 1: do not deploy)."""


@dataclass(frozen=True, slots=True)
class PullResult:
    """What was pulled into the output folder."""

    out_dir: Path
    application: str
    version: str
    files: tuple[str, ...]
    signer: str


def _safe_rel(name: str, what: str) -> PurePosixPath:
    rel = PurePosixPath(name)
    if not name or rel.is_absolute() or ".." in rel.parts or rel.parts[0] == META_DIR:
        raise PullError(Reason.MALFORMED_STATEMENT, f"{what} {name!r} is not a safe relative path")
    return rel


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch_small(store: ObjectStore, entry: Any, what: str) -> bytes:
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        raise PullError(Reason.MALFORMED_BUNDLE, f"the index has no {what} entry")
    key = entry["key"]
    _safe_rel(key, f"{what} key")
    data = store.get_bytes(key, max_size=MAX_METADATA)
    if data is None:
        raise PullError(
            Reason.MISSING_SIGNATURE,
            f"{store.describe()}/{key}: the {what} is missing from the release",
        )
    if _sha(data) != entry.get("sha256"):
        raise PullError(
            Reason.SUBJECT_MISMATCH,
            f"{store.describe()}/{key}: the {what}'s sha256 {_sha(data)} is not the "
            f"one the index records",
        )
    return data


def _read_index(store: ObjectStore) -> dict[str, Any]:
    raw = store.get_bytes(INDEX_FILE, max_size=MAX_METADATA)
    if raw is None:
        raise PullError(
            Reason.MISSING_SIGNATURE,
            f"{store.describe()}: no release index ({INDEX_FILE}): the release does not exist "
            "or its upload never completed",
            hint="check the URL (s3://BUCKET/PREFIX/APP/VERSION) or rerun publish",
        )
    try:
        index = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PullError(Reason.MALFORMED_BUNDLE, f"{INDEX_FILE} is not JSON: {exc}") from exc
    if not isinstance(index, dict) or index.get("schema") != INDEX_SCHEMA:
        raise PullError(Reason.MALFORMED_BUNDLE, f"{INDEX_FILE} is not a panorama-gate index")
    if not isinstance(index.get("files"), list) or not index["files"]:
        raise PullError(Reason.MALFORMED_BUNDLE, f"{INDEX_FILE} lists no files")
    return index


def _check_index_against_statement(index: dict[str, Any], statement: Statement) -> None:
    listed: dict[str, str] = {}
    for f in index["files"]:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            raise PullError(Reason.MALFORMED_BUNDLE, f"{INDEX_FILE}: a file entry has no name")
        listed[f["name"]] = str(f.get("sha256"))
    attested = statement.subject_map()
    for name, sha in attested.items():
        if name not in listed:
            raise PullError(
                Reason.SUBJECT_MISSING_FILE,
                f"{name} is attested but missing from the release index",
            )
        if listed[name] != sha:
            raise PullError(
                Reason.SUBJECT_MISMATCH,
                f"{name}: the index says sha256 {listed[name]}, the attestation {sha}",
            )
    extra = sorted(set(listed) - set(attested))
    if extra:
        raise PullError(
            Reason.MISSING_SUBJECT,
            f"the index lists files the attestation does not vouch for: {extra[:5]}",
        )


def _prepare_out(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise UsageError(f"-o {out_dir}: exists and is not a folder")
        if any(out_dir.iterdir()):
            raise UsageError(
                f"-o {out_dir}: folder is not empty; pull writes into an empty or new folder only"
            )
    parent = out_dir.parent
    if not parent.is_dir():
        raise UsageError(f"-o {out_dir}: parent folder {parent} does not exist")


def pull_release(
    url: str,
    out_dir: Path,
    *,
    keyring: Keyring,
    verifier: Verifier | None = None,
    identity: KeylessIdentity | None = None,
    expected_policy_sha256: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    fips: bool = False,
    progress: TransferProgress | None = None,
    retry: RetryPolicy | None = None,
    client: Any = None,
) -> PullResult:
    """Download, verify and decrypt the release at ``url`` into ``out_dir``.

    ``url`` is the release folder, ``s3://BUCKET/PREFIX/APP/VERSION`` or
    ``file://DIR/APP/VERSION``. Raises :class:`PullError` (or another
    :class:`~signing.errors.SigningError`) on any failure, leaving ``out_dir`` as it was.
    """
    out_dir = Path(out_dir).absolute()
    _prepare_out(out_dir)
    store = open_store(
        url,
        endpoint_url=endpoint_url,
        region=region,
        fips=fips,
        progress=progress,
        retry=retry,
        client=client,
    )
    # Staging beside the destination: the final move is a rename on the same filesystem.
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.pull-", dir=out_dir.parent))
    try:
        result = _pull_into(
            store, url, staging, keyring, verifier, identity, expected_policy_sha256
        )
        tree = staging / "tree"
        if out_dir.exists():
            # An empty folder the caller made: move the entries in, undoing on failure.
            moved: list[Path] = []
            try:
                for entry in sorted(tree.iterdir()):
                    dst = out_dir / entry.name
                    os.rename(entry, dst)
                    moved.append(dst)
            except OSError as exc:
                for dst in moved:
                    with contextlib.suppress(OSError):
                        if dst.is_dir():
                            shutil.rmtree(dst)
                        else:
                            dst.unlink()
                raise SigningError(f"{out_dir}: cannot move the release into place: {exc}") from exc
        else:
            os.rename(tree, out_dir)
        return PullResult(out_dir, result[0], result[1], result[2], result[3])
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _pull_into(
    store: ObjectStore,
    url: str,
    staging: Path,
    keyring: Keyring,
    verifier: Verifier | None,
    identity: KeylessIdentity | None,
    expected_policy_sha256: str | None,
) -> tuple[str, str, tuple[str, ...], str]:
    tree = staging / "tree"
    # Kept outside the tree while verifying: a folder target (not a project) must hold only
    # its signed files, and this folder is not one of them.
    meta = staging / "meta"
    blobs = staging / "objects"
    tree.mkdir()
    meta.mkdir()
    blobs.mkdir()

    index = _read_index(store)
    app = str(index.get("application", ""))
    version = str(index.get("version", ""))
    url_tail = PurePosixPath(url.rstrip("/")).parts[-2:]
    if tuple(url_tail) != (app, version):
        raise PullError(
            Reason.MALFORMED_STATEMENT,
            f"the index is for {app}/{version}, not the requested {'/'.join(url_tail)}",
        )

    attestation = _fetch_small(store, index.get("attestation"), "attestation")
    statement, who = verify_attestation(attestation, verifier, identity=identity)
    report = _fetch_small(store, index.get("report"), "report")
    if statement.predicate.report_sha256 != _sha(report):
        raise PullError(
            Reason.SUBJECT_MISMATCH,
            f"the report's sha256 {_sha(report)} is not the one the attestation "
            f"vouches for ({statement.predicate.report_sha256})",
        )
    _check_index_against_statement(index, statement)
    (meta / INDEX_FILE).write_bytes(json.dumps(index, indent=2, sort_keys=True).encode())
    (meta / ATTESTATION_FILE).write_bytes(attestation)
    (meta / "report.json").write_bytes(report)
    # The SBOM's digest is signed (when sign was given one); the license report's is pinned by
    # the index. Both are checked and kept beside the release, never deployed unchecked.
    sbom_signed = statement.predicate.sbom_sha256
    if sbom_signed is not None and not isinstance(index.get("sbom"), dict):
        raise PullError(
            Reason.MISSING_SUBJECT,
            "the attestation vouches for an SBOM the release index does not list",
        )
    for role in ("sbom", "licenses"):
        entry = index.get(role)
        if entry is None:
            continue
        data = _fetch_small(store, entry, role)
        if role == "sbom" and sbom_signed is not None and _sha(data) != sbom_signed:
            raise PullError(
                Reason.SUBJECT_MISMATCH,
                f"the SBOM's sha256 {_sha(data)} is not the one the attestation "
                f"vouches for ({sbom_signed})",
            )
        (meta / PurePosixPath(str(entry["key"])).name).write_bytes(data)

    attested = statement.subject_map()
    written: list[str] = []
    decrypted: dict[str, Path] = {}
    for f in sorted(index["files"], key=lambda x: str(x["name"])):
        name = str(f["name"])
        rel = _safe_rel(name, "file name")
        obj = f.get("object")
        if not isinstance(obj, dict) or not isinstance(obj.get("key"), str):
            raise PullError(Reason.MALFORMED_BUNDLE, f"{name}: the index has no object for it")
        sha = attested[name]
        dst = tree.joinpath(*rel.parts)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if sha in decrypted:
            # Two subjects with the same bytes share one object.
            shutil.copyfile(decrypted[sha], dst)
        else:
            _fetch_and_decrypt(store, obj, name, sha, app, version, keyring, blobs, dst)
            decrypted[sha] = dst
        written.append(name)
        for field in ("signature", "model_signature"):
            sig = f.get(field)
            if sig is None:
                continue
            data = _fetch_small(store, sig, f"{field.replace('_', ' ')} of {name}")
            (meta / PurePosixPath(str(sig["key"])).name).write_bytes(data)

    # The full check the `verify` command runs, on exactly the bytes that will be deployed.
    layout = (index.get("target") or {}).get("layout", "folder")
    if layout == "file":
        if len(written) != 1:
            raise PullError(Reason.MALFORMED_STATEMENT, "a single-file release lists several files")
        verify_target(
            tree / written[0],
            meta,
            verifier,
            identity=identity,
            expected_policy_sha256=expected_policy_sha256,
        )
    else:
        verify_target(
            tree, meta, verifier, identity=identity, expected_policy_sha256=expected_policy_sha256
        )
    os.rename(meta, tree / META_DIR)
    return app, version, tuple(written), who


def _fetch_and_decrypt(
    store: ObjectStore,
    obj: dict[str, Any],
    name: str,
    sha: str,
    app: str,
    version: str,
    keyring: Keyring,
    blobs: Path,
    dst: Path,
) -> None:
    key = str(obj["key"])
    _safe_rel(key, "object key")
    size = int(obj.get("size", -1))
    where = f"{store.describe()}/{key}"
    if store.head(key) is None:
        raise PullError(
            Reason.SUBJECT_MISSING_FILE,
            f"{where}: the encrypted object for {name} is missing from the release",
        )
    local = blobs / f"{sha}.enc"
    info = store.download(key, local, max_size=max(size, 0))
    digest = hashlib.sha256()
    with open(local, "rb") as fp:
        while block := fp.read(1024 * 1024):
            digest.update(block)
    if info.size != size or digest.hexdigest() != obj.get("sha256"):
        raise PullError(
            Reason.SUBJECT_MISMATCH,
            f"{where}: the encrypted object for {name} has sha256 {digest.hexdigest()}, the "
            f"index records {obj.get('sha256')} (replaced or damaged in storage)",
        )
    context = encryption_context(sha, application=app, version=version)
    result = decrypt_file(local, dst.parent, keyring, context)
    os.replace(result.path, dst)
    local.unlink()
