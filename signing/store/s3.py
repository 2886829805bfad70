"""Amazon S3 (and S3-compatible stores): the only module that talks to S3.

* uploads large files in parts, each with its SHA-256 checksum (S3 recomputes and rejects a
  part that arrives damaged), and checks the composite checksum S3 reports at the end
  (:mod:`signing.store._s3_multipart`);
* resumes an interrupted multipart upload from a state file: parts S3 already holds with the
  same checksum are not sent again;
* encrypts at rest with SSE-KMS (``--sse-kms-key-id``) with S3 Bucket Keys, which cuts KMS
  requests (and their cost and throttling) by orders of magnitude;
* carries the digest and the verdict in object metadata and tags, so lifecycle rules and
  bucket policies can key on them;
* retries transient failures (dropped connections, 5xx, throttling, damaged parts) with
  exponential backoff and jitter; botocore's own retries are off so there is one policy;
* refuses plain-HTTP endpoints except on loopback, and selects FIPS endpoints with ``fips``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import boto3
import botocore.config
import botocore.exceptions

from signing.store._s3_multipart import MultipartUploads
from signing.store.digests import b64_sha256, digest_file
from signing.store.interface import (
    READ_SIZE,
    ChecksumError,
    FileDigests,
    NullProgress,
    ObjectExistsError,
    ObjectInfo,
    ObjectStore,
    PutResult,
    StorageError,
    TransferProgress,
)
from signing.store.retry import RetryPolicy
from signing.store.urls import check_endpoint

__all__ = ["DEFAULT_PART_SIZE", "MULTIPART_THRESHOLD", "S3Store"]

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 8 * MiB
"""Part size for multipart uploads (grown for files over 80 GB so parts stay under 10 000)."""
MULTIPART_THRESHOLD = 8 * MiB
MAX_PARTS = 10_000

_RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "BadDigest",
        "XAmzContentSHA256Mismatch",
    }
)
_CHECKSUM_CODES = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})

T = TypeVar("T")


def _client_error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: botocore.exceptions.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _retryable(exc: BaseException) -> bool:
    if isinstance(
        exc,
        botocore.exceptions.ConnectionError
        | botocore.exceptions.HTTPClientError
        | botocore.exceptions.ResponseStreamingError
        | botocore.exceptions.IncompleteReadError,
    ):
        return True
    if isinstance(exc, botocore.exceptions.ClientError):
        return _client_error_code(exc) in _RETRYABLE_CODES or _status(exc) >= 500
    return False


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".strip().rstrip(":")
    return f"{type(exc).__name__}: {exc}"


class S3Store(MultipartUploads, ObjectStore):
    """An S3 bucket and prefix (any S3-compatible endpoint over HTTPS, or loopback HTTP)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        fips: bool = False,
        sse_kms_key_id: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        workers: int = 4,
        retry: RetryPolicy | None = None,
        progress: TransferProgress | None = None,
    ) -> None:
        check_endpoint(endpoint_url)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.sse_kms_key_id = sse_kms_key_id
        self.part_size = part_size
        self.workers = max(1, workers)
        self.retry = retry or RetryPolicy()
        self.progress: TransferProgress = progress or NullProgress()
        if client is None:
            config = botocore.config.Config(
                use_fips_endpoint=fips,
                # One retry policy (ours, below) rather than two multiplying each other.
                retries={"mode": "standard", "max_attempts": 1},
                connect_timeout=10,
                read_timeout=120,
                signature_version="s3v4",
                # A custom endpoint (a local server, MinIO) rarely resolves BUCKET.host names.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
                max_pool_connections=max(10, self.workers * 2),
            )
            session = boto3.session.Session(region_name=region)
            client = session.client("s3", endpoint_url=endpoint_url, config=config)
        self.client = client

    def describe(self) -> str:
        """``s3://bucket/prefix``."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                if not _retryable(exc) or attempt >= self.retry.attempts:
                    raise self._error(what, exc, attempt) from exc
                delay = self.retry.delay(attempt)
                log.warning(
                    "%s: %s; retry %d/%d in %.1fs",
                    what,
                    _describe_error(exc),
                    attempt,
                    self.retry.attempts - 1,
                    delay,
                )
                self.retry.sleep(delay)

    def _error(self, what: str, exc: BaseException, attempts: int) -> StorageError:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, botocore.exceptions.ClientError):
            code = _client_error_code(exc)
            if code in _CHECKSUM_CODES:
                return ChecksumError(
                    f"{what}: S3 rejected the data: checksum mismatch ({code}){tries}",
                    hint="the bytes were damaged in transit; check proxies and retry",
                )
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return StorageError(
                    f"{what}: {_describe_error(exc)}",
                    hint="check the AWS credentials and the bucket policy",
                )
            if code == "NoSuchBucket":
                return StorageError(f"{what}: bucket {self.bucket} does not exist")
        return StorageError(f"{what}: {_describe_error(exc)}{tries}")

    def head(self, key: str) -> ObjectInfo | None:
        """HEAD with checksum mode on; ``None`` on 404."""
        full = self._key(key)
        try:
            resp = self._call(
                f"HEAD s3://{self.bucket}/{full}",
                lambda: self.client.head_object(
                    Bucket=self.bucket, Key=full, ChecksumMode="ENABLED"
                ),
            )
        except StorageError as exc:
            cause = exc.__cause__
            if isinstance(cause, botocore.exceptions.ClientError) and (
                _status(cause) == 404 or _client_error_code(cause) in ("404", "NoSuchKey")
            ):
                return None
            raise
        return ObjectInfo(
            key=key,
            size=int(resp.get("ContentLength", 0)),
            metadata=dict(resp.get("Metadata", {})),
            checksum_sha256=resp.get("ChecksumSHA256"),
            sse=resp.get("ServerSideEncryption"),
            sse_kms_key_id=resp.get("SSEKMSKeyId"),
        )

    def _sse_args(self) -> dict[str, Any]:
        if not self.sse_kms_key_id:
            return {}
        return {
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": self.sse_kms_key_id,
            "BucketKeyEnabled": True,
        }

    @staticmethod
    def _tagging(tags: Mapping[str, str] | None) -> dict[str, str]:
        if not tags:
            return {}
        return {
            "Tagging": "&".join(
                f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(tags.items())
            )
        }

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        metadata: Mapping[str, str],
        tags: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
        if_absent: bool = False,
    ) -> PutResult:
        """Single PUT with a SHA-256 checksum (``If-None-Match: *`` with ``if_absent``)."""
        full = self._key(key)
        checksum = b64_sha256(hashlib.sha256(data).digest())
        # S3 conditional write: two publishers racing for one release cannot both win.
        condition = {"IfNoneMatch": "*"} if if_absent else {}
        try:
            resp = self._call(
                f"PUT s3://{self.bucket}/{full}",
                lambda: self.client.put_object(
                    Bucket=self.bucket,
                    Key=full,
                    Body=data,
                    ChecksumSHA256=checksum,
                    Metadata=dict(metadata),
                    ContentType=content_type,
                    **condition,
                    **self._sse_args(),
                    **self._tagging(tags),
                ),
            )
        except StorageError as exc:
            cause = exc.__cause__
            if isinstance(cause, botocore.exceptions.ClientError) and (
                _client_error_code(cause) in ("PreconditionFailed", "ConditionalRequestConflict")
            ):
                raise ObjectExistsError(f"s3://{self.bucket}/{full} already exists") from cause
            raise
        reported = resp.get("ChecksumSHA256")
        if reported is not None and reported != checksum:
            raise ChecksumError(
                f"PUT s3://{self.bucket}/{full}: S3 reports checksum {reported}, sent {checksum}"
            )
        return PutResult(key=key, parts_sent=1, checksum_sha256=checksum)

    def digest_file(self, path: Path) -> FileDigests:
        """Whole-file SHA-256 and, above the multipart threshold, each part's (one read)."""
        size = path.stat().st_size
        return digest_file(path, self._part_size(size) if size >= MULTIPART_THRESHOLD else 0)

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        digests: FileDigests,
        metadata: Mapping[str, str],
        tags: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
        resume_state: Path | None = None,
        if_absent: bool = False,
    ) -> PutResult:
        """Single PUT below the threshold, resumable multipart upload above it."""
        size = path.stat().st_size
        if size != digests.size:
            raise ChecksumError(f"{path}: changed since it was hashed (size differs)")
        if size < MULTIPART_THRESHOLD:
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != digests.sha256_hex:
                raise ChecksumError(f"{path}: changed while uploading (sha256 differs)")
            self.progress.begin(key, size)
            try:
                result = self.put_bytes(
                    key,
                    data,
                    metadata=metadata,
                    tags=tags,
                    content_type=content_type,
                    if_absent=if_absent,
                )
                self.progress.advance(size)
            finally:
                self.progress.end()
            return result
        part_size = self._part_size(size)
        if digests.part_size != part_size or len(digests.parts) != -(-size // part_size):
            # Digests made for another part size (another store's): hash the parts again.
            fresh = digest_file(path, part_size)
            if fresh.sha256_hex != digests.sha256_hex:
                raise ChecksumError(f"{path}: changed since it was hashed (sha256 differs)")
            digests = fresh
        return self._multipart(
            key, path, digests, metadata, tags, content_type, resume_state, if_absent
        )

    def _part_size(self, size: int) -> int:
        part = self.part_size
        while size > part * MAX_PARTS:
            part *= 2
        return part

    def download(self, key: str, dst: Path, *, max_size: int) -> ObjectInfo:
        """GET into ``dst`` (checksum-validated by botocore when S3 has a full checksum);
        a dropped connection resumes from the bytes already written with a Range request."""
        full = self._key(key)
        where = f"s3://{self.bucket}/{full}"
        info = self.head(key)
        if info is None:
            raise StorageError(f"{where}: no such object")
        if info.size > max_size:
            raise StorageError(f"{where}: {info.size} bytes, more than the {max_size} expected")
        self.progress.begin(key, info.size)
        try:
            with open(dst, "wb") as out:
                attempt = 0
                while out.tell() < info.size or info.size == 0:
                    attempt += 1
                    if attempt > self.retry.attempts:
                        # Responses that end early without an error still count as attempts.
                        raise StorageError(
                            f"GET {where}: still incomplete after {self.retry.attempts} attempts"
                        )
                    start = out.tell()
                    try:
                        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
                        if start:
                            kwargs["Range"] = f"bytes={start}-"
                        else:
                            kwargs["ChecksumMode"] = "ENABLED"
                        resp = self.client.get_object(**kwargs)
                        body = resp["Body"]
                        for chunk in body.iter_chunks(READ_SIZE):
                            out.write(chunk)
                            self.progress.advance(len(chunk))
                            if out.tell() > info.size:
                                raise StorageError(f"{where}: longer than its declared size")
                        if info.size == 0:
                            break
                    except (
                        botocore.exceptions.BotoCoreError,
                        botocore.exceptions.ClientError,
                    ) as exc:
                        if not _retryable(exc) or attempt >= self.retry.attempts:
                            raise self._error(f"GET {where}", exc, attempt) from exc
                        self.retry.sleep(self.retry.delay(attempt))
                out.flush()
                os.fsync(out.fileno())
        finally:
            self.progress.end()
        return info
