"""Frames for the emulated camera, decoded on the host into one ``frames.npy`` stack.

The sandbox's Python may lack OpenCV or Pillow, so decoding happens here and the sandbox only
memory-maps an ``N x H x W x 3`` uint8 BGR array. Sources: a folder of images (``.npy``,
``.png`` (8-bit, non-interlaced), ``.ppm``/``.pnm``; other formats through OpenCV or Pillow
when installed) or a video file (OpenCV, or the ``ffmpeg`` program).
"""

from __future__ import annotations

import importlib
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from scanner.errors import UsageError

__all__ = ["decode_png", "load_frames", "write_frames"]

_IMAGE_SUFFIXES = {".npy", ".png", ".ppm", ".pnm", ".jpg", ".jpeg", ".bmp"}


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Decode an 8-bit, non-interlaced grey/RGB/RGBA PNG into H x W x 3 uint8 BGR."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, bytearray(), None
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, ctype, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace:
        raise ValueError(
            f"unsupported PNG (bit depth {depth}, colour type {ctype}, interlace {interlace})"
        )
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 0xFF
        else:  # Sub, Average and Paeth depend on the bytes just decoded: go byte by byte
            row = [0] * stride
            for x in range(stride):
                left = row[x - channels] if x >= channels else 0
                up = int(prev[x])
                upleft = int(prev[x - channels]) if x >= channels else 0
                if ftype == 1:
                    pred = left
                elif ftype == 3:
                    pred = (left + up) // 2
                elif ftype == 4:
                    pred = _paeth(left, up, upleft)
                else:
                    raise ValueError(f"bad PNG filter type {ftype}")
                row[x] = (int(line[x]) + pred) & 0xFF
            cur = np.array(row, dtype=np.int32)
        out[y] = cur.astype(np.uint8)
        prev = cur
    pixels = out.reshape(height, width, channels)
    rgb = np.repeat(pixels[:, :, :1], 3, axis=2) if channels in (1, 2) else pixels[:, :, :3]
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _decode_ppm(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    tokens: list[bytes] = []
    pos = 0
    while len(tokens) < 4:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        start = pos
        while not data[pos : pos + 1].isspace():
            pos += 1
        tokens.append(data[start:pos])
    magic, w, h, maxval = tokens[0], int(tokens[1]), int(tokens[2]), int(tokens[3])
    if magic != b"P6" or maxval != 255:
        raise ValueError("only binary 8-bit PPM (P6) is supported")
    pixels = np.frombuffer(data, np.uint8, w * h * 3, pos + 1).reshape(h, w, 3)
    return np.ascontiguousarray(pixels[:, :, ::-1])


def _decode_other(path: Path) -> np.ndarray[Any, np.dtype[np.uint8]]:
    try:
        cv2 = importlib.import_module("cv2")
    except ImportError:
        cv2 = None
    if cv2 is not None:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError("OpenCV cannot read it")
        return np.asarray(img, dtype=np.uint8)
    try:
        image_mod = importlib.import_module("PIL.Image")
    except ImportError as exc:
        raise UsageError(
            f"{path}: cannot decode {path.suffix} without OpenCV or Pillow",
            hint="use .png, .ppm or .npy frames, or install opencv-python-headless",
        ) from exc
    with image_mod.open(path) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _read_image(path: Path) -> np.ndarray[Any, np.dtype[np.uint8]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif suffix == ".png":
            arr = decode_png(path.read_bytes())
        elif suffix in (".ppm", ".pnm"):
            arr = _decode_ppm(path.read_bytes())
        else:
            arr = _decode_other(path)
    except (ValueError, OSError, IndexError, zlib.error) as exc:
        raise UsageError(f"{path}: not a readable frame image: {exc}") from exc
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise UsageError(f"{path}: a frame must be H x W x 3 uint8, got {arr.shape} {arr.dtype}")
    frame: np.ndarray[Any, np.dtype[np.uint8]] = arr
    return frame


def _video_frames(path: Path, limit: int) -> list[np.ndarray[Any, np.dtype[np.uint8]]]:
    try:
        cv2 = importlib.import_module("cv2")
    except ImportError:
        cv2 = None
    frames: list[np.ndarray[Any, np.dtype[np.uint8]]] = []
    if cv2 is not None:
        cap = cv2.VideoCapture(str(path))
        try:
            while len(frames) < limit:
                ok, img = cap.read()
                if not ok:
                    break
                frames.append(np.asarray(img, dtype=np.uint8))
        finally:
            cap.release()
        return frames
    ffmpeg = shutil.which("ffmpeg")
    ffprobe = shutil.which("ffprobe")
    if ffmpeg is None or ffprobe is None:
        raise UsageError(
            f"{path}: decoding a video needs OpenCV (cv2) or ffmpeg, and neither is installed",
            hint="pass an image folder (--frames DIR) or install ffmpeg",
        )
    probe = subprocess.run(
        [
            ffprobe,
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        raise UsageError(f"{path}: not a readable video: {probe.stderr.strip()[:200]}")
    w, h = (int(v) for v in probe.stdout.strip().split(",")[:2])
    raw = subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-i",
            str(path),
            "-frames:v",
            str(limit),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-",
        ],
        capture_output=True,
        check=False,
    )
    if raw.returncode != 0:
        raise UsageError(
            f"{path}: video decoding failed: {raw.stderr.decode(errors='replace')[:200]}"
        )
    size = w * h * 3
    frames.extend(
        np.frombuffer(raw.stdout, np.uint8, size, i * size).reshape(h, w, 3)
        for i in range(len(raw.stdout) // size)
    )
    return frames


def load_frames(source: Path, limit: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Read up to ``limit`` frames from an image folder, a ``.npy`` stack or a video file."""
    if not source.exists():
        raise UsageError(f"{source}: no such frames file or folder")
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        if not files:
            raise UsageError(f"{source}: no images (.png, .ppm, .npy, .jpg) in the folder")
        frames = [_read_image(p) for p in files[:limit]]
    elif source.suffix.lower() == ".npy":
        arr = np.load(source, allow_pickle=False)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[3] != 3 or arr.dtype != np.uint8:
            raise UsageError(f"{source}: expected N x H x W x 3 uint8, got {arr.shape} {arr.dtype}")
        frames = list(arr[:limit])
    elif source.suffix.lower() in _IMAGE_SUFFIXES:
        frames = [_read_image(source)]
    else:
        frames = _video_frames(source, limit)
    if not frames:
        raise UsageError(f"{source}: no frames could be read")
    shape = frames[0].shape
    odd = [i for i, f in enumerate(frames) if f.shape != shape]
    if odd:
        raise UsageError(f"{source}: frames differ in size (frame {odd[0]} is not {shape})")
    return np.stack(frames)


def write_frames(source: Path, limit: int, dest: Path) -> tuple[int, int, int]:
    """Decode ``source`` into ``dest`` (``.npy``); returns (frames, height, width)."""
    stack = load_frames(source, max(1, limit))
    np.save(dest, stack, allow_pickle=False)
    return int(stack.shape[0]), int(stack.shape[1]), int(stack.shape[2])
