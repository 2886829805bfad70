"""Which release a statement is for, checked against what the user asked for (internal).

The encryption context binds a ciphertext to an application and version, but anyone who can
encrypt (the device's RSA public key, KMS encrypt rights) can make a new one. Only the signed
statement says, with the signer's authority, which application, version and destination a set
of files was approved for; ``pull`` and ``verify`` compare that with the URL or the flags, and
refuse a version older than a pinned minimum (a rollback to a release with known flaws).

Example::

    check_release(statement.predicate.release,
                  ReleaseExpectation(application="shelf", version="1.1.0"))
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from scanner.errors import UsageError
from signing.errors import Reason, VerificationError
from signing.statement import ReleaseInfo

__all__ = ["ReleaseExpectation", "check_release", "parse_version"]


@dataclass(frozen=True, slots=True)
class ReleaseExpectation:
    """What the user asked for; ``None`` fields are not checked."""

    application: str | None = None
    version: str | None = None
    destination: str | None = None
    min_version: str | None = None


def parse_version(text: str, what: str) -> Version:
    """A PEP 440 version (``1.2.0``, ``2.0rc1``, ``v1.0``); ``UsageError`` when it is none."""
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise UsageError(
            f"{what} {text!r} is not a version that can be ordered (e.g. 1.4.0)"
        ) from exc


def _same_destination(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def check_release(signed: ReleaseInfo, expect: ReleaseExpectation) -> None:
    """Raise :class:`VerificationError` unless the signed release is the expected one."""
    for field, wanted, got in (
        ("application", expect.application, signed.application),
        ("version", expect.version, signed.version),
    ):
        if wanted is not None and got != wanted:
            raise VerificationError(
                Reason.WRONG_RELEASE,
                f"the attestation was signed for {field} {got!r}, not the requested {wanted!r}",
                hint="the files belong to another release: do not deploy them",
            )
    if expect.destination is not None and (
        signed.destination is None or not _same_destination(signed.destination, expect.destination)
    ):
        raise VerificationError(
            Reason.WRONG_RELEASE,
            f"the attestation was signed for publishing to {signed.destination!r}, not "
            f"{expect.destination!r}",
            hint="a release copied from elsewhere is pulled with --published-to ORIGINAL-URL",
        )
    if expect.min_version is not None:
        floor = parse_version(expect.min_version, "--min-version")
        if signed.version is None:
            raise VerificationError(
                Reason.ROLLBACK, "the attestation names no version, so --min-version cannot hold"
            )
        try:
            got_version = Version(signed.version)
        except InvalidVersion as exc:
            raise VerificationError(
                Reason.ROLLBACK,
                f"the attested version {signed.version!r} cannot be ordered against "
                f"--min-version {expect.min_version}",
            ) from exc
        if got_version < floor:
            raise VerificationError(
                Reason.ROLLBACK,
                f"the attested version {signed.version} is older than --min-version "
                f"{expect.min_version}",
                hint="an older release is being served in place of a newer one",
            )
