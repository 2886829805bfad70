"""Members are extracted by the ``tar`` filter's rules, with or without Python's filters.

Python 3.11.2 (Debian 12's ``python3`` before its later security updates) has no extraction
filters; the same rules then apply from ``scanner.tarextract``. Both ways are run here.
"""

from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

import pytest

import scanner.tarextract
from scanner.tarextract import UnsafeMemberError, extract_member
from tests.helpers.archives import M, tar_bytes


def _extract(data: bytes, dest: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tf:
        for member in tf:
            extract_member(tf, member, dest)


@pytest.fixture(params=["python's filters", "without them"])
def filters(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.param == "without them":
        monkeypatch.setattr(scanner.tarextract, "HAS_FILTERS", False)
    elif not scanner.tarextract.HAS_FILTERS:
        pytest.skip("this Python has no tarfile extraction filters")


@pytest.mark.usefixtures("filters")
def test_ordinary_members_land_inside_with_their_mode_tamed(tmp_path: Path) -> None:
    data = tar_bytes([M("app/run.py", b"print(1)\n", mode=0o4777), M("/etc/motd", b"hello\n")])
    _extract(data, tmp_path)
    run = tmp_path / "app" / "run.py"
    assert run.read_bytes() == b"print(1)\n"
    # setuid and group/other write are cleared, as the tar filter clears them
    assert stat.S_IMODE(run.stat().st_mode) == 0o755
    # a leading slash is stripped: the file lands inside, never in /etc
    assert (tmp_path / "etc" / "motd").read_bytes() == b"hello\n"


@pytest.mark.usefixtures("filters")
@pytest.mark.parametrize("name", ["../escape.txt", "app/../../escape.txt"])
def test_a_member_leaving_the_folder_is_refused(tmp_path: Path, name: str) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeMemberError):
        _extract(tar_bytes([M(name, b"x")]), dest)
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.usefixtures("filters")
def test_a_file_written_through_a_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    data = tar_bytes([M("conf", kind="symlink", linkname=str(outside)), M("conf/planted", b"x")])
    with pytest.raises(UnsafeMemberError):
        _extract(data, dest)
    assert list(outside.iterdir()) == []
