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
from typing import BinaryIO

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
from scanner.sources.sniff import ContentKind, Sniffed, has_model_name, sniff, zip_kind

__all__ = ["UnrecognisedContentError", "detect_target", "sniff_file"]

SNIFF_BYTES = 4 * 1024 * 1024  # enough tar headers to tell a root filesystem from an image
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


def _zip_names(path: Path) -> list[str] | None:
    """The central directory's member names (the first 2000), or None when unreadable."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()[:2000]
    except READ_ERRORS:
        return None


def _read_decompressed(path: Path, compression: Compression) -> bytes:
    """Up to ``SNIFF_BYTES`` of a compressed file's content (enough tar headers to classify)."""
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
    return bytes(buf)


_ZIPS = frozenset({ContentKind.ZIP, ContentKind.TORCH_ZIP, ContentKind.NPZ, ContentKind.KERAS_ZIP})


def sniff_file(path: Path) -> ArtifactFormat:
    """The layout of one file, from its bytes (``scanner.sources.sniff``; names only refine).

    Tars are classified by their member names (root filesystem, image, model archive); zips
    by their central directory (a checkpoint, ``.npz`` or ``.keras`` is one model file, any
    other zip an archive of files). Raises ``SourceError`` for content that is no archive and
    no model format (the caller decides what that means).
    """
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
            f.seek(0)
            what = sniff(_HeadReader(f), path.name)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not head:
        raise SourceError(f"{path}: the file is empty")
    compression = sniff_compression(head)
    # a bzip2 stream shows nothing in a small head: its tar headers are read the long way
    opaque = what.kind is ContentKind.COMPRESSED and compression is not Compression.NONE
    if what.kind is ContentKind.TAR or opaque:
        data = head if compression is Compression.NONE else _read_decompressed(path, compression)
        tar_names = _tar_head_names(data)
        if tar_names is not None:
            return _classify_tar(tar_names)
    if what.kind in _ZIPS and not what.compression:
        zip_names = _zip_names(path)
        if zip_names is not None and zip_kind(zip_names) is ContentKind.ZIP:
            return ArtifactFormat.MODEL_ZIP
        return ArtifactFormat.MODEL_FILE
    if what.is_model or what.kind is ContentKind.COMPRESSED:
        # a compressed single file (e.g. a gzip'd pickle) is walked as a one-member archive
        return ArtifactFormat.MODEL_FILE
    raise UnrecognisedContentError(
        f"{path}: not a Panorama project, code package, container asset or model "
        f"(the content is {what.describe()}: no tar, zip, image or model format)",
        what,
    )


class UnrecognisedContentError(SourceError):
    """A file whose bytes are no archive and no model format; ``sniffed`` says what they are."""

    def __init__(self, message: str, sniffed: Sniffed) -> None:
        super().__init__(
            message,
            hint="point panorama-gate at the project folder, an asset from assets/, or a model "
            "file",
        )
        self.sniffed = sniffed


class _HeadReader:
    """``read_head(n)`` over an open file: the first ``n`` bytes, read once and kept."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self._head = b""

    def __call__(self, n: int) -> bytes:
        if len(self._head) < n:
            self._f.seek(len(self._head))
            self._head += self._f.read(n - len(self._head))
        return self._head[:n]


def _looks_like_model_folder(path: Path) -> bool:
    """A folder of model files: by name (SavedModel layout, model suffixes) or by content."""
    if any(path.glob("saved_model.pb*")) or any(path.glob("*/saved_model.pb*")):
        return True
    files = [p for p in sorted(path.iterdir()) if p.is_file() and not p.is_symlink()][:200]
    if any(has_model_name(p.name, generic=True) or p.suffix.lower() == ".json" for p in files):
        return True
    for p in files:
        try:
            with p.open("rb") as f:
                if sniff(_HeadReader(f), p.name).is_model:
                    return True
        except OSError:
            continue
    return False


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
        if _looks_like_model_folder(path):
            return _single_artifact(path, ArtifactFormat.DIRECTORY, TargetKind.MODEL)
        raise SourceError(
            f"{path}: folder is not a Panorama project (graphs/ and packages/), a code package "
            "(package.json), an OCI image layout or a model folder"
        )
    try:
        fmt = sniff_file(path)
    except UnrecognisedContentError as exc:
        # A file given as the target is taken as a model: content no model analyzer reads is
        # reported as such (model-format.unrecognised), never approved silently. Text that
        # does not even carry a model name is a wrong target, said as a usage error.
        if exc.sniffed.kind is ContentKind.TEXT and not has_model_name(path.name):
            raise
        fmt = ArtifactFormat.MODEL_FILE
    if fmt in (ArtifactFormat.ROOTFS, ArtifactFormat.DOCKER_SAVE, ArtifactFormat.OCI_ARCHIVE):
        return _single_artifact(path, fmt, TargetKind.CONTAINER)
    return _single_artifact(path, fmt, TargetKind.MODEL)
