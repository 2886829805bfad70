"""Container image readers: docker-save archives (classic and OCI layout) and OCI image layouts.

A docker-export root filesystem is not an image (no manifest, no config): it is read as one
pseudo-layer by the pipeline directly. Images here are resolved to their config and an ordered
list of layers, each opened lazily as a (possibly compressed) tar stream.

Example::

    layout = read_image(Path("app.tar"), work_dir, limits, "app.tar")
    for layer in layout.layers:
        with layer.open() as stream:
            ...
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from scanner.config import ArchiveLimits
from scanner.errors import SourceError
from scanner.models import Category, Finding, Location, Severity
from scanner.sources.safe_archive import (
    CHUNK,
    Compression,
    _SafeTarInfo,
    decompressing_reader,
    normalise_path,
    sniff_compression,
)

__all__ = ["ImageLayout", "LayerRef", "is_image_member_set", "read_image"]

MAX_JSON_BYTES = 16 * 1024 * 1024
PREFERRED_PLATFORM = ("linux", "arm64")


@dataclass(slots=True)
class LayerRef:
    """One layer: its digest as named by the manifest and a way to open its blob."""

    index: int
    digest: str
    media_type: str
    size: int
    opener: Callable[[], IO[bytes]]

    def open(self) -> IO[bytes]:
        """A reader of the layer blob (compressed as stored)."""
        return self.opener()


@dataclass(slots=True)
class ImageLayout:
    """A resolved image: config, layers in order, and what reading it found."""

    format: str
    config: dict[str, Any] | None
    layers: list[LayerRef]
    tags: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    platform: str = ""
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Release open files and temporary copies."""
        for closer in reversed(self._closers):
            with contextlib.suppress(OSError):
                closer()
        self._closers.clear()


IMAGE_MARKERS = ("manifest.json", "index.json", "oci-layout", "repositories")


def is_image_member_set(names: list[str]) -> bool:
    """Whether a set of leading member names looks like a docker-save or OCI archive."""
    for n in names:
        p, _, _ = normalise_path(n)
        if p in IMAGE_MARKERS or p.startswith("blobs/sha256/"):
            return True
        parts = p.split("/")
        if len(parts) == 2 and len(parts[0]) == 64 and parts[1] in ("layer.tar", "json", "VERSION"):
            return True
    return False


def _load_json(data: bytes, what: str) -> Any:
    if len(data) > MAX_JSON_BYTES:
        raise SourceError(f"{what}: JSON document of {len(data)} bytes is too large")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"{what}: not valid JSON") from exc


def _obj(value: Any, what: str) -> dict[str, Any]:
    """``value`` as a JSON object, or a SourceError naming what was expected."""
    if not isinstance(value, dict):
        raise SourceError(f"{what} is not a JSON object")
    return value


def _objs(value: Any, what: str) -> list[dict[str, Any]]:
    """``value`` as a list of JSON objects (``[]`` for null)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SourceError(f"{what} is not a list")
    return [_obj(v, f"{what}[{i}]") for i, v in enumerate(value)]


def _choose_manifest(
    index: dict[str, Any], read_blob: Callable[[str], bytes], what: str
) -> tuple[dict[str, Any], str]:
    """Follow an OCI index (possibly nested) to one image manifest, preferring linux/arm64."""
    for _ in range(4):
        manifests = _objs(index.get("manifests"), f"{what}: index manifests")
        if not manifests:
            raise SourceError(f"{what}: index.json lists no manifests")
        chosen = manifests[0]
        for m in manifests:
            plat = m.get("platform")
            plat = plat if isinstance(plat, dict) else {}
            if (plat.get("os"), plat.get("architecture")) == PREFERRED_PLATFORM:
                chosen = m
                break
        digest = str(chosen.get("digest", ""))
        doc = _load_json(read_blob(digest), f"{what}: manifest {digest}")
        if not isinstance(doc, dict):
            raise SourceError(f"{what}: manifest {digest} is not an object")
        if "layers" in doc:
            _objs(doc.get("layers"), f"{what}: manifest {digest} layers")
            _obj(doc.get("config"), f"{what}: manifest {digest} config")
            plat = chosen.get("platform")
            plat = plat if isinstance(plat, dict) else {}
            return doc, f"{plat.get('os', '')}/{plat.get('architecture', '')}".strip("/")
        index = doc
    raise SourceError(f"{what}: image indexes nested too deeply")


def _blob_path(digest: str) -> str:
    algo, _, hexval = digest.partition(":")
    if algo not in ("sha256", "sha512") or not hexval.isalnum():
        raise SourceError(f"invalid blob digest {digest!r}")
    return f"blobs/{algo}/{hexval}"


class _TarIndex:
    """Random access to members of an uncompressed tar file, names normalised and checked."""

    def __init__(self, path: Path, what: str) -> None:
        self.what = what
        try:
            self.tf = tarfile.open(path, "r:", tarinfo=_SafeTarInfo)  # noqa: SIM115 - closed by ImageLayout.close
            members = self.tf.getmembers()
        except Exception as exc:
            raise SourceError(f"{what}: not a readable image archive ({exc})") from exc
        self.members: dict[str, tarfile.TarInfo] = {}
        for m in members:
            p, _, escaped = normalise_path(m.name)
            if escaped:
                raise SourceError(f"{what}: member {m.name!r} climbs out of the archive")
            if m.isreg() or m.islnk() or m.issym():
                self.members[p] = m

    def has(self, name: str) -> bool:
        return normalise_path(name)[0] in self.members

    def _resolve(self, name: str) -> tarfile.TarInfo:
        p = normalise_path(name)[0]
        m = self.members.get(p)
        hops = 0
        while m is not None and (m.islnk() or m.issym()) and hops < 8:
            # docker save links duplicate layers to the first copy
            base = "" if m.islnk() else p.rsplit("/", 1)[0] if "/" in p else ""
            target = m.linkname if m.islnk() else f"{base}/{m.linkname}" if base else m.linkname
            p = normalise_path(target)[0]
            m = self.members.get(p)
            hops += 1
        if m is None or not m.isreg():
            raise SourceError(f"{self.what}: member {name!r} is missing")
        return m

    def open(self, name: str) -> IO[bytes]:
        f = self.tf.extractfile(self._resolve(name))
        if f is None:
            raise SourceError(f"{self.what}: member {name!r} has no content")
        return f

    def read(self, name: str, limit: int = MAX_JSON_BYTES) -> bytes:
        m = self._resolve(name)
        if m.size > limit:
            raise SourceError(f"{self.what}: {name!r} is {m.size} bytes, too large for metadata")
        with self.open(name) as f:
            return f.read()

    def size(self, name: str) -> int:
        return self._resolve(name).size


def _decompress_to(
    path: Path, dest: Path, compression: Compression, limits: ArchiveLimits, what: str
) -> None:
    total = 0
    with (
        path.open("rb") as raw,
        decompressing_reader(raw, compression) as src,
        dest.open("wb") as out,
    ):
        while chunk := src.read(CHUNK):
            total += len(chunk)
            if total > limits.max_total_bytes:
                raise SourceError(
                    f"{what}: decompressed image passes {limits.max_total_bytes} bytes"
                )
            out.write(chunk)


def read_image(path: Path, work_dir: Path, limits: ArchiveLimits, artifact: str) -> ImageLayout:
    """Resolve a docker-save archive, an OCI archive or an OCI layout folder.

    Compressed archives are decompressed once into ``work_dir`` (an image needs random access to
    its manifest, which may come after the layers).
    """
    if path.is_dir():
        return _read_oci_dir(path, artifact)
    with path.open("rb") as f:
        compression = sniff_compression(f.read(6))
    tar_path = path
    closers: list[Callable[[], None]] = []
    if compression is not Compression.NONE:
        tar_path = work_dir / f"{hashlib.sha256(str(path).encode()).hexdigest()[:16]}.image.tar"
        _decompress_to(path, tar_path, compression, limits, artifact)
        closers.append(lambda: tar_path.unlink(missing_ok=True))
    idx = _TarIndex(tar_path, artifact)
    closers.append(idx.tf.close)
    try:
        layout = _read_from_index(idx, artifact)
    except BaseException:
        for c in reversed(closers):
            with contextlib.suppress(OSError):
                c()
        raise
    layout._closers.extend(closers)
    return layout


def _read_from_index(idx: _TarIndex, artifact: str) -> ImageLayout:
    findings: list[Finding] = []
    if idx.has("index.json") and idx.has("oci-layout"):
        index = _load_json(idx.read("index.json"), f"{artifact}: index.json")
        if not isinstance(index, dict):
            raise SourceError(f"{artifact}: index.json is not an object")
        manifest, platform = _choose_manifest(index, lambda d: idx.read(_blob_path(d)), artifact)
        config_digest = str((manifest.get("config") or {}).get("digest", ""))
        config = _load_json(idx.read(_blob_path(config_digest)), f"{artifact}: config")
        layers = []
        for i, layer in enumerate(manifest.get("layers") or []):
            digest = str(layer.get("digest", ""))
            name = _blob_path(digest)
            layers.append(
                LayerRef(
                    i,
                    digest,
                    str(layer.get("mediaType", "")),
                    idx.size(name),
                    _verifying_opener(idx.open, name, digest, findings, artifact),
                )
            )
        tags = [
            str(m.get("annotations", {}).get("org.opencontainers.image.ref.name", ""))
            for m in index.get("manifests", [])
            if isinstance(m, dict)
        ]
        return ImageLayout(
            "oci-archive",
            config if isinstance(config, dict) else None,
            layers,
            [t for t in tags if t],
            findings,
            platform,
        )
    if idx.has("manifest.json"):
        manifest_list = _load_json(idx.read("manifest.json"), f"{artifact}: manifest.json")
        if (
            not isinstance(manifest_list, list)
            or not manifest_list
            or not isinstance(manifest_list[0], dict)
        ):
            raise SourceError(f"{artifact}: manifest.json does not list an image")
        entry = manifest_list[0]
        config = _load_json(idx.read(str(entry.get("Config", ""))), f"{artifact}: config")
        layers = []
        layer_names = entry.get("Layers") or []
        if not isinstance(layer_names, list):
            raise SourceError(f"{artifact}: manifest.json Layers is not a list")
        for i, name in enumerate(layer_names):
            name = str(name)
            digest = ""
            if name.startswith("blobs/sha256/"):
                digest = "sha256:" + name.rsplit("/", 1)[1]
            opener = (
                _verifying_opener(idx.open, name, digest, findings, artifact)
                if digest
                else functools.partial(idx.open, name)
            )
            layers.append(LayerRef(i, digest or name, "", idx.size(name), opener))
        platform = ""
        if isinstance(config, dict):
            platform = f"{config.get('os', '')}/{config.get('architecture', '')}".strip("/")
        return ImageLayout(
            "docker-save",
            config if isinstance(config, dict) else None,
            layers,
            [str(t) for t in entry.get("RepoTags") or [] if isinstance(t, str)],
            findings,
            platform,
        )
    raise SourceError(
        f"{artifact}: neither manifest.json nor an OCI index.json: not an image archive"
    )


def _read_oci_dir(root: Path, artifact: str) -> ImageLayout:
    findings: list[Finding] = []
    base = root.resolve()

    def blob_file(name: str) -> Path:
        p = (root / name).resolve()
        if not p.is_relative_to(base):
            raise SourceError(f"{artifact}: {name!r} resolves outside the image folder")
        return p

    def read(name: str) -> bytes:
        p = blob_file(name)
        try:
            if p.stat().st_size > MAX_JSON_BYTES:
                raise SourceError(f"{artifact}: {name} is too large for metadata")
            return p.read_bytes()
        except OSError as exc:
            raise SourceError(f"{artifact}: cannot read {name}") from exc

    index = _load_json(read("index.json"), f"{artifact}: index.json")
    if not isinstance(index, dict):
        raise SourceError(f"{artifact}: index.json is not an object")
    manifest, platform = _choose_manifest(index, lambda d: read(_blob_path(d)), artifact)
    config_digest = str((manifest.get("config") or {}).get("digest", ""))
    config = _load_json(read(_blob_path(config_digest)), f"{artifact}: config")
    layers = []
    for i, layer in enumerate(manifest.get("layers") or []):
        digest = str(layer.get("digest", ""))
        name = _blob_path(digest)
        path = blob_file(name)
        layers.append(
            LayerRef(
                i,
                digest,
                str(layer.get("mediaType", "")),
                path.stat().st_size,
                _verifying_opener(_file_opener(path), name, digest, findings, artifact),
            )
        )
    return ImageLayout(
        "oci-dir", config if isinstance(config, dict) else None, layers, [], findings, platform
    )


def _file_opener(path: Path) -> Callable[[str], IO[bytes]]:
    def opener(_name: str) -> IO[bytes]:
        return path.open("rb")

    return opener


def _verifying_opener(
    open_fn: Callable[[str], IO[bytes]],
    name: str,
    digest: str,
    findings: list[Finding],
    artifact: str,
) -> Callable[[], IO[bytes]]:
    """Open a content-addressed blob and check, once fully read, that it matches its digest."""

    def opener() -> IO[bytes]:
        return cast(IO[bytes], _HashingReader(open_fn(name), digest, findings, artifact, name))

    return opener


class _HashingReader:
    """Hashes what passes through; a mismatch at EOF becomes an integrity finding."""

    def __init__(
        self, inner: IO[bytes], digest: str, findings: list[Finding], artifact: str, name: str
    ) -> None:
        self._inner = inner
        algo, _, self._expected = digest.partition(":")
        self._hash = hashlib.new(algo if algo in ("sha256", "sha512") else "sha256")
        self._findings = findings
        self._artifact = artifact
        self._name = name
        self._done = False

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        if data:
            self._hash.update(data)
        elif not self._done:
            self._done = True
            if self._hash.hexdigest() != self._expected:
                self._findings.append(
                    Finding.create(
                        rule_id="integrity.blob-digest-mismatch",
                        category=Category.INTEGRITY,
                        severity=Severity.HIGH,
                        message=f"blob {self._name} does not match its content address",
                        location=Location(self._artifact, self._name),
                    )
                )
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> _HashingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def copy_limited(src: IO[bytes], dest: Path, limit: int) -> int:
    """Copy a stream to a file, refusing more than ``limit`` bytes."""
    total = 0
    with dest.open("wb") as out:
        while chunk := src.read(CHUNK):
            total += len(chunk)
            if total > limit:
                raise SourceError(f"{dest.name}: more than {limit} bytes")
            out.write(chunk)
    return total
