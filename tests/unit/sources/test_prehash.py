"""Digests taken ahead by a child interpreter are used only for the very file they were taken of."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from scanner.sources import prehash


def _digest(path: Path) -> tuple[str, int]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def _no_hashing_here(path: object, *args: object, **kwargs: object) -> tuple[str, int]:
    raise AssertionError("hashed in this process: the digest taken ahead was not used")


def _wait(path: Path) -> None:
    """Until the job for ``path`` is done (what ``sha256_file`` does before it looks)."""
    state = prehash._state(path)
    assert state is not None
    job = prehash._jobs[state[:2]]
    assert job.done.wait(30)


@pytest.fixture
def asset(tmp_path: Path) -> Path:
    path = tmp_path / "assets" / "big.tar.gz"
    path.parent.mkdir()
    path.write_bytes(os.urandom(3 * 1024 * 1024))
    return path


def test_the_childs_digest_is_used(asset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    want = _digest(asset)
    with prehash.prehashing([asset]):
        _wait(asset)
        monkeypatch.setattr(prehash, "_hash_stream", _no_hashing_here)
        assert prehash.sha256_file(asset) == want
    assert not prehash._jobs  # dropped with the block


def test_a_file_changed_since_is_hashed_again(asset: Path) -> None:
    with prehash.prehashing([asset]):
        _wait(asset)
        before = os.stat(asset)
        # the same size and modification time, other bytes: only the change time tells
        asset.write_bytes(os.urandom(before.st_size))
        os.utime(asset, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert prehash.sha256_file(asset) == _digest(asset)


def test_without_a_job_the_file_is_hashed_here(asset: Path) -> None:
    assert prehash.sha256_file(asset) == _digest(asset)
    with pytest.raises(OSError):
        prehash.sha256_file(asset.parent / "missing")


def test_a_failed_child_leaves_the_hashing_to_the_caller(
    asset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prehash, "_CHILD", "import sys; sys.exit(3)")
    with prehash.prehashing([asset]):
        _wait(asset)
        assert prehash.sha256_file(asset) == _digest(asset)


def test_an_early_start_is_taken_over_not_repeated(
    asset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    children: list[Path] = []
    real = prehash._hash_in_child

    def counted(path: Path, stop: object) -> tuple[str, int] | None:
        children.append(path)
        return real(path, stop)  # type: ignore[arg-type]

    monkeypatch.setattr(prehash, "_hash_in_child", counted)
    monkeypatch.setattr(prehash, "PREHASH_MIN_BYTES", 1024)
    prehash.start_for_command(["-q", "scan", "--offline", str(asset.parent.parent), "-o", "x"])
    with prehash.prehashing([asset]):
        _wait(asset)
        monkeypatch.setattr(prehash, "_hash_stream", _no_hashing_here)
        assert prehash.sha256_file(asset) == _digest(asset)
    assert children == [asset]
    assert not prehash._jobs


def test_only_scan_command_lines_start_anything(asset: Path, tmp_path: Path) -> None:
    prehash.start_for_command(["verify", str(tmp_path)])
    prehash.start_for_command(["scan", "--vuln-db", str(asset)])  # a file, not the target
    assert not prehash._jobs
    assert prehash.big_files(tmp_path, 1) == [asset]
    assert prehash.big_files(asset, 1) == [asset]
    assert prehash.big_files(tmp_path) == []  # 3 MiB is below the default threshold
    assert prehash.big_files(tmp_path / "nowhere", 1) == []


def test_leaving_the_block_stops_the_child(asset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a child that would take a minute: the block's end must not wait for it
    monkeypatch.setattr(prehash, "_CHILD", "import time; time.sleep(60)")
    with prehash.prehashing([asset]):
        pass
    assert not prehash._jobs
    assert prehash.sha256_file(asset) == _digest(asset)


def test_the_early_fork_server_imports_what_workers_of_the_builtins_need() -> None:
    from scanner.analyzers import BUILTIN_HOSTED_MODULES, load_analyzers
    from scanner.walk.worker_host import worker_modules

    assert worker_modules(load_analyzers().values()) == [
        "scanner.walk.worker_host",
        *BUILTIN_HOSTED_MODULES,
    ]


@pytest.mark.parametrize(
    ("argv", "env", "server"),
    [
        (["scan", "{p}"], "", True),
        (["-q", "scan", "{p}", "--offline"], "", True),
        (["scan", "{p}", "--jobs", "1"], "", False),
        (["scan", "{p}", "--jobs=1"], "", False),
        (["scan", "{p}", "--jobs=2"], "", True),
        (["scan", "{p}"], "1", False),
        (["verify", "{p}"], "", False),
    ],
)
def test_the_cli_starts_ahead_only_what_the_scan_will_use(
    asset: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], env: str, server: bool
) -> None:
    import scanner.cli
    import scanner.forkserver

    started: list[list[str]] = []
    monkeypatch.setattr(scanner.forkserver, "start_forkserver", lambda p: started.append(list(p)))
    monkeypatch.setattr(prehash, "PREHASH_MIN_BYTES", 1024)
    monkeypatch.setattr(prehash, "_CHILD", "print('0' * 64, 0)")  # no hashing needed here
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    if env:
        monkeypatch.setenv("PANORAMA_GATE_JOBS", env)
    else:
        monkeypatch.delenv("PANORAMA_GATE_JOBS", raising=False)
    project = str(asset.parent.parent)
    scanner.cli.start_ahead([a.replace("{p}", project) for a in argv])
    assert bool(started) is server
    if server:
        assert started[0][0] == "scanner.walk.worker_host"
    for job in list(prehash._jobs.values()):  # what a scan would have taken over
        job.done.wait(30)
    prehash._jobs.clear()
