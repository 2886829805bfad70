"""The reports a person reads, on the bundled example: each thing said once, named for what it is.

The terminal lists each blocking finding once (marked BLOCKS; the verdict's reasons only name
the rule), calls a container asset "container of <package>" instead of its 64-hex file name,
never prints a bare ":1" for a location, keeps one Dockerfile's findings together, and lists
waivers in the order of their file. The HTML and Markdown reports follow the same grouping.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "shelf-monitor"
DB = REPO / "examples" / "osv-db"
HEX64 = re.compile(r"[0-9a-f]{64}")

pytestmark = [pytest.mark.slow]


def _scan(*extra: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(EXAMPLE), "--vuln-db", str(DB)]
        + ["--offline", "--no-profile", "--no-cache", *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def terminal() -> str:
    proc = _scan()
    assert proc.returncode == 1, proc.stderr
    return proc.stdout


def test_each_blocking_finding_is_printed_once(terminal: str) -> None:
    assert terminal.count("AWS access key id AKIA…(20)") == 1
    assert terminal.count("shelfstats 0.3.0 is licensed GPL-3.0-only") == 1
    verdict = terminal.split("verdict: REJECTED", 1)[1]
    assert "x secrets.aws-access-key-id (critical, secret threshold medium): 1 finding" in verdict
    assert "marked BLOCKS above" in verdict


def test_artifacts_are_named_by_role_not_digest(terminal: str) -> None:
    headings = [ln for ln in terminal.splitlines() if ln and not ln.startswith(" ")]
    assert any(h.startswith("container of shelf_monitor_code  (assets/") for h in headings)
    assert any(h.startswith("model of shelf_monitor_model  (assets/") for h in headings)
    assert not any(HEX64.search(h) for h in headings), headings


def test_no_bare_line_location_and_one_group_per_file(terminal: str) -> None:
    assert not re.search(r"  :\d+$", terminal, re.M)
    dockerfile = "packages/123456789012-shelf_monitor_code-1.0/Dockerfile"
    headings = [ln for ln in terminal.splitlines() if ln and not ln.startswith(" ")]
    assert headings.count(dockerfile) == 1
    group = terminal.split(f"\n{dockerfile}\n", 1)[1].split("\n\n", 1)[0]
    assert "dockerfile.unpinned-base-image  line 1" in group
    assert "dockerfile.DL3042  line 3" in group


def test_waivers_are_listed_in_file_order(tmp_path: Path) -> None:
    rules = ["code.B404", "code.B105", "dockerfile.DL3042", "manifest.neo-model-node"]
    entries = "".join(
        f"  - rule: {rule}\n    reason: accepted for the demo\n    owner: dev@example.com\n"
        f"    expires: 2999-01-01\n"
        for rule in rules
    )
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n" + entries)
    proc = _scan("--waivers", str(waivers))
    listed = re.findall(r"applied\s+waivers\.yaml:(\d+)", proc.stdout)
    assert listed == ["2", "6", "10", "14"], proc.stdout


def test_html_and_markdown_group_by_file_with_roles(tmp_path: Path) -> None:
    proc = _scan("--format", "html", "-o", str(tmp_path / "r.html"), "--format", "markdown")
    assert proc.returncode == 1, proc.stderr
    page = (tmp_path / "r.html").read_text()
    titles = re.findall(r"<h3>(.*?)</h3>", page)
    assert any(t.startswith("container of shelf_monitor_code") for t in titles), titles
    assert not any(HEX64.search(re.sub(r"<small>.*?</small>", "", t)) for t in titles)
    why = page.split('<ul id="reasons">', 1)[1].split("</ul>", 1)[0]
    assert "AKIA" not in why  # the Why block names rules and links to findings, no messages
    assert 'href="#f-' in why
    markdown = proc.stdout
    assert "#### container of shelf\\_monitor\\_code" in markdown
