"""Concurrency: two publish runs of one release at once; two scans sharing a cache folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli_runner import run_cli, start_cli
from tests.helpers.project_builder import BuiltProject, ProjectSpec, build_project

MiB = 1024 * 1024
PASSWORD = "reliability-test-password"  # noqa: S105 - a throwaway test key's password
ENV = {"PANORAMA_GATE_KEY_PASSWORD": PASSWORD}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    spec = ProjectSpec(
        with_model=True,
        rootfs_files={
            "opt/data.bin": os.urandom(24 * MiB),
            "panorama/helper.py": b"import subprocess\nsubprocess.call('ls', shell=True)\n",
        },
    )
    return build_project(tmp_path_factory.mktemp("cc") / "app", spec)


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what legitimately differs between runs (time, timings, cache statistics)."""
    out = dict(report)
    out.pop("created_at", None)
    out.pop("timings", None)
    for key in ("config", "config_audit"):
        if isinstance(out.get(key), dict):
            out[key] = {k: v for k, v in out[key].items() if k != "cache"}
    return out


def test_two_scans_sharing_a_cache(project: BuiltProject, tmp_path: Path) -> None:
    def args(cache: Path, out: Path) -> list[str]:
        return [
            "scan", str(project.root), "--no-profile", "--offline", "--analyzers=-vulns",
            "--cache-dir", str(cache), "--format", "json", "-o", str(out),
        ]  # fmt: skip

    serial = run_cli(*args(tmp_path / "serial-cache", tmp_path / "serial.json"))
    assert serial.returncode in (0, 1), serial.stderr
    expected = _comparable(json.loads((tmp_path / "serial.json").read_text()))

    shared = tmp_path / "shared-cache"
    for round_ in range(2):  # cold cache, then warm cache, both raced
        procs = [start_cli(*args(shared, tmp_path / f"r{round_}-{i}.json")) for i in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == serial.returncode, err
            assert "Traceback" not in err
        for i in range(2):
            got = json.loads((tmp_path / f"r{round_}-{i}.json").read_text())
            assert _comparable(got) == expected
    # every cache entry is complete JSON, no temporary file is left
    entries = [p for p in shared.rglob("*") if p.is_file()]
    assert entries
    for p in entries:
        assert p.suffix == ".json", p
        json.loads(p.read_text())
    # a third run is served from the cache and still equal
    res = run_cli(*args(shared, tmp_path / "warm.json"))
    warm = json.loads((tmp_path / "warm.json").read_text())
    assert res.returncode == serial.returncode
    assert warm["config"]["cache"]["hits"] > 0
    assert _comparable(warm) == expected


def test_two_publishes_of_one_release_at_once(project: BuiltProject, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    assert run_cli("keygen", "--out", str(keys / "k"), env=ENV).returncode == 0
    (keys / "aes.key").write_bytes(os.urandom(32))
    dest = tmp_path / "releases"

    def publish(i: int) -> list[str]:
        return [
            "publish", str(project.root), "--to", f"file://{dest}", "--key", str(keys / "k.key"),
            "--raw-aes-key-file", str(keys / "aes.key"), "--no-profile", "--offline",
            "--no-cache", "--analyzers=-vulns", "--app-version", "1.0.0",
            "--state-dir", str(tmp_path / f"state{i}"),
        ]  # fmt: skip

    procs = [start_cli(*publish(i), env=ENV) for i in range(2)]
    results = []
    for p in procs:
        _, err = p.communicate(timeout=300)
        results.append((p.returncode, err))
        assert "Traceback" not in err, err
    # Both succeed: one writes the index, the other finds the same release complete; neither
    # replaced an object of the other's (content-addressed or written only if absent).
    assert [c for c, _ in results] == [0, 0], results
    release = dest / "shelf_app" / "1.0.0"
    assert (release / "index.json").exists()
    assert not [p for p in dest.rglob("*") if p.name.endswith(".tmp")]
    pull = run_cli(
        "pull", f"file://{release}", "--key", str(keys / "k.pub"),
        "--raw-aes-key-file", str(keys / "aes.key"), "-o", str(tmp_path / "deploy"),
    )  # fmt: skip
    assert "Traceback" not in pull.stderr
    assert pull.returncode == 0, pull.stderr
    assert project.container_asset is not None
    pulled = tmp_path / "deploy" / project.rel(project.container_asset)
    assert pulled.read_bytes() == project.container_asset.read_bytes()
