"""publish's private state folder: where it is, what is refused, sealed records, no links."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from signing._state import (
    RecordSealer,
    default_state_dir,
    private_dir,
    read_private,
    write_private,
)
from signing.errors import InputError


def test_default_folder_is_per_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "panorama-gate" / "publish"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / ".local" / "state" / "panorama-gate" / "publish"
    monkeypatch.setenv("HOME", str(tmp_path / "absent"))
    fallback = default_state_dir()
    assert fallback.parent == Path(tempfile.gettempdir())
    assert fallback.name == f"panorama-gate-publish-{os.geteuid()}"


def test_new_folders_are_private_and_unsafe_ones_refused(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "a" / "b")
    assert (made.stat().st_mode & 0o777) == 0o700
    os.chmod(made, 0o755)  # readable by others, writable by no one else: still usable
    assert private_dir(made) == made
    os.chmod(made, 0o775)
    with pytest.raises(InputError, match="writable by group or others") as info:
        private_dir(made)
    assert info.value.exit_code == 2
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="is not a folder"):
        private_dir(tmp_path / "file")


def test_writes_replace_links_instead_of_following_them(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (tmp_path / "record.json").symlink_to(victim)
    assert read_private(tmp_path / "record.json") is None  # a link is not read either
    write_private(tmp_path / "record.json", b"{}")
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "record.json").is_symlink()
    assert read_private(tmp_path / "record.json") == b"{}"


def test_sealed_records_open_only_unaltered_and_with_the_folder_key(tmp_path: Path) -> None:
    sealer = RecordSealer(tmp_path)
    data = sealer.seal({"ciphertext_sha256": "ab" * 32, "plaintext_size": 5})
    assert sealer.open(data) == {"ciphertext_sha256": "ab" * 32, "plaintext_size": 5}
    assert RecordSealer(tmp_path).open(data) is not None  # the key persists in the folder
    doc = json.loads(data)
    doc["record"]["plaintext_size"] = 6
    assert sealer.open(json.dumps(doc).encode()) is None
    other = tmp_path / "other"
    other.mkdir()
    assert RecordSealer(other).open(data) is None  # another folder's key
    assert sealer.open(b"not json") is None
    assert sealer.open(None) is None
