"""the pre-push hook in a real git repository pushing to a local bare repo.

A push that adds a hard-coded AWS key is blocked with the finding shown (redacted); a harmless
change passes; an existing hook is kept and chained; only what the push touches is scanned.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.cli.hook import (
    CHAINED_NAME,
    HookError,
    HookTarget,
    RefUpdate,
    parse_push_lines,
    plan_targets,
)
from tests.helpers.hook_repo import KEY, REPO_ROOT, Git, app_py, install, remote_head


@pytest.mark.slow
def test_push_with_aws_key_is_blocked_and_harmless_change_passes(
    repo: tuple[Path, Git], git_env: dict[str, str]
) -> None:
    work, git = repo
    install(work, git_env)
    first = git("push", "origin", "main", check=False)
    assert first.returncode == 0, first.stderr
    # The first push carries the whole project: it is scanned as one and approved.
    assert "(project): APPROVED" in first.stderr

    source = app_py(work)
    source.write_text(source.read_text() + f'\nAWS_ACCESS_KEY_ID = "{KEY}"\n')
    git("commit", "-qam", "hard-code a key")
    before = remote_head(work, git)
    blocked = git("push", "origin", "main", check=False)
    assert blocked.returncode != 0
    assert "REJECTED" in blocked.stderr
    assert "secrets.aws-access-key-id" in blocked.stderr
    rel = source.relative_to(work).as_posix()
    assert rel in blocked.stderr  # the finding points at the file the developer edited
    assert "AKIA…(20)" in blocked.stderr
    assert KEY not in blocked.stderr  # never the secret itself
    assert "push blocked" in blocked.stderr
    assert remote_head(work, git) == before

    # Deleting the key in a new commit is not enough: the key stays in the pushed history.
    clean = source.read_text().replace(f'AWS_ACCESS_KEY_ID = "{KEY}"', "# no keys")
    source.write_text(clean)
    git("commit", "-qam", "remove the key")
    still = git("push", "origin", "main", check=False)
    assert still.returncode == 1, still.stderr
    assert "clean at the tip" in still.stderr
    assert remote_head(work, git) == before

    # Rewrite the history instead (drop both commits, then a harmless change): it goes through.
    git("reset", "-q", "--hard", "HEAD~2")
    source.write_text(source.read_text() + "\n# harmless\n")
    git("commit", "-qam", "harmless change")
    ok = git("push", "origin", "main", check=False)
    assert ok.returncode == 0, ok.stderr
    assert "(code-package): APPROVED" in ok.stderr
    assert remote_head(work, git) == git("rev-parse", "HEAD").stdout.strip()


@pytest.mark.slow
def test_irrelevant_push_scans_nothing_and_no_verify_skips(
    repo: tuple[Path, Git], git_env: dict[str, str]
) -> None:
    work, git = repo
    git("push", "-q", "origin", "main")  # before the hook: the remote has the project
    install(work, git_env)
    (work / "NOTES.md").write_text("meeting notes\n")
    git("add", "NOTES.md")
    git("commit", "-qm", "notes")
    out = git("push", "origin", "main", check=False)
    assert out.returncode == 0, out.stderr
    assert "panorama-gate" not in out.stderr  # nothing relevant: no scan, not a word

    source = app_py(work)
    source.write_text(source.read_text() + f'\nKEY = "{KEY}"\n')
    git("commit", "-qam", "key")
    skipped = git("push", "--no-verify", "origin", "main", check=False)
    assert skipped.returncode == 0  # git's own way out stays available


@pytest.mark.slow
def test_existing_hook_is_kept_chained_and_restored(
    repo: tuple[Path, Git], git_env: dict[str, str], tmp_path: Path
) -> None:
    work, git = repo
    hooks = work / ".git" / "hooks"
    seen = tmp_path / "seen.txt"
    original = f'#!/bin/sh\necho "$1" > {seen}\ncat >> {seen}\nexit "${{DENY:-0}}"\n'
    (hooks / "pre-push").write_text(original)
    (hooks / "pre-push").chmod(0o755)
    result = install(work, git_env)
    assert "existing hook runs first" in result.stdout
    assert (hooks / CHAINED_NAME).read_text() == original
    install(work, git_env)  # idempotent: reinstalling does not chain ourselves
    assert (hooks / CHAINED_NAME).read_text() == original

    out = git("push", "origin", "main", check=False)
    assert out.returncode == 0, out.stderr
    lines = seen.read_text().splitlines()
    assert lines[0] == "origin"
    head = git("rev-parse", "HEAD").stdout.strip()
    assert lines[1].split() == ["refs/heads/main", head, "refs/heads/main", "0" * 40]

    # A chained hook that refuses decides, before any scan.
    (work / "x.txt").write_text("x\n")
    git("add", "x.txt")
    git("commit", "-qm", "x")
    env = dict(git_env, DENY="1")
    denied = subprocess.run(
        ["git", "push", "origin", "main"], cwd=work, env=env, capture_output=True, text=True
    )
    assert denied.returncode != 0

    subprocess.run(
        [sys.executable, "-m", "scanner", "hook", "uninstall"],
        cwd=work,
        env=git_env,
        check=True,
        capture_output=True,
    )
    assert (hooks / "pre-push").read_text() == original
    assert not (hooks / CHAINED_NAME).exists()


def test_core_hooks_path_is_honoured(repo: tuple[Path, Git], git_env: dict[str, str]) -> None:
    work, git = repo
    git("config", "core.hooksPath", ".githooks")
    install(work, git_env)
    assert (work / ".githooks" / "pre-push").is_file()
    assert os.access(work / ".githooks" / "pre-push", os.X_OK)


# -- the pure parts ----------------------------------------------------------------------------

PROJECT_FILES = [
    "app/graphs/shelf/graph.json",
    "app/packages/1-code-1.0/package.json",
    "app/packages/1-code-1.0/descriptor.json",
    "app/packages/1-code-1.0/Dockerfile",
    "app/packages/1-code-1.0/src/app.py",
    "app/packages/1-model-1.0/package.json",
    "app/packages/1-model-1.0/descriptor.json",
    "app/assets/aa.tar.gz",
    "app/assets/aa.json",
    "app/assets/model.onnx",
    "app/README.md",
    "tools/standalone/package.json",
    "tools/standalone/Dockerfile",
    "tools/standalone/src/main.py",
    "models/detector.onnx",
    "models/export/saved_model.pb",
    "data/sample.zip",
    "docs/index.md",
    "scripts/build.py",
]


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["docs/index.md", "scripts/build.py"], []),
        (["app/README.md"], []),
        (
            ["app/packages/1-code-1.0/src/app.py"],
            [HookTarget("app/packages/1-code-1.0", "code-package")],
        ),
        (["app/packages/1-code-1.0/package.json"], [HookTarget("app", "project")]),
        (["app/packages/1-model-1.0/descriptor.json"], [HookTarget("app", "project")]),
        (["app/graphs/shelf/graph.json"], [HookTarget("app", "project")]),
        (
            ["app/assets/aa.tar.gz", "app/packages/1-code-1.0/src/app.py"],
            [HookTarget("app", "project"), HookTarget("app/packages/1-code-1.0", "code-package")],
        ),
        (["app/assets/aa.tar.gz", "app/assets/model.onnx"], [HookTarget("app", "project")]),
        (["tools/standalone/src/main.py"], [HookTarget("tools/standalone", "code-package")]),
        (["models/detector.onnx"], [HookTarget("models/detector.onnx", "model")]),
        (["models/export/saved_model.pb"], [HookTarget("models/export", "model")]),
        (["data/sample.zip"], [HookTarget("data/sample.zip", "archive")]),
        (["gone/deleted.onnx"], []),
    ],
    ids=[
        "irrelevant",
        "project-readme",
        "code-source",
        "package-manifest",
        "model-descriptor",
        "graph",
        "project-and-package",
        "project-covers-model",
        "standalone-code-package",
        "loose-model",
        "savedmodel-folder",
        "archive",
        "deleted",
    ],
)
def test_plan_targets(changed: list[str], expected: list[HookTarget]) -> None:
    assert plan_targets(changed, PROJECT_FILES) == expected


def test_project_at_repository_root() -> None:
    files = [f.removeprefix("app/") for f in PROJECT_FILES if f.startswith("app/")]
    assert plan_targets(["graphs/shelf/graph.json"], files) == [HookTarget("", "project")]
    assert plan_targets(["packages/1-code-1.0/Dockerfile"], files) == [
        HookTarget("packages/1-code-1.0", "code-package")
    ]


def test_parse_push_lines() -> None:
    a, b = "a" * 40, "0" * 40
    updates = parse_push_lines(f"refs/heads/main {a} refs/heads/main {b}\n\n")
    assert updates == [RefUpdate("refs/heads/main", a, "refs/heads/main", b)]
    assert updates[0].creates
    assert not updates[0].deletes
    with pytest.raises(HookError, match="line 1"):
        parse_push_lines("refs/heads/main nonsense\n")


def test_pre_commit_hook_definition() -> None:
    import yaml

    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "panorama-gate"
    assert hook["stages"] == ["pre-push"]
    assert hook["pass_filenames"] is False
    assert hook["entry"].split()[:3] == ["panorama-gate", "hook", "run"]


@pytest.mark.slow
def test_pre_commit_style_run_reads_the_range_from_the_environment(
    repo: tuple[Path, Git], git_env: dict[str, str]
) -> None:
    """pre-commit keeps stdin to itself and passes PRE_COMMIT_FROM_REF/TO_REF instead."""
    work, git = repo
    base = git("rev-parse", "HEAD").stdout.strip()
    source = app_py(work)
    source.write_text(source.read_text() + f'\nAWS_ACCESS_KEY_ID = "{KEY}"\n')
    git("commit", "-qam", "key")
    head = git("rev-parse", "HEAD").stdout.strip()
    env = dict(git_env, PRE_COMMIT_FROM_REF=base, PRE_COMMIT_TO_REF=head)
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "hook", "run"],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "secrets.aws-access-key-id" in proc.stderr
    assert "(code-package): REJECTED" in proc.stderr


@pytest.mark.parametrize("vuln_db", [None, Path("db")], ids=["no-db", "db"])
def test_hook_config_matches_scan_config(tmp_path: Path, vuln_db: Path | None) -> None:
    """The hook builds its ScanConfig without importing the report writers; same result."""
    from scanner.cli._options import config_from_args
    from scanner.cli.hook import DEFAULT_ANALYZERS, hook_config
    from scanner.policy import resolve_policy

    args = argparse.Namespace(
        analyzers=DEFAULT_ANALYZERS,
        offline=True,
        cache_dir=tmp_path / "c",
        no_cache=False,
        work_dir=None,
        jobs=0,
        no_profile=True,
        vuln_db=vuln_db,
        code_scope="app",
        quiet=True,
        policy=None,
    )
    policy = resolve_policy(None)
    assert hook_config(args, policy) == config_from_args(args, policy)
    assert hook_config(args, policy).digest() == config_from_args(args, policy).digest()


def test_symlink_out_of_a_code_package_is_reported_not_followed(
    repo: tuple[Path, Git], git_env: dict[str, str]
) -> None:
    work, git = repo
    base = git("rev-parse", "HEAD").stdout.strip()
    (app_py(work).parent / "evil").symlink_to("/etc/passwd")
    git("add", "-A")
    git("commit", "-qm", "link")
    proc = subprocess.run(
        [sys.executable, "-m", "scanner.cli.hook", "run", "origin", "--from", base, "--to", "HEAD"],
        cwd=work,
        env=git_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "archive.symlink-escape" in proc.stderr
    assert "root:" not in proc.stderr  # the target's content was never read


def test_hook_run_reads_its_flags_from_the_environment(
    repo: tuple[Path, Git], git_env: dict[str, str]
) -> None:
    """`panorama-gate hook run` (how pre-commit calls it) honours PANORAMA_GATE_<FLAG>."""
    work, git = repo
    base = git("rev-parse", "HEAD").stdout.strip()
    source = app_py(work)
    source.write_text(source.read_text() + f'\nAWS_ACCESS_KEY_ID = "{KEY}"\n')
    git("commit", "-qam", "key")
    env = dict(git_env, PANORAMA_GATE_ANALYZERS="tag:manifest")  # no secrets analyzer
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "hook", "run", "--from", base, "--to", "HEAD"],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "secrets.aws-access-key-id" not in proc.stderr


def test_install_keeps_a_bundled_policy_name_and_resolves_a_file(
    repo: tuple[Path, Git], git_env: dict[str, str]
) -> None:
    work, _ = repo
    install(work, git_env, "--policy", "strict")
    hook = (work / ".git" / "hooks" / "pre-push").read_text()
    assert "--policy strict" in hook  # the bundled policy, wherever the package is installed
    (work / "gate.yaml").write_text("name: gate\nseverity_threshold: low\n")
    install(work, git_env, "--policy", "gate.yaml")
    hook = (work / ".git" / "hooks" / "pre-push").read_text()
    assert f"--policy {work / 'gate.yaml'}" in hook
