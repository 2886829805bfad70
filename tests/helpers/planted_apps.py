"""Applications for the end-to-end detection tests: one with every planted problem, one clean.

Everything is built in code: a Panorama project from ``project_builder`` whose container asset is
replaced by a root filesystem with real file modes (setuid, world-writable), generated keys and
certificates, and, for the clean app, real third-party packages copied from this interpreter's
site-packages.
"""

from __future__ import annotations

import base64
import io
import json
import re
import sysconfig
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.archives import M, tar_bytes
from tests.helpers.keys import rsa_pem, self_signed_cert
from tests.helpers.project_builder import BuiltProject, ProjectSpec, build_project, sha256_hex

# Planted secret values: made up, of the right shape, never real credentials. The secret-grep
# test looks for each of these in every output.
AKID = "AKIAZ4XQ7RMBC2JT6N5W"
AWS_SECRET = "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"
TEMP_AKID = "ASIAQ3XR7KMB2CJT6N5Y"
TEMP_SECRET = "Hq2wE4rT6yU8iO0pA1sD3fG5hJ7kL9zX2cV4bN6m"
SESSION = "FwoGZXIvYXdzEKq9" + "Lm3Np7Rt2Vx5Zb8Df1Hj4Kq9" * 8 + "Wq"
CAM_PASSWORD = "Kx9-pw7Q-cam"
GRAPH_CAM_PASSWORD = "Vb5-Lm2Q-grf"
NETRC_PASSWORD = "Tq7-xz9Lw2-netrc"
ENV_PASSWORD = "Tq7-xz9Lw2-dotenv"
DESCRIPTOR_PASSWORD = "Tq7-xz9Lw2-descr"
API_TOKEN = "Qm9vZ2llV29vZ2llOTk4NzY1NDMyMQ"
REGISTRY_AUTH = base64.b64encode(b"robot:Rg5-registry-Pw8").decode()
DOCKERFILE_TOKEN = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"
DOCKERFILE_PASSWORD = "Df7-build-Pw2x"
IMAGE_ENV_PASSWORD = "Ie3-image-Pw9z"
EMAIL = "jane.doe@example.com"
PHONE = "+1 206-555-0142"

APP_PY = f'''\
import subprocess
import panoramasdk
from helpers import fetch

CAMERA_URL = "rtsp://admin:{CAM_PASSWORD}@192.168.10.21:554/stream1"
AWS_ACCESS_KEY_ID = "{AKID}"
aws_secret_access_key = "{AWS_SECRET}"


class App(panoramasdk.node):
    def step(self):
        frames = self.inputs.video_in.get()
        subprocess.call("ffprobe " + CAMERA_URL, shell=True)
        self.outputs.video_out.put(frames)
        return eval(fetch())  # nosec B307
'''

HELPERS_PY = """\
import pickle
import requests


def fetch():
    data = requests.get("https://example.org/model", verify=False, timeout=5).content
    return pickle.loads(data)
"""

BAD_DOCKERFILE = f"""\
FROM public.ecr.aws/panorama/panorama-application
ARG GITHUB_TOKEN={DOCKERFILE_TOKEN}
ENV DB_PASSWORD={DOCKERFILE_PASSWORD}
ADD https://example.org/tool.tar.gz /opt/
RUN curl -fsSL https://example.org/install.sh | bash
COPY src /panorama
USER root
"""

CLEAN_DOCKERFILE = (
    "FROM public.ecr.aws/panorama/panorama-application:1.2.1-arm64v8@sha256:"
    + "3" * 64
    + "\nCOPY src /panorama\n"
    "RUN pip3 install --no-cache-dir -r /panorama/requirements.txt\n"
    "USER 1000:1000\n"
)

CLEAN_APP_PY = '''\
"""Shelf monitor: counts products on a shelf camera and draws their boxes."""

import logging
import os

import numpy as np
import panoramasdk

from shelf.boxes import decode, draw

LOG = logging.getLogger("shelf")
LOG_DIR = "/opt/aws/panorama/logs"
MODEL = "shelf_model_asset"


class ShelfMonitor(panoramasdk.node):
    """Reads frames, runs the model, draws boxes above the score threshold."""

    def __init__(self):
        super().__init__()
        self.threshold = float(self.inputs.threshold.get())
        logging.basicConfig(filename=os.path.join(LOG_DIR, "app.log"), level=logging.INFO)

    def step(self):
        frames = self.inputs.video_in.get()
        for media in frames:
            image = media.image.astype(np.float32) / 255.0
            batch = np.transpose(image, (2, 0, 1))[np.newaxis, ...]
            (scores, boxes) = self.call({"input0": batch}, MODEL)
            for box in decode(scores, boxes, self.threshold):
                draw(media, box)
            LOG.info("stream %s: %d boxes", media.stream_id, len(boxes))
        self.outputs.video_out.put(frames)


def main():
    app = ShelfMonitor()
    while True:
        app.step()


if __name__ == "__main__":
    main()
'''

CLEAN_BOXES_PY = '''\
"""Box decoding and drawing."""

import numpy as np


def decode(scores, boxes, threshold):
    """Boxes whose score passes ``threshold``, clipped to [0, 1)."""
    keep = np.asarray(scores).reshape(-1) >= threshold
    return np.clip(np.asarray(boxes).reshape(-1, 4)[keep], 0.0, 0.999).tolist()


def draw(media, box):
    """Draw one box and its label on the media object."""
    left, top, right, bottom = box
    media.add_rect(left, top, right, bottom)
    media.add_label("item", left, max(0.0, top - 0.02))
'''

THIRD_PARTY = (
    "numpy",
    "requests",
    "urllib3",
    "certifi",
    "idna",
    "charset_normalizer",
    "yaml",
    "boto3",
    "botocore",
    "s3transfer",
    "dateutil",
    "jmespath",
    "six.py",
)
DIST = "usr/lib/python3/dist-packages"


@dataclass
class Keys:
    """Keys and certificates generated once per test session."""

    rsa: bytes
    rsa_encrypted: bytes
    cert: bytes

    @classmethod
    def generate(cls) -> Keys:
        """Fresh keys (made with ``cryptography``)."""
        key = rsa_pem()
        return cls(key, rsa_pem(password=b"unit-test-only"), self_signed_cert(key))

    def body(self) -> str:
        """A line from the middle of the private key (it must never appear in any output)."""
        return self.rsa.decode().splitlines()[3]


def _provisioning_zip(keys: Keys) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("certificates/certificate.pem.crt", keys.cert)
        zf.writestr("certificates/private.pem.key", keys.rsa)
        zf.writestr("certificates/root-ca.crt", keys.cert)
    return buf.getvalue()


def planted_rootfs(keys: Keys) -> list[M]:
    """The planted container's members, with modes."""
    files: dict[str, bytes] = {
        "panorama/app.py": APP_PY.encode(),
        "panorama/helpers.py": HELPERS_PY.encode(),
        "panorama/config/settings.yaml": f'region: us-west-2\napi_token: "{API_TOKEN}"\n'.encode(),
        "panorama/.env": f"REGION=us-west-2\nDB_PASSWORD={ENV_PASSWORD}\n".encode(),
        "panorama/keys/id_rsa": keys.rsa,
        "panorama/keys/backup.pem": keys.rsa_encrypted,
        "panorama/certs/3f2a9c-certificate.pem.crt": keys.cert,
        "panorama/certificates-omni_shelf-appliance.zip": _provisioning_zip(keys),
        "etc/ssl/private/server.pem": keys.cert + keys.rsa,
        "root/.aws/credentials": (
            f"[default]\naws_access_key_id = {TEMP_AKID}\naws_secret_access_key = {TEMP_SECRET}\n"
            f"aws_session_token = {SESSION}\n"
        ).encode(),
        "root/.netrc": f"machine models.example.org login bob password {NETRC_PASSWORD}\n".encode(),
        "root/.docker/config.json": json.dumps(
            {"auths": {"registry.example.org": {"auth": REGISTRY_AUTH}}}, indent=4
        ).encode(),
        f"{DIST}/botocore/docs/example.py": b"key = 'AKIAIOSFODNN7EXAMPLE'\n",
        "etc/os-release": b'NAME="Ubuntu"\nVERSION_ID="20.04"\nID=ubuntu\n',
    }
    members = [M(d, kind="dir", mode=0o755) for d in ("etc/", "panorama/", "usr/", "root/")]
    members += [M(name, data, mode=0o644) for name, data in sorted(files.items())]
    members += [
        M("usr/bin/passwd", b"\x7fELF" + b"\0" * 60, mode=0o4755),
        M("usr/local/bin/helper", b"\x7fELF" + b"\0" * 60, mode=0o4755),
        M("panorama/data/state.json", b"{}", mode=0o666),
        M("var/cache/apt/archives/libfoo_1.0_arm64.deb", b"!<arch>\n" + b"x" * 100),
        M("var/cache/apt/archives/libbar_1.0_arm64.deb", b"!<arch>\n" + b"y" * 100),
    ]
    return members


def clean_rootfs() -> list[M]:
    """A realistic app: Ubuntu-like base, app code, and real third-party packages."""
    site = Path(sysconfig.get_paths()["purelib"])
    members = [M(d, kind="dir", mode=0o755) for d in ("etc/", "panorama/", "usr/", "tmp/")]
    members += [
        M("etc/os-release", b'NAME="Ubuntu"\nVERSION_ID="20.04"\nID=ubuntu\n'),
        M("etc/passwd", b"root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n"),
        M("usr/bin/passwd", b"\x7fELF" + b"\0" * 60, mode=0o4755),
        M("usr/bin/su", b"\x7fELF" + b"\0" * 60, mode=0o4755),
        M("usr/bin/python3.8", b"\x7fELF" + b"\0" * 60, mode=0o755),
        M("panorama/app.py", CLEAN_APP_PY.encode()),
        M("panorama/shelf/__init__.py", b""),
        M("panorama/shelf/boxes.py", CLEAN_BOXES_PY.encode()),
        M("panorama/requirements.txt", b"numpy==1.26.4\nboto3==1.34.0\nPyYAML==6.0.1\n"),
        M("opt/aws/panorama/logs/", kind="dir", mode=0o755),
        M("opt/aws/panorama/storage/", kind="dir", mode=0o755),
    ]
    for top in THIRD_PARTY:
        src = site / top
        paths = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        for p in paths:
            if "__pycache__" in p.parts:
                continue
            rel = f"{DIST}/{p.relative_to(site).as_posix()}"
            members.append(M(rel, p.read_bytes(), mode=0o755 if p.suffix == ".so" else 0o644))
    return members


def _plant_graph(g: dict[str, Any]) -> None:
    graph = g["nodeGraph"]
    graph["description"] = f"Shelf app. Contact Jane Doe ({EMAIL}) on {PHONE}"
    graph["nodes"].append(
        {
            "name": "cam_url",
            "interface": "string",
            "value": f"rtsp://admin:{GRAPH_CAM_PASSWORD}@192.168.10.21:554/stream1",
            "decorator": {"title": "Aisle camera", "description": "Camera at 10.20.30.40"},
        }
    )


def _plant_descriptor(d: dict[str, Any]) -> None:
    d["runtimeDescriptor"]["entry"]["environment"] = [
        {"name": "DB_PASSWORD", "value": DESCRIPTOR_PASSWORD},
    ]


def _clean_graph(g: dict[str, Any]) -> None:
    g["nodeGraph"]["description"] = "Counts products on the aisle shelves and draws their boxes"


@dataclass
class App:
    """A built project plus what the tests need to find things in it."""

    project: BuiltProject
    container: str  # artifact name of the container asset
    secrets: tuple[str, ...] = field(default_factory=tuple)

    @property
    def root(self) -> Path:
        """Project root."""
        return self.project.root


def _replace_container(proj: BuiltProject, members: list[M]) -> str:
    """Swap the container asset for one built from ``members``; returns its file name."""
    data = tar_bytes(members, "gz")
    name = f"{sha256_hex(data)}.tar.gz"
    assert proj.container_asset is not None
    old = proj.container_asset.name
    (proj.root / "assets" / name).write_bytes(data)
    proj.container_asset.unlink()
    pkg = proj.code_dir / "package.json"
    pkg.write_text(pkg.read_text().replace(old, name))
    return name


def build_planted(root: Path, keys: Keys) -> App:
    """The application with every planted problem."""
    spec = ProjectSpec(
        dockerfile=BAD_DOCKERFILE,
        src_files={"app.py": APP_PY.encode(), "helpers.py": HELPERS_PY.encode()},
        edit_graph=_plant_graph,
        edit_code_descriptor=_plant_descriptor,
    )
    proj = build_project(root, spec)
    name = _replace_container(proj, planted_rootfs(keys))
    # The descriptor copy in assets/ must match the package's descriptor: the builder wrote
    # both from the same edited document, so nothing else changes.
    values = (
        AKID,
        AWS_SECRET,
        TEMP_AKID,
        TEMP_SECRET,
        SESSION,
        CAM_PASSWORD,
        GRAPH_CAM_PASSWORD,
        NETRC_PASSWORD,
        ENV_PASSWORD,
        DESCRIPTOR_PASSWORD,
        API_TOKEN,
        REGISTRY_AUTH,
        DOCKERFILE_TOKEN,
        DOCKERFILE_PASSWORD,
        keys.body(),
        EMAIL,
        PHONE,
    )
    return App(proj, name, values)


def build_clean(root: Path) -> App:
    """The clean, realistic application."""
    spec = ProjectSpec(
        dockerfile=CLEAN_DOCKERFILE,
        src_files={"app.py": CLEAN_APP_PY.encode(), "shelf/boxes.py": CLEAN_BOXES_PY.encode()},
        edit_graph=_clean_graph,
    )
    proj = build_project(root, spec)
    return App(proj, _replace_container(proj, clean_rootfs()))


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for no, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return no
    raise AssertionError(f"{needle!r} not in text")


def json_line(path: Path, key_regex: str) -> int:
    """Line of the first JSON key matching ``key_regex`` in a manifest file."""
    for no, line in enumerate(path.read_text().splitlines(), 1):
        if re.search(key_regex, line):
            return no
    raise AssertionError(f"{key_regex!r} not in {path}")


def image_config(extra_env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An image config with planted USER/ENV/history/port problems."""
    env = ["PATH=/usr/local/bin:/usr/bin", f"DB_PASSWORD={IMAGE_ENV_PASSWORD}"]
    env += [f"{k}={v}" for k, v in (extra_env or {}).items()]
    return {
        "config": {
            "Env": env,
            "ExposedPorts": {"8080/tcp": {}},
            "Cmd": ["python3", "/panorama/app.py"],
        },
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:0d5 in / "},
            {"created_by": f"|1 GITHUB_TOKEN={DOCKERFILE_TOKEN} /bin/sh -c make install"},
        ],
    }


# Files planted in a project's container for the verdict, waiver and golden-report tests.
LICENSE_ROOTFS_FILES = {
    # A denied license (high: rejects under the default policy) and an unknown one (low: warns).
    "usr/lib/python3/dist-packages/copyleft_lib-1.0.dist-info/METADATA": (
        b"Metadata-Version: 2.4\nName: copyleft-lib\nVersion: 1.0\n"
        b"License-Expression: GPL-3.0-only\n"
    ),
    "usr/lib/python3/dist-packages/mystery-2.0.dist-info/METADATA": (
        b"Metadata-Version: 2.1\nName: mystery\nVersion: 2.0\n"
    ),
}
