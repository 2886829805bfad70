"""What the hook asks git: the pushed refs, the commits a push sends, what each one changes.

Every call goes through :func:`git`, which turns a failure into a :class:`HookError` naming the
command (exit 2), so a broken repository stops the hook with one clear line.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from scanner.errors import UsageError
from scanner.tarextract import extract_member

__all__ = [
    "HookError",
    "PushedCommit",
    "RefUpdate",
    "changed_paths",
    "commit_changes",
    "git",
    "is_zero",
    "materialise",
    "parse_push_lines",
    "pushed_commits",
    "subjects",
    "tree_files",
]


class HookError(UsageError):
    """git could not answer, or the hook cannot be installed (exit 2)."""


def git(args: Sequence[str], cwd: Path | None = None, *, input: bytes | None = None) -> bytes:
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


def is_zero(sha: str) -> bool:
    """Whether ``sha`` is git's all-zero id (a ref that does not exist on one side)."""
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
        return is_zero(self.local_sha)

    @property
    def creates(self) -> bool:
        """Whether the remote ref does not exist yet."""
        return is_zero(self.remote_sha)


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


def _has_commit(repo: Path, sha: str) -> bool:
    proc = subprocess.run(
        ["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=repo, capture_output=True, check=False
    )
    return proc.returncode == 0


def _not_on_remote(repo: Path, update: RefUpdate, remote: str) -> list[str]:
    """``rev-list`` arguments excluding what the remote already has."""
    if not update.creates and _has_commit(repo, update.remote_sha):
        return [f"^{update.remote_sha}"]
    # A new branch (or a remote tip we do not have): every commit not yet on that remote.
    exclude = [f"--remotes={remote}"] if remote and not remote.startswith(("/", ".")) else []
    if not exclude or not git(["for-each-ref", f"refs/remotes/{remote}"], repo).strip():
        exclude = ["--remotes"]
    return ["--not", *exclude]


@dataclasses.dataclass(frozen=True, slots=True)
class PushedCommit:
    """A commit the push sends, with the files it adds or modifies (against its parents)."""

    sha: str
    changed: frozenset[str]


def pushed_commits(repo: Path, update: RefUpdate, remote: str, limit: int) -> list[str] | None:
    """The commits ``update`` sends, oldest first; ``None`` when there are more than ``limit``.

    A key committed in one commit and deleted in the next is still in the history the remote
    receives, so the hook checks each commit, not only the pushed tip.
    """
    if update.deletes:
        return []
    out = git(
        ["rev-list", "--reverse", "--topo-order", f"--max-count={limit + 1}", update.local_sha]
        + _not_on_remote(repo, update, remote),
        repo,
    )
    shas = out.decode().split()
    return None if len(shas) > limit else shas


def commit_changes(repo: Path, commits: Sequence[str]) -> list[PushedCommit]:
    """What each commit adds or modifies, in the given order.

    A merge counts only the files that differ from *every* parent (``-c``): what the merge
    itself introduced, such as a conflict resolution; its parents' changes are commits of their
    own. A commit that changes nothing scannable is kept with an empty set.
    """
    if not commits:
        return []
    out = git(
        ["diff-tree", "--stdin", "-r", "-z", "--name-only", "-c", "--root", "--no-renames"]
        + ["--diff-filter=ACMRT"],
        repo,
        input="".join(f"{c}\n" for c in commits).encode(),
    )
    pending = set(commits)
    changed: dict[str, set[str]] = {c: set() for c in commits}
    current: str | None = None
    # Output: "<commit>\0<path>\0<path>\0<commit>\0..." in input order; commits without
    # changes are left out.
    for token in out.decode("utf-8", "surrogateescape").split("\0"):
        if token in pending:
            current = token
            pending.discard(token)
        elif token and current is not None:
            changed[current].add(token)
    return [PushedCommit(c, frozenset(changed[c])) for c in commits]


def changed_paths(repo: Path, update: RefUpdate, remote: str) -> set[str]:
    """Files (present at the pushed tip) that the push as a whole adds or modifies.

    The tip-only view, used when a push holds too many commits to check one by one.
    """
    if update.deletes:
        return set()
    args = _not_on_remote(repo, update, remote)
    if args[0].startswith("^"):
        # What the remote ref will gain: the tree difference between its tip and ours.
        out = git(
            ["diff", "--name-only", "-z", "--no-renames", "--diff-filter=ACMRT"]
            + [args[0][1:], update.local_sha],
            repo,
        )
    else:
        out = git(
            ["log", "--format=", "--name-only", "-z", "--no-renames", "--diff-filter=ACMRT"]
            + [update.local_sha, *args],
            repo,
        )
    return {p for p in out.decode("utf-8", "surrogateescape").split("\0") if p.strip()}


def tree_files(repo: Path, commit: str) -> list[str]:
    """Every file path in ``commit``'s tree."""
    out = git(["ls-tree", "-r", "-z", "--name-only", "--full-tree", commit], repo)
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def subjects(repo: Path, commits: Sequence[str]) -> dict[str, str]:
    """Each commit's subject line, for naming the commit that holds a finding."""
    if not commits:
        return {}
    out = git(["show", "-s", "--format=%H%x1f%s", *commits], repo)
    pairs = (line.split("\x1f", 1) for line in out.decode("utf-8", "replace").splitlines())
    return {p[0]: p[1] for p in pairs if len(p) == 2}


def materialise(repo: Path, commit: str, paths: Sequence[str], dest: Path) -> None:
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
                for member in tar:
                    extract_member(tar, member, dest)
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
