"""Uploading a release's objects: encrypted files, signatures, documents, the index (internal).

Every object but the index is named by its content or written only if absent, so a publisher
racing for the same version never overwrites what the winner's index pins.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.models import Decision
from signing._publish_types import PlannedObject
from signing._release_index import META_DIR, SIGNATURES_DIR, canonical_json
from signing._state import RecordSealer, read_private, write_private
from signing.encrypt import EncryptResult, Keyring, encrypt_file
from signing.errors import SigningError
from signing.store import FileDigests, ObjectExistsError, ObjectStore

__all__ = ["Uploader", "file_entry", "object_metadata", "tags"]

log = logging.getLogger(__name__)


def object_metadata(
    sha: str,
    keyring: Keyring,
    ctx: Mapping[str, str],
    result: EncryptResult | None,
    ciphertext_sha256: str = "",
) -> dict[str, str]:
    """S3 metadata of an encrypted object (the file store keeps it in a sidecar)."""
    meta = {
        "pg-sha256": sha,
        "pg-verdict": Decision.APPROVED.value,
        "pg-keyring": keyring.fingerprint(),
        "pg-context": hashlib.sha256(canonical_json(dict(ctx))).hexdigest(),
    }
    if result is not None:
        meta["pg-ciphertext-sha256"] = ciphertext_sha256
        meta["pg-plaintext-size"] = str(result.plaintext_size)
    return meta


def tags(sha: str) -> dict[str, str]:
    """Object tags (usable in bucket policies and lifecycle rules)."""
    return {"panorama-gate:sha256": sha, "panorama-gate:verdict": Decision.APPROVED.value}


def file_entry(key: str, data: bytes) -> dict[str, Any]:
    """The index entry of a small object: key, SHA-256, size."""
    return {"key": key, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


@dataclass
class Uploader:
    """Uploads one release's objects into ``store``; ``done`` lists what happened."""

    store: ObjectStore
    keyring: Keyring
    state_dir: Path
    done: list[PlannedObject]

    def __post_init__(self) -> None:
        self._sealer = RecordSealer(self.state_dir)

    def put_small(self, key: str, data: bytes, sha: str, what: str, ctype: str) -> None:
        """A signature or document, named by its own digest (never overwritten by a racer)."""
        self.store.put_bytes(
            key, data, metadata={"pg-sha256": sha}, tags=tags(sha), content_type=ctype
        )
        self.done.append(PlannedObject(key, len(data), what, "uploaded"))

    def put_signature(self, sig_path: Path, subject_sha: str) -> dict[str, Any]:
        """Upload a detached signature or model bundle; returns its index entry."""
        data = sig_path.read_bytes()
        key = f"{SIGNATURES_DIR}/{hashlib.sha256(data).hexdigest()}/{sig_path.name}"
        self.put_small(key, data, subject_sha, "signature", "text/plain")
        return file_entry(key, data)

    def put_document(self, role: str, path: Path, ctype: str) -> dict[str, Any]:
        """Upload the attestation or a report; returns its index entry."""
        data = path.read_bytes()
        entry = file_entry(f"{META_DIR}/{hashlib.sha256(data).hexdigest()}/{path.name}", data)
        self.put_small(entry["key"], data, entry["sha256"], role, ctype)
        return entry

    def put_encrypted(
        self, key: str, path: Path, sha: str, ctx: Mapping[str, str]
    ) -> dict[str, Any]:
        """Encrypt and upload one file unless the same encryption of it is already there."""
        wanted = object_metadata(sha, self.keyring, ctx, None)
        info = self.store.head(key)
        if info is not None and all(info.metadata.get(k) == v for k, v in wanted.items()):
            ct_sha = info.metadata.get("pg-ciphertext-sha256", "")
            size_text = info.metadata.get("pg-plaintext-size", "")
            if len(ct_sha) == 64 and size_text.isdigit():
                log.info("%s: already uploaded (same digest and keys); skipped", key)
                self.done.append(PlannedObject(key, info.size, "encrypted asset", "skipped"))
                return {"sha256": ct_sha, "size": info.size, "plaintext_size": int(size_text)}
        staged, result, digests = self._stage(path, sha, ctx, wanted)
        upload = functools.partial(
            self.store.put_file,
            key,
            staged,
            metadata=object_metadata(sha, self.keyring, ctx, result, digests.sha256_hex),
            digests=digests,
            tags=tags(sha),
            resume_state=self.state_dir / f"{sha}.upload.json",
        )
        try:
            # Only where the key was free when looked at: a publisher racing for the same
            # release may have written it since, and its object must not be replaced.
            put = upload(if_absent=info is None)
        except ObjectExistsError:
            adopted = self._adopt(key, wanted)
            if adopted is not None:
                return adopted
            # An object that never got its metadata was left by an interrupted run: replace it.
            put = upload(if_absent=False)
        staged.unlink()
        (self.state_dir / f"{sha}.json").unlink(missing_ok=True)
        what = f"encrypted asset ({put.parts_sent} parts sent, {put.parts_reused} reused)"
        self.done.append(PlannedObject(key, result.ciphertext_size, what, "uploaded"))
        return {
            "sha256": digests.sha256_hex,
            "size": result.ciphertext_size,
            "plaintext_size": result.plaintext_size,
        }

    def _stage(
        self, path: Path, sha: str, ctx: Mapping[str, str], wanted: Mapping[str, str]
    ) -> tuple[Path, EncryptResult, FileDigests]:
        """The staged ciphertext of ``path``: reused from an earlier run only when its sealed
        record matches and the ciphertext's SHA-256 is the recorded one, else made anew.

        Encryption is randomised, so a rerun must reuse the same bytes to resume a multipart
        upload; but a staged file is uploaded as it is, so it is trusted only through a record
        sealed with the state folder's key, and its digest is checked against that record.
        """
        staged = self.state_dir / f"{sha}.enc"
        record_path = self.state_dir / f"{sha}.json"
        record = self._sealer.open(read_private(record_path))
        if (
            record is not None
            and record.get("metadata") == dict(wanted)
            and staged.is_file()
            and not staged.is_symlink()
        ):
            digests = self.store.digest_file(staged)
            if digests.sha256_hex == record.get("ciphertext_sha256") and digests.size == record.get(
                "ciphertext_size"
            ):
                result = EncryptResult(sha, int(record["plaintext_size"]), digests.size, dict(ctx))
                return staged, result, digests
            log.warning("%s: staged ciphertext does not match its record; encrypting again", staged)
        result = encrypt_file(path, staged, self.keyring, ctx)
        # One read of the ciphertext gives its SHA-256 (for the index, the metadata and the
        # sealed record) and the per-part checksums of the upload.
        digests = self.store.digest_file(staged)
        if digests.size != result.ciphertext_size:
            raise SigningError(
                f"{staged}: staged ciphertext is {digests.size} bytes, "
                f"{result.ciphertext_size} were written"
            )
        record = {
            "metadata": dict(wanted),
            "plaintext_size": result.plaintext_size,
            "ciphertext_size": result.ciphertext_size,
            "ciphertext_sha256": digests.sha256_hex,
        }
        write_private(record_path, self._sealer.seal(record))
        return staged, result, digests

    def _adopt(self, key: str, wanted: Mapping[str, str]) -> dict[str, Any] | None:
        """Another publisher wrote the same encryption of this file first: use its object.

        Its metadata may land a moment after the object (the file store writes it second), so
        look for about two seconds; ``None`` when it never completes (a run interrupted between
        writing the object and its metadata).
        """
        for _ in range(20):
            info = self.store.head(key)
            if info is not None:
                if not all(info.metadata.get(k) == v for k, v in wanted.items()):
                    raise SigningError(
                        f"{key}: another publisher wrote this object with other keys or context "
                        "at the same time; run one publisher per release"
                    )
                ct_sha = info.metadata.get("pg-ciphertext-sha256", "")
                size_text = info.metadata.get("pg-plaintext-size", "")
                if len(ct_sha) == 64 and size_text.isdigit():
                    self.done.append(PlannedObject(key, info.size, "encrypted asset", "skipped"))
                    return {"sha256": ct_sha, "size": info.size, "plaintext_size": int(size_text)}
            time.sleep(0.1)
        return None
