"""An emulated ``panoramasdk`` for profiling Panorama applications in panorama-gate's sandbox.

This is panorama-gate's own implementation of the runtime contract (the AWS Panorama
Application SDK as documented), not AWS code. It runs *inside* the sandbox with the
container's own Python (Panorama images ship 3.7 and 3.8), so it uses only the standard
library plus numpy, and no syntax newer than Python 3.7.

Configuration comes from the JSON file named by ``PANORAMA_GATE_RUN`` (written by the host):
the node's ports (from graph.json), parameter values, model nodes, and the frame source. Frames
are delivered at a fixed rate; after ``max_frames`` frames or ``seconds`` seconds the next
``get()`` ends the application cleanly (``SystemExit(0)``; an application that swallows it is
ended with ``os._exit(0)`` on its next call). Progress goes to the sandbox's init process over
an abstract unix datagram socket, so it survives crashes and kills.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from typing import Any

__all__ = ["media", "node", "port"]
__version__ = "1.2.0+panorama-gate.emulated"

_EMULATED = True  # lets an application (or a test) tell it is not on a device

_lock = threading.Lock()


def _load_run() -> dict[str, Any]:
    path = os.environ.get("PANORAMA_GATE_RUN", "")
    if not path:
        return {}
    with open(path) as fp:
        data = json.load(fp)
    return data if isinstance(data, dict) else {}


_RUN: dict[str, Any] = _load_run()
_SOCK_NAME = os.environ.get("PANORAMA_GATE_STATUS", "")
_sock: socket.socket | None = None


def _report(kind: str, **fields: Any) -> None:
    """Send one progress message to the sandbox's init (pid 1); best effort by design."""
    global _sock
    if not _SOCK_NAME:
        return
    msg = dict(fields)
    msg["kind"] = kind
    msg["pid"] = os.getpid()
    data = json.dumps(msg).encode()
    try:
        if _sock is None:
            _sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        _sock.sendto(data, "\0" + _SOCK_NAME)
    except OSError as exc:
        # The status channel is how frames are counted: losing it must be visible.
        sys.stderr.write(f"panoramasdk (emulated): status channel failed: {exc}\n")


class _EndOfFrames(SystemExit):
    """Raised by ``get()`` when the frame budget is used up: a clean end of the run."""


class _Clock:
    """Frame pacing and the stop rule, shared by every media port."""

    def __init__(self, run: dict[str, Any]) -> None:
        frames = run.get("frames") or {}
        self.fps = float(frames.get("fps") or 0.0)
        self.max_frames = int(run.get("max_frames") or 0)
        self.seconds = float(run.get("seconds") or 0.0)
        self.started = time.monotonic()
        self.delivered = 0
        self.ended = False

    def finished(self) -> bool:
        """Whether the frame or time budget is used up."""
        if self.max_frames and self.delivered >= self.max_frames:
            return True
        return bool(self.seconds) and time.monotonic() - self.started >= self.seconds

    def wait_next(self, timeout: float | None) -> None:
        """Sleep until the next frame is due; ``TimeoutError`` if that is after ``timeout``."""
        if self.fps <= 0:
            return
        due = self.started + self.delivered / self.fps
        delay = due - time.monotonic()
        if delay <= 0:
            return
        if timeout is not None and delay > timeout:
            time.sleep(max(timeout, 0.0))
            raise TimeoutError(f"no frame within {timeout:.3f} s")
        time.sleep(delay)


_clock = _Clock(_RUN)


def _end_run() -> None:
    with _lock:
        if _clock.ended:
            # The application swallowed the first SystemExit: end it for good.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        _clock.ended = True
    _report("end", frames=_clock.delivered, reason="frame budget used")
    raise _EndOfFrames(0)


class _FrameSource:
    """Synthetic frames (a moving gradient) or a host-decoded ``frames.npy`` stack."""

    def __init__(self, run: dict[str, Any]) -> None:
        import numpy as np  # inside: an app that never asks for frames need not have numpy

        self._np = np
        spec = run.get("frames") or {}
        self.streams = max(1, int(spec.get("streams") or 1))
        path = spec.get("path")
        self._stack: Any = None
        if path:
            self._stack = np.load(path, mmap_mode="r")
            if self._stack.ndim != 4 or self._stack.shape[3] != 3:
                raise ValueError(f"frames file must be N x H x W x 3, got {self._stack.shape!r}")
            self._base: Any = None
        else:
            h = int(spec.get("height") or 720)
            w = int(spec.get("width") or 1280)
            yy = np.arange(h, dtype=np.uint16)[:, None]
            xx = np.arange(w, dtype=np.uint16)[None, :]
            base = np.empty((h, w, 3), dtype=np.uint8)
            base[:, :, 0] = (xx * 255 // max(w - 1, 1)).astype(np.uint8)
            base[:, :, 1] = (yy * 255 // max(h - 1, 1)).astype(np.uint8)
            base[:, :, 2] = ((xx + yy) % 256).astype(np.uint8)
            self._base = base

    def frame(self, index: int, stream: int) -> Any:
        """Frame ``index`` of camera ``stream`` as a fresh H x W x 3 uint8 array."""
        np = self._np
        if self._stack is not None:
            return np.array(self._stack[(index + stream) % self._stack.shape[0]])
        # Shift the pattern so consecutive frames differ (motion detectors see motion).
        return np.roll(self._base, shift=(index * 8 + stream * 64) % self._base.shape[1], axis=1)


_source: _FrameSource | None = None


def _frames() -> _FrameSource:
    global _source
    if _source is None:
        _source = _FrameSource(_RUN)
    return _source


class media:  # noqa: N801 - the SDK's own name
    """One camera frame: ``image`` (H x W x 3 uint8, BGR), stream and time metadata, overlays."""

    def __init__(
        self,
        image: Any,
        stream_id: str = "cam1_id",
        stream_uri: str = "cam1",
        time_stamp: tuple[int, int] | None = None,
    ) -> None:
        self.image = image
        self.stream_id = stream_id
        self.stream_uri = stream_uri
        now = time.time()
        self.time_stamp = time_stamp or (int(now), int((now % 1) * 1_000_000))
        self.is_cached = False
        self.rects: list[tuple[float, float, float, float]] = []
        self.labels: list[tuple[str, float, float]] = []

    @staticmethod
    def _check(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number in [0, 1), got {value!r}")
        if not 0.0 <= float(value) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        return float(value)

    def add_rect(self, left: float, top: float, right: float, bottom: float) -> None:
        """Attach a rectangle overlay; coordinates are fractions of the frame in [0, 1)."""
        box = (
            self._check("left", left),
            self._check("top", top),
            self._check("right", right),
            self._check("bottom", bottom),
        )
        self.rects.append(box)

    def add_label(self, text: str, x: float, y: float) -> None:
        """Attach a text overlay at a fractional position in [0, 1)."""
        if not isinstance(text, str):
            raise TypeError(f"label text must be str, got {type(text).__name__!r}")
        self.labels.append((text, self._check("x", x), self._check("y", y)))


class port:  # noqa: N801 - the SDK's own name
    """One input or output port of the node."""

    def __init__(self, name: str, kind: str, direction: str, value: Any = None) -> None:
        self.name = name
        self.kind = kind  # "media" or a parameter type (float32, int32, boolean, string)
        self.direction = direction
        self._value = value
        self.puts = 0

    def __repr__(self) -> str:
        return f"<panoramasdk.port {self.direction} {self.name} ({self.kind})>"

    def get(self, timeout: float | None = None) -> Any:
        """A parameter's value, or a list of media (one per camera stream)."""
        if self.direction != "input":
            raise AttributeError(f"output port {self.name!r} has no get()")
        if self.kind != "media":
            return self._value
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0")
        if _clock.finished():
            _end_run()
        _clock.wait_next(timeout)
        src = _frames()
        index = _clock.delivered
        frames = [
            media(src.frame(index, s), f"cam{s + 1}_id", f"cam{s + 1}") for s in range(src.streams)
        ]
        _clock.delivered += 1
        # Frame n counts as processed once the app asks for frame n + 1 (or the run ends).
        _report("frame", n=_clock.delivered)
        return frames

    def put(self, items: Any) -> None:
        """Send media downstream; only a non-empty list of media is accepted (SDK 1.2)."""
        if self.direction != "output":
            raise AttributeError(f"input port {self.name!r} has no put()")
        if not isinstance(items, list):
            raise TypeError(f"put() takes a list of media, got {type(items).__name__}")
        if not items:
            raise ValueError("put() got an empty list")
        for item in items:
            if not isinstance(item, media):
                raise TypeError(f"put() takes media objects, got {type(item).__name__}")
        self.puts += 1
        _report("put", port=self.name, count=len(items))


class _Ports:
    """``self.inputs`` / ``self.outputs``: one attribute per port of the node's interface."""

    def __init__(self, direction: str, ports: dict[str, port], strict: bool) -> None:
        self._direction = direction
        self._ports = ports
        self._strict = strict

    def __getattr__(self, name: str) -> port:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._ports[name]
        except KeyError:
            if self._strict:
                known = ", ".join(sorted(self._ports)) or "none"
                raise AttributeError(
                    f"node has no {self._direction} port {name!r} (ports: {known})"
                ) from None
        # No graph.json (a bare container asset): any port name is a media port.
        p = port(name, "media", self._direction)
        self._ports[name] = p
        return p

    def __iter__(self) -> Any:
        return iter(self._ports.values())


class _Model:
    """A model node: onnxruntime when the container has it and the model is ONNX, else
    deterministic arrays of the declared output shapes."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = str(spec["name"])
        self.inputs = list(spec.get("inputs") or [])
        self.output_shapes = [tuple(s) for s in (spec.get("output_shapes") or [[1, 1000]])]
        self.onnx_path = spec.get("onnx")
        self.session: Any = None
        self.mode = "synthetic"
        if self.onnx_path:
            try:
                import onnxruntime
            except ImportError:
                self.mode = "synthetic (onnxruntime not in the container)"
            else:
                opts = onnxruntime.SessionOptions()
                opts.intra_op_num_threads = 1
                self.session = onnxruntime.InferenceSession(
                    self.onnx_path, opts, providers=["CPUExecutionProvider"]
                )
                self.mode = "onnxruntime"
        _report("model", name=self.name, mode=self.mode)

    def run(self, data: Any) -> tuple[Any, ...]:
        """Outputs for one ``call()``: a tuple of arrays."""
        import numpy as np

        if isinstance(data, media):
            data = {(self.inputs[0]["name"] if self.inputs else "data"): data.image}
        if not isinstance(data, dict):
            raise TypeError("call() input must be a dict of arrays or a media object")
        if self.session is not None:
            feeds = {}
            for inp in self.session.get_inputs():
                if inp.name not in data:
                    raise KeyError(f"model {self.name!r} needs input {inp.name!r}")
                feeds[inp.name] = np.asarray(data[inp.name], dtype=np.float32)
            return tuple(self.session.run(None, feeds))
        rng = np.random.RandomState(sum(ord(c) for c in self.name))
        return tuple(rng.random_sample(shape).astype(np.float32) for shape in self.output_shapes)


_models: dict[str, _Model] = {}


class node:  # noqa: N801 - the SDK's own name
    """Base class of a Panorama application node (``class App(panoramasdk.node)``)."""

    inputs: _Ports
    outputs: _Ports

    def __new__(cls, *args: Any, **kwargs: Any) -> node:
        self = super().__new__(cls)
        iface = _RUN.get("interface") or {}
        strict = bool(iface.get("known"))
        params = _RUN.get("parameters") or {}
        ins = {}
        for spec in iface.get("inputs") or []:
            name = str(spec["name"])
            ins[name] = port(name, str(spec.get("type", "media")), "input", params.get(name))
        outs = {}
        for spec in iface.get("outputs") or []:
            name = str(spec["name"])
            outs[name] = port(name, str(spec.get("type", "media")), "output")
        self.inputs = _Ports("input", ins, strict)
        self.outputs = _Ports("output", outs, strict)
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def call(self, input: Any, model_node: Any, time_out: float | None = None) -> tuple[Any, ...]:  # noqa: A002
        """Run a model node: ``call({tensor: ndarray}, "model_node")`` returns a tuple."""
        if isinstance(input, str) and not isinstance(model_node, str):
            input, model_node = model_node, input  # the SDK reference's argument order
        specs = {str(m["name"]): m for m in _RUN.get("models") or []}
        name = str(model_node)
        if name not in specs and not (_RUN.get("models_open") and name):
            raise KeyError(f"no model node {name!r} in the graph")
        model = _models.get(name)
        if model is None:
            model = _models[name] = _Model(specs.get(name) or {"name": name})
        return model.run(input)


os.environ.setdefault("AWS_REGION", "us-east-1")  # SDK 1.2 sets it
