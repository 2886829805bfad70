"""Writing and removing the pre-push hook script, keeping a hook that was there before.

``install`` writes ``<hooks dir>/pre-push`` (``core.hooksPath`` is honoured). A pre-push hook
that is already there is kept as ``pre-push.chained`` and runs first, with the same arguments
and standard input; if it refuses the push, that answer stands. The script calls
``python -m scanner.cli.hook`` with the interpreter that installed it, so a push that touches
nothing relevant never imports the scanning machinery (the < 1 s budget).
"""

from __future__ import annotations

import shlex
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from scanner import TOOL_NAME, __version__
from scanner.cli.hook._git import HookError, git

__all__ = [
    "CHAINED_NAME",
    "HOOK_MARKER",
    "hooks_dir",
    "install_hook",
    "render_hook",
    "uninstall_hook",
]

HOOK_MARKER = "# panorama-gate-hook: v1"
CHAINED_NAME = "pre-push.chained"


def hooks_dir(repo: Path) -> Path:
    """The repository's hooks folder (``core.hooksPath`` honoured)."""
    out = git(["rev-parse", "--git-path", "hooks"], repo).decode().strip()
    path = Path(out)
    return path if path.is_absolute() else (repo / path)


def _needs_pythonpath() -> str | None:
    """The folder holding ``scanner`` when it is a source checkout rather than installed."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution(TOOL_NAME)
    except PackageNotFoundError:
        return str(Path(__file__).resolve().parent.parent.parent)
    return None


def render_hook(python: str, extra_args: Sequence[str], pythonpath: str | None = None) -> str:
    """The pre-push hook script (POSIX sh)."""
    args = " ".join(shlex.quote(a) for a in extra_args)
    env = (
        f"PYTHONPATH={shlex.quote(pythonpath)}${{PYTHONPATH:+:$PYTHONPATH}} " if pythonpath else ""
    )
    return f"""#!/bin/sh
{HOOK_MARKER}
# Installed by `{TOOL_NAME} hook install` ({TOOL_NAME} {__version__}). Scans what this push
# changes and blocks it only on a rejected verdict. Skip once: git push --no-verify
# Remove: {TOOL_NAME} hook uninstall (a hook that was here before is kept as {CHAINED_NAME}).
hook_dir=$(dirname "$0")
refs=$(mktemp "${{TMPDIR:-/tmp}}/panorama-gate-push.XXXXXX") || exit 1
trap 'rm -f "$refs"' EXIT
# git gives the pushed refs on stdin once: keep them for the chained hook and for the scan.
cat > "$refs"
if [ -x "$hook_dir/{CHAINED_NAME}" ]; then
    "$hook_dir/{CHAINED_NAME}" "$@" < "$refs" || exit $?
fi
python={shlex.quote(python)}
if [ -x "$python" ]; then
    {env}"$python" -m scanner.cli.hook run {args} "$@" < "$refs"
elif command -v {TOOL_NAME} >/dev/null 2>&1; then
    {TOOL_NAME} hook run {args} "$@" < "$refs"
else
    echo "{TOOL_NAME}: the pre-push hook cannot find $python or {TOOL_NAME} on PATH;" \\
        "reinstall it (pip install {TOOL_NAME}; {TOOL_NAME} hook install)" \\
        "or push with --no-verify" >&2
    exit 1
fi
"""


def _is_ours(path: Path) -> bool:
    try:
        return HOOK_MARKER in path.read_text("utf-8", "replace")
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise HookError(f"{path}: cannot read the existing hook: {exc.strerror}") from exc


def install_hook(
    repo: Path, extra_args: Sequence[str], *, python: str | None = None
) -> tuple[Path, Path | None]:
    """Write the pre-push hook; returns (hook path, chained hook path or None)."""
    hdir = hooks_dir(repo)
    hdir.mkdir(parents=True, exist_ok=True)
    hook = hdir / "pre-push"
    chained = hdir / CHAINED_NAME
    kept: Path | None = chained if chained.exists() else None
    if (hook.exists() or hook.is_symlink()) and not _is_ours(hook):
        if chained.exists():
            raise HookError(
                f"{hook} exists and {chained} is taken too; merge them by hand and rerun"
            )
        hook.rename(chained)
        kept = chained
    text = render_hook(python or sys.executable, extra_args, _needs_pythonpath())
    tmp = hook.with_name(".pre-push.panorama-gate.tmp")
    tmp.write_text(text, "utf-8")
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    tmp.replace(hook)
    return hook, kept


def uninstall_hook(repo: Path) -> tuple[Path, bool]:
    """Remove our hook and put a chained one back; returns (hook path, restored?)."""
    hdir = hooks_dir(repo)
    hook = hdir / "pre-push"
    if hook.exists() and not _is_ours(hook):
        raise HookError(f"{hook} was not written by {TOOL_NAME}; left alone")
    hook.unlink(missing_ok=True)
    chained = hdir / CHAINED_NAME
    if chained.exists():
        chained.rename(hook)
        return hook, True
    return hook, False
