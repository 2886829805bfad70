"""Target detection: sniff what a TARGET is from its content, never from its name alone.

Example::

    target = detect_target(Path("assets/3f...c9.tar.gz"))
    target.target.kind   # TargetKind.CONTAINER
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from scanner.errors import SourceError
from scanner.models import Artifact, ArtifactKind, Digest, Target, TargetKind
from scanner.sources.image import is_image_member_set
from scanner.sources.interface import ArtifactFormat, ScanTarget, SourceArtifact
from scanner.sources.safe_archive import (
    READ_ERRORS,
    Compression,
    _SafeTarInfo,
    decompressing_reader,
    normalise_path,
    sniff_compression,
)

__all__ = ["detect_target", "sniff_file"]

SNIFF_BYTES = 4 * 1024 * 1024
ROOTFS_TOP = {
    "etc",
    "usr",
    "bin",
    "sbin",
    "lib",
    "lib64",
    "var",
    "opt",
    "panorama",
    "root",
    "home",
    "tmp",
    ".dockerenv",
    "proc",
    "sys",
    "dev",
    "run",
    "srv",
    "mnt",
    "media",
    "boot",
}
MODEL_EXTENSIONS = (
    ".onnx",
    ".pt",
    ".pth",
    ".pkl",
    ".pickle",
    ".joblib",
    ".h5",
    ".hdf5",
    ".keras",
    ".pb",
    ".params",
    ".npy",
    ".npz",
    ".safetensors",
    ".bin",
    ".ckpt",
    ".json",
    ".tflite",
    ".mar",
)


def _tar_head_names(data: bytes, max_names: int = 400) -> list[str] | None:
    """Member names from the start of a tar stream, or None when it is not a tar."""
    if len(data) < 512 or data[257:262] != b"ustar" and not _looks_like_v7_tar(data):
        return None
    names: list[str] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|", tarinfo=_SafeTarInfo) as tf:
            for ti in tf:
                names.append(ti.name)
                if len(names) >= max_names:
                    break
    except Exception:  # noqa: BLE001, S110 - a truncated sniff window ends the name list
        pass
    return names


def _looks_like_v7_tar(data: bytes) -> bool:
    try:
        chksum = int(data[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    header = bytearray(data[:512])
    header[148:156] = b" " * 8
    return chksum == sum(header)


def _classify_tar(names: list[str]) -> ArtifactFormat:
    if is_image_member_set(names):
        return (
            ArtifactFormat.OCI_ARCHIVE
            if any(normalise_path(n)[0] in ("oci-layout", "index.json") for n in names)
            and not any(normalise_path(n)[0] == "manifest.json" for n in names)
            else (ArtifactFormat.DOCKER_SAVE)
        )
    tops = {normalise_path(n)[0].split("/", 1)[0] for n in names}
    if len(tops & ROOTFS_TOP) >= 2 or "panorama" in tops or ".dockerenv" in tops:
        return ArtifactFormat.ROOTFS
    return ArtifactFormat.MODEL_ARCHIVE


def _is_model_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()[:2000]
    except READ_ERRORS:
        return False
    return any(
        n.endswith(
            ("data.pkl", "constants.pkl", ".npy", "model.weights.h5", "config.json", "version")
        )
        for n in names
    )


def sniff_file(path: Path) -> ArtifactFormat:
    """The layout of one file, from its bytes (the extension only breaks ties for formats that
    have no magic number, such as ONNX protobufs)."""
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not head:
        raise SourceError(f"{path}: the file is empty")
    compression = sniff_compression(head)
    data = head
    if compression is not Compression.NONE:
        buf = bytearray()
        try:
            with path.open("rb") as f, decompressing_reader(f, compression) as d:
                # small reads: a CRC error at the end must not swallow the data before it
                while len(buf) < SNIFF_BYTES and (chunk := d.read(16384)):
                    buf += chunk
        except READ_ERRORS as exc:
            # Corruption later in the stream is reported by the walk as a finding; only a
            # stream that yields nothing at all is unreadable input.
            if len(buf) < 512:
                raise SourceError(
                    f"{path}: {compression.value} stream cannot be decompressed ({exc})"
                ) from exc
        data = bytes(buf)
    names = _tar_head_names(data)
    if names is not None:
        return _classify_tar(names)
    if head[:4] == b"PK\x03\x04" or head[:4] == b"PK\x05\x06":
        return ArtifactFormat.MODEL_FILE if _is_model_zip(path) else ArtifactFormat.MODEL_ZIP
    if compression is not Compression.NONE:
        # a compressed single file (e.g. a gzip'd pickle) is walked as a one-member archive
        return ArtifactFormat.MODEL_FILE
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return ArtifactFormat.MODEL_FILE  # pickle protocol 2-5
    if head[:6] == b"\x93NUMPY" or head[:8] == b"\x89HDF\r\n\x1a\n":
        return ArtifactFormat.MODEL_FILE
    if len(head) >= 9 and head[8:9] == b"{":
        return ArtifactFormat.MODEL_FILE  # safetensors: u64 header length, then JSON
    if path.name.lower().endswith(MODEL_EXTENSIONS):
        return ArtifactFormat.MODEL_FILE
    raise SourceError(
        f"{path}: not a Panorama project, code package, container asset or model "
        "(no tar, zip, image or model signature found)",
        hint="point panorama-gate at the project folder, an asset from assets/, or a model file",
    )


def _single_artifact(path: Path, fmt: ArtifactFormat, kind: TargetKind) -> ScanTarget:
    akind = ArtifactKind.CONTAINER if kind is TargetKind.CONTAINER else ArtifactKind.MODEL
    size = path.stat().st_size if path.is_file() else 0
    stem = path.name.split(".", 1)[0]
    digest = None
    if len(stem) == 64 and all(c in "0123456789abcdef" for c in stem):
        digest = Digest.from_hex(
            stem
        )  # Panorama asset names are content addresses (verified later)
    artifact = Artifact(akind, path.name, path.name, digest, size, None, (), fmt.value)
    return ScanTarget(
        target=Target(str(path), kind, path.name),
        root=path.parent if path.is_file() else path,
        artifacts=[SourceArtifact(artifact, path, fmt, sniffed=True)],
    )


def detect_target(path: Path) -> ScanTarget:
    """Detect what ``path`` is and read its top-level structure (manifests, artifact list)."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        if (path / "graphs").is_dir() and (path / "packages").is_dir():
            from scanner.sources.panorama import load_project

            return load_project(path)
        if (path / "package.json").is_file():
            from scanner.sources.codepkg import load_code_package

            return load_code_package(path)
        if (path / "oci-layout").is_file() and (path / "index.json").is_file():
            return _single_artifact(path, ArtifactFormat.OCI_DIR, TargetKind.CONTAINER)
        if (
            any(path.glob("saved_model.pb*"))
            or any(path.glob("*/saved_model.pb*"))
            or any(p.suffix.lower() in MODEL_EXTENSIONS for p in path.iterdir() if p.is_file())
        ):
            return _single_artifact(path, ArtifactFormat.DIRECTORY, TargetKind.MODEL)
        raise SourceError(
            f"{path}: folder is not a Panorama project (graphs/ and packages/), a code package "
            "(package.json), an OCI image layout or a model folder"
        )
    fmt = sniff_file(path)
    if fmt in (ArtifactFormat.ROOTFS, ArtifactFormat.DOCKER_SAVE, ArtifactFormat.OCI_ARCHIVE):
        return _single_artifact(path, fmt, TargetKind.CONTAINER)
    return _single_artifact(path, fmt, TargetKind.MODEL)
