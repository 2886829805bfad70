"""``panorama-gate hook install|uninstall|run``: the developer's pre-push gate.

``hook install`` writes the pre-push hook (:mod:`._install`); ``hook run REMOTE URL`` is what
it calls. ``run`` reads the pushed refs from standard input as git gives them
(``<local ref> <local sha> <remote ref> <remote sha>`` per line), or a ``--from/--to`` range,
or pre-commit's environment; then checks *every commit* the push sends (:mod:`._run`), scanning
only the Panorama parts each commit changes (:mod:`._plan`), each materialised from its commit
(:mod:`._git`). The scan uses the fast static analyzers (no sandbox, no vulnerability
look-ups), no network, and the cache. The push is blocked (exit 1) only when a verdict is
*rejected*, and the output names the commit holding each blocking finding; an incomplete scan
is reported loudly and lets the push through unless ``--strict``. ``git push --no-verify``
skips it.

The hook runs ``python -m scanner.cli.hook`` (:mod:`.__main__`) rather than the console
script, so a push that touches nothing relevant never imports the scanning machinery.

Example::

    panorama-gate hook install --policy policies/strict.yaml
    git push            # -> panorama-gate: 1 target scan(s) over 2 commit(s) ... REJECTED
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from scanner.cli._types import positive_int
from scanner.cli.hook._git import HookError, RefUpdate, git, is_zero, parse_push_lines
from scanner.cli.hook._install import CHAINED_NAME, HOOK_MARKER, install_hook, uninstall_hook
from scanner.cli.hook._plan import HookTarget, plan_targets
from scanner.cli.hook._run import DEFAULT_MAX_COMMITS, hook_config, run_hook

__all__ = [
    "CHAINED_NAME",
    "DEFAULT_ANALYZERS",
    "DEFAULT_MAX_COMMITS",
    "HOOK_MARKER",
    "HookError",
    "HookTarget",
    "RefUpdate",
    "add_run_flags",
    "hook_config",
    "install_hook",
    "parse_push_lines",
    "plan_targets",
    "register",
    "run_hook",
    "uninstall_hook",
]

# The hook's default selection: the fast static analyzers. The sandbox needs Docker and runs
# the app; vulnerability look-ups need the network or a database: both belong in CI.
DEFAULT_ANALYZERS = "-sandbox,-vulns"

EXAMPLES = """\
examples:
  panorama-gate hook install                         # in a git repository
  panorama-gate hook install --policy policies/strict.yaml --strict
  panorama-gate hook uninstall                       # restores a chained hook
  git push --no-verify                               # skip the hook once
  panorama-gate hook run origin --from origin/main --to HEAD   # try it without pushing

every commit the push sends is checked (a key added and deleted again inside one push still
reaches the remote); the hook blocks the push (exit 1) only on a rejected verdict and names
the commit; --strict also blocks when a scan is incomplete (exit 3).
"""


def _updates_from_env(repo: Path, args: argparse.Namespace) -> list[RefUpdate]:
    """Refs when no stdin is given: ``--from/--to``, or pre-commit's environment."""
    # pre-commit runs pre-push hooks with the refs in PRE_COMMIT_FROM_REF/PRE_COMMIT_TO_REF
    # (stdin is its own); older releases used PRE_COMMIT_SOURCE/PRE_COMMIT_ORIGIN.
    env = os.environ
    src = args.from_ref or env.get("PRE_COMMIT_FROM_REF") or env.get("PRE_COMMIT_SOURCE")
    dst = args.to_ref or env.get("PRE_COMMIT_TO_REF") or env.get("PRE_COMMIT_ORIGIN")
    if src and not dst:
        dst = "HEAD"  # `--from origin/main` alone: up to what is checked out
    if not dst:
        return []
    to_sha = git(["rev-parse", "--verify", f"{dst}^{{commit}}"], repo).decode().strip()
    from_sha = (
        git(["rev-parse", "--verify", f"{src}^{{commit}}"], repo).decode().strip()
        if src and not is_zero(src)
        else "0" * len(to_sha)
    )
    return [RefUpdate("HEAD", to_sha, "HEAD", from_sha)]


def _repo_root() -> Path:
    return Path(git(["rev-parse", "--show-toplevel"]).decode().strip())


def cmd_run(args: argparse.Namespace) -> int:
    """``hook run``: read the refs, scan, print the verdict."""
    run_parser = getattr(args, "run_parser", None)
    if run_parser is not None:
        # The main CLI applies PANORAMA_GATE_<FLAG> to one level of sub-commands; `hook run`
        # is two levels down (pre-commit calls it this way), so apply its own flags here.
        from scanner.cli import apply_environment

        apply_environment(run_parser, args, sys.argv[1:])
    repo = _repo_root()
    updates = _updates_from_env(repo, args)
    if not updates and not sys.stdin.isatty():
        updates = parse_push_lines(sys.stdin.read())
    elif not updates:
        # Typed by hand with no range: what `git push` would send to the upstream branch.
        upstream = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "@{upstream}"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if not upstream:
            raise HookError("no refs to scan: pass --from REV [--to REV], or set an upstream")
        args.from_ref, args.to_ref = upstream, "HEAD"
        updates = _updates_from_env(repo, args)
    remote = args.remote or os.environ.get("PRE_COMMIT_REMOTE_NAME", "")
    return run_hook(repo, updates, remote, args, sys.stderr)


def cmd_install(args: argparse.Namespace) -> int:
    """``hook install``."""
    extra: list[str] = []
    if args.policy is not None:
        from scanner.policy import is_bundled_name

        bundled = is_bundled_name(args.policy)
        extra += ["--policy", str(args.policy) if bundled else str(args.policy.resolve())]
    if args.waivers is not None:
        extra += ["--waivers", str(args.waivers.resolve())]
    if args.analyzers:
        extra += ["--analyzers", args.analyzers]
    if args.strict:
        extra.append("--strict")
    hook, kept = install_hook(_repo_root(), extra)
    print(f"installed {hook}")
    if kept is not None:
        print(f"the existing hook runs first: {kept}")
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    """``hook uninstall``."""
    hook, restored = uninstall_hook(_repo_root())
    print(f"removed {hook}" + ("; the previous hook is back" if restored else ""))
    return 0


def add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("remote", nargs="?", default="", help="remote name (git passes it)")
    p.add_argument("url", nargs="?", default="", help="remote URL (git passes it)")
    p.add_argument("--from", dest="from_ref", help="scan changes since this commit (no stdin)")
    p.add_argument("--to", dest="to_ref", help="... up to this commit (e.g. HEAD)")
    p.add_argument("--policy", type=Path, help="policy YAML (default as for scan)")
    p.add_argument("--waivers", type=Path, help="waivers YAML file")
    p.add_argument(
        "--analyzers",
        default=DEFAULT_ANALYZERS,
        help=f"analyzer selection (default: {DEFAULT_ANALYZERS!r}: the fast static ones)",
    )
    p.add_argument("--strict", action="store_true", help="also block when a scan is incomplete")
    p.add_argument(
        "--max-commits",
        type=positive_int,
        default=DEFAULT_MAX_COMMITS,
        metavar="N",
        help=f"check each pushed commit up to N per ref (default {DEFAULT_MAX_COMMITS}); past "
        "that only the tip's changes, and the result is incomplete",
    )
    p.add_argument("--cache-dir", type=Path, help="cache folder (default: XDG cache)")
    p.add_argument("--no-cache", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(
        func=cmd_run,
        offline=True,
        no_profile=True,
        vuln_db=None,
        code_scope="app",
        jobs=0,
        work_dir=None,
    )


def register(sub: Any) -> None:
    """Add the ``hook`` command group."""
    p = sub.add_parser(
        "hook",
        help="install or run the developer pre-push hook",
        description="A git pre-push hook that scans what each push changes.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hsub = p.add_subparsers(dest="hook_command", metavar="ACTION")
    inst = hsub.add_parser("install", help="install the pre-push hook in this repository")
    inst.add_argument("--policy", type=Path, help="policy the hook uses")
    inst.add_argument("--waivers", type=Path, help="waivers file the hook uses")
    inst.add_argument("--analyzers", default="", help="analyzer selection for the hook")
    inst.add_argument("--strict", action="store_true", help="also block incomplete scans")
    inst.set_defaults(func=cmd_install)
    uninst = hsub.add_parser("uninstall", help="remove the hook (restores a chained one)")
    uninst.set_defaults(func=cmd_uninstall)
    run = hsub.add_parser("run", help="what the hook runs: scan the refs git gives on stdin")
    add_run_flags(run)
    run.set_defaults(run_parser=run)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])
