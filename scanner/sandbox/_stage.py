"""Staging a run (emulated SDK, init, run config, frames) and reading init's status back."""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from scanner.errors import AnalyzerError
from scanner.sandbox._frames import write_frames
from scanner.sandbox._spec import SandboxRequest

__all__ = ["MARKER", "MOUNT", "Staged", "data_dir", "parse_status", "stage"]

MOUNT = "/panorama-gate"  # where the staged folder appears inside the sandbox (read-only)
MARKER = "@@PANORAMA-GATE-STATUS@@ "
WRITABLE = ("/opt/aws/panorama/storage", "/opt/aws/panorama/logs", "/tmp")  # noqa: S108


def data_dir() -> Path:
    """The package data folder holding the emulated SDK and the sandbox init."""
    return Path(str(resources.files("scanner.sandbox").joinpath("data")))


@dataclass(frozen=True, slots=True)
class Staged:
    """A staged run folder and what the sandbox needs to know about it."""

    root: Path
    status_name: str  # abstract unix socket name shared by init and the SDK
    frames_note: str

    def env(self) -> dict[str, str]:
        """Environment of the sandboxed processes."""
        return {
            "PYTHONPATH": f"{MOUNT}/site",
            "PANORAMA_GATE_RUN": f"{MOUNT}/run.json",
            "PANORAMA_GATE_STATUS": self.status_name,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "AWS_REGION": "us-east-1",
        }

    def init_args(
        self,
        request: SandboxRequest,
        deadline: float,
        *,
        count_procs: bool,
        rlimits: list[str] | None = None,
        status_fd: int | None = None,
    ) -> list[str]:
        """The init command line around the application's entry point."""
        args = [request.init_python(), f"{MOUNT}/pg_init.py", "--deadline", f"{deadline:.3f}"]
        if count_procs:
            args.append("--count-procs")
        for path in WRITABLE:
            args += ["--measure", path]
        for rl in rlimits or []:
            args += ["--rlimit", rl]
        if status_fd is not None:
            args += ["--status-fd", str(status_fd)]
        return [*args, "--", *request.command()]


def stage(
    request: SandboxRequest,
    work: Path,
    *,
    max_frames: int | None = None,
    seconds: float | None = None,
) -> Staged:
    """Copy the SDK and init into a fresh folder with the run config and decoded frames."""
    root = Path(work)
    root.mkdir(parents=True, exist_ok=True)
    src = data_dir()
    shutil.copytree(src / "site", root / "site", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(src / "pg_init.py", root / "pg_init.py")
    frames_file: str | None = None
    note = f"synthetic {request.frames.width}x{request.frames.height} at {request.frames.fps:g} fps"
    if request.frames.path is not None:
        # The warm-up asks for one frame: decode no more than the run will read.
        limit = request.max_frames if max_frames is None else min(max_frames, request.max_frames)
        count, h, w = write_frames(request.frames.path, limit, root / "frames.npy")
        frames_file = f"{MOUNT}/frames.npy"
        name = request.frames.path.name
        note = f"{count} frame(s) {w}x{h} from {name} at {request.frames.fps:g} fps"
    models: list[dict[str, Any]] = []
    for spec in request.app.models:
        m = {k: v for k, v in spec.items() if k != "onnx_file"}
        onnx_file = spec.get("onnx_file")
        if onnx_file:
            (root / "models").mkdir(exist_ok=True)
            dest = root / "models" / f"{m['name']}.onnx"
            shutil.copy2(str(onnx_file), dest)
            m["onnx"] = f"{MOUNT}/models/{dest.name}"
        models.append(m)
    (root / "run.json").write_text(
        request.run_config(frames_file, models, max_frames=max_frames, seconds=seconds)
    )
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    root.chmod(0o755)
    return Staged(root, "pg-" + secrets.token_hex(8), note)


def parse_status(text: str) -> dict[str, Any] | None:
    """The status init wrote last (after the marker), or ``None`` when there is none."""
    idx = text.rfind(MARKER)
    if idx < 0:
        return None
    line = text[idx + len(MARKER) :].splitlines()[0] if text[idx + len(MARKER) :] else ""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise AnalyzerError("sandbox init wrote an unreadable status line") from exc
    return data if isinstance(data, dict) else None
