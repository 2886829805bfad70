"""Disk full and read-only destinations: a clean failure, a clear message, nothing partial.

The full disk is a real 2 MiB tmpfs (the tests run as root; skipped otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli_runner import QUIET_SCAN, run_cli
from tests.helpers.project_builder import BuiltProject, ProjectSpec, build_project

MiB = 1024 * 1024
PASSWORD = "reliability-test-password"  # noqa: S105 - a throwaway test key's password

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/proc/filesystems").read_text().count("tmpfs"),
    reason="needs root to mount a tmpfs",
)


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "2m", *, readonly: bool = False) -> Iterator[Path]:
    """Mount a small tmpfs at ``path`` for the duration; always unmounted."""
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if readonly else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def _fill(folder: Path) -> None:
    """Fill the filesystem under ``folder`` to the last byte."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, bytes(size))
    finally:
        os.close(fd)


def _clean_failure(res: subprocess.CompletedProcess[str]) -> None:
    assert res.returncode in (2, 3), (res.returncode, res.stderr[-3000:])
    assert "Traceback" not in res.stderr, res.stderr
    assert "panorama-gate:" in res.stderr, res.stderr
    assert "No space left" in res.stderr or "space" in res.stderr.lower(), res.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    # A nested archive in the model forces the walk to spool to the work folder.
    spec = ProjectSpec(
        with_model=False,
        rootfs_files={"opt/data.bin": os.urandom(4 * MiB), "panorama/app_extra.py": b"x = 1\n"},
    )
    return build_project(tmp_path_factory.mktemp("df") / "app", spec)


def _nested_archive_target(tmp: Path) -> Path:
    """A model archive holding a 6 MiB nested tar: the walk spools it to the work folder."""
    import io
    import tarfile

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tf:
        data = os.urandom(6 * MiB)
        info = tarfile.TarInfo("weights.bin")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    outer = tmp / "model.tar"
    with tarfile.open(outer, mode="w") as tf:
        info = tarfile.TarInfo("nested/inner.tar")
        info.size = len(inner.getvalue())
        tf.addfile(info, io.BytesIO(inner.getvalue()))
    return outer


def test_scan_with_full_work_dir(tmp_path: Path) -> None:
    target = _nested_archive_target(tmp_path)
    report = tmp_path / "report.json"
    with tmpfs(tmp_path / "work") as work:
        res = run_cli(
            "scan", str(target), *QUIET_SCAN, "--work-dir", str(work),
            "--format", "json", "-o", str(report),
        )  # fmt: skip
        leftovers = sorted(p.name for p in work.rglob("*"))
    # A full work folder is the tool's failure (incomplete), never a finding blamed on the
    # artifact ("corrupt archive") and never an approval.
    assert res.returncode == 3, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr
    assert leftovers == []
    data = json.loads(report.read_text())
    assert data["verdict"]["decision"] == "incomplete"
    assert any("No space left on device" in f["reason"] for f in data["failures"])
    assert not any(f["rule_id"] == "archive.corrupt" for f in data["findings"])


def test_report_into_full_disk(project: BuiltProject, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "out") as out:
        _fill(out)
        res = run_cli(
            "scan", str(project.root), *QUIET_SCAN, "--format", "json", "-o", str(out / "r.json")
        )
        names = sorted(p.name for p in out.iterdir())
    assert res.returncode == 2, res.stderr
    assert "r.json: cannot write report" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert names == ["filler"]  # no partial report, no temporary beside it


def test_report_into_read_only_folder(project: BuiltProject, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", readonly=True) as ro:
        res = run_cli(
            "scan", str(project.root), *QUIET_SCAN, "--format", "json", "-o", str(ro / "r.json")
        )
        names = list(ro.iterdir())
    assert res.returncode == 2, res.stderr
    assert "r.json: cannot write report" in res.stderr
    assert "Read-only file system" in res.stderr
    assert "Traceback" not in res.stderr
    assert names == []


@pytest.fixture(scope="module")
def release(project: BuiltProject, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rel")
    env = {"PANORAMA_GATE_KEY_PASSWORD": PASSWORD}
    assert run_cli("keygen", "--out", str(d / "k"), env=env).returncode == 0
    (d / "aes.key").write_bytes(os.urandom(32))
    res = run_cli(
        "publish", str(project.root), "--to", f"file://{d / 'dest'}", "--key", str(d / "k.key"),
        "--raw-aes-key-file", str(d / "aes.key"), *QUIET_SCAN, "--app-version", "1.0.0",
        "--state-dir", str(d / "state"), env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return {
        "url": d / "dest" / "shelf_app" / "1.0.0",
        "pub": d / "k.pub",
        "aes": d / "aes.key",
    }


def _pull(release: dict[str, Path], out: Path, tmpdir: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "pull", f"file://{release['url']}", "--key", str(release["pub"]),
        "--raw-aes-key-file", str(release["aes"]), "-o", str(out),
        env={"TMPDIR": str(tmpdir)},
    )  # fmt: skip


def test_pull_into_full_tmpfs(release: dict[str, Path], tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    with tmpfs(tmp_path / "deploy") as deploy:
        res = _pull(release, deploy / "app", tmpdir)
        names = sorted(p.name for p in deploy.rglob("*"))
    _clean_failure(res)
    assert names == []  # no staging folder, no half-written file
    assert list(tmpdir.iterdir()) == []


def test_pull_with_full_temporary_folder(release: dict[str, Path], tmp_path: Path) -> None:
    with tmpfs(tmp_path / "tmp") as tmpdir:
        _fill(tmpdir)
        res = _pull(release, tmp_path / "deploy", tmpdir)
        names = sorted(p.name for p in tmpdir.iterdir())
    assert res.returncode in (0, 2, 3), res.stderr
    assert "Traceback" not in res.stderr
    assert names == ["filler"]
    if res.returncode != 0:
        assert not (tmp_path / "deploy").exists()


def test_pull_into_read_only_folder(release: dict[str, Path], tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    with tmpfs(tmp_path / "ro", readonly=True) as ro:
        res = _pull(release, ro / "app", tmpdir)
        names = list(ro.iterdir())
    assert res.returncode in (2, 3), res.stderr
    assert "Traceback" not in res.stderr
    assert "Read-only file system" in res.stderr, res.stderr
    assert names == []
