"""Resolving a package's ``assetUri``/``descriptorUri`` to files in ``assets/``, and verifying them.

Each asset panorama-cli made is named by the SHA-256 of its bytes. A file that is there is
hashed once (streamed, 1 MiB reads) and must match its name: a mismatch is a critical
integrity finding, whatever state the project is in. A file that is *not* there is the normal
state of a checkout (git does not keep ``assets/``; ``package-application`` uploads what exists
and skips the rest), so it is returned as ``absent`` for the caller to report as not covered,
never as corruption. A name that is a path, a symlink out of the project, or a file that cannot
be read stays an integrity finding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.models import Artifact, ArtifactKind, Digest, Location, Severity
from scanner.sources._reader import MAX_MANIFEST_BYTES, MISSING_REPORTED, Checked, ProjectReader
from scanner.sources.interface import ArtifactFormat, SourceArtifact
from scanner.sources.manifests import JsonPath, JsonTextError, parse_json_text
from scanner.sources.prehash import HASH_CHUNK, sha256_file

__all__ = ["HASH_CHUNK", "AssetResolver", "Resolved", "same_descriptor", "sha256_file"]

HEX64 = re.compile(r"[0-9a-f]{64}")


def _is_plain_name(uri: str) -> bool:
    """An asset URI must be a bare file name in assets/: no folders, no ``..``, no NUL."""
    return (
        bool(uri)
        and "/" not in uri
        and "\\" not in uri
        and uri not in (".", "..")
        and ("\x00" not in uri)
    )


@dataclass(frozen=True, slots=True)
class Resolved:
    """What became of one asset reference.

    ``artifact`` when the file is there and readable; ``absent`` when it is simply not in
    ``assets/`` (the caller reports it as not built here); neither when a finding was made.
    ``data`` holds a descriptor copy's bytes.
    """

    artifact: SourceArtifact | None = None
    data: bytes | None = None
    absent: bool = False


class AssetResolver:
    """Resolves implementations to artifacts and verifies digests (each file hashed once)."""

    def __init__(self, reader: ProjectReader, assets_dir: Path | None) -> None:
        self.r = reader
        self.assets_dir = assets_dir
        self.artifacts: dict[str, SourceArtifact] = {}
        self.referenced: set[str] = set()
        self._hashed: dict[Path, tuple[str, int] | None] = {}

    def _hash(self, checked: Checked, loc: Location) -> tuple[str, int] | None:
        if checked.path not in self._hashed:
            try:
                self._hashed[checked.path] = sha256_file(checked.path)
            except OSError as exc:
                self.r.add(
                    "integrity.unreadable",
                    Severity.HIGH,
                    f"{loc.artifact} cannot be read: {exc.strerror or exc}",
                    loc,
                )
                self._hashed[checked.path] = None
        return self._hashed[checked.path]

    def present(self, uri: Any) -> bool:
        """Whether ``assets/<uri>`` exists (any kind of entry), without reporting anything."""
        if not isinstance(uri, str) or not _is_plain_name(uri) or self.assets_dir is None:
            return False
        try:
            return (self.assets_dir / uri).exists() or (self.assets_dir / uri).is_symlink()
        except (OSError, ValueError):
            return False

    def resolve(
        self,
        uri: Any,
        *,
        kind: ArtifactKind,
        fmt: ArtifactFormat,
        package: str,
        package_dir: Path,
        manifest_rel: str,
        parts: JsonPath,
        descriptor: Mapping[str, Any] | None,
    ) -> Resolved:
        """The artifact for one ``assetUri``/``descriptorUri`` (and, for descriptors, its bytes)."""
        ref_loc = self.r.location(manifest_rel, parts)
        if not isinstance(uri, str):
            return Resolved()  # a schema violation; the manifest analyzer reports it
        if not _is_plain_name(uri):
            self.r.add(
                "integrity.path-escape",
                Severity.CRITICAL,
                f"asset reference {uri[:120]!r} is a path, not a file name in assets/; not read",
                ref_loc,
                evidence=uri[:255],
                cwe=22,
            )
            return Resolved()
        if len(uri.encode("utf-8", "surrogateescape")) > 255:
            self.r.add(
                "integrity.asset-missing",
                Severity.HIGH,
                f"asset reference {uri[:120]!r}… is longer than any file name can be",
                ref_loc,
                evidence=uri[:255],
            )
            return Resolved()
        self.referenced.add(uri)
        if self.assets_dir is None:
            return Resolved(absent=True)
        checked = self.r.check_file(self.assets_dir / uri, rule_loc=ref_loc, what=f"{kind} asset")
        if checked is None:
            return Resolved(absent=True)
        if checked is MISSING_REPORTED:
            return Resolved()
        got = self._hash(checked, Location(uri))
        if got is None:
            return Resolved()
        digest_hex, size = got
        self._check_name(uri, digest_hex, package)
        data: bytes | None = None
        if kind is ArtifactKind.DESCRIPTOR and size <= MAX_MANIFEST_BYTES:
            try:
                data = checked.path.read_bytes()
            except OSError as exc:
                self.r.add(
                    "integrity.unreadable",
                    Severity.HIGH,
                    f"{uri} cannot be read: {exc.strerror or exc}",
                    Location(uri),
                )
        rel = self.r.rel(checked.path)
        existing = self.artifacts.get(rel)
        if existing is not None:
            return Resolved(existing, data)
        artifact = Artifact(
            kind=kind,
            name=uri,
            path=rel,
            digest=Digest.from_hex(digest_hex),
            size=size,
            package=package,
        )
        sa = SourceArtifact(
            artifact, checked.path, fmt, package_dir, descriptor, digest_verified=True
        )
        self.artifacts[rel] = sa
        return Resolved(sa, data)

    def _check_name(self, uri: str, digest_hex: str, package: str) -> None:
        stem = uri.split(".", 1)[0]
        asset_loc = Location(uri)
        if not HEX64.fullmatch(stem):
            self.r.add(
                "integrity.unverifiable-name",
                Severity.MEDIUM,
                f"asset {uri} is not named by its SHA-256, so its content cannot be verified "
                "against its name",
                asset_loc,
                properties={"sha256": digest_hex},
            )
        elif stem != digest_hex:
            self.r.add(
                "integrity.digest-mismatch",
                Severity.CRITICAL,
                f"asset {uri} has SHA-256 {digest_hex}, not the digest in its name: the file was "
                "changed or replaced after it was built",
                asset_loc,
                evidence=digest_hex,
                cwe=354,
                properties={"expected": stem, "actual": digest_hex, "package": package},
            )


def same_descriptor(a: bytes, b: bytes) -> str:
    """``"bytes"`` when equal, ``"json"`` when they parse to the same JSON, else ``""``."""
    if a == b:
        return "bytes"
    try:
        return "json" if parse_json_text(a) == parse_json_text(b) else ""
    except JsonTextError:
        return ""
