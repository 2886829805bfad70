"""Which CPU a root filesystem is built for, and whether this host can run it.

Panorama images are arm64. On another host they run only through qemu user emulation
registered in binfmt_misc with the ``F`` (fix binary) flag, which lets the kernel use the
interpreter from inside containers and namespaces; then timings are emulated and the report
says so. Without it the profile is skipped with the reason.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from scanner.sandbox._tario import open_tar_stream

__all__ = ["ArchCheck", "check_arch", "elf_machine", "host_machine", "rootfs_machine"]

_E_MACHINE = {
    0x3E: "x86_64",
    0xB7: "aarch64",
    0x28: "arm",
    0x03: "i386",
    0xF3: "riscv64",
    0x15: "ppc64",
}
_ALIASES = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "aarch64": "aarch64",
    "x86_64": "x86_64",
    "armv7l": "arm",
    "i686": "i386",
}
_BIN_DIRS = ("usr/local/bin", "usr/bin", "bin", "usr/sbin", "sbin")
BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")


def normalise(machine: str) -> str:
    """Map Docker/Go and uname spellings to one name (``arm64`` -> ``aarch64``)."""
    return _ALIASES.get(machine.lower(), machine.lower())


def host_machine() -> str:
    """The host's CPU architecture, uname style."""
    return normalise(platform.machine())


def elf_machine(head: bytes) -> str | None:
    """The architecture in an ELF header, or ``None`` when ``head`` is not ELF."""
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    code = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    return _E_MACHINE.get(code, f"elf-{code:#x}")


def rootfs_machine(asset: Path, program: str = "python3") -> str | None:
    """Architecture of ``program`` (looked up in the usual bin folders) in a rootfs tar.

    Symbolic links (``python3 -> python3.8``) are followed within the archive. ``None`` when
    the program is not in the archive, ``"unknown"`` when it is there but not ELF.
    """
    wanted = {f"{d}/{PurePosixPath(program).name}" for d in _BIN_DIRS}
    if program.startswith("/"):
        wanted = {program.lstrip("/")}
    links: dict[str, str] = {}
    heads: dict[str, bytes] = {}
    with open_tar_stream(asset) as tf:
        for member in tf:
            name = member.name.lstrip("./").lstrip("/")
            parent = str(PurePosixPath(name).parent)
            if parent not in _BIN_DIRS and name not in wanted:
                continue
            if member.issym():
                links[name] = member.linkname
            elif member.islnk():
                links[name] = "/" + member.linkname.lstrip("./")
            elif member.isfile() and PurePosixPath(name).name.startswith(
                ("python", PurePosixPath(program).name)
            ):
                fp = tf.extractfile(member)
                if fp is not None:
                    heads[name] = fp.read(20)
            found = _resolve(wanted, links, heads)
            if found is not None:
                return found  # the rest of a large rootfs need not be decompressed
    return None


def _resolve(wanted: set[str], links: dict[str, str], heads: dict[str, bytes]) -> str | None:
    for start in sorted(wanted):
        path = start
        for _ in range(16):  # bounded: link loops end here
            if path in heads:
                return elf_machine(heads[path]) or "unknown"  # a script: found, arch unknown
            target = links.get(path)
            if target is None:
                break
            base = PurePosixPath("/") if target.startswith("/") else PurePosixPath(path).parent
            path = str(PurePosixPath(_normpath(base / target))).lstrip("/")
    return None


def _normpath(p: PurePosixPath) -> str:
    parts: list[str] = []
    for part in p.parts:
        if part in ("/", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)


@dataclass(frozen=True, slots=True)
class ArchCheck:
    """Whether a rootfs can run here: natively, emulated, or not at all (with the reason)."""

    machine: str | None
    runnable: bool
    emulated: bool
    reason: str = ""
    interpreter: str = ""


def _binfmt_entries(binfmt_dir: Path) -> list[tuple[str, str, str]]:
    """(name, interpreter, flags) of every enabled binfmt_misc entry."""
    out: list[tuple[str, str, str]] = []
    if not (binfmt_dir / "status").is_file():
        return out
    for entry in sorted(binfmt_dir.iterdir()):
        if entry.name in ("status", "register") or not entry.is_file():
            continue
        try:
            text = entry.read_text()
        except OSError:
            continue
        lines = text.splitlines()
        if not lines or lines[0].strip() != "enabled":
            continue
        interp = flags = ""
        for ln in lines[1:]:
            if ln.startswith("interpreter "):
                interp = ln.split(" ", 1)[1].strip()
            elif ln.startswith("flags:"):
                flags = ln.split(":", 1)[1].strip()
        out.append((entry.name, interp, flags))
    return out


def check_arch(
    machine: str | None, *, host: str | None = None, binfmt_dir: Path = BINFMT_DIR
) -> ArchCheck:
    """Decide whether programs for ``machine`` can run on this host."""
    here = normalise(host or host_machine())
    if machine is None or machine == "unknown":
        # Not ELF (a script) or not looked at: let the run itself show what happens.
        return ArchCheck(None, True, False, "entry interpreter architecture unknown")
    machine = normalise(machine)
    if machine == here or (here == "x86_64" and machine == "i386"):
        return ArchCheck(machine, True, False)
    qemu_name = {
        "aarch64": "qemu-aarch64",
        "arm": "qemu-arm",
        "riscv64": "qemu-riscv64",
        "x86_64": "qemu-x86_64",
        "ppc64": "qemu-ppc64",
    }.get(machine, f"qemu-{machine}")
    for name, interp, flags in _binfmt_entries(binfmt_dir):
        if name == qemu_name or name.startswith(qemu_name):
            if "F" not in flags:
                return ArchCheck(
                    machine,
                    False,
                    True,
                    f"{machine} image on a {here} host: binfmt_misc has {name} but without the F "
                    "flag, so it cannot run inside a container",
                    interp,
                )
            return ArchCheck(
                machine,
                True,
                True,
                f"{machine} image emulated by {interp} on a {here} host: timings are "
                "emulated (qemu user mode is several times slower)",
                interp,
            )
    return ArchCheck(
        machine,
        False,
        False,
        f"{machine} image cannot run on this {here} host: no qemu user emulation is registered in "
        "binfmt_misc (install qemu-user-static and register it with the F flag)",
    )
