"""Object storage for releases: Amazon S3 (the only module that talks to S3) and ``file://DIR``.

Both backends write the same keys, so a release published to a folder can be copied to a
bucket (or pulled from either) unchanged. The S3 backend:

* uploads large files in parts, each with its SHA-256 checksum (S3 recomputes and rejects a
  part that arrives damaged), and checks the composite checksum S3 reports at the end;
* resumes an interrupted multipart upload from a state file: parts S3 already holds with the
  same checksum are not sent again;
* encrypts at rest with SSE-KMS (``--sse-kms-key-id``) with S3 Bucket Keys, which cuts KMS
  requests (and their cost and throttling) by orders of magnitude;
* carries the digest and the verdict in object metadata and tags, so lifecycle rules and
  bucket policies can key on them;
* retries transient failures (dropped connections, 5xx, throttling, damaged parts) with
  exponential backoff and jitter; botocore's own retries are off so there is one policy;
* refuses plain-HTTP endpoints except on loopback, and selects FIPS endpoints with ``fips``.

Example::

    store = open_store("s3://releases/panorama", endpoint_url=None, fips=False)
    digests = store.digest_file(Path("ab.enc"))  # whole-file and per-part SHA-256, one read
    store.put_file("app/1.0/assets/ab.enc", Path("ab.enc"), digests=digests, metadata={})
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import random
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

import boto3
import botocore.config
import botocore.exceptions

from scanner.errors import UsageError
from scanner.fsutil import read_full
from signing.digest import BackgroundHasher
from signing.errors import SigningError

__all__ = [
    "DEFAULT_PART_SIZE",
    "ChecksumError",
    "FileDigests",
    "ObjectExistsError",
    "FileStore",
    "NullProgress",
    "ObjectInfo",
    "ObjectStore",
    "PutResult",
    "RetryPolicy",
    "S3Store",
    "StorageError",
    "TransferProgress",
    "check_endpoint",
    "digest_file",
    "open_store",
    "split_url",
]

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 8 * MiB
"""Part size for multipart uploads (grown for files over 80 GB so parts stay under 10 000)."""
MULTIPART_THRESHOLD = 8 * MiB
MAX_PARTS = 10_000
READ_SIZE = MiB
META_DIR = ".meta"

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


class StorageError(SigningError):
    """An object store operation failed for good (after retries): exit 3."""


class ChecksumError(StorageError):
    """The store received or holds bytes other than those sent."""


class ObjectExistsError(StorageError):
    """A write that must create a new object found one already there."""


class TransferProgress(Protocol):
    """Receives transfer progress; implementations must be thread-safe (parts run in parallel)."""

    def begin(self, label: str, total: int) -> None:
        """A transfer of ``total`` bytes called ``label`` starts."""

    def advance(self, n: int) -> None:
        """``n`` more bytes were transferred."""

    def end(self) -> None:
        """The current transfer finished (or failed)."""


class NullProgress:
    """Progress that goes nowhere."""

    def begin(self, label: str, total: int) -> None:
        """Ignored."""

    def advance(self, n: int) -> None:
        """Ignored."""

    def end(self) -> None:
        """Ignored."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently transient failures are retried."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter for retry number ``attempt`` (from 1)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        # Jitter spreads retries of parallel parts apart; it is not a security control.
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a store says about one object."""

    key: str
    size: int
    metadata: Mapping[str, str]
    checksum_sha256: str | None = None
    sse: str | None = None
    sse_kms_key_id: str | None = None


@dataclass(frozen=True, slots=True)
class PutResult:
    """What an upload did: skipped (already there), or how many parts were sent and reused."""

    key: str
    skipped: bool = False
    parts_sent: int = 0
    parts_reused: int = 0
    checksum_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class FileDigests:
    """A file's SHA-256 and size and, for a multipart upload, every part's SHA-256."""

    sha256_hex: str
    size: int
    part_size: int = 0
    """0 when no part digests were computed (single PUT, file store)."""
    parts: tuple[bytes, ...] = ()


def digest_file(path: Path, part_size: int = 0) -> FileDigests:
    """Hash ``path`` in one read: the whole file, and each ``part_size`` part when not 0.

    The whole-file hash runs on a second thread (hashlib releases the GIL), so both digests
    take about the time of one.
    """
    block_size = part_size or READ_SIZE
    # Two blocks in flight keep both cores busy; more would only hold memory (parts are 8 MiB+).
    whole = BackgroundHasher(depth=max(2, 16 * MiB // block_size))
    parts: list[bytes] = []
    try:
        with open(path, "rb", buffering=0) as fp:
            while True:
                # A new buffer per block: the hasher thread may still be reading the last.
                block = memoryview(bytearray(block_size))
                got = read_full(fp, block)
                if not got:
                    break
                whole.update(block[:got])
                if part_size:
                    parts.append(hashlib.sha256(block[:got]).digest())
        return FileDigests(whole.hexdigest(), whole.size, part_size, tuple(parts))
    except OSError as exc:
        raise StorageError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    finally:
        whole.abandon()


def b64_sha256(digest: bytes) -> str:
    """Base64 form of a SHA-256 digest, as S3 checksums are written."""
    return base64.b64encode(digest).decode("ascii")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str | None) -> None:
    """Refuse endpoints that would send credentials or data in the clear.

    HTTPS everywhere; plain HTTP only to loopback (a local test server or proxy).
    """
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise UsageError(
        f"--endpoint-url {url}: only https:// endpoints are allowed (http:// on loopback only)"
    )


def split_url(url: str) -> tuple[str, str, str]:
    """Split a destination URL.

    ``s3://BUCKET/PREFIX`` gives ``("s3", BUCKET, PREFIX)``; ``file://DIR`` gives
    ``("file", DIR, "")``.
    """
    if url.startswith("s3://"):
        rest = url[5:]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise UsageError(f"{url}: no bucket name (expected s3://BUCKET/PREFIX)")
        return "s3", bucket, prefix.strip("/")
    if url.startswith("file://"):
        path = url[7:]
        if not path:
            raise UsageError(f"{url}: no folder (expected file://DIR)")
        return "file", path, ""
    raise UsageError(f"{url}: expected s3://BUCKET/PREFIX or file://DIR")


class ObjectStore(ABC):
    """Keys are POSIX paths relative to the store's root (bucket prefix or folder)."""

    @abstractmethod
    def describe(self) -> str:
        """Where this store writes, for messages (``s3://bucket/prefix`` or ``file://dir``)."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """The object's facts, or ``None`` when it does not exist."""

    def digest_file(self, path: Path) -> FileDigests:
        """The digests :meth:`put_file` needs for ``path`` (this store's part size)."""
        return digest_file(path)

    @abstractmethod
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
        """Upload a local file whose digests (from :meth:`digest_file`) are ``digests``.

        A file that no longer matches them raises :class:`ChecksumError`.
        """

    @abstractmethod
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
        """Upload a small in-memory object; with ``if_absent``, only if the key is free
        (:class:`ObjectExistsError` otherwise), atomically on the store's side."""

    @abstractmethod
    def download(self, key: str, dst: Path, *, max_size: int) -> ObjectInfo:
        """Write the object to ``dst`` (a path the caller owns); ``max_size`` bounds it."""

    def get_bytes(self, key: str, *, max_size: int) -> bytes | None:
        """A small object's bytes, or ``None`` if it does not exist."""
        fd, name = tempfile.mkstemp(prefix=".get.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
        try:
            if self.head(key) is None:
                return None
            self.download(key, tmp, max_size=max_size)
            return tmp.read_bytes()
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


# ------------------------------------------------------------------------------ S3


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


class S3Store(ObjectStore):
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
            resp = self._call(
                f"create multipart upload {where}",
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
            done = {}
            if resume_state is not None:
                _write_state(
                    resume_state,
                    {
                        "key": full,
                        "bucket": self.bucket,
                        "upload_id": upload_id,
                        "size": size,
                        "part_size": part_size,
                        "sha256": sha256_hex,
                    },
                )
        etags: dict[int, str] = dict(done)
        todo = [n for n in range(1, len(part_digests) + 1) if n not in done]
        self.progress.begin(key, size)
        try:
            self.progress.advance(sum(min(part_size, size - (n - 1) * part_size) for n in done))

            def send(number: int) -> tuple[int, str]:
                offset = (number - 1) * part_size
                with open(path, "rb", buffering=0) as fp:
                    body = os.pread(fp.fileno(), part_size, offset)
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
                        f"upload part {number} of {where}: S3 reports checksum "
                        f"{reported}, sent {checksum}"
                    )
                self.progress.advance(len(body))
                return number, str(resp["ETag"])

            if todo:
                with ThreadPoolExecutor(max_workers=min(self.workers, len(todo))) as pool:
                    # map() re-raises the first failure once the other parts settle.
                    etags.update(dict(pool.map(send, todo)))
            parts = [
                {
                    "PartNumber": n,
                    "ETag": etags[n],
                    "ChecksumSHA256": b64_sha256(part_digests[n - 1]),
                }
                for n in range(1, len(part_digests) + 1)
            ]
            # With if_absent the object appears only if no other writer got there first
            # (racing publishers of one release never replace each other's objects).
            condition = {"IfNoneMatch": "*"} if if_absent else {}
            try:
                resp = self._call(
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
                    _client_error_code(cause)
                    in ("PreconditionFailed", "ConditionalRequestConflict")
                ):
                    with contextlib.suppress(
                        botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError
                    ):
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=full, UploadId=upload_id
                        )
                    raise ObjectExistsError(f"{where} already exists") from cause
                raise
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


def _write_state(path: Path, state: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- file://


class FileStore(ObjectStore):
    """A local folder with the same layout as the bucket; metadata and tags go to
    ``.meta/<key>.json`` beside the objects (S3 keeps them on the object)."""

    def __init__(self, root: Path, *, progress: TransferProgress | None = None) -> None:
        self.root = Path(root)
        self.progress: TransferProgress = progress or NullProgress()

    def describe(self) -> str:
        """``file://DIR``."""
        return f"file://{self.root}"

    def _path(self, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts) or parts[0] == META_DIR:
            raise StorageError(f"{key!r}: not a valid object key")
        return self.root.joinpath(*parts)

    def _meta_path(self, key: str) -> Path:
        return self.root / META_DIR / (key.strip("/") + ".json")

    def head(self, key: str) -> ObjectInfo | None:
        """Size from the file, the rest from the sidecar; ``None`` if either is missing."""
        path = self._path(key)
        meta_path = self._meta_path(key)
        if not path.is_file() or not meta_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StorageError(f"{meta_path}: unreadable object metadata: {exc}") from exc
        return ObjectInfo(
            key=key,
            size=path.stat().st_size,
            metadata=meta.get("metadata", {}),
            checksum_sha256=meta.get("checksum_sha256"),
        )

    def _write_meta(
        self,
        key: str,
        metadata: Mapping[str, str],
        tags: Mapping[str, str] | None,
        checksum: str,
        content_type: str,
    ) -> None:
        meta_path = self._meta_path(key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "metadata": dict(metadata),
            "tags": dict(tags or {}),
            "checksum_sha256": checksum,
            "content_type": content_type,
        }
        _atomic_write(meta_path, json.dumps(doc, sort_keys=True, indent=1).encode())

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
        """Write atomically (never replacing an existing file with ``if_absent``), then the
        sidecar."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        checksum = b64_sha256(hashlib.sha256(data).digest())
        try:
            _atomic_write(path, data, exclusive=if_absent)
            self._write_meta(key, metadata, tags, checksum, content_type)
        except FileExistsError as exc:
            raise ObjectExistsError(f"{path} already exists") from exc
        except OSError as exc:
            raise StorageError(f"{path}: cannot write: {exc.strerror or exc}") from exc
        return PutResult(key=key, parts_sent=1, checksum_sha256=checksum)

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
        """Copy in 1 MiB blocks into a temporary file, check the digest, rename into place."""
        dst = self._path(key)
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
        tmp = Path(tmp_name)
        digest = hashlib.sha256()
        self.progress.begin(key, path.stat().st_size)
        try:
            with open(path, "rb") as src, os.fdopen(fd, "wb") as out:
                while block := src.read(READ_SIZE):
                    out.write(block)
                    digest.update(block)
                    self.progress.advance(len(block))
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != digests.sha256_hex:
                raise ChecksumError(f"{path}: changed while copying (sha256 differs)")
            if if_absent:
                # link() fails if the name exists: the file-system form of If-None-Match.
                # The metadata is written only by the writer that won.
                os.link(tmp, dst)
            else:
                os.replace(tmp, dst)
            checksum = b64_sha256(digest.digest())
            self._write_meta(key, metadata, tags, checksum, content_type)
        except FileExistsError as exc:
            raise ObjectExistsError(f"{dst} already exists") from exc
        except OSError as exc:
            raise StorageError(f"{dst}: cannot write: {exc.strerror or exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            self.progress.end()
        return PutResult(key=key, parts_sent=1, checksum_sha256=checksum)

    def download(self, key: str, dst: Path, *, max_size: int) -> ObjectInfo:
        """Copy the file to ``dst``."""
        src = self._path(key)
        info = self.head(key)
        if info is None:
            raise StorageError(f"{src}: no such object")
        if info.size > max_size:
            raise StorageError(f"{src}: {info.size} bytes, more than the {max_size} expected")
        self.progress.begin(key, info.size)
        try:
            with open(src, "rb") as fp, open(dst, "wb") as out:
                while block := fp.read(READ_SIZE):
                    out.write(block)
                    self.progress.advance(len(block))
        except OSError as exc:
            raise StorageError(f"{src}: cannot read: {exc.strerror or exc}") from exc
        finally:
            self.progress.end()
        return info


def _atomic_write(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if exclusive:
            # link() fails if the name exists: the file-system form of If-None-Match.
            os.link(tmp_name, path)
            os.unlink(tmp_name)
        else:
            os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def open_store(
    url: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    fips: bool = False,
    sse_kms_key_id: str | None = None,
    progress: TransferProgress | None = None,
    retry: RetryPolicy | None = None,
    client: Any = None,
    part_size: int = DEFAULT_PART_SIZE,
    workers: int = 4,
) -> ObjectStore:
    """The store for ``s3://BUCKET/PREFIX`` or ``file://DIR``."""
    scheme, where, prefix = split_url(url)
    if scheme == "file":
        return FileStore(Path(where), progress=progress)
    return S3Store(
        where,
        prefix,
        client=client,
        endpoint_url=endpoint_url,
        region=region,
        fips=fips,
        sse_kms_key_id=sse_kms_key_id,
        progress=progress,
        retry=retry,
        part_size=part_size,
        workers=workers,
    )
