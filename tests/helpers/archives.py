"""Build tar and zip archives (plain, gzip, zstd), docker-save and OCI image archives in code.

Example::

    data = tar_bytes([M("etc/hosts", b"127.0.0.1 localhost\\n"), M("../evil", b"x")], "gz")
    (tmp_path / "rootfs.tar.gz").write_bytes(data)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import zstandard


@dataclass
class M:
    """One member: ``kind`` is file, dir, symlink, hardlink, chr, blk or fifo."""

    name: str
    data: bytes = b""
    kind: str = "file"
    linkname: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int | None = None  # lie about the size in the header (for truncation cases)


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def compress(data: bytes, compression: str) -> bytes:
    """Compress with ``gz``, ``zst`` or nothing (``""``)."""
    if compression == "gz":
        return gzip.compress(data, compresslevel=1, mtime=0)
    if compression == "zst":
        return zstandard.ZstdCompressor().compress(data)
    return data


def tar_bytes(members: Iterable[M], compression: str = "", fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A tar archive of ``members`` in order (duplicates and hostile names kept as given)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for m in members:
            ti = tarfile.TarInfo(m.name)
            ti.type = _TYPES[m.kind]
            ti.mode = m.mode
            ti.uid, ti.gid = m.uid, m.gid
            ti.mtime = 0
            ti.linkname = m.linkname
            if m.kind == "file":
                ti.size = len(m.data)
                tf.addfile(ti, io.BytesIO(m.data))
            else:
                tf.addfile(ti)
    return compress(buf.getvalue(), compression)


def zip_bytes(members: Mapping[str, bytes], prefix: bytes = b"") -> bytes:
    """A zip archive (stored, not deflated) of ``members``, after ``prefix`` bytes if any."""
    buf = io.BytesIO()
    buf.write(prefix)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def files_tar(members: Mapping[str, bytes]) -> bytes:
    """A plain tar archive of regular files, ``name: content``."""
    return tar_bytes(M(name, data) for name, data in members.items())


def rootfs_members(files: Mapping[str, bytes], *, with_base: bool = True) -> list[M]:
    """A small but realistic root filesystem plus ``files``."""
    base = (
        [
            M("bin", kind="symlink", linkname="usr/bin"),
            M("etc/", kind="dir", mode=0o755),
            M("etc/hostname", b"panorama\n"),
            M("etc/localtime", kind="symlink", linkname="/usr/share/zoneinfo/Etc/UTC"),
            M("usr/", kind="dir", mode=0o755),
            M("usr/bin/", kind="dir", mode=0o755),
            M("usr/bin/python3", b"\x7fELF" + b"\0" * 60, mode=0o755),
            M("usr/bin/python3.8", kind="hardlink", linkname="usr/bin/python3"),
            M("usr/share/zoneinfo/Etc/UTC", b"TZif2"),
            M("opt/aws/panorama/logs/", kind="dir", mode=0o755),
            M("opt/aws/panorama/storage/", kind="dir", mode=0o755),
            M("panorama/", kind="dir", mode=0o755),
        ]
        if with_base
        else []
    )
    return base + [M(name, data) for name, data in sorted(files.items())]


def rootfs_tar(files: Mapping[str, bytes], compression: str = "gz") -> bytes:
    """A docker-export-style flat root filesystem tar."""
    return tar_bytes(rootfs_members(files), compression)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def docker_save_archive(
    layers: list[list[M]],
    config: Mapping[str, object] | None = None,
    *,
    oci_layout: bool = False,
    tag: str = "app:1.0",
) -> bytes:
    """A ``docker save`` archive: classic layout, or the OCI layout Docker 25+ writes."""
    layer_tars = [tar_bytes(members) for members in layers]
    diff_ids = [f"sha256:{_sha(t)}" for t in layer_tars]
    cfg = dict(config or {})
    cfg.setdefault("architecture", "arm64")
    cfg.setdefault("os", "linux")
    cfg.setdefault("config", {"Env": ["PATH=/usr/bin"], "Cmd": ["python3", "/panorama/app.py"]})
    cfg["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    cfg_bytes = json.dumps(cfg).encode()
    members: list[M] = []
    if oci_layout:
        for t in layer_tars:
            members.append(M(f"blobs/sha256/{_sha(t)}", t))
        members.append(M(f"blobs/sha256/{_sha(cfg_bytes)}", cfg_bytes))
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{_sha(cfg_bytes)}",
                "size": len(cfg_bytes),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": f"sha256:{_sha(t)}",
                    "size": len(t),
                }
                for t in layer_tars
            ],
        }
        mbytes = json.dumps(manifest).encode()
        members.append(M(f"blobs/sha256/{_sha(mbytes)}", mbytes))
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": f"sha256:{_sha(mbytes)}",
                    "size": len(mbytes),
                    "annotations": {"io.containerd.image.name": tag},
                }
            ],
        }
        members.append(M("index.json", json.dumps(index).encode()))
        members.append(M("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'))
        dm = [
            {
                "Config": f"blobs/sha256/{_sha(cfg_bytes)}",
                "RepoTags": [tag],
                "Layers": [f"blobs/sha256/{_sha(t)}" for t in layer_tars],
            }
        ]
        members.append(M("manifest.json", json.dumps(dm).encode()))
    else:
        names = []
        for t in layer_tars:
            d = _sha(t)
            members.append(M(f"{d}/layer.tar", t))
            members.append(M(f"{d}/VERSION", b"1.0"))
            names.append(f"{d}/layer.tar")
        members.append(M(f"{_sha(cfg_bytes)}.json", cfg_bytes))
        dm = [{"Config": f"{_sha(cfg_bytes)}.json", "RepoTags": [tag], "Layers": names}]
        members.append(M("manifest.json", json.dumps(dm).encode()))
    return tar_bytes(members)


def oci_archive(
    layers: list[list[M]], config: Mapping[str, object] | None = None, compression: str = "gz"
) -> bytes:
    """An OCI image layout in a tar (what ``skopeo copy ... oci-archive:`` writes), with
    compressed layers."""
    layer_blobs = [compress(tar_bytes(members), compression) for members in layers]
    cfg = dict(config or {"architecture": "arm64", "os": "linux", "config": {}})
    cfg_bytes = json.dumps(cfg).encode()
    mt = "application/vnd.oci.image.layer.v1.tar" + (
        "+gzip" if compression == "gz" else "+zstd" if compression == "zst" else ""
    )
    manifest = {
        "schemaVersion": 2,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": f"sha256:{_sha(cfg_bytes)}",
            "size": len(cfg_bytes),
        },
        "layers": [
            {"mediaType": mt, "digest": f"sha256:{_sha(b)}", "size": len(b)} for b in layer_blobs
        ],
    }
    mbytes = json.dumps(manifest).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": f"sha256:{_sha(mbytes)}",
                "size": len(mbytes),
                "platform": {"os": "linux", "architecture": "arm64"},
            }
        ],
    }
    members = [
        M("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
        M("index.json", json.dumps(index).encode()),
    ]
    members += [M(f"blobs/sha256/{_sha(b)}", b) for b in [*layer_blobs, cfg_bytes, mbytes]]
    return tar_bytes(members)


def write(path: Path, data: bytes) -> Path:
    """Write bytes and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
