"""Releases are immutable: what publish does when the version already exists (internal).

Same files: nothing to do. Other files: refused. Another publisher's index won the race while
this run was uploading: the same release is fine, but if this run overwrote any object that
index pins, say so (pull would rightly reject that release).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from signing._publish_types import PublishRefusedError, PublishResult
from signing._release_index import INDEX_FILE
from signing.errors import Reason, SigningError, VerificationError
from signing.signer import Verifier
from signing.statement import Statement
from signing.store import ObjectStore
from signing.verify import verify_attestation

__all__ = ["MAX_INDEX", "already_published", "lost_race"]

MAX_INDEX = 64 * 1024 * 1024
"""Upper bound on an index's size: a hostile store cannot make publish or pull read more."""


def already_published(
    store: ObjectStore,
    statement: Statement,
    url: str,
    app: str,
    version: str,
    verifier: Verifier | None = None,
) -> PublishResult:
    """A complete release is immutable: same files → nothing to do; different → refuse.

    With ``verifier`` (the signing key's public half) the existing release is trusted as "the
    same" only if its attestation verifies with that key and attests the same files: an index
    planted in the bucket must not make publish report success without uploading anything.
    """
    raw = store.get_bytes(INDEX_FILE, max_size=MAX_INDEX)
    for attempt in range(40):
        # A racing winner's index can be visible a moment before its metadata (the file
        # store writes it second); wait for the complete object rather than misread it.
        if raw is not None:
            break
        time.sleep(0.05 * (attempt + 1) if attempt < 10 else 0.25)
        raw = store.get_bytes(INDEX_FILE, max_size=MAX_INDEX)
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
    if verifier is not None:
        _check_existing(store, index, ours, url, verifier)
    return PublishResult(
        url=url, application=app, version=version, objects=(), already_published=True, index=index
    )


def _check_existing(
    store: ObjectStore,
    index: Mapping[str, Any],
    ours: set[tuple[str, str]],
    url: str,
    verifier: Verifier,
) -> None:
    entry = index.get("attestation")
    problem = "its index names no attestation"
    if isinstance(entry, dict) and isinstance(entry.get("key"), str):
        data = store.get_bytes(entry["key"], max_size=MAX_INDEX)
        problem = "its attestation is missing"
        if data is not None and hashlib.sha256(data).hexdigest() == entry.get("sha256"):
            try:
                theirs, _ = verify_attestation(data, verifier)
            except VerificationError as exc:
                problem = f"its attestation does not verify with this signing key ({exc.message})"
            else:
                if {(s.name, s.sha256) for s in theirs.subjects} == ours:
                    return
                problem = "its attestation vouches for other files"
        elif data is not None:
            problem = "its attestation is not the one its index records"
    raise PublishRefusedError(
        Reason.DIGEST_MISMATCH,
        f"{url} exists, but {problem}: it was not published by this key, or was tampered with",
        exit_code=2,
        hint="inspect the release; publish under a new version (--app-version)",
    )


def lost_race(
    store: ObjectStore,
    statement: Statement,
    url: str,
    app: str,
    version: str,
    meta_files: Mapping[str, Any],
    files: list[dict[str, Any]],
    verifier: Verifier | None = None,
) -> PublishResult:
    """Another publisher wrote the index first. Same release and nothing of its overwritten:
    already published. Otherwise say so: pull will (rightly) reject the damaged files."""
    result = already_published(store, statement, url, app, version, verifier)
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
