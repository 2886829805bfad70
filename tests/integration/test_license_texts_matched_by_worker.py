"""License texts are matched by the analyzer worker during the walk, not after it.

The component stage matches package license texts (Debian ``copyright`` files, the license
files of a Python distribution) when the artifact's pass ends. With a worker, the worker
matches them in its idle moments and the scanning process's cache is taught the results
(``scanner.analyzers._license_prematch``): the scanning process then matches nothing itself,
and the components, licenses included, are exactly those of a serial scan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import scanner.analyzers._license_text as license_text
import scanner.pipeline
import scanner.walk.workers
from scanner.analyzers._license_text import TextMatch, match_text, recording, teach
from scanner.config import ScanConfig
from scanner.pipeline import scan
from scanner.report.json import report_to_dict
from tests.helpers.archives import rootfs_tar

CLOCK = "2026-06-01T00:00:00Z"

MIT = b"""Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

STATUS = b"""Package: libwidget1
Status: install ok installed
Architecture: amd64
Version: 1.2-3
Description: widgets

"""

SITE = "usr/lib/python3/dist-packages/"


def _rootfs(tmp_path: Path) -> Path:
    files = {
        "var/lib/dpkg/status": STATUS,
        # not machine-readable (no DEP-5 header): the whole file is matched as a text
        "usr/share/doc/libwidget1/copyright": b"Copyright 2020 Widget Makers\n\n" + MIT,
        f"{SITE}gadget-2.0.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: gadget\nVersion: 2.0\n"
        ),
        f"{SITE}gadget-2.0.dist-info/LICENSE": b"Copyright (c) 2021 Gadget\n\n" + MIT,
    }
    target = tmp_path / "rootfs.tar.gz"
    target.write_bytes(rootfs_tar(files))
    return target


def _scan(target: Path, work: Path, jobs: int) -> Any:
    config = ScanConfig(offline=True, cache_dir=None, work_dir=work, jobs=jobs)
    return scan(target, config, clock=lambda: CLOCK)


def _licenses(report: Any) -> dict[str, str]:
    return {
        c["name"]: " AND ".join(c.get("licenses") or [])
        for c in report_to_dict(report)["components"]
    }


def test_the_worker_matches_the_texts_and_the_scan_reports_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _rootfs(tmp_path)
    serial = _scan(target, tmp_path / "w1", 1)
    assert _licenses(serial) == {"libwidget1": "MIT", "gadget": "MIT"}

    monkeypatch.setattr(scanner.walk.workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(scanner.pipeline, "PARALLEL_MIN_BYTES", 0)
    license_text._cache.clear()  # what the serial scan matched is forgotten
    matched_here: list[str] = []
    real = license_text._match

    def counted(text: str) -> TextMatch:
        matched_here.append(text[:40])
        return real(text)

    # the worker is forked from a fresh fork server: only this process counts its matches
    monkeypatch.setattr(license_text, "_match", counted)
    parallel = _scan(target, tmp_path / "w2", 2)

    assert parallel.timings is not None
    assert parallel.timings.stages["license-texts"].files == 2
    assert matched_here == []
    assert _licenses(parallel) == _licenses(serial)
    assert report_to_dict(parallel)["components"] == report_to_dict(serial)["components"]


def test_taught_matches_are_found_without_matching(monkeypatch: pytest.MonkeyPatch) -> None:
    text = b"Copyright 1999 Someone\n\n" + MIT
    with recording() as got:
        first = match_text(text)
        again = match_text(text)  # a cache hit is recorded too: the receiver may not have it
    assert first.ids == ("MIT",)
    assert again == first
    assert list(got.values()) == [first]

    license_text._cache.clear()

    def refuse(text: str) -> TextMatch:
        raise AssertionError("matched although it was taught")

    monkeypatch.setattr(license_text, "_match", refuse)
    teach(got)
    assert match_text(text) == first
    assert len(got) == 1  # after the block, lookups are no longer recorded
