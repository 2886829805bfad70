"""Shared test configuration: network guard, markers, docker and golden-file options."""

from __future__ import annotations

import ipaddress
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.helpers.requirements import missing_requirement

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Ctrl-C as a terminal delivers it, for every CLI the tests start.

    A test run started in the background by a non-interactive shell (``cmd &``, as CI scripts
    and nohup'd runs are) has SIGINT ignored, and an ignored signal stays ignored across exec:
    every CLI a test started would ignore the Ctrl-C the interruption tests send. A Python-level
    handler here is reset to the default in each child instead.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-online", action="store_true", help="run tests marked online")
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-online"):
        return
    skip = pytest.mark.skip(reason="needs the network: pass --run-online")
    for item in items:
        if "online" in item.keywords:
            item.add_marker(skip)


def _is_loopback(address: Any) -> bool:
    if isinstance(address, str):  # AF_UNIX paths (the Docker socket) are local
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback
                for info in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Network access is off in tests unless marked ``online``: only loopback may be reached."""
    if "online" in request.keywords:
        return
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise OSError(f"network access blocked in tests (not marked online): {address!r}")
        return real_connect(self, address)

    def guarded_ex(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise OSError(f"network access blocked in tests (not marked online): {address!r}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_ex)


def docker_available() -> bool:
    """Whether a Docker engine answers."""
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip (or, with PANORAMA_GATE_REQUIRE_DOCKER=1 as in CI, fail) without a Docker engine."""
    if not docker_available():
        missing_requirement("a Docker engine", "docker info fails; start dockerd (.ci/run does)")


@pytest.fixture(scope="session")
def ffmpeg_programs() -> tuple[str, str]:
    """Paths of ``ffmpeg`` and ``ffprobe``; skip (or fail in CI) without them."""
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    if ffmpeg is None or ffprobe is None:
        missing_requirement("ffmpeg/ffprobe", "not on PATH; install the ffmpeg package")
    return ffmpeg, ffprobe


@pytest.fixture(scope="session")
def opencv() -> ModuleType:
    """The ``cv2`` module; skip (or fail in CI) without it."""
    try:
        import cv2
    except ImportError as exc:
        missing_requirement("OpenCV (cv2)", f"{exc}; pip install opencv-python-headless")
    return cv2


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """``../shared/reference``; tests that need it skip with a reason in a fresh clone."""
    ref = SHARED / "reference"
    if not ref.is_dir():
        pytest.skip(f"{ref} is absent (a fresh clone without the design pack)")
    return ref


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """Whether ``--update-goldens`` was given."""
    return bool(request.config.getoption("--update-goldens"))
