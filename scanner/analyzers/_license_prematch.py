"""License texts matched ahead of the component stage, by a worker with time to spare.

The component stage matches package license texts when an artifact's pass ends (``_enrich``):
each Debian ``copyright`` file and the license files in a Python distribution's metadata
folder. Matching is pure Python (some 10 ms a text, 0.4 s for a stock Debian image) and would
hold the scanning process up after the walk. An analyzer worker is handed those files during
the walk anyway (for the secrets rules); it runs the stage's own functions on them here, in its
idle moments and inside ``_license_text.recording``, and sends what it recorded back, which
``_license_text.teach`` puts in the scanning process's cache. The stage's matches are then
cache hits: the same functions on the same bytes, so what is matched, and how, cannot drift.

Example::

    if is_prematched(path):
        with recording() as got:
            prematch(path, data)
        teach(got)          # in the scanning process
"""

from __future__ import annotations

from scanner.analyzers._debian_copyright import machine_readable
from scanner.analyzers._inventory import is_license_file
from scanner.analyzers._license_text import MAX_TEXT, match_text, sections
from scanner.analyzers._licensing import file_evidence
from scanner.analyzers._vendored import file_qualifier

__all__ = ["is_prematched", "prematch"]


def is_prematched(path: str) -> bool:
    """Whether the component stage will match this file's text (a package's license file)."""
    return is_license_file(path)


def prematch(path: str, data: bytes) -> None:
    """Match the text as the component stage will, filling ``_license_text``'s cache.

    A machine-readable (DEP-5) copyright file is read by its fields, not matched whole
    (``debian_copyright_licenses``): nothing to do ahead for it.
    """
    if path.startswith("usr/share/doc/"):
        if not machine_readable(data[:MAX_TEXT].decode("utf-8", "replace")):
            match_text(data)
        return
    # a distribution's own license text (``file_evidence``), and what the vendored libraries'
    # licenses are read from (``_vendored.declared_license``): each section of a notices file,
    # and a license file named after a library, whole
    file_evidence([(path, data)])
    for section in sections(data.decode("utf-8", "replace")):
        match_text(section.body)
    if file_qualifier(path):
        match_text(data)
