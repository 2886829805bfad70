"""Publish's private state folder: staged ciphertexts and resumable-upload state (internal).

A staged ciphertext is uploaded as it is, so whoever can write the folder decides what is
published, and a link planted in it would turn publish's writes onto another file. The folder
is therefore checked every time it is used: owned by the user running publish, a real folder
(not a link), writable by no one else; a new one is made ``0700``. Files in it are opened with
``O_NOFOLLOW`` and replaced by renaming a freshly created file, so a planted link is never
followed. Records that let a rerun reuse a staged ciphertext are authenticated with a key
kept in the folder (:class:`RecordSealer`), and the ciphertext's SHA-256 is checked against the
record before it is uploaded.

Example::

    folder = private_dir(default_state_dir() / "abc")
    write_private(folder / "x.json", b"{}")
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

from signing.errors import InputError

__all__ = [
    "RecordSealer",
    "default_state_dir",
    "private_dir",
    "read_private",
    "write_private",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_KEY_FILE = ".record-key"


def default_state_dir() -> Path:
    """A per-user folder: ``$XDG_STATE_HOME/panorama-gate/publish`` (``~/.local/state/...``),
    or ``<tmp>/panorama-gate-publish-<uid>`` when there is no usable home folder."""
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "panorama-gate" / "publish"
    home = Path.home() if "HOME" in os.environ else None
    if home is not None and home.is_dir() and os.access(home, os.W_OK):
        return home / ".local" / "state" / "panorama-gate" / "publish"
    return Path(tempfile.gettempdir()) / f"panorama-gate-publish-{os.geteuid()}"


def private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) if needed and check it is safe to keep state in.

    ``InputError`` (exit 2) names the folder when it is a link, not a folder, owned by
    someone else, or writable by group or others.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    st = os.lstat(path)
    problem = None
    if stat.S_ISLNK(st.st_mode):
        problem = "is a symbolic link"
    elif not stat.S_ISDIR(st.st_mode):
        problem = "is not a folder"
    elif st.st_uid != os.geteuid():
        problem = f"belongs to uid {st.st_uid}, not to this user ({os.geteuid()})"
    elif st.st_mode & 0o022:
        problem = f"is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    if problem is not None:
        raise InputError(
            f"{path}: publish state folder {problem}; refusing to use it",
            hint="use a private folder (chmod 700, owned by you) with --state-dir",
        )
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` (mode 0600) by renaming a new file over it: a link there is replaced,
    never followed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_private(path: Path, limit: int = 1024 * 1024) -> bytes | None:
    """The bytes of a regular file at ``path`` (never through a link), or ``None``."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fp:
        if not stat.S_ISREG(os.fstat(fp.fileno()).st_mode):
            return None
        return fp.read(limit)


class RecordSealer:
    """HMAC-SHA256 over state records, with a random key kept in the private folder.

    A record of a staged ciphertext is trusted by a rerun only if its seal checks out: a file
    planted in the folder by someone without the key is ignored (and re-encrypted).
    """

    def __init__(self, folder: Path) -> None:
        key_path = folder / _KEY_FILE
        key = read_private(key_path, 64)
        if key is None or len(key) != 32:
            key = secrets.token_bytes(32)
            write_private(key_path, key)
        self._key = key

    def _mac(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def seal(self, record: dict[str, Any]) -> bytes:
        """The record's JSON with its seal."""
        body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        return json.dumps({"record": record, "seal": self._mac(body)}, sort_keys=True).encode()

    def open(self, data: bytes | None) -> dict[str, Any] | None:
        """The record if ``data`` is one this sealer sealed, else ``None``."""
        if data is None:
            return None
        try:
            doc = json.loads(data)
            record, seal = doc["record"], doc["seal"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(record, dict) or not isinstance(seal, str):
            return None
        body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        return record if hmac.compare_digest(self._mac(body), seal) else None
