"""The pre-push hook checks every commit a push sends, not only the pushed tip.

A key committed and deleted again inside one push still reaches the remote's history; these
tests push such ranges through a real ``git push`` to a local bare repository and expect the
push refused, with the commit that holds the finding named.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scanner.cli.hook._git import commit_changes
from tests.helpers.hook_repo import KEY, Git, app_py, install, remote_head

pytestmark = [pytest.mark.slow]


def _commit(work: Path, git: Git, text: str, message: str) -> str:
    source = app_py(work)
    source.write_text(text)
    git("commit", "-qam", message)
    return git("rev-parse", "HEAD").stdout.strip()


def _key_in_the_middle(work: Path, git: Git) -> tuple[str, str, str]:
    """Three commits: harmless, add a key, delete it again. Returns their ids."""
    clean = app_py(work).read_text()
    first = _commit(work, git, clean + "\n# tidy up\n", "tidy up")
    keyed = _commit(work, git, clean + f'\nAWS_ACCESS_KEY_ID = "{KEY}"\n', "add camera settings")
    last = _commit(work, git, clean + "\n# tidy up\n", "drop the key again")
    return first, keyed, last


def test_key_added_and_removed_inside_one_push_is_blocked(repo, git_env):
    work, git = repo
    git("push", "-q", "origin", "main")
    install(work, git_env)
    before = remote_head(work, git)
    first, keyed, last = _key_in_the_middle(work, git)

    pushed = git("push", "origin", "main", check=False)
    err = pushed.stderr
    assert pushed.returncode == 1, err
    assert remote_head(work, git) == before  # nothing reached the remote
    assert "over 3 commit(s)" in err
    # the finding is shown once, under the commit that holds it, by id and subject
    blocked_line = next(ln for ln in err.splitlines() if "REJECTED" in ln)
    assert f'{keyed[:10]} "add camera settings"' in blocked_line
    assert err.count("secrets.aws-access-key-id") == 1
    assert "AKIA…(20)" in err
    assert KEY not in err
    # the commits around it are clean, and the hook says why the push is still refused
    assert f"APPROVED  at {first[:10]}" in err
    assert f"at {last[:10]}" not in err  # the same content as the first commit: scanned once
    assert "clean at the tip" in err
    assert "git rebase -i" in err


def test_new_branch_with_a_key_in_its_history_is_blocked(repo, git_env):
    work, git = repo
    git("push", "-q", "origin", "main")
    install(work, git_env)
    git("switch", "-q", "-c", "feature")
    _, keyed, _ = _key_in_the_middle(work, git)

    pushed = git("push", "origin", "feature", check=False)
    assert pushed.returncode == 1, pushed.stderr
    assert keyed[:10] in pushed.stderr
    refs = git("ls-remote", "origin", "refs/heads/feature").stdout
    assert refs == ""


def test_range_over_the_commit_limit_is_incomplete_never_approved(repo, git_env):
    work, git = repo
    base = git("rev-parse", "HEAD").stdout.strip()
    _key_in_the_middle(work, git)
    run = [sys.executable, "-m", "scanner.cli.hook", "run", "origin", "--from", base]
    args = ["--to", "HEAD", "--max-commits", "2"]

    lenient = subprocess.run([*run, *args], cwd=work, env=git_env, capture_output=True, text=True)
    assert lenient.returncode == 0, lenient.stderr
    assert "more than 2 commits" in lenient.stderr
    assert "incomplete, so nothing here is approved" in lenient.stderr

    strict = subprocess.run(
        [*run, *args, "--strict"], cwd=work, env=git_env, capture_output=True, text=True
    )
    assert strict.returncode == 3, strict.stderr


def test_max_commits_below_one_is_a_usage_error(repo, git_env):
    work, _ = repo
    proc = subprocess.run(
        [sys.executable, "-m", "scanner.cli.hook", "run", "--from", "HEAD", "--max-commits", "0"],
        cwd=work,
        env=git_env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "--max-commits" in proc.stderr
    assert "less than 1" in proc.stderr


def test_commit_subject_cannot_write_terminal_escapes(repo, git_env):
    work, git = repo
    git("push", "-q", "origin", "main")
    install(work, git_env)
    clean = app_py(work).read_text()
    _commit(work, git, clean + f'\nKEY = "{KEY}"\n', "key \x1b]0;owned\x07\x1b[2J")
    pushed = git("push", "origin", "main", check=False)
    assert pushed.returncode == 1
    assert "\x1b" not in pushed.stderr.split("remote.git")[0]  # our lines, before git's own
    assert "key ?]0;owned??[2J" in pushed.stderr


def test_merge_counts_only_what_the_merge_itself_changed(repo):
    work, git = repo
    source = app_py(work)
    git("switch", "-q", "-c", "side")
    (work / "side.txt").write_text("side\n")
    git("add", "side.txt")
    git("commit", "-qm", "side")
    git("switch", "-q", "main")
    source.write_text(source.read_text() + "\n# main\n")
    git("commit", "-qam", "main")
    git("merge", "-q", "--no-edit", "side")
    merge = git("rev-parse", "HEAD").stdout.strip()
    (change,) = commit_changes(work, [merge])
    assert change.changed == frozenset()  # each parent's change is its own commit's
    root = git("rev-list", "--max-parents=0", "HEAD").stdout.strip()
    (first,) = commit_changes(work, [root])
    assert source.relative_to(work).as_posix() in first.changed  # a root commit: everything
