"""Frames for the emulated camera: image folders, .npy stacks, PNG/PPM decoding, the streamed
``frames.npy`` and the ffmpeg protocol (with stand-in programs; real videos: test_video.py)."""

from __future__ import annotations

import io
import os
import sys
import tracemalloc

import numpy as np
import pytest

from scanner.errors import UsageError
from scanner.sandbox._frames import _npy_header, decode_png, load_frames, write_frames
from tests.helpers.video import png


def image(h: int = 6, w: int = 5, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "filters",
    [[0], [1], [2], [3], [4], [0, 1, 2, 3, 4]],
    ids=["none", "sub", "up", "average", "paeth", "mixed"],
)
def test_png_decodes_to_bgr(filters):
    rgb = image()
    assert np.array_equal(decode_png(png(rgb, filters)), rgb[:, :, ::-1])


def test_image_folder_in_name_order(tmp_path):
    a, b = image(seed=1), image(seed=2)
    (tmp_path / "b.png").write_bytes(png(b, [0]))
    (tmp_path / "a.png").write_bytes(png(a, [0]))
    np.save(tmp_path / "c.npy", a[:, :, ::-1].copy())
    (tmp_path / "notes.txt").write_text("ignored")
    stack = load_frames(tmp_path, 10)
    assert stack.shape == (3, 6, 5, 3)
    assert np.array_equal(stack[0], a[:, :, ::-1])
    assert np.array_equal(stack[1], b[:, :, ::-1])


def test_ppm_and_limit(tmp_path):
    rgb = image(4, 3)
    (tmp_path / "f.ppm").write_bytes(b"P6\n# c\n3 4\n255\n" + rgb.tobytes())
    stack = load_frames(tmp_path / "f.ppm", 1)
    assert np.array_equal(stack[0], rgb[:, :, ::-1])


def test_npy_stack_written_for_the_sandbox(tmp_path):
    src = np.stack([image(seed=i) for i in range(4)])
    np.save(tmp_path / "clip.npy", src)
    assert write_frames(tmp_path / "clip.npy", 2, tmp_path / "frames.npy") == (2, 6, 5)
    assert np.array_equal(np.load(tmp_path / "frames.npy"), src[:2])


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: d, "no images"),
        (lambda d: (d / "x.png").write_bytes(b"not a png") and d, "not a readable frame"),
        (lambda d: np.save(d / "x.npy", np.zeros((4, 4), np.uint8)) or d, "H x W x 3"),
        (lambda d: d / "missing", "no such"),
    ],
    ids=["empty-folder", "bad-png", "wrong-shape", "missing"],
)
def test_bad_frame_sources_are_usage_errors(tmp_path, setup, message):
    d = tmp_path / "frames"
    d.mkdir()
    with pytest.raises(UsageError, match=message):
        load_frames(setup(d), 5)


def test_frames_of_different_sizes_are_refused(tmp_path):
    (tmp_path / "a.png").write_bytes(png(image(6, 5), [0]))
    (tmp_path / "b.png").write_bytes(png(image(7, 5), [0]))
    with pytest.raises(UsageError, match="differ in size"):
        load_frames(tmp_path, 5)


def test_video_without_a_decoder_says_what_to_install(tmp_path, monkeypatch):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(UsageError, match="OpenCV|ffmpeg"):
        load_frames(video, 5)


def fake_ffmpeg(tmp_path, monkeypatch, raw: bytes, probe: str) -> None:
    """Stand-in ffprobe/ffmpeg programs on PATH (and cv2 hidden): ffprobe prints ``probe``,
    ffmpeg writes ``raw`` to stdout whatever its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "probe.json").write_text(probe)
    (bin_dir / "ffprobe").write_text(f"#!/bin/sh\ncat {tmp_path / 'probe.json'}\n")
    (tmp_path / "raw").write_bytes(raw)
    (bin_dir / "ffmpeg").write_text(f"#!/bin/sh\ncat {tmp_path / 'raw'}\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setitem(sys.modules, "cv2", None)


def test_video_through_ffmpeg(tmp_path, monkeypatch):
    """The ffmpeg path, with stand-in programs that speak ffprobe's and ffmpeg's protocol."""
    frames = bytes(range(72))  # three 4x2 BGR frames
    fake_ffmpeg(tmp_path, monkeypatch, frames, '{"streams": [{"width": 4, "height": 2}]}')
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    stack = load_frames(video, 10)
    assert stack.shape == (3, 2, 4, 3)
    assert stack.reshape(-1).tolist() == list(frames)


@pytest.mark.parametrize(
    ("raw", "probe", "message"),
    [
        (bytes(60), '{"streams": [{"width": 4, "height": 2}]}', "ended inside a frame"),
        (bytes(24), '{"streams": []}', "no video stream"),
        (bytes(24), "not json", "not understood"),
        (
            bytes(48),
            '{"streams": [{"width": 4, "height": 2, "nb_frames": "40"}]}',
            "ends after 2 of its 40 frames",
        ),
    ],
    ids=["partial-frame", "no-video-stream", "garbled-probe", "short-of-declared"],
)
def test_ffmpeg_output_that_does_not_add_up_is_refused(tmp_path, monkeypatch, raw, probe, message):
    fake_ffmpeg(tmp_path, monkeypatch, raw, probe)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00")
    dest = tmp_path / "frames.npy"
    with pytest.raises(UsageError, match=message):
        write_frames(video, 10, dest)
    assert not dest.exists()  # no half-written stack left for the sandbox


def test_npy_header_has_one_length_for_every_count():
    """The header reserved before the count is known is overwritten in place: same length."""
    headers = [_npy_header(n, 480, 640) for n in (0, 7, 10**19)]
    assert len({len(h) for h in headers}) == 1
    assert len(headers[0]) % 64 == 0
    for n, h in zip((0, 7, 10**19), headers, strict=True):
        fp = io.BytesIO(h)
        assert np.lib.format.read_magic(fp) == (1, 0)
        assert np.lib.format.read_array_header_1_0(fp) == ((n, 480, 640, 3), False, np.uint8)
        assert fp.tell() == len(h)


def test_write_frames_streams_in_flat_memory(tmp_path):
    """A 24 MB stack is copied frame by frame: Python never holds more than a few frames."""
    n, h, w = 100, 200, 400  # 240 kB a frame
    src = np.lib.format.open_memmap(tmp_path / "big.npy", "w+", np.uint8, (n, h, w, 3))
    for i in range(n):
        src[i] = i
    src.flush()
    del src
    tracemalloc.start()
    try:
        assert write_frames(tmp_path / "big.npy", n, tmp_path / "frames.npy") == (n, h, w)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * h * w * 3, peak
    out = np.load(tmp_path / "frames.npy", mmap_mode="r")
    assert out.shape == (n, h, w, 3)
    assert [int(out[i, 0, 0, 0]) for i in (0, 1, n - 1)] == [0, 1, n - 1]
    assert (tmp_path / "frames.npy").stat().st_size == len(_npy_header(n, h, w)) + n * h * w * 3


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: np.save(d / "x.npy", np.zeros((2, 4, 4, 3), np.float32)), "uint8"),
        (lambda d: (d / "x.npy").write_bytes(b"not numpy"), "not a readable .npy"),
    ],
    ids=["float-stack", "not-npy"],
)
def test_bad_npy_stacks_are_usage_errors(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(UsageError, match=message):
        write_frames(tmp_path / "x.npy", 5, tmp_path / "frames.npy")
    assert not (tmp_path / "frames.npy").exists()


def test_a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        load_frames(fifo, 5)


def test_stage_decodes_only_the_frames_a_run_reads(tmp_path):
    from scanner.sandbox import FrameSpec, SandboxRequest
    from scanner.sandbox._stage import stage

    stack = np.zeros((6, 4, 5, 3), np.uint8)
    stack[:, :, :, 0] = np.arange(6)[:, None, None]
    np.save(tmp_path / "in.npy", stack)
    req = SandboxRequest(
        asset=tmp_path / "in.npy",
        asset_format="rootfs",
        max_frames=4,
        frames=FrameSpec(path=tmp_path / "in.npy"),
    )
    warm = stage(req, tmp_path / "warm", max_frames=1)
    run = stage(req, tmp_path / "run")
    assert np.load(tmp_path / "warm" / "frames.npy").shape == (1, 4, 5, 3)
    assert np.load(tmp_path / "run" / "frames.npy")[:, 0, 0, 0].tolist() == [0, 1, 2, 3]
    assert warm.frames_note.startswith("1 frame(s) 5x4")
    assert run.frames_note.startswith("4 frame(s) 5x4")
