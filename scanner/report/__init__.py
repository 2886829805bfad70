"""Report writers, selected by ``--format``. Writers are pure and never decide."""

from __future__ import annotations

from scanner.report._paths import SourceRoot
from scanner.report.codequality import CodeQualityWriter
from scanner.report.cyclonedx import CycloneDxWriter
from scanner.report.html import HtmlWriter
from scanner.report.interface import ReportWriter
from scanner.report.json import JsonWriter
from scanner.report.junit import JunitWriter
from scanner.report.licenses import (
    LicenseCsvWriter,
    LicenseHtmlWriter,
    LicenseJsonWriter,
    LicenseMarkdownWriter,
    NoticeWriter,
)
from scanner.report.markdown import MarkdownWriter
from scanner.report.sarif import SarifWriter
from scanner.report.spdx import SpdxWriter
from scanner.report.terminal import TerminalWriter

__all__ = ["FORMATS", "ReportWriter", "SourceRoot", "get_writer", "needs_source_root"]

FORMATS: dict[str, type[ReportWriter]] = {
    "json": JsonWriter,
    "terminal": TerminalWriter,
    "sarif": SarifWriter,
    "junit": JunitWriter,
    "codequality": CodeQualityWriter,
    "markdown": MarkdownWriter,
    "html": HtmlWriter,
    "cyclonedx": CycloneDxWriter,
    "spdx": SpdxWriter,
    "licenses-csv": LicenseCsvWriter,
    "licenses-json": LicenseJsonWriter,
    "licenses-markdown": LicenseMarkdownWriter,
    "licenses-html": LicenseHtmlWriter,
    "notice": NoticeWriter,
}


# Writers whose locations are repository paths, and so take the target's SourceRoot.
_LINKING = (SarifWriter, CodeQualityWriter)


def get_writer(name: str, source_root: SourceRoot | None = None) -> ReportWriter:
    """An instance of the writer for ``name`` (``KeyError`` when unknown).

    ``source_root`` places the target in its repository for the writers that link to files
    (SARIF, Code Quality); the others ignore it.
    """
    cls = FORMATS[name]
    if issubclass(cls, _LINKING):
        return cls(source_root)
    return cls()


def needs_source_root(name: str) -> bool:
    """Whether the writer for ``name`` writes repository paths (and so wants a SourceRoot)."""
    return issubclass(FORMATS[name], _LINKING)
