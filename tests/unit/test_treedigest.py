"""The canonical folder manifest: what changes its digest, and what does not."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from scanner.treedigest import TreeEntry, git_mode, tree_manifest


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_digest_depends_on_content_not_on_creation_order(tmp_path: Path) -> None:
    files = {"src/app.py": b"print(1)\n", "Dockerfile": b"FROM x\n", "src/a/b.txt": b"b"}
    one = _tree(tmp_path / "one", files)
    two = _tree(tmp_path / "two", dict(reversed(list(files.items()))))
    assert tree_manifest(one).digest == tree_manifest(two).digest
    assert [e.path for e in tree_manifest(one).entries] == [
        "Dockerfile",
        "src/a/b.txt",
        "src/app.py",
    ]
    assert tree_manifest(one).size == len(b"print(1)\n") + len(b"FROM x\n") + 1


@pytest.mark.parametrize(
    "change",
    [
        lambda r: (r / "src" / "app.py").write_bytes(b"print(2)\n"),
        lambda r: (r / "src" / "new.sh").write_bytes(b""),
        lambda r: (r / "src" / "app.py").unlink(),
        lambda r: (r / "src" / "app.py").rename(r / "src" / "main.py"),
        lambda r: os.chmod(r / "src" / "app.py", 0o755),
        lambda r: os.chmod(r / "src" / "app.py", 0o4644),
        lambda r: (r / "link").symlink_to("src/app.py"),
    ],
    ids=["edit", "add", "remove", "rename", "make-executable", "setuid", "add-link"],
)
def test_every_change_to_the_file_set_changes_the_digest(tmp_path: Path, change: object) -> None:
    root = _tree(tmp_path / "t", {"src/app.py": b"print(1)\n"})
    before = tree_manifest(root).digest
    change(root)  # type: ignore[operator]
    assert tree_manifest(root).digest != before


def test_umask_differences_do_not_change_the_digest(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t", {"a.py": b"x"})
    os.chmod(root / "a.py", 0o644)
    before = tree_manifest(root).digest
    os.chmod(root / "a.py", 0o664)  # group-writable: another checkout's umask
    assert tree_manifest(root).digest == before
    assert git_mode(0o100700) == 0o755
    assert git_mode(0o104750) == 0o4755


def test_links_are_recorded_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.write_bytes(b"outside the folder")
    root = _tree(tmp_path / "t", {"a.py": b"x"})
    (root / "creds").symlink_to(outside)
    (root / "dir-link").symlink_to(tmp_path)
    entries = {e.path: e for e in tree_manifest(root).entries}
    assert entries["creds"] == TreeEntry("creds", "link", link=str(outside))
    assert entries["dir-link"].kind == "link"
    assert not any(e.sha256 == "" and e.kind == "file" for e in entries.values())
    assert len(entries) == 3  # nothing below the linked folder was walked


def test_names_that_are_not_utf8_have_one_form(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    (root / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"latin-1 name")
    manifest = tree_manifest(root)
    assert manifest.canonical_bytes().isascii()
    assert manifest.digest == tree_manifest(root).digest


def test_special_files_are_recorded(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t", {"a": b""})
    os.mkfifo(root / "pipe")
    kinds = {e.path: e.kind for e in tree_manifest(root).entries}
    assert kinds == {"a": "file", "pipe": "other"}
    assert stat.S_ISFIFO(os.lstat(root / "pipe").st_mode)


def test_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        tree_manifest(tmp_path / "f")
