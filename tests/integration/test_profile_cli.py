"""End to end: ``profile`` and ``scan`` on a Panorama project, through the CLI.

The project comes from the shared project builder; its container asset is replaced by a rootfs
with a real Python (so the entry point can run) and re-addressed by its digest, as
``panorama-cli build-container`` would leave it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scanner.sandbox._cgroups import cgroup_mounts
from scanner.sandbox._docker import LABEL, leftover_resources
from tests.helpers.profile_project import GRAPH_APP, project_with_apps
from tests.helpers.video import HALF as VIDEO_HALF
from tests.helpers.video import H as VIDEO_H
from tests.helpers.video import W as VIDEO_W
from tests.helpers.video import ffmpeg_video

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project_with_apps(tmp_path_factory.mktemp("proj") / "app", {"app": GRAPH_APP})


# Expects the clip of tests/unit/sandbox/test_video.py: HALF blue frames, then red ones. A frame
# of the wrong size or colour ends the run with an exception whose type the profile reports.
VIDEO_APP = f"""\
import panoramasdk


class FrameShapeError(Exception):
    pass


class FrameColourError(Exception):
    pass


class App(panoramasdk.node):
    def __init__(self):
        super().__init__()
        self.frames = 0

    def step(self):
        media = self.inputs.video_in.get()
        img = media[0].image
        if img.shape != ({VIDEO_H}, {VIDEO_W}, 3) or str(img.dtype) != "uint8":
            raise FrameShapeError("%r %s" % (img.shape, img.dtype))
        b, g, r = (int(v) for v in img[{VIDEO_H} // 2, {VIDEO_W} // 2])
        want_blue = self.frames < {VIDEO_HALF}
        is_blue = b > 200 and g < 60 and r < 60
        is_red = r > 200 and g < 60 and b < 60
        if (is_blue, is_red) != (want_blue, not want_blue):
            raise FrameColourError("frame %d is BGR %r" % (self.frames, (b, g, r)))
        self.frames += 1
        self.outputs.video_out.put(media)


app = App()
while True:
    app.step()
"""


@pytest.fixture(scope="module")
def video_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project_with_apps(tmp_path_factory.mktemp("proj") / "app", {"app": VIDEO_APP})


def cli(
    *args: str, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "scanner", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
        check=False,
    )


@pytest.mark.parametrize("sandbox", [pytest.param("docker", marks=pytest.mark.docker), "bwrap"])
def test_profile_runs_the_entry_point_with_the_graph_interface(
    project: Path, tmp_path: Path, sandbox: str, request: pytest.FixtureRequest
) -> None:
    if sandbox == "docker":
        request.getfixturevalue("docker_engine")
    out = tmp_path / "profile.json"
    r = cli(
        "profile",
        str(project),
        "--sandbox",
        sandbox,
        "--max-frames",
        "6",
        "--fps",
        "30",
        "--no-warmup",
        "--format",
        "json",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    res = report["resources"]
    assert res["ran"] is True
    assert res["sandbox"] == sandbox
    assert res["exit_code"] == 0
    assert res["frames_processed"] == 6
    assert res["network_attempts"] == 0
    assert report["verdict"]["decision"] == "approved"
    assert report["findings"] == []


@pytest.mark.docker
@pytest.mark.parametrize("decoder", ["opencv", "ffmpeg"])
def test_profile_feeds_a_real_video_to_the_app(
    video_project: Path,
    tmp_path: Path,
    docker_engine: None,
    ffmpeg_programs: tuple[str, str],
    decoder: str,
    request: pytest.FixtureRequest,
) -> None:
    """``--frames clip.mp4``: the app gets the clip's frames, size and colours, in order."""
    clip = ffmpeg_video(ffmpeg_programs[0], tmp_path / "clip.mp4")
    env: dict[str, str] = {}
    if decoder == "opencv":
        request.getfixturevalue("opencv")
    else:
        # A cv2 that fails to import, ahead of the real one: the CLI must fall back to ffmpeg.
        hide = tmp_path / "hide-cv2"
        hide.mkdir()
        (hide / "cv2.py").write_text("raise ImportError('hidden by the test')\n")
        env["PYTHONPATH"] = f"{hide}{os.pathsep}{REPO}"
    limit = VIDEO_HALF + 2  # fewer than the clip's frames, and past the blue-to-red change
    out = tmp_path / "profile.json"
    r = cli(
        "profile",
        str(video_project),
        "--sandbox",
        "docker",
        "--frames",
        str(clip),
        "--max-frames",
        str(limit),
        "--fps",
        "30",
        "--no-warmup",
        "--format",
        "json",
        "-o",
        str(out),
        env=env,
    )
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())["resources"]
    props = res["properties"]
    assert res["ran"] is True
    assert "exception" not in props, props  # FrameShapeError / FrameColourError: wrong frames
    assert res["exit_code"] == 0
    assert res["frames_processed"] == limit
    assert props["frames_put"] == limit
    assert props["frames_source"] == (
        f"{limit} frame(s) {VIDEO_W}x{VIDEO_H} from clip.mp4 at 30 fps"
    )


@pytest.mark.docker
def test_profile_prints_a_summary_and_rejects_over_budget(
    project: Path, tmp_path: Path, docker_engine: None
) -> None:
    policy = tmp_path / "tight.yaml"
    policy.write_text(
        "name: tight\nseverity_threshold: high\nresources: {max_memory_mb: 1, max_processes: 64}\n"
    )
    r = cli("profile", str(project), "--max-frames", "3", "--no-warmup", "--policy", str(policy))
    assert r.returncode == 1, r.stderr
    assert "frames processed  3" in r.stdout
    assert "sandbox.memory-over-budget" in r.stdout
    assert r.stdout.strip().endswith("verdict: rejected")


@pytest.mark.docker
def test_scan_puts_the_profile_in_the_report(
    project: Path, tmp_path: Path, docker_engine: None
) -> None:
    out = tmp_path / "scan.json"
    r = cli("scan", str(project), "--analyzers", "sandbox", "--format", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["resources"]["ran"] is True
    assert report["resources"]["frames_processed"] == 30  # the default frame budget
    assert report["resources"]["sandbox"] == "docker"

    r = cli(
        "scan",
        str(project),
        "--analyzers",
        "sandbox",
        "--no-profile",
        "--format",
        "json",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["resources"]["ran"] is False


@pytest.mark.docker
def test_ctrl_c_removes_containers_images_and_cgroups(project: Path, docker_engine: None) -> None:
    import docker

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # One frame every 20 s: the application waits in get() while we interrupt.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scanner",
            "profile",
            str(project),
            "--seconds",
            "60",
            "--fps",
            "0.05",
            "--no-warmup",
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = docker.from_env()
    label = f"{LABEL}={proc.pid}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until its sandbox container runs
        running = client.containers.list(filters={"label": label, "status": "running"})
        if running or proc.poll() is not None:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    assert running, "the sandbox container never started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert leftover_resources(client, proc.pid) == {"containers": [], "images": []}
    left = [
        p
        for m in cgroup_mounts().values()
        if (m / "panorama-gate").is_dir()
        for p in (m / "panorama-gate").iterdir()
        if p.name.startswith(f"p{proc.pid}x")
    ]
    assert left == []
