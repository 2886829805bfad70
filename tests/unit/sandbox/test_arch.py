"""Architecture of a rootfs and whether this host can run it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from scanner.sandbox._arch import check_arch, elf_machine, normalise, rootfs_machine


def elf(machine: int) -> bytes:
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 11 + machine.to_bytes(2, "little") + b"\x00" * 40


def make_tar(path: Path, files: dict[str, bytes], links: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


@pytest.mark.parametrize(("code", "name"), [(0x3E, "x86_64"), (0xB7, "aarch64"), (0x28, "arm")])
def test_elf_machine(code, name):
    assert elf_machine(elf(code)) == name


def test_not_elf():
    assert elf_machine(b"#!/bin/sh\n" + b"\x00" * 30) is None


def test_spellings_are_normalised():
    assert normalise("arm64") == "aarch64"
    assert normalise("AMD64") == "x86_64"


def test_python3_symlink_chain_is_followed(tmp_path):
    tar = make_tar(
        tmp_path / "r.tar.gz",
        {"usr/bin/python3.8": elf(0xB7)},
        {"usr/bin/python3": "python3.8", "usr/local/bin/python3": "/usr/bin/python3"},
    )
    assert rootfs_machine(tar, "python3") == "aarch64"


def test_missing_interpreter_is_unknown(tmp_path):
    tar = make_tar(tmp_path / "r.tar.gz", {"etc/hostname": b"x"}, {})
    assert rootfs_machine(tar, "python3") is None


def test_script_interpreter_is_found_but_unknown(tmp_path):
    tar = make_tar(tmp_path / "r.tar.gz", {"usr/bin/python3": b"#!/bin/sh\nexec true\n"}, {})
    assert rootfs_machine(tar, "python3") == "unknown"
    assert check_arch("unknown", host="x86_64").runnable is True


def test_link_loop_ends(tmp_path):
    tar = make_tar(
        tmp_path / "r.tar.gz", {}, {"usr/bin/python3": "python3.8", "usr/bin/python3.8": "python3"}
    )
    assert rootfs_machine(tar, "python3") is None


def binfmt(tmp_path: Path, entries: dict[str, str]) -> Path:
    d = tmp_path / "binfmt"
    d.mkdir()
    (d / "status").write_text("enabled\n")
    (d / "register").write_text("")
    for name, text in entries.items():
        (d / name).write_text(text)
    return d


def test_native_runs_unemulated(tmp_path):
    c = check_arch("x86_64", host="x86_64", binfmt_dir=tmp_path)
    assert (c.runnable, c.emulated) == (True, False)


def test_arm64_with_qemu_and_fix_binary_flag_runs_emulated(tmp_path):
    d = binfmt(
        tmp_path,
        {
            "qemu-aarch64": "enabled\ninterpreter /usr/libexec/qemu-binfmt/"
            "aarch64-binfmt-P\nflags: PF\noffset 0\n"
        },
    )
    c = check_arch("aarch64", host="x86_64", binfmt_dir=d)
    assert (c.runnable, c.emulated) == (True, True)
    assert "emulated" in c.reason


def test_arm64_with_qemu_but_no_fix_binary_flag_cannot_run_in_a_container(tmp_path):
    d = binfmt(tmp_path, {"qemu-aarch64": "enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: \n"})
    c = check_arch("aarch64", host="x86_64", binfmt_dir=d)
    assert c.runnable is False
    assert "F flag" in c.reason


def test_arm64_without_qemu_is_skipped_with_a_reason(tmp_path):
    d = binfmt(tmp_path, {"qemu-aarch64": "disabled\ninterpreter /usr/bin/qemu-aarch64\n"})
    c = check_arch("aarch64", host="x86_64", binfmt_dir=d)
    assert c.runnable is False
    assert "qemu-user-static" in c.reason
