"""The canonical manifest of a folder's exact file set, and its digest (stdlib only).

A folder artifact (a code package folder, an unbuilt code package inside a project, a model
folder) has no bytes of its own to hash, so the scan records the SHA-256 of its *manifest*:
every entry below the folder, sorted by path, each with its kind and

* a regular file: its mode (as git records it: ``0644`` or ``0755``, plus any setuid, setgid
  or sticky bit), size and SHA-256;
* a symbolic link: the link's text (never followed);
* anything else (FIFO, socket, device): only its kind.

The manifest is serialised as canonical JSON (sorted keys, no spaces, ASCII with ``\\u``
escapes, so any file name, even one that is not UTF-8, has exactly one form)::

    {"entries":[{"kind":"file","mode":"0644","path":"src/app.py","sha256":"…","size":812}],
     "type":"https://panorama-gate.dev/tree/v1"}

and its SHA-256 is the folder's digest. ``sign`` recomputes it and refuses a folder whose file
set, modes or bytes changed since the scan. Both the scanner and ``signing`` import this
module, so it sits at the bottom of the layers and imports nothing of the project.

Example::

    tree = tree_manifest(Path("packages/123-app-1.0"))
    print(tree.digest, len(tree.files))
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TREE_TYPE", "TreeEntry", "TreeManifest", "git_mode", "tree_manifest"]

TREE_TYPE = "https://panorama-gate.dev/tree/v1"
_CHUNK = 1024 * 1024
_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


def git_mode(st_mode: int) -> int:
    """A file's mode as git records it (0o644 or 0o755, by the owner's execute bit), plus the
    setuid, setgid and sticky bits.

    Read and write bits follow the umask of whoever checked the folder out, so recording them
    would make two checkouts of one commit differ; the execute bit and the special bits change
    what a build or a container runs, so they are kept.
    """
    base = 0o755 if st_mode & stat.S_IXUSR else 0o644
    return base | (st_mode & _SPECIAL_BITS)


@dataclass(frozen=True, slots=True, order=True)
class TreeEntry:
    """One entry of a folder: ``kind`` is ``file``, ``link`` or ``other``."""

    path: str
    kind: str
    mode: int = 0
    size: int = 0
    sha256: str = ""
    link: str = ""

    def to_dict(self) -> dict[str, object]:
        """The entry's canonical JSON object (only the fields its kind has)."""
        if self.kind == "file":
            return {
                "kind": "file",
                "mode": f"{self.mode:04o}",
                "path": self.path,
                "sha256": self.sha256,
                "size": self.size,
            }
        if self.kind == "link":
            return {"kind": "link", "link": self.link, "path": self.path}
        return {"kind": self.kind, "path": self.path}


@dataclass(frozen=True, slots=True)
class TreeManifest:
    """Every entry below a folder, sorted by path."""

    entries: tuple[TreeEntry, ...]

    def canonical_bytes(self) -> bytes:
        """The manifest's one canonical serialisation (what :attr:`digest` hashes)."""
        doc = {"entries": [e.to_dict() for e in self.entries], "type": TREE_TYPE}
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()

    @property
    def digest(self) -> str:
        """Lower-case hex SHA-256 of :meth:`canonical_bytes`: the folder's digest."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    @property
    def files(self) -> tuple[TreeEntry, ...]:
        """The regular files."""
        return tuple(e for e in self.entries if e.kind == "file")

    @property
    def size(self) -> int:
        """Total bytes of the regular files."""
        return sum(e.size for e in self.entries if e.kind == "file")


def _hash_file(path: Path) -> tuple[int, str, int]:
    """(mode, SHA-256, size) of a regular file, opened without following a link.

    ``O_NOFOLLOW`` and the ``fstat`` of the open file make the bytes hashed those of the
    entry that was listed, even if it is swapped for a link in between.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb", buffering=0) as fp:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path}: no longer a regular file")
        h = hashlib.sha256()
        size = 0
        while chunk := fp.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return git_mode(st.st_mode), h.hexdigest(), size


def tree_manifest(root: Path) -> TreeManifest:
    """The manifest of every entry below ``root`` (links are recorded, never followed).

    Raises ``OSError`` when the folder or a file in it cannot be read.
    """
    root = Path(root)
    if not stat.S_ISDIR(os.lstat(root).st_mode):
        raise NotADirectoryError(f"{root}: not a folder")
    entries: list[TreeEntry] = []
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as it:
            children = sorted(it, key=lambda d: d.name)
        for child in children:
            rel = f"{prefix}{child.name}"
            st = child.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                pending.append((Path(child.path), f"{rel}/"))
            elif stat.S_ISLNK(st.st_mode):
                entries.append(TreeEntry(rel, "link", link=os.readlink(child.path)))
            elif stat.S_ISREG(st.st_mode):
                mode, sha, size = _hash_file(Path(child.path))
                entries.append(TreeEntry(rel, "file", mode, size, sha))
            else:
                entries.append(TreeEntry(rel, "other"))
    return TreeManifest(tuple(sorted(entries)))
