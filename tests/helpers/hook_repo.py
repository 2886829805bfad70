"""A real git repository holding a Panorama project, with a bare ``origin`` to push to.

Shared by the pre-push hook tests: an isolated git and cache environment (no user config, no
global ``core.hooksPath``), ``hook install`` run as a developer would, and small readers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.project_builder import build_project

__all__ = ["KEY", "REPO_ROOT", "Git", "app_py", "git_env", "install", "remote_head", "repo"]

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY = "AKIAQ7HJ3KZ5TRXMW4PB"  # shaped like an access key id; not a real credential

Git = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    """An isolated git and cache environment (no user config, no global hooksPath)."""
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_AUTHOR_NAME="Dev",
        GIT_AUTHOR_EMAIL="dev@example.com",
        GIT_COMMITTER_NAME="Dev",
        GIT_COMMITTER_EMAIL="dev@example.com",
        PYTHONPATH=str(REPO_ROOT),
    )
    env.pop("GIT_DIR", None)
    return env


@pytest.fixture
def repo(tmp_path: Path, git_env: dict[str, str]) -> tuple[Path, Git]:
    """A repository holding a realistic Panorama project, pushed once to a bare ``origin``."""
    work = tmp_path / "app"
    build_project(work)
    remote = tmp_path / "remote.git"

    def git(*args: str, cwd: Path = work, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=git_env, capture_output=True, text=True, check=check
        )

    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("init", "-q", "-b", "main")
    git("remote", "add", "origin", str(remote))
    git("add", "-A")
    git("commit", "-qm", "Panorama application")
    return work, git


def install(work: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanner", "hook", "install", *extra],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


def remote_head(work: Path, git: Git) -> str:
    out = git("ls-remote", "origin", "refs/heads/main").stdout.split()
    return out[0] if out else ""


def app_py(work: Path) -> Path:
    return next(work.glob("packages/*-shelf_code-*/src/app.py"))
