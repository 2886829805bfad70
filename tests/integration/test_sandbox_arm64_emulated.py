"""An arm64 (Panorama) image on this host, under qemu user emulation.

Needs an arm64 Debian root filesystem with python3 and numpy. ``mmdebstrap --arch=arm64``
makes one (about 75 s on a quiet machine, more under load); it is cached across sessions in
``$XDG_CACHE_HOME/panorama-gate-tests/arm64-rootfs.tar`` (or ``PANORAMA_GATE_ARM64_ROOTFS``
names one). Without qemu registered with the F flag the profile must be skipped with the
reason instead; both outcomes are asserted, whichever this host supports.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from scanner.sandbox import Budgets, FrameSpec, SandboxRequest
from scanner.sandbox._arch import check_arch, host_machine
from scanner.sandbox._docker import DockerSandbox
from scanner.sandbox.budgets import budget_findings
from tests.helpers.sandbox_apps import WELL_BEHAVED

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.docker]


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "panorama-gate-tests" / "arm64-rootfs.tar"


@pytest.fixture(scope="session")
def arm64_rootfs() -> Path:
    """The cached arm64 Debian rootfs (built with mmdebstrap on first use)."""
    given = os.environ.get("PANORAMA_GATE_ARM64_ROOTFS")
    if given:
        return Path(given)
    cached = _cache()
    if cached.is_file():
        return cached
    if host_machine() == "aarch64":
        pytest.skip("arm64 host: nothing is emulated here")
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed (apt-get install mmdebstrap arch-test)")
    if not check_arch("aarch64").runnable:
        pytest.skip("no qemu-aarch64 with the F flag: mmdebstrap cannot build an arm64 rootfs")
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial")
    proc = subprocess.run(
        [
            "mmdebstrap",
            "--arch=arm64",
            "--variant=minbase",
            "--include=python3,python3-numpy",
            "--format=tar",
            "bookworm",
            str(partial),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"mmdebstrap could not build an arm64 rootfs: {proc.stderr[-300:]}")
    partial.rename(cached)
    return cached


@pytest.fixture
def app_asset(arm64_rootfs: Path, tmp_path: Path) -> Path:
    """The arm64 rootfs plus ``/panorama/app.py``."""
    asset = tmp_path / "arm64-app.tar"
    shutil.copyfile(arm64_rootfs, asset)
    with tarfile.open(asset, "a") as tf:
        data = WELL_BEHAVED.encode()
        info = tarfile.TarInfo("panorama/app.py")
        info.size = len(data)
        info.mode = 0o755
        tf.addfile(info, io.BytesIO(data))
    return asset


def test_arm64_image_runs_emulated_or_is_skipped_with_the_reason(
    app_asset: Path, tmp_path: Path, docker_engine: None
) -> None:
    request = SandboxRequest(
        asset=app_asset,
        asset_format="rootfs",
        name="arm64-app.tar",
        frames=FrameSpec(fps=10, width=160, height=120),
        max_frames=5,
        seconds=60,
        budgets=Budgets(max_cpu_percent=1),
        warmup=False,
    )
    with DockerSandbox() as sandbox:
        p = sandbox.profile(request, tmp_path)
    rules = {f.rule_id for f in budget_findings(p, request.budgets, "a", "panorama/app.py")}
    if check_arch("aarch64").runnable:
        assert p.ran, p.reason
        assert p.emulated is True
        assert p.properties["image_architecture"] == "aarch64"
        assert "emulated" in p.properties["emulation"]
        assert p.exit_code == 0
        assert p.frames_processed == 5
        # CPU is not judged on emulated timings, however far over the (tiny) budget
        assert rules == {"sandbox.emulated-timing"}
    else:
        assert p.ran is False
        assert "aarch64" in p.reason
        assert rules == {"sandbox.skipped"}
