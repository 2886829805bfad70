"""The exception hierarchy; every error explains itself through ``diagnostics()``.

``scanner.cli.main`` holds the single ``except ScannerError`` that turns these into a one-line
message and an exit code. Per-file analyzer problems are not exceptions that escape: they are
recorded as ``AnalyzerFailure`` data in the report.
"""

from __future__ import annotations

__all__ = [
    "AnalyzerError",
    "ConfigError",
    "InterruptedScan",
    "PolicyError",
    "ReportError",
    "ScannerError",
    "SourceError",
    "UnsafeArchiveError",
    "UsageError",
]


class ScannerError(Exception):
    """Base of every error panorama-gate raises on purpose.

    ``exit_code`` follows the CLI contract: 2 for bad input or usage, 3 for tool failures.
    """

    exit_code: int = 3

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """A human message: what failed, its cause and, where known, what to do."""
        text = self.message
        cause = self.__cause__
        if cause is not None and str(cause) and str(cause) not in text:
            text += f" ({type(cause).__name__}: {cause})"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class UsageError(ScannerError):
    """The command line or its inputs do not make sense."""

    exit_code = 2


class SourceError(ScannerError):
    """The target cannot be read or is not something panorama-gate understands."""

    exit_code = 2


class UnsafeArchiveError(SourceError):
    """An archive is hostile or broken in a way that stops the scan (exit 2)."""


class ConfigError(ScannerError):
    """Configuration (flags, environment, config file) is invalid."""

    exit_code = 2


class PolicyError(ConfigError):
    """The policy or waivers file is invalid; the message names file, line and key."""


class AnalyzerError(ScannerError):
    """An analyzer failed as a whole (recorded as a failure; the verdict becomes incomplete)."""


class ReportError(ScannerError):
    """A report could not be written."""


class InterruptedScan(ScannerError):  # noqa: N818 - an outcome, not a bug: the name reads better
    """The run was interrupted by a signal; cleanup has happened."""

    exit_code = 3
