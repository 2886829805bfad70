"""Resumable multipart uploads with per-part SHA-256 checksums (a mixin of the S3 store).

Each part's SHA-256 is sent with it (S3 recomputes it and rejects a damaged part) and is
checked against the file again as the part is read; the composite checksum S3 reports at the
end is compared with the one computed locally. A state file lets a rerun resume: parts S3
already holds with the same checksum are not sent again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import botocore.exceptions

from signing._state import write_private
from signing.store.digests import b64_sha256
from signing.store.interface import (
    ChecksumError,
    FileDigests,
    ObjectExistsError,
    PutResult,
    StorageError,
    TransferProgress,
)

__all__ = ["MultipartUploads"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def _client_error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class MultipartUploads:
    """Multipart upload and resume; the S3 store provides the client and the retry loop."""

    bucket: str
    client: Any
    workers: int
    progress: TransferProgress

    def _key(self, key: str) -> str:
        raise NotImplementedError

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        raise NotImplementedError

    def _sse_args(self) -> dict[str, Any]:
        raise NotImplementedError

    def _tagging(self, tags: Mapping[str, str] | None) -> dict[str, str]:
        raise NotImplementedError

    def _multipart(
        self,
        key: str,
        path: Path,
        digests: FileDigests,
        metadata: Mapping[str, str],
        tags: Mapping[str, str] | None,
        content_type: str,
        resume_state: Path | None,
        if_absent: bool = False,
    ) -> PutResult:
        full = self._key(key)
        where = f"s3://{self.bucket}/{full}"
        size, part_size, sha256_hex = digests.size, digests.part_size, digests.sha256_hex
        # Each part's SHA-256 is sent with it (S3 recomputes it and rejects a damaged part) and
        # is checked against the file again as the part is read, so a file changed since it
        # was hashed fails here rather than reaching the store.
        part_digests = list(digests.parts)
        expected_composite = b64_sha256(hashlib.sha256(b"".join(part_digests)).digest())
        upload_id, done = self._resume(
            full, resume_state, size, part_size, sha256_hex, part_digests, path
        )
        if upload_id is None:
            upload_id, done = self._create(
                full, digests, metadata, tags, content_type, resume_state
            )
        etags: dict[int, str] = dict(done)
        todo = [n for n in range(1, len(part_digests) + 1) if n not in done]
        self.progress.begin(key, size)
        try:
            self.progress.advance(sum(min(part_size, size - (n - 1) * part_size) for n in done))

            def send(number: int) -> tuple[int, str]:
                assert upload_id is not None
                return self._send_part(path, full, upload_id, part_size, part_digests, number)

            if todo:
                with ThreadPoolExecutor(max_workers=min(self.workers, len(todo))) as pool:
                    # map() re-raises the first failure once the other parts settle.
                    etags.update(dict(pool.map(send, todo)))
            resp = self._complete(full, upload_id, etags, part_digests, if_absent)
        finally:
            self.progress.end()
        reported = resp.get("ChecksumSHA256")
        if reported is not None and reported.split("-")[0] != expected_composite:
            raise ChecksumError(
                f"{where}: S3 reports composite checksum {reported}, expected {expected_composite}",
                hint="the object is damaged; it is not referenced by any release index",
            )
        if resume_state is not None:
            with contextlib.suppress(FileNotFoundError):
                resume_state.unlink()
        return PutResult(
            key=key,
            parts_sent=len(todo),
            parts_reused=len(done),
            checksum_sha256=expected_composite,
        )

    def _create(
        self,
        full: str,
        digests: FileDigests,
        metadata: Mapping[str, str],
        tags: Mapping[str, str] | None,
        content_type: str,
        resume_state: Path | None,
    ) -> tuple[str, dict[int, str]]:
        """Start a new multipart upload and record it for a rerun to resume."""
        resp = self._call(
            f"create multipart upload s3://{self.bucket}/{full}",
            lambda: self.client.create_multipart_upload(
                Bucket=self.bucket,
                Key=full,
                ChecksumAlgorithm="SHA256",
                Metadata=dict(metadata),
                ContentType=content_type,
                **self._sse_args(),
                **self._tagging(tags),
            ),
        )
        upload_id = str(resp["UploadId"])
        if resume_state is not None:
            _write_state(
                resume_state,
                {
                    "key": full,
                    "bucket": self.bucket,
                    "upload_id": upload_id,
                    "size": digests.size,
                    "part_size": digests.part_size,
                    "sha256": digests.sha256_hex,
                },
            )
        return upload_id, {}

    def _send_part(
        self,
        path: Path,
        full: str,
        upload_id: str,
        part_size: int,
        part_digests: list[bytes],
        number: int,
    ) -> tuple[int, str]:
        """Read part ``number`` again, check it against its digest, send it; its ETag."""
        where = f"s3://{self.bucket}/{full}"
        with open(path, "rb", buffering=0) as fp:
            body = os.pread(fp.fileno(), part_size, (number - 1) * part_size)
        checksum = b64_sha256(part_digests[number - 1])
        if hashlib.sha256(body).digest() != part_digests[number - 1]:
            raise ChecksumError(f"{path}: changed while uploading (part {number})")
        resp = self._call(
            f"upload part {number}/{len(part_digests)} of {where}",
            lambda: self.client.upload_part(
                Bucket=self.bucket,
                Key=full,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ChecksumSHA256=checksum,
            ),
        )
        reported = resp.get("ChecksumSHA256")
        if reported is not None and reported != checksum:
            raise ChecksumError(
                f"upload part {number} of {where}: S3 reports checksum {reported}, sent {checksum}"
            )
        self.progress.advance(len(body))
        return number, str(resp["ETag"])

    def _complete(
        self,
        full: str,
        upload_id: str,
        etags: Mapping[int, str],
        part_digests: list[bytes],
        if_absent: bool,
    ) -> Any:
        """Complete the upload; with ``if_absent`` only if no other writer got there first
        (racing publishers of one release never replace each other's objects)."""
        where = f"s3://{self.bucket}/{full}"
        parts = [
            {"PartNumber": n, "ETag": etags[n], "ChecksumSHA256": b64_sha256(part_digests[n - 1])}
            for n in range(1, len(part_digests) + 1)
        ]
        condition = {"IfNoneMatch": "*"} if if_absent else {}
        try:
            return self._call(
                f"complete multipart upload {where}",
                lambda: self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=full,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    **condition,
                ),
            )
        except StorageError as exc:
            cause = exc.__cause__
            if isinstance(cause, botocore.exceptions.ClientError) and (
                _client_error_code(cause) in ("PreconditionFailed", "ConditionalRequestConflict")
            ):
                with contextlib.suppress(
                    botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError
                ):
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=full, UploadId=upload_id
                    )
                raise ObjectExistsError(f"{where} already exists") from cause
            raise

    def _resume(
        self,
        full: str,
        state_path: Path | None,
        size: int,
        part_size: int,
        sha256_hex: str,
        part_digests: list[bytes],
        path: Path,
    ) -> tuple[str | None, dict[int, str]]:
        """An earlier upload of the same bytes to continue, and its parts already stored."""
        if state_path is None or not state_path.is_file():
            return None, {}
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None, {}
        if state != {
            "key": full,
            "bucket": self.bucket,
            "upload_id": state.get("upload_id"),
            "size": size,
            "part_size": part_size,
            "sha256": sha256_hex,
        }:
            return None, {}
        upload_id = str(state["upload_id"])
        try:
            parts = self._list_parts(full, upload_id)
        except StorageError as exc:
            log.info("cannot resume upload of %s (%s); starting again", full, exc.message)
            return None, {}
        done: dict[int, str] = {}
        for part in parts:
            number = int(part["PartNumber"])
            if not 1 <= number <= len(part_digests):
                continue
            expected_size = min(part_size, size - (number - 1) * part_size)
            if int(part.get("Size", -1)) != expected_size:
                continue
            checksum = part.get("ChecksumSHA256")
            if checksum is not None:
                if checksum == b64_sha256(part_digests[number - 1]):
                    done[number] = str(part["ETag"])
                continue
            # Servers that do not echo part checksums (some S3-compatible stores): fall back
            # to the ETag, which is the part's MD5 when the server does not encrypt with KMS.
            with open(path, "rb", buffering=0) as fp:
                body = os.pread(fp.fileno(), part_size, (number - 1) * part_size)
            md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
            if str(part["ETag"]).strip('"') == md5:
                done[number] = str(part["ETag"])
        log.info(
            "resuming upload of %s: %d of %d parts already stored",
            full,
            len(done),
            len(part_digests),
        )
        return upload_id, done

    def _list_parts(self, full: str, upload_id: str) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        marker = 0
        while True:
            resp = self._call(
                f"list parts of s3://{self.bucket}/{full}",
                lambda m=marker: self.client.list_parts(  # type: ignore[misc]
                    Bucket=self.bucket,
                    Key=full,
                    UploadId=upload_id,
                    PartNumberMarker=m,
                ),
            )
            parts.extend(resp.get("Parts", []))
            if not resp.get("IsTruncated"):
                return parts
            marker = int(resp["NextPartNumberMarker"])


def _write_state(path: Path, state: Mapping[str, Any]) -> None:
    # A new file renamed into place: a link planted at ``path`` is replaced, never followed.
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(state, sort_keys=True).encode())
