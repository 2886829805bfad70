"""Publish's options, results and refusal, shared by its modules (internal; re-exported by
:mod:`signing.publish`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.models import Report
from signing.encrypt import Keyring
from signing.errors import Reason, SigningError
from signing.signer import Signer
from signing.store import RetryPolicy, TransferProgress

__all__ = [
    "DocumentWriter",
    "PlannedObject",
    "PublishOptions",
    "PublishRefusedError",
    "PublishResult",
]

DocumentWriter = Callable[[Report, Path], Mapping[str, Path]]
"""Writes the release's documents for a report into a folder; returns role → file.

Role ``report`` (the JSON report) is required; ``sbom`` (CycloneDX) and ``licenses`` are
optional. The CLI passes the scanner's report writers: ``signing`` does not import them.
"""


class PublishRefusedError(SigningError):
    """publish will not upload: rejected (exit 1), incomplete (exit 3), or inconsistent."""

    def __init__(self, reason: Reason, message: str, *, exit_code: int = 1, hint: str = ""):
        super().__init__(f"refusing to publish ({reason.value}): {message}", hint=hint)
        self.reason = reason
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class PublishOptions:
    """Everything publish needs besides the target and its report."""

    destination: str
    signer: Signer | None
    keyring: Keyring | None
    documents: DocumentWriter | None = None
    application: str | None = None
    version: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    fips: bool = False
    sse_kms_key_id: str | None = None
    dry_run: bool = False
    state_dir: Path | None = None
    progress: TransferProgress | None = None
    retry: RetryPolicy | None = None
    client: Any = None
    part_size: int = 8 * 1024 * 1024
    workers: int = 4
    identity_token: str | None = None  # keyless signing through Sigstore (instead of signer)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class PlannedObject:
    """One object of the release: where it goes and what happened to it."""

    key: str
    size: int
    what: str
    action: str = "upload"  # upload | skip | uploaded | skipped


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What publish did (or, for a dry run, would do)."""

    url: str
    application: str
    version: str
    objects: tuple[PlannedObject, ...]
    dry_run: bool = False
    already_published: bool = False
    index: Mapping[str, Any] | None = None

    @property
    def uploaded(self) -> tuple[PlannedObject, ...]:
        """Objects actually sent this run."""
        return tuple(o for o in self.objects if o.action == "uploaded")

    @property
    def skipped(self) -> tuple[PlannedObject, ...]:
        """Objects already present with the same digest."""
        return tuple(o for o in self.objects if o.action == "skipped")
