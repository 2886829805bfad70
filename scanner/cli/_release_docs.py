"""The documents a release carries beside its files, written by the scanner's report writers.

``signing`` does not import the report writers (the layers keep it beside the scanner's
internals, not above them); the CLI hands this function to ``publish`` instead.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from scanner.models import Report
from scanner.report import FORMATS, get_writer

__all__ = ["write_release_documents"]

log = logging.getLogger(__name__)

# (writer, file name, role): the JSON report is required, the others are written when a
# writer of that name is registered.
DOCUMENTS = (
    ("json", "report.json", "report"),
    ("cyclonedx", "sbom.cdx.json", "sbom"),
    ("licenses-json", "licenses.json", "licenses"),
)


def write_release_documents(report: Report, folder: Path) -> dict[str, Path]:
    """Write the report, SBOM and license report into ``folder``; returns role → file."""
    written: dict[str, Path] = {}
    for fmt, file_name, role in DOCUMENTS:
        if fmt not in FORMATS:
            log.info("no %s writer registered; the release has no %s", fmt, file_name)
            continue
        buf = io.StringIO()
        get_writer(fmt).write(report, buf)
        path = folder / file_name
        path.write_text(buf.getvalue(), encoding="utf-8", newline="\n")
        written[role] = path
    return written
