"""``panorama-gate hook install|uninstall|run``: the developer's pre-push gate.

``hook install`` writes ``<hooks dir>/pre-push`` (``core.hooksPath`` is honoured). A pre-push
hook that is already there is kept as ``pre-push.chained`` and runs first, with the same
arguments and standard input; if it refuses the push, that answer stands.

``hook run REMOTE URL`` is what the hook calls. It reads the pushed refs from standard input as
git gives them (``<local ref> <local sha> <remote ref> <remote sha>`` per line), works out which
files the pushed commits change, and scans only the Panorama parts those files belong to:

- a file under ``packages/<pkg>/`` of a code package (its Dockerfile, ``src/``...): that code
  package folder;
- a manifest (``graphs/``, ``package.json``/``descriptor.json``) or an asset under ``assets/``:
  the whole project (unchanged container assets come from the cache, keyed by content digest);
- a model file (``.onnx``, ``.pth``, ``.pkl``...) or an archive outside a project: that file.

Each target is materialised from the pushed commit (``git archive``), never from the working
tree, so what is scanned is what is pushed. The scan uses the fast static analyzers (no
sandbox, no vulnerability look-ups), no network, and the cache. The push is blocked (exit 1)
only when a verdict is *rejected*; an incomplete scan is reported loudly and lets the push
through unless ``--strict`` (CI is the fail-closed gate). ``git push --no-verify`` skips it.

The hook calls ``python -m scanner.cli.hook`` rather than the console script, so a push that
touches nothing relevant never imports the scanning machinery (the < 1 s budget).

Example::

    panorama-gate hook install --policy policies/strict.yaml
    git push            # -> panorama-gate: 1 target changed by this push ... REJECTED
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import posixpath
import re
import shlex
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from scanner import TOOL_NAME, __version__
from scanner.errors import ScannerError, UsageError
from scanner.sources import sniff

if TYPE_CHECKING:  # the scanning machinery is imported only when something needs scanning
    from scanner.config import ScanConfig
    from scanner.models import Finding, Report
    from scanner.policy import Policy

__all__ = [
    "HOOK_MARKER",
    "HookTarget",
    "hook_config",
    "RefUpdate",
    "install_hook",
    "parse_push_lines",
    "plan_targets",
    "register",
    "render_hook",
    "run_hook",
    "uninstall_hook",
]

HOOK_MARKER = "# panorama-gate-hook: v1"
CHAINED_NAME = "pre-push.chained"
# The hook's default selection: the fast static analyzers. The sandbox needs Docker and runs
# the app; vulnerability look-ups need the network or a database: both belong in CI.
DEFAULT_ANALYZERS = "-sandbox,-vulns"
MAX_SHOWN = 8

# Loose model files a push may add outside a project: the one list of model names, kept with the
# content sniffer (a push only names paths; names are what the hook has to go on).
MODEL_SUFFIXES = sniff.MODEL_SUFFIXES
ARCHIVE_SUFFIXES = sniff.ARCHIVE_SUFFIXES
PACKAGE_MANIFESTS = ("package.json", "descriptor.json")

EXAMPLES = """\
examples:
  panorama-gate hook install                         # in a git repository
  panorama-gate hook install --policy policies/strict.yaml --strict
  panorama-gate hook uninstall                       # restores a chained hook
  git push --no-verify                               # skip the hook once
  panorama-gate hook run origin --from origin/main --to HEAD   # try it without pushing

the hook blocks the push (exit 1) only on a rejected verdict; --strict also blocks when a
scan is incomplete (exit 3).
"""


class HookError(UsageError):
    """git could not answer, or the hook cannot be installed (exit 2)."""


# -- git -------------------------------------------------------------------------------------


def _git(args: Sequence[str], cwd: Path | None = None, *, input: bytes | None = None) -> bytes:
    """Run git and return its stdout; a failure is a HookError naming the command."""
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, input=input, capture_output=True, check=False
        )
    except OSError as exc:
        raise HookError(f"cannot run git: {exc.strerror or exc}", hint="install git") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise HookError(f"git {' '.join(args[:3])} failed: {err[-1] if err else proc.returncode}")
    return proc.stdout


def _is_zero(sha: str) -> bool:
    return bool(sha) and set(sha) == {"0"}


@dataclasses.dataclass(frozen=True, slots=True)
class RefUpdate:
    """One line of the pre-push hook's standard input."""

    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str

    @property
    def deletes(self) -> bool:
        """Whether this update deletes the remote ref (nothing to scan)."""
        return _is_zero(self.local_sha)

    @property
    def creates(self) -> bool:
        """Whether the remote ref does not exist yet."""
        return _is_zero(self.remote_sha)


_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def parse_push_lines(text: str) -> list[RefUpdate]:
    """Parse git's pre-push standard input; a malformed line is an error, never skipped."""
    updates = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4 or not (_SHA.match(parts[1]) and _SHA.match(parts[3])):
            raise HookError(
                f"pre-push input line {n} is not '<local ref> <sha> <remote ref> <sha>'"
            )
        updates.append(RefUpdate(*parts))
    return updates


def changed_paths(repo: Path, update: RefUpdate, remote: str) -> set[str]:
    """Files (present at the pushed tip) that the pushed commits add or modify."""
    if update.deletes:
        return set()
    tip = update.local_sha
    known_remote = not update.creates and _has_commit(repo, update.remote_sha)
    if known_remote:
        # What the remote ref will gain: the tree difference between its tip and ours.
        out = _git(
            [
                "diff",
                "--name-only",
                "-z",
                "--no-renames",
                "--diff-filter=ACMRT",
                update.remote_sha,
                tip,
            ],
            repo,
        )
    else:
        # A new branch (or a remote tip we do not have): every commit not yet on that remote.
        exclude = [f"--remotes={remote}"] if remote and not remote.startswith(("/", ".")) else []
        if not exclude or not _git(["for-each-ref", f"refs/remotes/{remote}"], repo).strip():
            exclude = ["--remotes"]
        out = _git(
            [
                "log",
                "--format=",
                "--name-only",
                "-z",
                "--no-renames",
                "--diff-filter=ACMRT",
                tip,
                "--not",
                *exclude,
            ],
            repo,
        )
    return {p for p in out.decode("utf-8", "surrogateescape").split("\0") if p.strip()}


def _has_commit(repo: Path, sha: str) -> bool:
    proc = subprocess.run(
        ["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=repo, capture_output=True, check=False
    )
    return proc.returncode == 0


def tree_files(repo: Path, commit: str) -> list[str]:
    """Every file path in ``commit``'s tree."""
    out = _git(["ls-tree", "-r", "-z", "--name-only", "--full-tree", commit], repo)
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


# -- planning: which targets a set of changed files belongs to (pure) ------------------------


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class HookTarget:
    """A repository path to scan at a commit: ``project``, ``code-package``, ``model`` or
    ``archive`` (scanned when its content is a model or container)."""

    path: str
    kind: str

    @property
    def display(self) -> str:
        """The path as shown to the developer ("." for the repository root)."""
        return self.path or "."


def _parent(path: str) -> str:
    return posixpath.dirname(path)


def _under(path: str, root: str) -> bool:
    return root == "" or path == root or path.startswith(root + "/")


def _rel(path: str, root: str) -> str:
    return path if root == "" else path[len(root) + 1 :]


def plan_targets(changed: Iterable[str], files: Iterable[str]) -> list[HookTarget]:
    """The scan targets for ``changed`` paths, given every file of the pushed tree.

    A project root is a folder holding ``graphs/<app>/graph.json`` and a ``packages/``
    folder; a code package is a folder holding ``package.json`` and a ``Dockerfile``.
    """
    all_files = set(files)
    projects: set[str] = set()
    dirs_with: dict[str, set[str]] = {}
    for f in all_files:
        parts = f.split("/")
        if len(parts) >= 3 and parts[-1] == "graph.json" and parts[-3] == "graphs":
            root = "/".join(parts[:-3])
            projects.add(root)
        dirs_with.setdefault(_parent(f), set()).add(posixpath.basename(f))
    projects = {
        r
        for r in projects
        if any(f.startswith(f"{r}/packages/" if r else "packages/") for f in all_files)
    }
    code_packages = {d for d, names in dirs_with.items() if {"package.json", "Dockerfile"} <= names}
    targets: set[HookTarget] = set()
    for path in changed:
        if path not in all_files:
            continue  # deleted at the tip: nothing to scan
        target = _target_for(path, projects, code_packages)
        if target is not None:
            targets.add(target)
    return _prune(targets)


def _deepest(path: str, roots: Iterable[str]) -> str | None:
    best: str | None = None
    for r in roots:
        if _under(path, r) and path != r and (best is None or len(r) > len(best)):
            best = r
    return best


def _target_for(path: str, projects: set[str], code_packages: set[str]) -> HookTarget | None:
    project = _deepest(path, projects)
    if project is not None:
        rel = _rel(path, project)
        top, _, rest = rel.partition("/")
        if top in ("graphs", "assets"):
            return HookTarget(project, "project")
        if top == "packages" and "/" in rest:
            pkg = posixpath.join(project, "packages", rest.split("/", 1)[0])
            if rest.split("/", 1)[1] in PACKAGE_MANIFESTS or pkg not in code_packages:
                return HookTarget(project, "project")  # a manifest: check it in context
            return HookTarget(pkg, "code-package")
    package = _deepest(path, code_packages)
    if package is not None:
        return HookTarget(package, "code-package")
    name = posixpath.basename(path).lower()
    if name == "saved_model.pb":
        return HookTarget(_parent(path), "model")
    if name.endswith(MODEL_SUFFIXES):
        return HookTarget(path, "model")
    if name.endswith(ARCHIVE_SUFFIXES):
        return HookTarget(path, "archive")
    return None


def _prune(targets: set[HookTarget]) -> list[HookTarget]:
    """Drop model and archive targets inside a project or code package that is scanned.

    A changed code package stays a target of its own even when its project is scanned: the
    folder scan checks what only it sees (e.g. a link out of the folder), and it is small.
    """
    keep = []
    for t in sorted(targets):
        covered = t.kind in ("model", "archive") and any(
            o.kind in ("project", "code-package") and _under(t.path, o.path) and o.path != t.path
            for o in targets
        )
        if not covered:
            keep.append(t)
    return keep


# -- install ---------------------------------------------------------------------------------


def hooks_dir(repo: Path) -> Path:
    """The repository's hooks folder (``core.hooksPath`` honoured)."""
    out = _git(["rev-parse", "--git-path", "hooks"], repo).decode().strip()
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


# -- run -------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Outcome:
    target: HookTarget
    report: Report | None = None
    error: str = ""


def _materialise(repo: Path, commit: str, paths: Sequence[str], dest: Path) -> None:
    """Write ``paths`` as they are in ``commit`` under ``dest``.

    ``git archive`` is streamed (assets can be large). The ``tar`` filter keeps every member
    inside ``dest`` but leaves symbolic links as they are, so a link pointing out of a code
    package reaches the scan (which reports it and never follows it) instead of failing here.
    """
    spec = [p if p else "." for p in paths]
    cmd = ["git", "archive", "--format=tar", commit, "--", *spec]
    # stderr goes to a file: a pipe left unread while stdout streams could fill and stall git.
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.PIPE, stderr=errors)
        except OSError as exc:
            raise HookError(f"cannot run git: {exc.strerror or exc}", hint="install git") from exc
        assert proc.stdout is not None
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                tar.extractall(dest, filter="tar")
        except (tarfile.TarError, OSError) as exc:
            proc.kill()
            raise HookError(f"cannot unpack {commit[:12]} from git archive: {exc}") from exc
        finally:
            proc.stdout.close()
            code = proc.wait()
        errors.seek(0)
        err = errors.read().decode("utf-8", "replace").strip()
    if code != 0:
        last = err.splitlines()[-1] if err else f"exit {code}"
        raise HookError(f"git archive {commit[:12]} failed: {last}")


def _scan_targets(
    repo: Path, commit: str, targets: Sequence[HookTarget], args: argparse.Namespace
) -> list[_Outcome]:
    # Imported here: a push that touches nothing relevant never pays for these imports.
    from scanner.gate import run_gate
    from scanner.models import TargetKind
    from scanner.policy import resolve_policy
    from scanner.sources.detect import detect_target

    policy = resolve_policy(args.policy, repo)
    config = hook_config(args, policy)
    outcomes: list[_Outcome] = []
    with tempfile.TemporaryDirectory(prefix="panorama-gate-hook-") as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        _materialise(repo, commit, [t.path for t in targets], root)
        for t in targets:
            path = root / t.path if t.path else root
            try:
                if t.kind == "archive":
                    kind = detect_target(path).target.kind
                    if kind not in (TargetKind.MODEL, TargetKind.CONTAINER):
                        continue  # some other archive: not something the gate ships
                report = run_gate(path, config, policy, waivers=args.waivers)
            except ScannerError as exc:
                if t.kind == "archive":
                    continue  # not a model or container: no business of the gate
                outcomes.append(_Outcome(t, error=exc.diagnostics()))
                continue
            outcomes.append(_Outcome(t, report=report))
    return outcomes


def hook_config(args: argparse.Namespace, policy: Policy) -> ScanConfig:
    """The ScanConfig ``scan`` would build from the same flags (``config_from_args``).

    Built here rather than through ``scanner.cli._options``, which imports every report writer
    (SPDX, CycloneDX: over a second) that the hook never uses; a test keeps the two equal.
    """
    from scanner.config import ArchiveLimits, ScanConfig, default_cache_dir

    options: dict[str, dict[str, Any]] = policy.analyzer_options()
    if args.vuln_db:
        options.setdefault("vulns", {})["vuln_db"] = str(args.vuln_db)
    options.setdefault("code", {})["scope"] = args.code_scope
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    try:
        limits = ArchiveLimits.from_mapping(options.get("archive", {}))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"policy archive limits: {exc}") from exc
    return ScanConfig(
        analyzers=tuple(s for s in str(args.analyzers or "").split(",") if s.strip()),
        offline=bool(args.offline),
        cache_dir=cache_dir,
        work_dir=args.work_dir,
        jobs=int(args.jobs or 0),
        limits=limits,
        profile=not args.no_profile,
        options=options,
        progress=False,  # a hook prints a short verdict, not progress bars
    )


def _describe(f: Finding, target: HookTarget, artifact_paths: dict[str, str]) -> str:
    """One finding as a repository path the developer can open."""
    loc = f.location
    base = posixpath.normpath(
        posixpath.join(target.path, artifact_paths.get(loc.artifact, loc.artifact))
    )
    where = base
    if loc.path:
        if base.lower().endswith(ARCHIVE_SUFFIXES):
            where = f"{base}!{loc.path}"  # inside an asset: archive!member
        elif base.lower().endswith((".json", ".yaml", ".yml")):
            where = f"{base} ({loc.path})"  # a key inside a manifest file
        else:
            where = posixpath.join(base, loc.path)
    if loc.line:
        where += f":{loc.line}"
    return f"{f.severity.name.lower():8} {f.rule_id}  {where}\n             {f.message}"


def _print_outcome(o: _Outcome, out: TextIO) -> None:
    if o.report is None:
        print(f"  {o.target.display} ({o.target.kind}): ERROR  {o.error}", file=out)
        return
    verdict = o.report.verdict
    assert verdict is not None
    kind = o.report.target.kind.value
    print(f"  {o.target.display} ({kind}): {verdict.decision.value.upper()}", file=out)
    by_fp = {f.fingerprint: f for f in o.report.findings}
    blocking = [
        by_fp[fp]
        for r in verdict.reasons
        if r.level == "reject"
        for fp in r.fingerprints
        if fp in by_fp
    ]
    blocking = sorted(set(blocking), key=lambda f: (-int(f.severity), f.rule_id, str(f.location)))
    paths = {a.name: a.path for a in o.report.artifacts}
    for f in blocking[:MAX_SHOWN]:
        print(f"    {_describe(f, o.target, paths)}", file=out)
    if len(blocking) > MAX_SHOWN:
        print(f"    ... and {len(blocking) - MAX_SHOWN} more", file=out)
    for r in verdict.reasons:
        if r.level == "incomplete":
            print(f"    ! {r.message}", file=out)


def run_hook(
    repo: Path,
    updates: Sequence[RefUpdate],
    remote: str,
    args: argparse.Namespace,
    out: TextIO,
) -> int:
    """Scan what ``updates`` change; 1 when a verdict is rejected, else 0 (3 with --strict)."""
    started = time.monotonic()
    plans: dict[str, list[HookTarget]] = {}
    for u in updates:
        changed = changed_paths(repo, u, remote)
        if not changed:
            continue
        targets = plan_targets(changed, tree_files(repo, u.local_sha))
        if targets:
            plans.setdefault(u.local_sha, [])
            plans[u.local_sha] = sorted(set(plans[u.local_sha]) | set(targets))
    if not plans:
        if args.verbose:
            print(f"{TOOL_NAME}: nothing to scan in this push", file=out)
        return 0
    # The same content pushed on two refs is scanned once: key each target by its object id.
    seen: set[str] = set()
    outcomes: list[_Outcome] = []
    for commit, targets in plans.items():
        specs = [f"{commit}:{t.path}" if t.path else f"{commit}^{{tree}}" for t in targets]
        ids = _git(["rev-parse", *specs], repo).decode().split()
        fresh = [t for t, oid in zip(targets, ids, strict=True) if oid not in seen]
        seen.update(ids)
        if fresh:
            outcomes.extend(_scan_targets(repo, commit, fresh, args))
    elapsed = time.monotonic() - started
    print(
        f"{TOOL_NAME}: {len(outcomes)} target(s) changed by this push, scanned in {elapsed:.1f} s",
        file=out,
    )
    rejected = incomplete = False
    for o in outcomes:
        _print_outcome(o, out)
        if o.report is None:
            incomplete = True
            continue
        assert o.report.verdict is not None
        decision = o.report.verdict.decision.value
        rejected |= decision == "rejected"
        incomplete |= decision == "incomplete"
    if rejected:
        print(
            f"{TOOL_NAME}: push blocked: fix the findings above (or waive them in the policy); "
            "`git push --no-verify` skips this check, CI will still run it",
            file=out,
        )
        return 1
    if incomplete:
        if args.strict:
            print(f"{TOOL_NAME}: push blocked: a scan was incomplete (--strict)", file=out)
            return 3
        print(
            f"{TOOL_NAME}: warning: a scan was incomplete, so nothing here is approved; "
            "the push goes ahead and CI decides",
            file=out,
        )
    return 0


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
    to_sha = _git(["rev-parse", "--verify", f"{dst}^{{commit}}"], repo).decode().strip()
    from_sha = (
        _git(["rev-parse", "--verify", f"{src}^{{commit}}"], repo).decode().strip()
        if src and not _is_zero(src)
        else "0" * len(to_sha)
    )
    return [RefUpdate("HEAD", to_sha, "HEAD", from_sha)]


def _repo_root() -> Path:
    return Path(_git(["rev-parse", "--show-toplevel"]).decode().strip())


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


def _add_run_flags(p: argparse.ArgumentParser) -> None:
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
    _add_run_flags(run)
    run.set_defaults(run_parser=run)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def _fast_main(argv: Sequence[str]) -> int:
    """``python -m scanner.cli.hook run ...``: the hook's entry, without the full CLI."""
    from scanner.cli import _Parser, apply_environment

    parser = _Parser(prog=f"{TOOL_NAME} hook")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = sub.add_parser("run")
    _add_run_flags(run)
    run.add_argument("-v", "--verbose", action="count", default=0)
    run.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(list(argv))
    if args.command != "run":
        parser.error("only 'run' is available here; use panorama-gate hook ...")
    apply_environment(parser, args, list(argv))
    try:
        code: int = args.func(args)
        return code
    except ScannerError as exc:
        print(f"{TOOL_NAME}: error: {exc.diagnostics()}", file=sys.stderr)
        print(
            f"{TOOL_NAME}: push blocked: the hook could not run; fix it or skip once with "
            "`git push --no-verify`",
            file=sys.stderr,
        )
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort, as in scanner.cli.main: a message, exit 3
        print(
            f"{TOOL_NAME}: internal error: {type(exc).__name__}: {exc} (push blocked; "
            "`git push --no-verify` skips the hook; run `panorama-gate -v hook run` to debug)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(_fast_main(sys.argv[1:]))
