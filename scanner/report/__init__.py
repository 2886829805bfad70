"""Report writers, selected by ``--format``. Writers are pure and never decide."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from scanner.report._paths import SourceRoot
from scanner.report.codequality import CodeQualityWriter
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
from scanner.report.terminal import TerminalWriter

__all__ = ["FORMATS", "ReportWriter", "SourceRoot", "get_writer", "needs_source_root"]


# The SBOM writers load spdx-tools and cyclonedx-python-lib (0.2 s of imports, a tenth of a
# small scan): only when one is asked for.
def _cyclonedx() -> ReportWriter:
    from scanner.report.cyclonedx import CycloneDxWriter

    return CycloneDxWriter()


def _spdx() -> ReportWriter:
    from scanner.report.spdx import SpdxWriter

    return SpdxWriter()


FORMATS: dict[str, Callable[[], ReportWriter]] = {
    "json": JsonWriter,
    "terminal": TerminalWriter,
    "sarif": SarifWriter,
    "junit": JunitWriter,
    "codequality": CodeQualityWriter,
    "markdown": MarkdownWriter,
    "html": HtmlWriter,
    "cyclonedx": _cyclonedx,
    "spdx": _spdx,
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
    make = FORMATS[name]
    if needs_source_root(name):
        return cast(Callable[[SourceRoot | None], ReportWriter], make)(source_root)
    return make()


def needs_source_root(name: str) -> bool:
    """Whether the writer for ``name`` writes repository paths (and so wants a SourceRoot)."""
    make = FORMATS[name]
    return isinstance(make, type) and issubclass(make, _LINKING)
