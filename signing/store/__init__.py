"""Object storage for releases: Amazon S3 (:mod:`.s3`) and a local folder (:mod:`.file`).

Both backends write the same keys, so a release published to a folder can be copied to a
bucket (or pulled from either) unchanged.

Example::

    store = open_store("s3://releases/panorama", endpoint_url=None, fips=False)
    digests = store.digest_file(Path("ab.enc"))  # whole-file and per-part SHA-256, one read
    store.put_file("app/1.0/assets/ab.enc", Path("ab.enc"), digests=digests, metadata={})
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from signing.store.digests import b64_sha256, digest_file
from signing.store.file import FileStore
from signing.store.interface import (
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
from signing.store.s3 import DEFAULT_PART_SIZE, S3Store
from signing.store.urls import check_endpoint, split_url

__all__ = [
    "DEFAULT_PART_SIZE",
    "ChecksumError",
    "FileDigests",
    "FileStore",
    "NullProgress",
    "ObjectExistsError",
    "ObjectInfo",
    "ObjectStore",
    "PutResult",
    "RetryPolicy",
    "S3Store",
    "StorageError",
    "TransferProgress",
    "b64_sha256",
    "check_endpoint",
    "digest_file",
    "open_store",
    "split_url",
]


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
