"""Test frames and videos for the emulated camera: a minimal PNG encoder and real ffmpeg videos.

Each test video is a few solid-colour frames whose colour changes half way (blue, then red),
so frame order, frame size (W != H) and channel order (BGR, not RGB) are all checked.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np

W, H, FPS = 64, 48, 10
HALF = 5  # frames of each colour
BLUE_BGR = (255, 0, 0)
RED_BGR = (0, 0, 255)
TOLERANCE = 40  # lossy codecs and YUV 4:2:0 round trips move solid colours a little


def ffmpeg_video(ffmpeg: str, path: Path, *, size: str = f"{W}x{H}", half: int = HALF) -> Path:
    """``half`` blue frames then ``half`` red ones, H.264 in MP4 (index at the end)."""
    seconds = half / FPS
    subprocess.run(
        [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"color=c=blue:s={size}:r={FPS}:d={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"color=c=red:s={size}:r={FPS}:d={seconds}",
            "-filter_complex",
            "[0:v][1:v]concat=n=2:v=1:a=0",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    return path


def png(rgb: np.ndarray, filters: list[int]) -> bytes:
    """A minimal PNG encoder (8-bit RGB) using the given filter type per row."""
    h, w, _ = rgb.shape
    raw = bytearray()
    prev = np.zeros(w * 3, dtype=np.int32)
    for y in range(h):
        row = rgb[y].reshape(-1).astype(np.int32)
        ftype = filters[y % len(filters)]
        if ftype == 0:
            enc = row
        elif ftype == 1:
            left = np.concatenate([np.zeros(3, np.int32), row[:-3]])
            enc = row - left
        elif ftype == 2:
            enc = row - prev
        elif ftype == 3:
            left = np.concatenate([np.zeros(3, np.int32), row[:-3]])
            enc = row - (left + prev) // 2
        else:
            left = np.concatenate([np.zeros(3, np.int32), row[:-3]])
            upleft = np.concatenate([np.zeros(3, np.int32), prev[:-3]])
            pred = np.empty_like(row)
            for i in range(len(row)):
                a, b, c = int(left[i]), int(prev[i]), int(upleft[i])
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred[i] = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            enc = row - pred
        raw.append(ftype)
        raw += (enc & 0xFF).astype(np.uint8).tobytes()
        prev = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(bytes(raw)))
        + chunk(b"IEND", b"")
    )
