"""``pull``: the deploy side of ``publish``: download, verify, decrypt, and only then write.

Order of checks (the first failure raises, and nothing is left in the output folder):

1. the release index exists (no index: the release is missing or incomplete) and is well formed
   (every field type-checked: ``malformed-index``), and it is for the APP/VERSION of the URL;
2. the attestation verifies with the given key (or keyless identity), its verdict is approved,
   it was signed for this application, version and destination (``wrong-release``; not older
   than ``min_version``: ``rollback``), and it vouches for the downloaded report's SHA-256
   and size;
3. the index lists exactly the statement's subjects, with the same digests and sizes;
4. each encrypted object has the SHA-256 the index records, and no download is larger than
   the signed plaintext size allows (a hostile store cannot make the device fetch more);
5. each object decrypts with the given keys, under an encryption context binding its
   plaintext SHA-256, the application and the version; the plaintext's SHA-256 matches the
   statement (checked while decrypting, into a temporary file);
6. the rebuilt target passes the full :func:`signing.verify_target` check (subjects both ways,
   detached signatures, model-signing bundles);
7. only then is the folder moved into place (one rename when ``DIR`` does not exist yet).

Metadata is kept under fixed names (``.panorama-gate/index.json``, ``attestation.sigstore.json``,
``report.json``, ``sbom.cdx.json``, ``licenses.json``, and each signature under the name the
signed statement gives it), never under a name taken from the index.

Example::

    pull_release("s3://releases/panorama/shelf/1.0.0", Path("deploy"),
                 verifier=load_verifier("ci.pub"), keyring=KmsKeyring([arn]))
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from scanner.errors import UsageError
from signing._publish_race import MAX_INDEX
from signing._release_index import (
    INDEX_FILE,
    REPORT_FILE,
    IndexFile,
    ObjectRef,
    ReleaseIndex,
    canonical_json,
    parse_index,
)
from signing.encrypt import FRAME_LENGTH, Keyring, decrypt_file, encryption_context
from signing.errors import PullError, Reason, SigningError
from signing.keyless import KeylessIdentity
from signing.model_bundle import MODEL_SIGNATURE_SUFFIX
from signing.release import ReleaseExpectation, check_release
from signing.sign import ATTESTATION_FILE, SIGNATURE_SUFFIX
from signing.signer import Verifier
from signing.statement import ArtifactEntry, Statement
from signing.store import ObjectStore, RetryPolicy, TransferProgress, open_store
from signing.verify import verify_attestation, verify_target

__all__ = ["META_DIR", "PullError", "PullOptions", "PullResult", "ciphertext_bound", "pull_release"]

log = logging.getLogger(__name__)

META_DIR = ".panorama-gate"
"""Folder inside the output holding the index, attestation, report and signatures."""
MAX_ATTESTATION = 16 * 1024 * 1024
"""Upper bound on the attestation (it is what tells every other size, so it has its own)."""
MAX_SIGNATURE = 64 * 1024
"""A detached signature is base64 of at most a few hundred bytes."""
MAX_MODEL_SIGNATURE = 64 * 1024 * 1024
"""A model-signing bundle lists every file of a model folder."""
MAX_HEADER = 1024 * 1024
"""Room for the message header: encryption context and up to 16 wrapped data keys."""
SBOM_FILE = "sbom.cdx.json"
LICENSES_FILE = "licenses.json"
_FIXED_NAMES = frozenset({INDEX_FILE, ATTESTATION_FILE, REPORT_FILE, SBOM_FILE, LICENSES_FILE})


def ciphertext_bound(plaintext_size: int, frame_length: int = FRAME_LENGTH) -> int:
    """The most bytes an encryption of ``plaintext_size`` bytes can take in our format.

    Each frame adds 32 bytes (sequence number, IV, tag), the final frame 40, and the header
    is bounded by :data:`MAX_HEADER`; a larger object is not ours and is not downloaded.
    """
    frames = plaintext_size // frame_length + 1
    return plaintext_size + frames * 40 + MAX_HEADER


@dataclass(frozen=True, slots=True)
class PullResult:
    """What was pulled into the output folder."""

    out_dir: Path
    application: str
    version: str
    files: tuple[str, ...]
    signer: str


@dataclass(frozen=True, slots=True)
class PullOptions:
    """How to check a release: keys, and what the user expects beyond the URL."""

    keyring: Keyring
    verifier: Verifier | None = None
    identity: KeylessIdentity | None = None
    expected_policy_sha256: str | None = None
    min_version: str | None = None
    published_to: str | None = None


def _safe_rel(name: str, what: str) -> PurePosixPath:
    rel = PurePosixPath(name)
    if not name or rel.is_absolute() or ".." in rel.parts or rel.parts[0] == META_DIR:
        raise PullError(Reason.MALFORMED_STATEMENT, f"{what} {name!r} is not a safe relative path")
    return rel


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch_small(
    store: ObjectStore, ref: ObjectRef, what: str, *, limit: int, sha256: str | None = None
) -> bytes:
    """A small object, at most ``limit`` bytes, with the SHA-256 the index (or, when given,
    the signed statement: ``sha256``) records."""
    _safe_rel(ref.key, f"{what} key")
    data = store.get_bytes(ref.key, max_size=limit)
    where = f"{store.describe()}/{ref.key}"
    if data is None:
        raise PullError(
            Reason.MISSING_SIGNATURE, f"{where}: the {what} is missing from the release"
        )
    expected = sha256 or ref.sha256
    if _sha(data) != expected:
        raise PullError(
            Reason.SUBJECT_MISMATCH,
            f"{where}: the {what}'s sha256 {_sha(data)} is not the one "
            f"{'the attestation' if sha256 else 'the index'} records ({expected})",
        )
    return data


def _read_index(store: ObjectStore) -> ReleaseIndex:
    raw = store.get_bytes(INDEX_FILE, max_size=MAX_INDEX)
    if raw is None:
        raise PullError(
            Reason.MISSING_SIGNATURE,
            f"{store.describe()}: no release index ({INDEX_FILE}): the release does not exist "
            "or its upload never completed",
            hint="check the URL (s3://BUCKET/PREFIX/APP/VERSION) or rerun publish",
        )
    return parse_index(raw)


def _check_index_against_statement(index: ReleaseIndex, statement: Statement) -> None:
    listed = {f.name: f for f in index.files}
    attested = statement.subject_map()
    sizes = {a.name: a.size for a in statement.predicate.artifacts}
    for name, sha in attested.items():
        if name not in listed:
            raise PullError(
                Reason.SUBJECT_MISSING_FILE,
                f"{name} is attested but missing from the release index",
            )
        if listed[name].sha256 != sha:
            raise PullError(
                Reason.SUBJECT_MISMATCH,
                f"{name}: the index says sha256 {listed[name].sha256}, the attestation {sha}",
            )
        if sizes.get(name) is None:
            raise PullError(
                Reason.MALFORMED_STATEMENT,
                f"{name}: the attestation does not sign its size (made by an earlier version); "
                "publish the release again",
            )
        if listed[name].size != sizes[name]:
            raise PullError(
                Reason.SUBJECT_MISMATCH,
                f"{name}: the index says {listed[name].size} bytes, the attestation {sizes[name]}",
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


def _url_parts(url: str) -> tuple[str, str, str]:
    """(destination, application, version) of ``DEST/APP/VERSION``."""
    parts = url.rstrip("/").rsplit("/", 2)
    if len(parts) != 3 or not all(parts):
        raise UsageError(f"{url}: expected a release URL ending in /APP/VERSION")
    return parts[0], parts[1], parts[2]


def pull_release(
    url: str,
    out_dir: Path,
    *,
    keyring: Keyring,
    verifier: Verifier | None = None,
    identity: KeylessIdentity | None = None,
    expected_policy_sha256: str | None = None,
    min_version: str | None = None,
    published_to: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    fips: bool = False,
    progress: TransferProgress | None = None,
    retry: RetryPolicy | None = None,
    client: Any = None,
) -> PullResult:
    """Download, verify and decrypt the release at ``url`` into ``out_dir``.

    ``url`` is the release folder, ``s3://BUCKET/PREFIX/APP/VERSION`` or
    ``file://DIR/APP/VERSION``; the signed statement must be for that application, version
    and destination (``published_to`` names the original destination of a release copied
    elsewhere) and, with ``min_version``, not older. Raises :class:`PullError` (or another
    :class:`~signing.errors.SigningError`) on any failure, leaving ``out_dir`` as it was.
    """
    out_dir = Path(out_dir).absolute()
    _prepare_out(out_dir)
    _url_parts(url)
    store = open_store(
        url,
        endpoint_url=endpoint_url,
        region=region,
        fips=fips,
        progress=progress,
        retry=retry,
        client=client,
    )
    opts = PullOptions(
        keyring, verifier, identity, expected_policy_sha256, min_version, published_to
    )
    # Staging beside the destination: the final move is a rename on the same filesystem.
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.pull-", dir=out_dir.parent))
    try:
        result = _pull_into(store, url, staging, opts)
        _move_into_place(staging / "tree", out_dir)
        return PullResult(out_dir, *result)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(tree: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.rename(tree, out_dir)
        return
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


def _check_release(url: str, index: ReleaseIndex, statement: Statement, opts: PullOptions) -> None:
    destination, app, version = _url_parts(url)
    if (index.application, index.version) != (app, version):
        raise PullError(
            Reason.WRONG_RELEASE,
            f"the index is for {index.application}/{index.version}, not the requested "
            f"{app}/{version}",
        )
    check_release(
        statement.predicate.release,
        ReleaseExpectation(app, version, opts.published_to or destination, opts.min_version),
    )


def _pull_into(
    store: ObjectStore, url: str, staging: Path, opts: PullOptions
) -> tuple[str, str, tuple[str, ...], str]:
    tree = staging / "tree"
    # Kept outside the tree while verifying: a folder target (not a project) must hold only
    # its signed files, and this folder is not one of them.
    meta = staging / "meta"
    blobs = staging / "objects"
    for d in (tree, meta, blobs):
        d.mkdir()

    index = _read_index(store)
    attestation = _fetch_small(store, index.attestation, "attestation", limit=MAX_ATTESTATION)
    statement, who = verify_attestation(attestation, opts.verifier, identity=opts.identity)
    _check_release(url, index, statement, opts)
    pred = statement.predicate
    report = _fetch_small(
        store, index.report, "report", limit=pred.report_size, sha256=pred.report_sha256
    )
    _check_index_against_statement(index, statement)
    (meta / INDEX_FILE).write_bytes(canonical_json(dict(index.raw)))
    (meta / ATTESTATION_FILE).write_bytes(attestation)
    (meta / REPORT_FILE).write_bytes(report)
    _fetch_documents(store, index, statement, meta)

    by_name = {a.name: a for a in pred.artifacts}
    written: list[str] = []
    decrypted: dict[str, Path] = {}
    for f in sorted(index.files, key=lambda x: x.name):
        rel = _safe_rel(f.name, "file name")
        dst = tree.joinpath(*rel.parts)
        dst.parent.mkdir(parents=True, exist_ok=True)
        entry = by_name.get(f.name)
        if f.sha256 in decrypted:
            # Two subjects with the same bytes share one object.
            shutil.copyfile(decrypted[f.sha256], dst)
        else:
            _fetch_and_decrypt(store, f, index, opts.keyring, blobs, dst)
            decrypted[f.sha256] = dst
        _apply_mode(dst, entry)
        written.append(f.name)
        _fetch_signatures(store, f, entry, meta)

    # The full check the `verify` command runs, on exactly the bytes that will be deployed.
    if index.layout == "file":
        if len(written) != 1:
            raise PullError(Reason.MALFORMED_STATEMENT, "a single-file release lists several files")
        checked = tree / written[0]
    else:
        checked = tree
    verify_target(
        checked,
        meta,
        opts.verifier,
        identity=opts.identity,
        expected_policy_sha256=opts.expected_policy_sha256,
    )
    os.rename(meta, tree / META_DIR)
    return index.application, index.version, tuple(written), who


def _fetch_documents(
    store: ObjectStore, index: ReleaseIndex, statement: Statement, meta: Path
) -> None:
    """The SBOM and license report, under fixed names: each checked against its signed digest
    and bounded by its signed size (the license report of an older release: by the index)."""
    pred = statement.predicate
    for role, ref, signed, file_name in (
        ("SBOM", index.sbom, pred.sbom, SBOM_FILE),
        ("license report", index.licenses, pred.licenses, LICENSES_FILE),
    ):
        if signed is not None and ref is None:
            raise PullError(
                Reason.MISSING_SUBJECT,
                f"the attestation vouches for a {role} the release index does not list",
            )
        if ref is None:
            continue
        limit = signed.size if signed is not None and signed.size >= 0 else MAX_ATTESTATION
        sha = signed.sha256 if signed is not None else None
        (meta / file_name).write_bytes(_fetch_small(store, ref, role, limit=limit, sha256=sha))


def _signature_name(name: str | None, suffix: str, what: str) -> str:
    """The file name a signature is kept under: the one the signed statement gives, checked."""
    if (
        name is None
        or "/" in name
        or "\\" in name
        or name.startswith(".")
        or not name.endswith(suffix)
        or name in _FIXED_NAMES
    ):
        raise PullError(
            Reason.MALFORMED_STATEMENT, f"{what}: {name!r} is not a signature file name"
        )
    return name


def _fetch_signatures(
    store: ObjectStore, f: IndexFile, entry: ArtifactEntry | None, meta: Path
) -> None:
    for ref, attested, suffix, limit, what in (
        (
            f.signature,
            entry.signature if entry else None,
            SIGNATURE_SUFFIX,
            MAX_SIGNATURE,
            "signature",
        ),
        (
            f.model_signature,
            entry.model_signature if entry else None,
            MODEL_SIGNATURE_SUFFIX,
            MAX_MODEL_SIGNATURE,
            "model signature",
        ),
    ):
        if attested is None:
            continue  # verify_target checks every signature the statement lists
        if ref is None:
            raise PullError(Reason.MISSING_SIGNATURE, f"the index has no {what} for {f.name}")
        name = _signature_name(attested, suffix, f"{what} of {f.name}")
        data = _fetch_small(store, ref, f"{what} of {f.name}", limit=limit)
        (meta / name).write_bytes(data)


def _apply_mode(dst: Path, entry: ArtifactEntry | None) -> None:
    """Files of a folder artifact get the execute bit they were signed with (never setuid or
    setgid: those are not restored on a device)."""
    if entry is None or entry.mode is None:
        return
    try:
        executable = int(entry.mode, 8) & stat.S_IXUSR
    except ValueError as exc:
        raise PullError(Reason.MALFORMED_STATEMENT, f"{entry.name}: mode {entry.mode!r}") from exc
    os.chmod(dst, 0o755 if executable else 0o644)


def _fetch_and_decrypt(
    store: ObjectStore,
    f: IndexFile,
    index: ReleaseIndex,
    keyring: Keyring,
    blobs: Path,
    dst: Path,
) -> None:
    key = f.object.key
    _safe_rel(key, "object key")
    where = f"{store.describe()}/{key}"
    info = store.head(key)
    if info is None:
        raise PullError(
            Reason.SUBJECT_MISSING_FILE,
            f"{where}: the encrypted object for {f.name} is missing from the release",
        )
    # f.size was checked against the signed size: the bound is the signer's, not the store's.
    bound = ciphertext_bound(f.size)
    if info.size > bound or f.object.size > bound:
        raise PullError(
            Reason.SUBJECT_MISMATCH,
            f"{where}: the encrypted object for {f.name} is {max(info.size, f.object.size)} "
            f"bytes, more than an encryption of its signed {f.size} bytes can be ({bound})",
        )
    local = blobs / f"{f.sha256}.enc"
    got = store.download(key, local, max_size=bound)
    digest = hashlib.sha256()
    with open(local, "rb") as fp:
        while block := fp.read(1024 * 1024):
            digest.update(block)
    if got.size != f.object.size or digest.hexdigest() != f.object.sha256:
        raise PullError(
            Reason.SUBJECT_MISMATCH,
            f"{where}: the encrypted object for {f.name} has sha256 {digest.hexdigest()}, the "
            f"index records {f.object.sha256} (replaced or damaged in storage)",
        )
    context = encryption_context(f.sha256, application=index.application, version=index.version)
    result = decrypt_file(local, dst.parent, keyring, context)
    os.replace(result.path, dst)
    local.unlink()
