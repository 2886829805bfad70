"""Frames for the emulated camera, decoded on the host into one ``frames.npy`` stack.

The sandbox's Python may lack OpenCV or Pillow, so decoding happens here and the sandbox only
memory-maps an ``N x H x W x 3`` uint8 BGR array. Sources: a folder of images (``.npy``,
``.png`` (8-bit, non-interlaced), ``.ppm``/``.pnm``; other formats through OpenCV or Pillow
when installed), an ``.npy`` stack, or a video file (OpenCV, or the ``ffmpeg`` program).
Frames are decoded and written one at a time, so a long video needs disk, not memory.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from scanner.errors import UsageError
from scanner.fsutil import read_full

__all__ = ["decode_png", "load_frames", "write_frames"]

_IMAGE_SUFFIXES = {".npy", ".png", ".ppm", ".pnm", ".jpg", ".jpeg", ".bmp"}
_NPY_MAGIC = b"\x93NUMPY\x01\x00"
_COUNT_DIGITS = 20  # room in the reserved .npy header for any frame count
_PROBE_SECONDS = 60
_EXIT_SECONDS = 60  # for ffmpeg to exit once its output has ended
_STDERR_CAP = 1024 * 1024  # ffmpeg's error log past this: the video is refused, not decoded
_STDERR_SHOWN = 4096

Frame = np.ndarray[Any, np.dtype[np.uint8]]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data: bytes) -> Frame:
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


def _decode_ppm(data: bytes) -> Frame:
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


def _decode_other(path: Path) -> Frame:
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


def _read_image(path: Path) -> Frame:
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
    frame: Frame = arr
    return frame


def _frames_of(source: Path, limit: int) -> Generator[Frame, None, None]:
    """The frames of ``source`` in order, at most ``limit`` of them, decoded one at a time."""
    if not source.exists():
        raise UsageError(f"{source}: no such frames file or folder")
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        if not files:
            raise UsageError(f"{source}: no images (.png, .ppm, .npy, .jpg) in the folder")
        for p in files[:limit]:
            yield _read_image(p)
        return
    if not source.is_file():
        # A FIFO or a device would block the decoder forever instead of failing.
        raise UsageError(f"{source}: not a regular file or folder")
    suffix = source.suffix.lower()
    if suffix == ".npy":
        yield from _stack_frames(source, limit)
    elif suffix in _IMAGE_SUFFIXES:
        yield _read_image(source)
    else:
        yield from _video_frames(source, limit)


def _stack_frames(path: Path, limit: int) -> Iterator[Frame]:
    try:
        # Memory-mapped: a stack larger than memory is copied page by page, never loaded whole.
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise UsageError(f"{path}: not a readable .npy frame stack: {exc}") from exc
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[3] != 3 or arr.dtype != np.uint8:
        raise UsageError(f"{path}: expected N x H x W x 3 uint8, got {arr.shape} {arr.dtype}")
    for i in range(min(limit, arr.shape[0])):
        yield arr[i]


def _video_frames(path: Path, limit: int) -> Iterator[Frame]:
    try:
        cv2 = importlib.import_module("cv2")
    except ImportError:
        cv2 = None
    if cv2 is not None:
        yield from _opencv_frames(cv2, path, limit)
        return
    ffmpeg = shutil.which("ffmpeg")
    ffprobe = shutil.which("ffprobe")
    if ffmpeg is None or ffprobe is None:
        raise UsageError(
            f"{path}: decoding a video needs OpenCV (cv2) or ffmpeg, and neither is installed",
            hint="pass an image folder (--frames DIR) or install ffmpeg",
        )
    yield from _ffmpeg_frames(ffmpeg, ffprobe, path, limit)


def _declared(value: float) -> int:
    """A frame count a container declares; 0 when unknown (live streams report -1 or NaN)."""
    return int(value) if math.isfinite(value) and value > 0 else 0


def _check_complete(path: Path, decoded: int, declared: int, limit: int, detail: str = "") -> None:
    """Refuse a video that stops well short of the frame count its container declares.

    Neither OpenCV nor ffmpeg fails on a video cut short (ffmpeg logs and exits 0), so a
    truncated upload would otherwise be profiled with a handful of frames without a word. The
    slack allows for counts that are estimates or include frames an edit list drops.
    """
    expected = min(limit, declared)
    if declared and decoded + max(2, expected // 20) < expected:
        raise UsageError(
            f"{path}: the video ends after {decoded} of its {declared} frames"
            f" (truncated or corrupt){detail}"
        )


def _opencv_frames(cv2: Any, path: Path, limit: int) -> Iterator[Frame]:
    # OpenCV's ffmpeg backend prints libav's own errors ("moov atom not found") on the
    # terminal; the UsageError below says it better. A user's own setting wins.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise UsageError(
                f"{path}: OpenCV cannot open it as a video"
                " (not a video, truncated, or a codec this OpenCV build lacks)"
            )
        if hasattr(cv2, "CAP_PROP_ORIENTATION_AUTO"):
            # ffmpeg's path ignores rotation metadata too: both decoders give the same frames.
            cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
        decoded = 0
        while decoded < limit:
            ok, img = cap.read()
            if not ok or img is None:
                break
            yield np.asarray(img, dtype=np.uint8)
            decoded += 1
        _check_complete(path, decoded, _declared(float(cap.get(cv2.CAP_PROP_FRAME_COUNT))), limit)
    finally:
        cap.release()


def _one_line(text: str, limit: int = 300) -> str:
    """ffmpeg's log as one line, without the decoder addresses that differ per run."""
    text = re.sub(r" @ 0x[0-9a-f]+", "", text)
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())[:limit]


def _ffmpeg_message(err: IO[bytes]) -> str:
    """The start of what ffmpeg wrote to stderr (its first error names the cause)."""
    err.seek(0)
    return _one_line(err.read(_STDERR_SHOWN).decode(errors="replace"))


def _probe(ffprobe: str, path: Path) -> tuple[int, int, int]:
    """Width, height and declared frame count (0: unknown) of the first video stream."""
    try:
        probe = subprocess.run(
            [
                ffprobe,
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height,nb_frames",
                "-of",
                "json",
                str(path),
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_PROBE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise UsageError(f"{path}: ffprobe did not answer in {_PROBE_SECONDS} s") from exc
    reason = _one_line(probe.stderr, 200)
    if probe.returncode != 0:
        raise UsageError(f"{path}: not a readable video: {reason or 'ffprobe failed'}")
    try:
        streams = json.loads(probe.stdout or "{}").get("streams") or []
        stream = streams[0] if streams else {}
        width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
        declared = str(stream.get("nb_frames") or "")
    except (ValueError, AttributeError, TypeError) as exc:
        raise UsageError(f"{path}: ffprobe's answer is not understood: {exc}") from exc
    if width <= 0 or height <= 0:
        # ffprobe exits 0 on an mp4 without its index or a file with audio only.
        raise UsageError(
            f"{path}: no video stream found (not a video, or truncated)"
            + (f": {reason}" if reason else "")
        )
    return width, height, int(declared) if declared.isdigit() else 0


def _ffmpeg_frames(ffmpeg: str, ffprobe: str, path: Path, limit: int) -> Iterator[Frame]:
    width, height, declared = _probe(ffprobe, path)
    size = width * height * 3
    cmd = [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-v",
        "error",
        # ffprobe reports the stored size; rotating would swap it and scramble every frame.
        "-noautorotate",
        "-i",
        str(path),
        "-frames:v",
        str(limit),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "-",
    ]
    # stderr goes to a file, not a pipe: a pipe nobody drains would stall ffmpeg once full.
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        stdout = proc.stdout
        assert stdout is not None  # stdout=PIPE
        try:
            decoded = got = 0
            while decoded < limit:
                buf = bytearray(size)
                got = read_full(stdout, memoryview(buf))
                if os.fstat(err.fileno()).st_size > _STDERR_CAP:
                    raise UsageError(
                        f"{path}: ffmpeg reported over {_STDERR_CAP // 1024} KiB of errors:"
                        f" {_ffmpeg_message(err)}"
                    )
                if got < size:
                    break
                yield np.frombuffer(buf, np.uint8).reshape(height, width, 3)
                decoded += 1
            else:
                return  # the limit: the finally below stops ffmpeg if it is still flushing
            try:
                code = proc.wait(timeout=_EXIT_SECONDS)
            except subprocess.TimeoutExpired as exc:
                raise UsageError(f"{path}: ffmpeg did not exit after its output ended") from exc
            if code != 0:
                raise UsageError(
                    f"{path}: ffmpeg cannot decode it (exit {code}): {_ffmpeg_message(err)}"
                )
            if got:
                raise UsageError(
                    f"{path}: ffmpeg's output ended inside a frame"
                    f" ({got} of {size} bytes of a {width}x{height} frame)"
                )
            message = _ffmpeg_message(err)
            _check_complete(path, decoded, declared, limit, f": {message}" if message else "")
        finally:
            stdout.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()  # reaped: no zombie, whichever way the generator ends


def _npy_header(count: int, height: int, width: int) -> bytes:
    """An .npy v1.0 header for a ``count x height x width x 3`` uint8 array.

    Its length depends on ``height`` and ``width`` only (there is room for a 20-digit count),
    so the final header can be written over the one reserved before the count was known.
    """
    text = f"{{'descr': '|u1', 'fortran_order': False, 'shape': ({count}, {height}, {width}, 3), }}"
    room = len(text) + _COUNT_DIGITS - len(str(count))
    total = -(-(len(_NPY_MAGIC) + 2 + room + 1) // 64) * 64  # numpy aligns the data to 64
    body = text.ljust(total - len(_NPY_MAGIC) - 2 - 1) + "\n"
    return _NPY_MAGIC + struct.pack("<H", len(body)) + body.encode("latin1")


def write_frames(source: Path, limit: int, dest: Path) -> tuple[int, int, int]:
    """Decode ``source`` into ``dest`` (``.npy``); returns (frames, height, width).

    Frames are appended to ``dest`` as they are decoded, so memory use does not grow with the
    number of frames; the header, reserved first, gets the final count at the end. On any
    error ``dest`` is removed and a decoder process is stopped and reaped.
    """
    limit = max(1, limit)
    fp = dest.open("wb")  # before the try: a file we failed to open is not ours to remove
    frames = _frames_of(source, limit)
    count, shape = 0, (0, 0, 3)
    try:
        with fp:
            for frame in frames:
                if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                    raise UsageError(
                        f"{source}: frame {count} is {frame.shape} {frame.dtype},"
                        " not H x W x 3 uint8"
                    )
                if count == 0:
                    shape = frame.shape
                    fp.write(_npy_header(0, shape[0], shape[1]))
                elif frame.shape != shape:
                    raise UsageError(
                        f"{source}: frames differ in size (frame {count} is {frame.shape[1]}x"
                        f"{frame.shape[0]}, frame 0 is {shape[1]}x{shape[0]})"
                    )
                fp.write(np.ascontiguousarray(frame).data)
                count += 1
                if count >= limit:
                    break
            if count == 0:
                raise UsageError(f"{source}: no frames could be read")
            fp.seek(0)
            fp.write(_npy_header(count, shape[0], shape[1]))
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    finally:
        frames.close()  # stops a decoder process we no longer read from
    return count, int(shape[0]), int(shape[1])


def load_frames(source: Path, limit: int) -> Frame:
    """Read up to ``limit`` frames from an image folder, a ``.npy`` stack or a video file.

    The whole stack is returned in memory; the sandbox uses :func:`write_frames`, which is not.
    """
    with tempfile.TemporaryDirectory(prefix="panorama-gate-frames-") as tmp:
        dest = Path(tmp) / "frames.npy"
        write_frames(source, limit, dest)
        stack: Frame = np.load(dest, allow_pickle=False)
    return stack
