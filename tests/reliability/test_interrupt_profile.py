"""SIGTERM (a CI runner cancelling the job) during ``profile``, in each sandbox.

Complements ``tests/integration/test_profile_cli.py`` (Ctrl-C with Docker): here the signal is
SIGTERM to the process only, and besides containers and images the run's ``--work-dir`` and a
private TMPDIR must be empty afterwards.
"""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.helpers.cli_runner import INTERRUPTED_MESSAGE as MESSAGE
from tests.helpers.cli_runner import session_processes, start_cli
from tests.helpers.profile_project import GRAPH_APP, project_with_apps

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project_with_apps(tmp_path_factory.mktemp("prof") / "app", {"app": GRAPH_APP})


def _running(sandbox: str, pid: int) -> bool:
    if sandbox == "docker":
        import docker

        from scanner.sandbox._docker import LABEL

        client = docker.from_env()
        return bool(client.containers.list(filters={"label": f"{LABEL}={pid}"}))
    return any("bwrap" in line for line in session_processes(pid))


@pytest.mark.parametrize("sandbox", [pytest.param("docker", marks=pytest.mark.docker), "bwrap"])
def test_profile_sigterm_leaves_nothing(
    project: Path, tmp_path: Path, sandbox: str, request: pytest.FixtureRequest
) -> None:
    if sandbox == "docker":
        request.getfixturevalue("docker_engine")
    elif shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    tmp = tmp_path / "TMPDIR"
    tmp.mkdir()
    work = tmp_path / "work"
    out = tmp_path / "out"
    out.mkdir()
    proc = start_cli(
        "profile", str(project), "--sandbox", sandbox, "--seconds", "60", "--fps", "0.05",
        "--no-warmup", "--work-dir", str(work), "--format", "json", "-o", str(out / "p.json"),
        env={"TMPDIR": str(tmp)},
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if _running(sandbox, proc.pid):
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err[-3000:]
    assert MESSAGE in err
    assert "Traceback" not in err
    deadline = time.monotonic() + 30
    while session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert session_processes(proc.pid) == []
    assert not _running(sandbox, proc.pid)
    if sandbox == "docker":
        import docker

        from scanner.sandbox._docker import leftover_resources

        assert leftover_resources(docker.from_env(), proc.pid) == {"containers": [], "images": []}
    assert list(work.rglob("*")) == []
    assert list(tmp.rglob("*")) == []
    assert list(out.iterdir()) == []
