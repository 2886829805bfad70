"""Destination URLs (``s3://BUCKET/PREFIX``, ``file://DIR``) and endpoint checks."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from scanner.errors import UsageError

__all__ = ["check_endpoint", "split_url"]


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
