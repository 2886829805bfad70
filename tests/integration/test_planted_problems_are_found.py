"""End to end: every planted problem is found where it was planted, and no output leaks.

One scan of a planted Panorama project (and one of a planted docker-save image) through the
real CLI, writing every report format; the tests then read the JSON report and grep every
output file and the CLI's own log for the planted secret values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.report import FORMATS
from tests.helpers.archives import M, docker_save_archive
from tests.helpers.planted_apps import (
    APP_PY,
    DIST,
    DOCKERFILE_TOKEN,
    HELPERS_PY,
    IMAGE_ENV_PASSWORD,
    App,
    Keys,
    build_planted,
    image_config,
    line_of,
)

REPO = Path(__file__).resolve().parents[2]
MINE = ("code", "secrets", "privacy", "container", "container-files", "dockerfile")


@dataclass
class Scan:
    """One CLI run: the parsed JSON report, every output file and the captured log."""

    report: dict[str, Any]
    outputs: dict[str, Path]
    log: str
    returncode: int


def _scan(target: Path, out_dir: Path, *extra: str) -> Scan:
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-m",
        "scanner",
        "scan",
        str(target),
        "-vv",
        "--no-profile",
        "--no-cache",
        "--offline",
        *extra,
    ]
    outputs: dict[str, Path] = {}
    for fmt in sorted(FORMATS):
        path = out_dir / f"report.{fmt}"
        outputs[fmt] = path
        args += ["--format", fmt, "-o", str(path)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=out_dir, timeout=600)
    assert proc.returncode in (0, 1, 3), proc.stderr[-3000:]
    report = json.loads(outputs["json"].read_text())
    return Scan(report, outputs, proc.stdout + proc.stderr, proc.returncode)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> App:
    return build_planted(tmp_path_factory.mktemp("planted") / "shelf", keys)


@pytest.fixture(scope="module")
def planted_scan(planted: App, tmp_path_factory: pytest.TempPathFactory) -> Scan:
    return _scan(planted.root, tmp_path_factory.mktemp("planted-out"))


@pytest.fixture(scope="module")
def image_scan(tmp_path_factory: pytest.TempPathFactory) -> Scan:
    work = tmp_path_factory.mktemp("image")
    layer = [M("panorama/", kind="dir", mode=0o755), M("panorama/app.py", b"print('hi')\n")]
    archive = work / "app-image.tar"
    archive.write_bytes(docker_save_archive([layer], image_config()))
    return _scan(archive, work / "out")


def _key(f: dict[str, Any]) -> tuple[str, str, str, str, str, int | None]:
    loc = f["location"]
    return (f["rule_id"], f["category"], f["severity"], loc["artifact"], loc["path"], loc["line"])


def test_planted_findings_by_rule_category_severity_and_location(
    planted: App, planted_scan: Scan, keys: Keys
) -> None:
    c = planted.container
    graph = planted.project.graph_path
    graph_rel = planted.project.rel(graph)
    gtext = graph.read_text()
    nodes = json.loads(gtext)["nodeGraph"]["nodes"]
    cam = next(i for i, n in enumerate(nodes) if n["name"] == "cam_url")
    desc_path = planted.project.code_dir / "descriptor.json"
    desc_rel = planted.project.rel(desc_path)
    pkg_dir = planted.project.rel(planted.project.code_dir)
    server_pem_key_line = keys.cert.count(b"\n") + 1
    docker_cfg_line = 4  # json.dumps(..., indent=4): {, "auths", registry, "auth"
    expected = {
        # code (bandit), app tree only, nosec honoured
        ("code.B602", "code", "high", c, "panorama/app.py", line_of(APP_PY, "shell=True")),
        ("code.B501", "code", "high", c, "panorama/helpers.py", line_of(HELPERS_PY, "verify=")),
        ("code.B301", "code", "medium", c, "panorama/helpers.py", line_of(HELPERS_PY, "loads")),
        # secrets
        ("secrets.credential-url", "secret", "critical", c, "panorama/app.py", 5),
        ("secrets.aws-access-key-id", "secret", "critical", c, "panorama/app.py", 6),
        ("secrets.aws-secret-access-key", "secret", "critical", c, "panorama/app.py", 7),
        ("secrets.aws-credentials-file", "secret", "high", c, "root/.aws/credentials", None),
        ("secrets.aws-access-key-id", "secret", "high", c, "root/.aws/credentials", 2),
        ("secrets.aws-secret-access-key", "secret", "critical", c, "root/.aws/credentials", 3),
        ("secrets.aws-session-token", "secret", "high", c, "root/.aws/credentials", 4),
        ("secrets.private-key", "secret", "critical", c, "panorama/keys/id_rsa", 1),
        ("secrets.encrypted-private-key", "secret", "high", c, "panorama/keys/backup.pem", 1),
        (
            "secrets.certificate-with-key",
            "secret",
            "critical",
            c,
            "etc/ssl/private/server.pem",
            server_pem_key_line,
        ),
        (
            "secrets.panorama-provisioning-archive",
            "secret",
            "critical",
            c,
            "panorama/certificates-omni_shelf-appliance.zip",
            None,
        ),
        (
            "secrets.device-certificate",
            "secret",
            "high",
            c,
            "panorama/certs/3f2a9c-certificate.pem.crt",
            None,
        ),
        ("secrets.netrc-password", "secret", "high", c, "root/.netrc", 1),
        ("secrets.dotenv-secret", "secret", "high", c, "panorama/.env", 2),
        (
            "secrets.docker-auth",
            "secret",
            "critical",
            c,
            "root/.docker/config.json",
            docker_cfg_line,
        ),
        ("secrets.generic-secret", "secret", "high", c, "panorama/config/settings.yaml", 2),
        ("secrets.aws-access-key-id", "secret", "info", c, f"{DIST}/botocore/docs/example.py", 1),
        # privacy, in manifest fields
        (
            "privacy.email",
            "privacy",
            "medium",
            graph_rel,
            "nodeGraph.description",
            line_of(gtext, '"Shelf app.'),
        ),
        (
            "privacy.phone-number",
            "privacy",
            "medium",
            graph_rel,
            "nodeGraph.description",
            line_of(gtext, '"Shelf app.'),
        ),
        (
            "privacy.personal-name",
            "privacy",
            "medium",
            graph_rel,
            "nodeGraph.description",
            line_of(gtext, '"Shelf app.'),
        ),
        (
            "privacy.credential-url",
            "secret",
            "critical",
            graph_rel,
            f"nodeGraph.nodes[{cam}].value",
            line_of(gtext, "rtsp://"),
        ),
        (
            "privacy.ip-address",
            "privacy",
            "medium",
            graph_rel,
            f"nodeGraph.nodes[{cam}].decorator.description",
            line_of(gtext, "Camera at 10."),
        ),
        (
            "privacy.credential",
            "secret",
            "high",
            desc_rel,
            "runtimeDescriptor.entry.environment[0].value",
            line_of(desc_path.read_text(), '"value"'),
        ),
        # container files
        ("container-files.setuid", "container", "high", c, "usr/local/bin/helper", None),
        ("container-files.setuid", "container", "low", c, "usr/bin/passwd", None),
        (
            "container-files.world-writable",
            "container",
            "medium",
            c,
            "panorama/data/state.json",
            None,
        ),
        (
            "container-files.package-cache",
            "container",
            "low",
            c,
            "var/cache/apt/archives/libfoo_1.0_arm64.deb",
            None,
        ),
        # the code package's Dockerfile
        ("dockerfile.unpinned-base-image", "container", "medium", pkg_dir, "Dockerfile", 1),
        ("dockerfile.secret-in-arg", "container", "high", pkg_dir, "Dockerfile", 2),
        ("dockerfile.secret-in-env", "container", "high", pkg_dir, "Dockerfile", 3),
        ("dockerfile.add-url", "container", "medium", pkg_dir, "Dockerfile", 4),
        ("dockerfile.curl-pipe-shell", "container", "high", pkg_dir, "Dockerfile", 5),
        ("dockerfile.runs-as-root", "container", "info", pkg_dir, "Dockerfile", 7),
    }
    got = {_key(f) for f in planted_scan.report["findings"]}
    missing = expected - got
    assert not missing, f"missing: {sorted(missing, key=str)}"
    # The nosec'd eval on app.py line 15 is not reported.
    assert not any(
        k[0].startswith("code.") and k[4] == "panorama/app.py" and k[5] == 15 for k in got
    )
    # The documented sample key says why it is only info.
    sample = next(
        f
        for f in planted_scan.report["findings"]
        if f["location"]["path"].endswith("botocore/docs/example.py")
    )
    assert "documented example" in sample["properties"]["reason"]
    # None of my analyzers failed on the planted app.
    assert [f for f in planted_scan.report["failures"] if f["analyzer"] in MINE] == []
    assert planted_scan.report["verdict"]["decision"] in ("rejected", "incomplete")


def test_planted_image_config(image_scan: Scan) -> None:
    [art] = [a for a in image_scan.report["artifacts"] if a["kind"] == "container"]
    name = art["name"]
    got = {_key(f) for f in image_scan.report["findings"] if f["rule_id"].startswith("container.")}
    assert got == {
        ("container.user-root", "container", "medium", name, "config.User", None),
        ("container.env-secret", "container", "high", name, "config.Env[1]", None),
        ("container.history-secret", "container", "high", name, "history[1].created_by", None),
        ("container.exposed-port", "container", "low", name, "config.ExposedPorts", None),
    }


def test_no_secret_in_any_output_or_log(planted: App, planted_scan: Scan, image_scan: Scan) -> None:
    secrets = (*planted.secrets, IMAGE_ENV_PASSWORD, DOCKERFILE_TOKEN)
    for scan in (planted_scan, image_scan):
        assert set(scan.outputs) == set(FORMATS)
        blobs = {
            fmt: path.read_bytes().decode("utf-8", "replace") for fmt, path in scan.outputs.items()
        }
        blobs["log"] = scan.log
        assert all(blobs.values()), [k for k, v in blobs.items() if not v]
        for where, text in blobs.items():
            for value in secrets:
                assert value not in text, f"{value[:4]}… leaked into {where}"
    # The reports do mention the findings, redacted.
    assert "AKIA…(20)" in planted_scan.outputs["json"].read_text()
