"""The test rootfs builder makes images whose interpreter imports numpy, however Python came.

Each case runs the builder under a differently installed Python (the one running the tests, a
fresh venv with symlinks as pipx makes them, a venv with ``--copies``, and the system's own
Python where there is one), then runs the image's ``/usr/bin/python3`` inside the extracted
root filesystem under bubblewrap, where none of the host's paths exist but the image's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy
import pytest

from scanner.tarextract import extract_member
from tests.helpers.requirements import missing_requirement

pytestmark = [pytest.mark.sandbox]

REPO = Path(__file__).resolve().parents[3]
NUMPY_HOME = Path(numpy.__file__).parent.parent  # the folder holding the numpy package
PROBE = "import numpy, sys; print(sys.prefix, numpy.__version__, numpy.arange(4).sum())"


@pytest.fixture(scope="module")
def bwrap() -> str:
    """The bubblewrap program; skip (or fail in CI) without it."""
    path = shutil.which("bwrap")
    if path is None:
        missing_requirement("bubblewrap", "not on PATH; install the bubblewrap package")
    return path


def _build_with(python: Path, out: Path, extra_path: list[Path]) -> None:
    """Run the builder under ``python`` (numpy made importable through ``extra_path``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [REPO, *extra_path])
    code = (
        "import sys; from pathlib import Path; "
        "from tests.helpers.sandbox_rootfs import build_rootfs; "
        "build_rootfs(Path(sys.argv[1]), {}, compress=False)"
    )
    subprocess.run([str(python), "-c", code, str(out)], env=env, cwd=REPO, check=True, timeout=300)


def _run_in_image(bwrap: str, rootfs_tar: Path, root: Path) -> subprocess.CompletedProcess[str]:
    """``/usr/bin/python3 -c PROBE`` inside the extracted image, with no host path visible."""
    root.mkdir()
    with tarfile.open(rootfs_tar) as tf:
        for member in tf:
            extract_member(tf, member, root)
    return subprocess.run(
        [bwrap, "--bind", str(root), "/", "--proc", "/proc", "--dev", "/dev", "--unshare-all"]
        + ["--clearenv", "--setenv", "PATH", "/usr/bin", "/usr/bin/python3", "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _venv(tmp_path: Path, *flags: str) -> Path:
    """A fresh venv of the running interpreter; numpy is reached through PYTHONPATH."""
    home = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", *flags, str(home)],
        check=True,
        timeout=120,
    )
    return home / "bin" / "python"


def _assert_numpy_runs(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stderr[-2000:]
    prefix, version, total = proc.stdout.split()
    assert version == numpy.__version__
    assert total == "6"
    # the image's interpreter is the base one, never a venv that does not exist in the image
    assert prefix == sys.base_prefix or prefix == "/usr"


def test_image_built_from_the_running_python_imports_numpy(bwrap, tmp_path):
    out = tmp_path / "rootfs.tar"
    _build_with(Path(sys.executable), out, [NUMPY_HOME])
    _assert_numpy_runs(_run_in_image(bwrap, out, tmp_path / "root"))


@pytest.mark.parametrize("flags", [(), ("--copies",)], ids=["venv-symlinks", "venv-copies"])
def test_image_built_from_a_fresh_venv_imports_numpy(bwrap, tmp_path, flags):
    python = _venv(tmp_path, *flags)
    out = tmp_path / "rootfs.tar"
    _build_with(python, out, [NUMPY_HOME])
    _assert_numpy_runs(_run_in_image(bwrap, out, tmp_path / "root"))


def test_image_built_from_the_system_python_imports_numpy(bwrap, tmp_path):
    system = Path("/usr/bin/python3")
    if not system.is_file():
        pytest.skip("no system Python at /usr/bin/python3")
    version = subprocess.run(
        [str(system), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    if version != str(sys.version_info[:2]):
        pytest.skip(f"the system Python is {version}; numpy here is built for {sys.version_info}")
    out = tmp_path / "rootfs.tar"
    _build_with(system, out, [NUMPY_HOME])
    _assert_numpy_runs(_run_in_image(bwrap, out, tmp_path / "root"))
