"""The HTML license report in a real headless browser (Debian's ``chromium``).

CI needs the ``chromium`` apt package; without it the test skips and says so.
"""

from __future__ import annotations

import html.parser
import shutil
import subprocess
from pathlib import Path

import pytest

from scanner.cli import main
from tests.helpers.inventory_fixtures import build_rootfs_tar, install_wheels

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no headless browser: install Debian's `chromium` package"
)


class _Rows(html.parser.HTMLParser):
    """Collects the component rows of the rendered DOM: (classes, cell texts)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self.count = ""
        self._in_body = False
        self._cell: list[str] | None = None
        self._in_count = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id") == "components":
            self._in_body = True
        elif tag == "tr" and self._in_body and "data-group" in a:
            self.rows.append((a.get("class") or "", []))
        elif tag == "td" and self._in_body and self.rows:
            self._cell = []
        elif tag == "span" and a.get("id") == "count":
            self._in_count = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._in_body = False
        elif tag == "span":
            self._in_count = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_count:
            self.count += data


def _render(page: Path, fragment: str, tmp: Path) -> _Rows:
    assert BROWSER is not None
    proc = subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp / 'profile'}",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    parser = _Rows()
    parser.feed(proc.stdout)
    return parser


def test_html_report_renders_and_filters_in_chromium(tmp_path: Path) -> None:
    tar = build_rootfs_tar(tmp_path / "app.tar", install_wheels(tmp_path / "site"))
    page = tmp_path / "licenses.html"
    code = main(
        ["-q", "licenses", str(tar), "--no-cache", "--policy", "strict"]
        + ["--format", "html", "-o", str(page)]
    )
    assert code == 1  # bash is GPL-3.0-only: the strict policy judges OS packages too
    everything = _render(page, "", tmp_path)
    names = [cells[0] for _cls, cells in everything.rows]
    assert {"bash", "urllib3", "requests", "Jinja2", "zlib1g"} <= set(names)
    assert all("hidden" not in cls for cls, _ in everything.rows)
    assert everything.count == f"{len(names)} of {len(names)} components shown"  # JS ran
    filtered = _render(page, "#q=GPL-3.0", tmp_path)
    shown = [cells[0] for cls, cells in filtered.rows if "hidden" not in cls]
    assert shown == ["bash"]
    assert filtered.count == f"1 of {len(names)} components shown"
    bash = next(cells for _cls, cells in filtered.rows if cells[0] == "bash")
    assert bash[3] == "GPL-3.0-only"
    assert bash[5] == "denied"
