"""Reading and rewriting a published release in an S3 bucket, as an attacker with write access
to the bucket (but not the signing key) would (test-only)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from signing.encrypt import RawRsaKeyring, encrypt_file, encryption_context

__all__ = ["Bucket"]


class Bucket:
    """One release prefix of a bucket on the test S3 server."""

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.rstrip("/")

    def get(self, key: str) -> bytes:
        """An object's bytes."""
        obj = self.s3.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")
        return obj["Body"].read()  # type: ignore[no-any-return]

    def put(self, key: str, data: bytes) -> dict[str, Any]:
        """Write an object; returns the index entry that names it."""
        self.s3.put_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}", Body=data)
        return {"key": key, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

    def index(self) -> dict[str, Any]:
        """The release index."""
        return json.loads(self.get("index.json"))  # type: ignore[no-any-return]

    def put_index(self, index: dict[str, Any]) -> None:
        """Replace the release index (it is not signed: anyone with bucket access can)."""
        self.put("index.json", json.dumps(index, indent=2, sort_keys=True).encode())

    def copy_from(self, other: Bucket, key: str) -> dict[str, Any]:
        """Copy one object of another release here, under the same key."""
        return self.put(key, other.get(key))

    def reencrypt(
        self, plaintext: Path, public_pem: bytes, application: str, version: str, work: Path
    ) -> dict[str, Any]:
        """Encrypt ``plaintext`` for another application/version with only the device's public
        key (what the encryption context alone cannot prevent); returns the object entry."""
        sha = hashlib.sha256(plaintext.read_bytes()).hexdigest()
        ctx = encryption_context(sha, application=application, version=version)
        out = work / f"{sha}.enc"
        encrypt_file(plaintext, out, RawRsaKeyring.from_public_pem(public_pem), ctx)
        return self.put(f"objects/sha256/{sha}.enc", out.read_bytes())
