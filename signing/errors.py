"""Errors raised by ``signing``; each explains itself through ``diagnostics()``.

They derive from :class:`scanner.errors.ScannerError`, so the CLI's single ``except`` turns them
into a one-line message and the contract's exit code:

* :class:`KeyLoadError` (2): a key, password or key reference cannot be used;
* :class:`InputError` (2): an input file (report, target) is missing, unreadable or invalid;
* :class:`SignRefusedError` (1): the gate will not sign (verdict not approved, bytes changed);
* :class:`VerificationError` (1): a signature, subject or attested fact does not check out;
* :class:`SigningError` (3): anything else that stops signing (KMS unreachable, I/O).

Example::

    try:
        verify_target(target, verifier, signatures_dir)
    except VerificationError as e:
        print(e.reason, e.diagnostics())
"""

from __future__ import annotations

from enum import StrEnum

from scanner.errors import ScannerError

__all__ = [
    "InputError",
    "KeyLoadError",
    "PullError",
    "Reason",
    "SignRefusedError",
    "SigningError",
    "VerificationError",
]


class SigningError(ScannerError):
    """Base of every error the signing package raises on purpose (exit 3 unless overridden)."""

    exit_code = 3


class KeyLoadError(SigningError):
    """A key file, key reference or password cannot be used (exit 2: bad input)."""

    exit_code = 2


class InputError(SigningError):
    """An input (report file, target) is missing, unreadable or not what it must be (exit 2).

    The message names the file and says why, in one line, as the CLI contract asks.
    """

    exit_code = 2


class Reason(StrEnum):
    """Machine-readable cause of a refusal or a failed verification.

    Each value is stable: CI scripts and tests match on it, people read the message.
    """

    # sign refusals
    NOT_APPROVED = "not-approved"
    DIGEST_MISMATCH = "digest-mismatch"
    MISSING_ARTIFACT = "missing-artifact"
    UNSCANNED_FILE = "unscanned-file"
    UNSIGNABLE_ENTRY = "unsignable-entry"
    BAD_REPORT = "bad-report"
    # verification failures
    MALFORMED_BUNDLE = "malformed-bundle"
    WRONG_KEY = "wrong-key"
    BAD_SIGNATURE = "bad-signature"
    MALFORMED_STATEMENT = "malformed-statement"
    MISSING_SUBJECT = "missing-subject"
    SUBJECT_MISMATCH = "subject-mismatch"
    SUBJECT_MISSING_FILE = "subject-missing-file"
    VERDICT_NOT_APPROVED = "verdict-not-approved"
    UNEXPECTED_POLICY = "unexpected-policy"
    REPORT_MISMATCH = "report-mismatch"
    MISSING_SIGNATURE = "missing-signature"
    BAD_DETACHED_SIGNATURE = "bad-detached-signature"
    BAD_MODEL_SIGNATURE = "bad-model-signature"
    IDENTITY_MISMATCH = "identity-mismatch"
    WRONG_RELEASE = "wrong-release"
    ROLLBACK = "rollback"
    MALFORMED_INDEX = "malformed-index"


class SignRefusedError(SigningError):
    """The gate refuses to sign: the report is not approved or the bytes do not match it.

    Exit code 1, like a policy rejection: nothing is wrong with the tool, the target is not
    fit to sign.
    """

    exit_code = 1

    def __init__(self, reason: Reason, message: str, *, hint: str = "") -> None:
        super().__init__(f"refusing to sign ({reason.value}): {message}", hint=hint)
        self.reason = reason


class VerificationError(SigningError):
    """Verification failed; ``reason`` says which check, the message says what and where.

    Exit code 1: the target must not be deployed. Verification always fails closed: any check
    that cannot be completed raises this error rather than passing.
    """

    exit_code = 1

    def __init__(self, reason: Reason, message: str, *, hint: str = "") -> None:
        super().__init__(f"verification failed ({reason.value}): {message}", hint=hint)
        self.reason = reason


class PullError(VerificationError):
    """A release cannot be trusted or is not all there (exit 1: do not deploy)."""
