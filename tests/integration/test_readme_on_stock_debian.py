"""The README's two set-up commands, as written, on a stock Debian 12 with its own Python.

The image is Debian's minimal base plus ``python3``, ``python3-venv`` (the README names it) and
``git`` (the reader cloned the repository); its Python refuses system-wide installs (PEP 668),
which is why the commands make a venv. The commands are read from README.md and run with
``sh -c`` in a copy of this checkout, with ``--network none``: pip finds its packages in a
local wheel directory (``PIP_NO_INDEX``/``PIP_FIND_LINKS`` in the environment, the command text
untouched; see ``tests/helpers/debian_image.py``).

Command 1 must end as the README says: the example is rejected (exit 1) with its findings.
Command 2 installs the whole ``.[dev]`` extra for real, then runs pytest as written; the suite
itself is what ``.ci/run`` runs on the host, so here ``PYTEST_ADDOPTS`` narrows the run to a
few hundred unit tests of the policy, report and analyzer layers that need no Docker, sandbox
or network (the container has none of them): that proves the documented install makes a
working test environment without running the suite twice in CI (CI's budget).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.debian_image import STOCK_PACKAGES, debian_rootfs, docker_image, wheelhouse
from tests.helpers.requirements import missing_requirement

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
# the shared stock Debian 12 image: python3, python3-venv and git are what the README needs
PACKAGES = STOCK_PACKAGES
UNIT_ONLY = (
    "-m 'not docker and not slow and not sandbox and not online' "
    + " ".join(
        f"--ignore=tests/{d}"
        for d in (
            "integration", "reliability", "fuzz", "unit/sandbox", "unit/signing",
            "unit/sources", "unit/walk", "unit/cli", "unit/vulndb",
        )
    )
)  # fmt: skip


def readme_commands() -> list[str]:
    """The commands of the README's first ``sh`` block (comments and blank lines dropped)."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block is not None, "README.md has no sh block"
    lines = [ln.strip() for ln in block.group(1).splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def _checkout_copy(dest: Path) -> Path:
    """What a fresh clone holds: tracked and untracked-but-not-ignored files, as a git repo."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        rel = raw.decode()
        src = REPO / rel
        if not src.is_file():
            continue  # deleted in the work tree but still in the index
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=dest, check=True, timeout=60)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True, timeout=60)
    subprocess.run([*git, "commit", "-qm", "clone"], cwd=dest, check=True, timeout=60)
    return dest


@pytest.fixture(scope="module")
def debian(docker_engine: None) -> Iterator[str]:
    """A local image of stock Debian 12 with python3, python3-venv and git."""
    rootfs = debian_rootfs(PACKAGES)
    if isinstance(rootfs, str):
        missing_requirement("a Debian 12 root filesystem", rootfs)
    with docker_image(rootfs) as tag:
        yield tag


@pytest.fixture(scope="module")
def wheels() -> Path:
    """The local wheel directory the container's pip installs from."""
    folder = wheelhouse()
    if isinstance(folder, str):
        missing_requirement("a wheel directory for offline installs", folder)
    return folder


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this checkout that both commands run in, one after the other."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    return _checkout_copy(tmp_path_factory.mktemp("clone"))


def _run(image: str, clone: Path, wheels: Path, command: str, **env: str) -> tuple[int, str]:
    """``sh -c COMMAND`` in the image, as the invoking user, offline; (exit code, output)."""
    args = ["docker", "run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}"]
    args += ["-v", f"{clone}:/src", "-v", f"{wheels}:/wheels:ro", "-w", "/src"]
    for key, value in {
        "HOME": "/tmp",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": "/wheels",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        **env,
    }.items():
        args += ["-e", f"{key}={value}"]
    proc = subprocess.run(
        [*args, image, "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_readme_commands_work_as_written(debian, clone, wheels):
    first, second = readme_commands()
    assert first.startswith("python3 -m venv .venv")
    assert "panorama-gate scan" in first

    code, out = _run(debian, clone, wheels, first)
    assert "externally-managed-environment" not in out
    assert "Traceback" not in out, out[-3000:]
    assert code == 1, out[-3000:]  # the README: rejected, for its planted problems
    assert "REJECTED" in out, out[-3000:]
    for finding in ("AWS", "shell=True", "GPL-3.0", "urllib3", "pickle.code-execution"):
        assert finding in out, f"{finding!r} missing from the scan output:\n{out[-3000:]}"

    code, out = _run(debian, clone, wheels, second, PYTEST_ADDOPTS=UNIT_ONLY)
    failed = [ln for ln in out.splitlines() if ln.startswith(("FAILED", "ERROR"))]
    tail = "\n".join(failed) + "\n" + out[-3000:]
    assert code == 0, tail
    summary = re.search(r"(\d+) passed", tail)
    assert summary is not None, tail
    assert int(summary.group(1)) > 300, tail
    assert not failed, tail
