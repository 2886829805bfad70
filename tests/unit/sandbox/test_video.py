"""Real videos for the emulated camera, decoded by real OpenCV and real ffmpeg.

Each test video is a few solid-colour frames whose colour changes half way (blue, then red),
so frame order, frame size (W != H) and channel order (BGR, not RGB) are all checked.
``PANORAMA_GATE_REQUIRE_DOCKER=1`` (CI) turns a missing ffmpeg or OpenCV into a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from scanner.errors import UsageError
from scanner.sandbox import _frames
from scanner.sandbox._frames import load_frames, write_frames
from tests.helpers.video import BLUE_BGR, FPS, HALF, RED_BGR, TOLERANCE, H, W, ffmpeg_video

pytestmark = pytest.mark.timeout(120)  # a decoder that hangs fails the test instead of CI


def opencv_video(cv2, path: Path) -> Path:
    """The same clip written by OpenCV (MPEG-4 part 2), from BGR frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    assert writer.isOpened(), "OpenCV cannot write mp4v"
    try:
        for colour in [BLUE_BGR] * HALF + [RED_BGR] * HALF:
            writer.write(np.full((H, W, 3), colour, np.uint8))
    finally:
        writer.release()
    return path


def ffmpeg_children() -> list[str]:
    """ffmpeg/ffprobe processes whose parent is this test process, zombies included."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited while we looked
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        state, ppid = text[text.rindex(")") + 2 :].split()[:2]
        if int(ppid) == os.getpid() and comm in ("ffmpeg", "ffprobe"):
            out.append(f"{stat.parent.name} {comm} {state}")
    return out


@pytest.fixture(params=["opencv", "ffmpeg"])
def decoder(request, monkeypatch, tmp_path) -> str:
    """Which decoder ``load_frames`` must use; the other is made unreachable.

    Tests make their videos with absolute program paths: PATH may be empty by then.
    """
    if request.param == "opencv":
        request.getfixturevalue("opencv")
        empty = tmp_path / "no-programs"
        empty.mkdir()
        # Without ffmpeg on PATH a silent fall-through to it would fail loudly.
        monkeypatch.setenv("PATH", str(empty))
    else:
        request.getfixturevalue("ffmpeg_programs")
        monkeypatch.setitem(sys.modules, "cv2", None)
    return request.param


@pytest.fixture(params=["made-by-ffmpeg", "made-by-opencv"])
def clip(request, tmp_path) -> Path:
    """The blue-then-red clip, written by ffmpeg or by OpenCV (before ``decoder`` hides it)."""
    if request.param == "made-by-ffmpeg":
        ffmpeg, _ = request.getfixturevalue("ffmpeg_programs")
        return ffmpeg_video(ffmpeg, tmp_path / "clip.mp4")
    return opencv_video(request.getfixturevalue("opencv"), tmp_path / "clip.mp4")


def assert_colour(frame: np.ndarray, bgr: tuple[int, int, int], index: int) -> None:
    diff = np.abs(frame.astype(np.int16) - np.array(bgr, np.int16)).max()
    assert diff <= TOLERANCE, f"frame {index}: {frame[H // 2, W // 2].tolist()} is not BGR {bgr}"


def test_video_frames_come_out_in_order_size_and_bgr(clip, decoder):
    stack = load_frames(clip, 100)
    assert stack.shape == (2 * HALF, H, W, 3)
    assert stack.dtype == np.uint8
    for i, frame in enumerate(stack):
        assert_colour(frame, BLUE_BGR if i < HALF else RED_BGR, i)
    assert ffmpeg_children() == []


@pytest.mark.parametrize("limit", [3, HALF + 2])
def test_frame_limit_smaller_than_the_video(tmp_path, ffmpeg_programs, decoder, limit):
    video = ffmpeg_video(ffmpeg_programs[0], tmp_path / "clip.mp4")
    dest = tmp_path / "frames.npy"
    assert write_frames(video, limit, dest) == (limit, H, W)
    stack = np.load(dest)
    assert stack.shape == (limit, H, W, 3)
    for i, frame in enumerate(stack):
        assert_colour(frame, BLUE_BGR if i < HALF else RED_BGR, i)
    assert ffmpeg_children() == []


def _truncated(ffmpeg: str, d: Path) -> Path:
    """The first half of an MP4 whose index (moov) is at the end: the index is gone."""
    data = ffmpeg_video(ffmpeg, d / "whole.mp4").read_bytes()
    (d / "clip.mp4").write_bytes(data[: len(data) // 2])
    return d / "clip.mp4"


def _cut_short(ffmpeg: str, d: Path) -> Path:
    """The first half of a 'fast start' MP4: the index survives and declares 60 frames."""
    whole = ffmpeg_video(ffmpeg, d / "whole.mp4", size="160x120", half=30)
    subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-i", str(whole), "-c", "copy"]
        + ["-movflags", "+faststart", str(d / "fast.mp4")],
        check=True,
        capture_output=True,
    )
    data = (d / "fast.mp4").read_bytes()
    (d / "clip.mp4").write_bytes(data[: len(data) // 2])
    return d / "clip.mp4"


def _audio_only(ffmpeg: str, d: Path) -> Path:
    subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=d=1", str(d / "clip.mp4")],
        check=True,
        capture_output=True,
    )
    return d / "clip.mp4"


def _text(ffmpeg: str, d: Path) -> Path:
    (d / "clip.mp4").write_text("a shopping list, not a video\n" * 20)
    return d / "clip.mp4"


def _empty(ffmpeg: str, d: Path) -> Path:
    (d / "clip.mp4").write_bytes(b"")
    return d / "clip.mp4"


CANNOT_OPEN = "OpenCV cannot open it as a video"


@pytest.mark.parametrize(
    ("make", "opencv_says", "ffmpeg_says"),
    [
        (_truncated, CANNOT_OPEN, "no video stream found"),
        (_cut_short, r"ends after \d+ of its 60 frames \(truncated or corrupt\)", None),
        (_audio_only, CANNOT_OPEN, "no video stream found"),
        (_text, CANNOT_OPEN, "not a readable video: .*Invalid data"),
        (_empty, CANNOT_OPEN, "not a readable video: .*Invalid data"),
    ],
    ids=["truncated", "cut-short", "audio-only", "text", "empty"],
)
def test_broken_videos_are_usage_errors(
    tmp_path, ffmpeg_programs, decoder, make, opencv_says, ffmpeg_says
):
    video = make(ffmpeg_programs[0], tmp_path)
    dest = tmp_path / "frames.npy"
    if decoder == "opencv":
        expected = opencv_says
    else:
        # ffmpeg either fails outright or logs the damage and stops early (exit 0).
        expected = ffmpeg_says or (
            r"ffmpeg cannot decode it \(exit \d+\): .*partial file"
            r"|ends after \d+ of its 60 frames \(truncated or corrupt\): .*NAL"
        )
    with pytest.raises(UsageError, match=expected) as info:
        write_frames(video, 100, dest)
    assert str(video) in info.value.message
    assert not dest.exists()
    assert ffmpeg_children() == []


def test_ffmpeg_is_stopped_and_reaped_when_writing_fails(tmp_path, monkeypatch, ffmpeg_programs):
    """Disk full on the first frame: ffmpeg, blocked on a full pipe, is killed and reaped."""
    video = ffmpeg_video(ffmpeg_programs[0], tmp_path / "clip.mp4", size="320x240", half=25)
    monkeypatch.setitem(sys.modules, "cv2", None)
    running: list[list[str]] = []

    def disk_full(count: int, height: int, width: int) -> bytes:
        running.append(ffmpeg_children())
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_frames, "_npy_header", disk_full)
    dest = tmp_path / "frames.npy"
    with pytest.raises(OSError, match="No space left"):
        write_frames(video, 100, dest)
    assert len(running) == 1
    assert [p.split()[1] for p in running[0]] == ["ffmpeg"]  # it was there mid-decode
    assert ffmpeg_children() == []
    assert not dest.exists()


def test_ffmpeg_decoding_streams_in_flat_memory(tmp_path, monkeypatch, ffmpeg_programs):
    """50 frames of 320x240 (11.5 MB decoded) never sit in Python's memory together."""
    video = ffmpeg_video(ffmpeg_programs[0], tmp_path / "clip.mp4", size="320x240", half=25)
    monkeypatch.setitem(sys.modules, "cv2", None)
    frame_bytes = 320 * 240 * 3
    tracemalloc.start()
    try:
        assert write_frames(video, 1000, tmp_path / "frames.npy") == (50, 240, 320)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * frame_bytes, peak
    stack = np.load(tmp_path / "frames.npy", mmap_mode="r")
    assert_colour(np.asarray(stack[0])[:H, :W], BLUE_BGR, 0)
    assert_colour(np.asarray(stack[-1])[:H, :W], RED_BGR, 49)


def test_opencv_open_failure_says_it_once(tmp_path, opencv):
    """libav's own "moov atom not found" would otherwise reach the terminal beside our message.

    Run in a fresh interpreter: OpenCV reads its libav log level once, when its ffmpeg backend
    first starts, so an earlier test in this process that opened a video would decide it.
    """
    video = tmp_path / "junk.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    code = (
        "import sys; from pathlib import Path; from scanner.errors import UsageError\n"
        "from scanner.sandbox._frames import write_frames\n"
        "try:\n    write_frames(Path(sys.argv[1]), 5, Path(sys.argv[2]))\n"
        "except UsageError as exc:\n    print(exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(video), str(tmp_path / "frames.npy")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert "OpenCV cannot open it as a video" in proc.stdout, proc.stdout + proc.stderr
    assert proc.stderr == ""
