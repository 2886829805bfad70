"""End to end through the CLI: an unbuilt checkout whose Dockerfile fetches code insecurely and
whose camera package carries a password is rejected, each risk at its line, the secret redacted.

The pattern is the one a real sample was approved with before these rules existed: an APT
signing key over plain HTTP, a wheel downloaded with ``--no-check-certificate`` and installed,
and ``chmod -R 777``.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli_scan import STATIC, scan_json
from tests.helpers.project_builder import ProjectSpec, build_project, write_json

DOCKERFILE = (
    "FROM public.ecr.aws/panorama/panorama-application:1.2.1-arm64v8\n"  # 1
    "RUN apt-key adv --fetch-keys http://repo.example.com/ubuntu/key.gpg && \\\n"  # 2
    "    apt-get update && apt-get install -y --no-install-recommends libfoo=1.2\n"  # 3
    "RUN wget --no-check-certificate \\\n"  # 4
    "      https://files.example.com/wheels/tool-2.1-py3-none-any.whl && \\\n"  # 5
    "    pip3 install --no-cache-dir tool-2.1-py3-none-any.whl\n"  # 6
    "COPY src /panorama\n"  # 7
    "RUN chmod -R 777 /panorama\n"  # 8
)
CAMERA_PASSWORD = "Cam-4410!"


def test_insecure_build_and_camera_password_reject(tmp_path: Path) -> None:
    proj = build_project(
        tmp_path / "app",
        ProjectSpec(breaks={"empty-assets"}, with_model=False, dockerfile=DOCKERFILE),
    )
    write_json(
        proj.root / "packages" / "123456789012-site_cam-1.0" / "package.json",
        {
            "nodePackage": {
                "envelopeVersion": "2021-01-01",
                "name": "site_cam",
                "version": "1.0",
                "assets": [
                    {
                        "name": "cam",
                        "implementations": [
                            {"type": "system", "assetUri": "source/video/camera/rtsp/source_rtsp"}
                        ],
                    }
                ],
                "interfaces": [
                    {
                        "name": "site_cam",
                        "category": "media_source",
                        "asset": "cam",
                        "inputs": [
                            {"name": "username", "type": "string", "default": "admin"},
                            {"name": "password", "type": "string", "default": CAMERA_PASSWORD},
                        ],
                        "outputs": [{"name": "video_out", "type": "media"}],
                    }
                ],
            }
        },
    )
    out = tmp_path / "r.json"
    code, report = scan_json(proj.root, out, *STATIC, "--analyzers=-vulns")
    assert code == 1
    assert report["verdict"]["decision"] == "rejected"
    pkg = "packages/123456789012-shelf_code-1.0"
    cam_manifest = "packages/123456789012-site_cam-1.0/package.json"
    lines = (proj.root / cam_manifest).read_text().splitlines()
    password_line = next(i for i, line in enumerate(lines, 1) if CAMERA_PASSWORD in line)
    got = {
        (f["rule_id"], f["location"]["artifact"], f["location"]["line"], f["severity"])
        for f in report["findings"]
    }
    assert {
        ("dockerfile.plain-http-download", pkg, 2, "high"),
        ("dockerfile.tls-verification-disabled", pkg, 4, "high"),
        ("dockerfile.world-writable", pkg, 8, "medium"),
        ("privacy.credential", cam_manifest, password_line, "high"),
    } <= got
    # the wheel installed from the download is in the inventory, pinned by its file name
    (tool,) = [c for c in report["components"] if c["name"] == "tool"]
    assert tool["version"] == "2.1"
    assert CAMERA_PASSWORD not in out.read_text()
    # the camera package has no descriptor, as panorama-cli makes it: no integrity finding
    assert not [
        f
        for f in report["findings"]
        if "site_cam" in f["location"]["artifact"] and f["category"] == "integrity"
    ]
