"""Read a Panorama project folder: manifests, typed project model, assets and their integrity.

``load_project(root)`` parses ``graphs/<app>/graph.json`` (first sub-folder, sorted), the
``override.json`` files beside it, every ``packages/*/package.json`` and ``descriptor.json``,
resolves each non-system asset implementation to a ``SourceArtifact`` and verifies it:

- the asset file exists in ``assets/``, is a regular file inside the project, and its SHA-256
  (streamed, 1 MiB reads) equals the 64-hex stem of its name;
- the descriptor copy in ``assets/`` equals the package's ``descriptor.json`` byte for byte;
- a package whose ``assets`` is empty is reported as "not built" (low), not as corruption;
- an unreadable, oversized, too deeply nested or non-JSON manifest is a finding, never a
  traceback; a name in ``assetUri`` that is a path (``..``, ``/``) or a symlink leading out of
  the project is a finding and is never opened.

Example::

    target = load_project(Path("shelf_app"))
    for f in target.findings:
        print(f.rule_id, f.message)
    target.project.graph.nodes   # typed, when graph.json conforms to the schema
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import SourceError
from scanner.models import (
    Artifact,
    ArtifactKind,
    Category,
    Digest,
    Finding,
    Location,
    Severity,
    Target,
    TargetKind,
)
from scanner.sources.interface import ArtifactFormat, ManifestDoc, ScanTarget, SourceArtifact
from scanner.sources.manifests import (
    AssetDescriptorDoc,
    JsonPath,
    JsonTextError,
    ManifestKind,
    NodeGraphDoc,
    NodeGraphOverridesDoc,
    NodePackageDoc,
    PackageFolder,
    Project,
    format_path,
    line_index,
    line_of,
    parse_document,
    parse_json_text,
)

__all__ = [
    "HASH_CHUNK",
    "MAX_MANIFEST_BYTES",
    "ProjectReader",
    "code_folder_artifact",
    "has_built_assets",
    "load_package_folder",
    "load_project",
    "one_line",
    "parse_folder_name",
    "sha256_file",
]

HASH_CHUNK = 1024 * 1024
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # real manifests are a few KiB
MAX_PACKAGES = 512
MAX_GRAPH_DIRS = 64
MAX_ASSET_FILES = 10_000
HEX64 = re.compile(r"[0-9a-f]{64}")


def sha256_file(path: Path) -> tuple[str, int]:
    """Hex SHA-256 and size of a file, streamed in 1 MiB reads."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def parse_folder_name(name: str) -> tuple[str, str, str] | None:
    """``<account>-<name>-<version>`` as the CLI splits it (names may hold ``-``); else ``None``."""
    parts = name.split("-")
    if len(parts) < 3:
        return None
    return parts[0], "-".join(parts[1:-1]), parts[-1]


def _get(data: Any, *keys: str | int) -> Any:
    """Defensive lookup in untrusted JSON: ``None`` as soon as a step has the wrong type."""
    cur = data
    for k in keys:
        if isinstance(k, str) and isinstance(cur, Mapping):
            cur = cur.get(k)
        elif isinstance(k, int) and isinstance(cur, list) and 0 <= k < len(cur):
            cur = cur[k]
        else:
            return None
    return cur


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _probe(path: Path) -> tuple[os.stat_result | None, str | None]:
    """``lstat`` without raising: (result, None), (None, None) when absent, (None, reason)."""
    try:
        return os.lstat(path), None
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    except (OSError, ValueError) as exc:  # ENAMETOOLONG, EACCES, ELOOP; ValueError: NUL byte
        return None, (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str) -> str:
    """Escape control characters (names on disk and in manifests may hold newlines)."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def _is_dir(path: Path) -> bool:
    """``Path.is_dir`` that treats every error (EACCES, ELOOP...) as "not a usable folder"."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _clip(text: str, limit: int = 120) -> str:
    """Shorten attacker-controlled names before they go into a message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class _Checked:
    """A path that is safe to open: a regular file inside the project."""

    path: Path
    size: int


class ProjectReader:
    """Reads files of one project safely and collects integrity findings.

    Every path is resolved and must stay inside ``root``; only regular files are opened (a FIFO
    or device would block or lie); manifests are size- and depth-limited.
    """

    def __init__(self, root: Path) -> None:
        try:
            self.root = root.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise SourceError(f"{root}: cannot open the project folder") from exc
        if not _is_dir(self.root):
            raise SourceError(f"{root}: not a folder")
        self.findings: list[Finding] = []
        self.manifests: list[ManifestDoc] = []
        self.texts: dict[str, str] = {}
        self.raw: dict[str, bytes] = {}
        self._lines: dict[str, dict[JsonPath, int]] = {}

    # -- paths --------------------------------------------------------------------------------
    def rel(self, path: Path) -> str:
        """``path`` relative to the root, POSIX form (for reports)."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def check_dir(self, path: Path, what: str, *, fatal: bool = True) -> Path | None:
        """A sub-folder that exists and stays inside the project, else ``None``.

        A folder that is a symlink out of the project is foreign content the scan cannot vouch
        for: a ``SourceError`` when ``fatal`` (graphs/, packages/), else a finding.
        """
        found, error = _probe(path)
        if error is None and found is None:
            return None
        reason = f"cannot be read ({error})" if error else ""
        real: Path | None = None
        if not reason:
            try:
                real = path.resolve(strict=True)
            except (OSError, RuntimeError) as exc:
                reason = f"cannot be resolved ({exc.__class__.__name__})"
        if real is not None and not real.is_relative_to(self.root):
            reason = "is a symlink that leads out of the project"
        if reason:
            if fatal:
                raise SourceError(f"{self.rel(path)}: {what} {reason}")
            self._add(
                "integrity.path-escape",
                Severity.CRITICAL,
                f"{what} {self.rel(path)} {reason}; not read",
                Location(self.rel(path)),
                cwe=59,
            )
            return None
        return real if real is not None and _is_dir(real) else None

    def check_file(self, path: Path, *, rule_loc: Location, what: str) -> _Checked | None:
        """Resolve ``path``; report and return ``None`` when it is missing, escapes or is odd."""
        found, error = _probe(path)
        if error is not None:
            self._add(
                "integrity.unreadable",
                Severity.HIGH,
                f"{what} {_clip(self.rel(path))} cannot be read: {error}",
                rule_loc,
            )
            return _MISSING_REPORTED
        if found is None:
            return None
        try:
            real = path.resolve(strict=True)
        except FileNotFoundError:
            self._add(
                "integrity.asset-missing",
                Severity.HIGH,
                f"{what} {self.rel(path)} is a dangling symlink",
                rule_loc,
            )
            return _MISSING_REPORTED
        except (OSError, RuntimeError) as exc:
            self._add(
                "integrity.unreadable",
                Severity.HIGH,
                f"{what} {self.rel(path)} cannot be resolved: {exc.__class__.__name__}",
                rule_loc,
            )
            return _MISSING_REPORTED
        if not real.is_relative_to(self.root):
            self._add(
                "integrity.path-escape",
                Severity.CRITICAL,
                f"{what} {self.rel(path)} is a symlink that leads out of the project; not read",
                rule_loc,
                cwe=59,
            )
            return _MISSING_REPORTED
        try:
            st = real.stat()
        except OSError as exc:
            self._add(
                "integrity.unreadable",
                Severity.HIGH,
                f"{what} {self.rel(path)} cannot be read: {exc.strerror or exc}",
                rule_loc,
            )
            return _MISSING_REPORTED
        if not stat.S_ISREG(st.st_mode):
            self._add(
                "integrity.not-a-file",
                Severity.HIGH,
                f"{what} {self.rel(path)} is not a regular file; not read",
                rule_loc,
            )
            return _MISSING_REPORTED
        return _Checked(real, st.st_size)

    # -- findings -----------------------------------------------------------------------------
    def _add(
        self,
        rule_id: str,
        severity: Severity,
        message: str,
        location: Location,
        *,
        evidence: str = "",
        cwe: int | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        self.findings.append(
            Finding.create(
                rule_id=rule_id,
                category=Category.INTEGRITY,
                severity=severity,
                message=one_line(message),
                location=location,
                evidence=evidence,
                cwe=cwe,
                properties=properties,
            )
        )

    def location(self, rel: str, parts: JsonPath = ()) -> Location:
        """A Location in a manifest: its relative path, the JSON path and the line, if found."""
        text = self.texts.get(rel)
        line = None
        if text is not None and parts:
            index = self._lines.get(rel)
            if index is None:
                index = self._lines[rel] = line_index(text)
            line = line_of(index, parts)
        return Location(rel, format_path(parts), line)

    # -- manifests ----------------------------------------------------------------------------
    def read_manifest(self, path: Path, kind: ManifestKind, package: str | None = None) -> Any:
        """Read, parse and record one manifest; ``None`` (and a finding) when it cannot be used."""
        rel = self.rel(path)
        where = Location(rel)
        checked = self.check_file(path, rule_loc=where, what="manifest")
        if checked is None:
            self._add(
                "integrity.manifest-missing",
                Severity.HIGH,
                f"{rel} is missing",
                where,
            )
            self.manifests.append(ManifestDoc(kind.value, rel, None, package))
            return None
        if checked is _MISSING_REPORTED:
            self.manifests.append(ManifestDoc(kind.value, rel, None, package))
            return None
        data: Any = None
        try:
            with checked.path.open("rb") as f:
                raw = f.read(MAX_MANIFEST_BYTES + 1)
            if len(raw) > MAX_MANIFEST_BYTES:
                raise JsonTextError(f"larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB")
            data = parse_json_text(raw)
            self.texts[rel] = raw.decode("utf-8-sig")
            self.raw[rel] = raw
        except OSError as exc:
            self._add(
                "integrity.manifest-unreadable",
                Severity.HIGH,
                f"{rel} cannot be read: {exc.strerror or exc}",
                where,
            )
        except JsonTextError as exc:
            self._add(
                "integrity.manifest-unreadable",
                Severity.HIGH,
                f"{rel} is not a usable manifest: {exc}",
                where,
                evidence=str(exc),
            )
        self.manifests.append(ManifestDoc(kind.value, rel, data, package))
        return data


_MISSING_REPORTED = _Checked(Path(), -1)  # sentinel: a finding was already made


def _implementation_refs(data: Any) -> Iterable[tuple[JsonPath, Mapping[str, Any]]]:
    """(JSON path, implementation object) for every implementation in a package.json."""
    for ai, asset in enumerate(_list(_get(data, "nodePackage", "assets"))):
        for ii, impl in enumerate(_list(_get(asset, "implementations"))):
            if isinstance(impl, Mapping):
                yield ("nodePackage", "assets", ai, "implementations", ii), impl


def has_built_assets(package_data: Any) -> bool:
    """Whether a package.json lists any asset implementation (``False``: not built yet)."""
    return any(True for _ in _implementation_refs(package_data))


def code_folder_artifact(folder: Path, rel: str, package: str) -> SourceArtifact:
    """A code package folder as one ``code`` artifact, walked as a directory (``rel``: its
    path in the report)."""
    artifact = Artifact(
        kind=ArtifactKind.CODE, name=folder.name, path=rel, digest=None, size=0, package=package
    )
    return SourceArtifact(artifact, folder, ArtifactFormat.DIRECTORY, folder, None)


def _is_plain_name(uri: str) -> bool:
    """An asset URI must be a bare file name in assets/: no folders, no ``..``, no NUL."""
    return (
        bool(uri)
        and "/" not in uri
        and "\\" not in uri
        and uri not in (".", "..")
        and ("\x00" not in uri)
    )


class _AssetResolver:
    """Resolves implementations to artifacts and verifies digests (each file hashed once)."""

    def __init__(self, reader: ProjectReader, assets_dir: Path | None) -> None:
        self.r = reader
        self.assets_dir = assets_dir
        self.artifacts: dict[str, SourceArtifact] = {}
        self.referenced: set[str] = set()
        self._hashed: dict[Path, tuple[str, int] | None] = {}

    def _hash(self, checked: _Checked, loc: Location) -> tuple[str, int] | None:
        if checked.path not in self._hashed:
            try:
                self._hashed[checked.path] = sha256_file(checked.path)
            except OSError as exc:
                self.r._add(
                    "integrity.unreadable",
                    Severity.HIGH,
                    f"{loc.artifact} cannot be read: {exc.strerror or exc}",
                    loc,
                )
                self._hashed[checked.path] = None
        return self._hashed[checked.path]

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
    ) -> tuple[SourceArtifact | None, bytes | None]:
        """The artifact for one ``assetUri``/``descriptorUri`` (and, for descriptors, its bytes)."""
        ref_loc = self.r.location(manifest_rel, parts)
        if not isinstance(uri, str):
            return None, None  # a schema violation; the manifest analyzer reports it
        if not _is_plain_name(uri):
            self.r._add(
                "integrity.path-escape",
                Severity.CRITICAL,
                f"asset reference {uri[:120]!r} is a path, not a file name in assets/; not read",
                ref_loc,
                evidence=uri[:255],
                cwe=22,
            )
            return None, None
        if len(uri.encode("utf-8", "surrogateescape")) > 255:
            self.r._add(
                "integrity.asset-missing",
                Severity.HIGH,
                f"asset reference {_clip(uri)!r} is longer than any file name can be",
                ref_loc,
                evidence=uri[:255],
            )
            return None, None
        self.referenced.add(uri)
        if self.assets_dir is None:
            self.r._add(
                "integrity.asset-missing",
                Severity.HIGH,
                f"{kind.value} asset {uri} is referenced but the project has no assets/ folder",
                ref_loc,
                evidence=uri,
            )
            return None, None
        path = self.assets_dir / uri
        checked = self.r.check_file(path, rule_loc=ref_loc, what=f"{kind.value} asset")
        if checked is None:
            self.r._add(
                "integrity.asset-missing",
                Severity.HIGH,
                f"{kind.value} asset assets/{uri} named in {manifest_rel} does not exist",
                ref_loc,
                evidence=uri,
                properties={"package": package, "asset_kind": kind.value},
            )
            return None, None
        if checked is _MISSING_REPORTED:
            return None, None
        got = self._hash(checked, Location(uri))
        if got is None:
            return None, None
        digest_hex, size = got
        stem = uri.split(".", 1)[0]
        asset_loc = Location(uri)
        if not HEX64.fullmatch(stem):
            self.r._add(
                "integrity.unverifiable-name",
                Severity.MEDIUM,
                f"asset {uri} is not named by its SHA-256, so its content cannot be verified "
                "against its name",
                asset_loc,
                properties={"sha256": digest_hex},
            )
        elif stem != digest_hex:
            self.r._add(
                "integrity.digest-mismatch",
                Severity.CRITICAL,
                f"asset {uri} has SHA-256 {digest_hex}, not the digest in its name: the file was "
                "changed or replaced after it was built",
                asset_loc,
                evidence=digest_hex,
                cwe=354,
                properties={"expected": stem, "actual": digest_hex, "package": package},
            )
        data: bytes | None = None
        if kind is ArtifactKind.DESCRIPTOR and size <= MAX_MANIFEST_BYTES:
            try:
                data = checked.path.read_bytes()
            except OSError as exc:
                self.r._add(
                    "integrity.unreadable",
                    Severity.HIGH,
                    f"{uri} cannot be read: {exc.strerror or exc}",
                    asset_loc,
                )
        rel = self.r.rel(checked.path)
        existing = self.artifacts.get(rel)
        if existing is not None:
            return existing, data
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
        return sa, data


def _safe_descriptor(doc: AssetDescriptorDoc | None) -> Mapping[str, Any] | None:
    """The descriptor as plain JSON for the walker, only when it conforms to the schema.

    Downstream code reads ``runtimeDescriptor.entry.name``; handing it a hostile document with
    wrong types would move the type checking there.
    """
    if doc is None:
        return None
    return doc.model_dump(mode="json", by_alias=True, exclude_none=True)


def load_package_folder(
    reader: ProjectReader, pkg_dir: Path, resolver: _AssetResolver | None
) -> PackageFolder:
    """Read one package folder's manifests; with a resolver, also resolve and verify its assets."""
    rel_dir = reader.rel(pkg_dir) if pkg_dir != reader.root else ""
    parsed = parse_folder_name(pkg_dir.name)
    prefix = f"{rel_dir}/" if rel_dir else ""
    folder = PackageFolder(
        dir=rel_dir,
        folder_account=parsed[0] if parsed else None,
        folder_name=parsed[1] if parsed else None,
        folder_version=parsed[2] if parsed else None,
        package_path=f"{prefix}package.json",
        descriptor_path=f"{prefix}descriptor.json",
    )
    pkg_data = reader.read_manifest(pkg_dir / "package.json", ManifestKind.PACKAGE)
    name = _get(pkg_data, "nodePackage", "name")
    pkg_name = name if isinstance(name, str) else (folder.folder_name or pkg_dir.name)
    # Re-tag the manifest with its package name now that it is known.
    last = reader.manifests[-1]
    reader.manifests[-1] = ManifestDoc(last.kind, last.path, last.data, pkg_name)
    folder.package_data = pkg_data
    if pkg_data is not None:
        doc, _ = parse_document(ManifestKind.PACKAGE, pkg_data)
        folder.package = doc.nodePackage if isinstance(doc, NodePackageDoc) else None

    desc_path = pkg_dir / "descriptor.json"
    desc_data: Any = None
    desc_found, desc_error = _probe(desc_path)
    if desc_found is not None or desc_error is not None:
        desc_data = reader.read_manifest(desc_path, ManifestKind.DESCRIPTOR, pkg_name)
    elif list(_implementation_refs(pkg_data)):
        reader._add(
            "integrity.manifest-missing",
            Severity.HIGH,
            f"{folder.descriptor_path} is missing but package.json declares assets",
            Location(folder.descriptor_path),
        )
    folder.descriptor_data = desc_data
    if desc_data is not None:
        ddoc, _ = parse_document(ManifestKind.DESCRIPTOR, desc_data)
        folder.descriptor = ddoc if isinstance(ddoc, AssetDescriptorDoc) else None
    dockerfile = pkg_dir / "Dockerfile"
    docker_stat, _ = _probe(dockerfile)
    if docker_stat is not None and stat.S_ISREG(docker_stat.st_mode):  # lstat: no symlinks
        folder.dockerfile_path = f"{prefix}Dockerfile"

    if pkg_data is None:
        return folder
    impls = list(_implementation_refs(pkg_data))
    if not impls and isinstance(_get(pkg_data, "nodePackage"), Mapping):
        reader._add(
            "integrity.not-built",
            Severity.LOW,
            f'package {pkg_name} has no built assets yet (empty "assets"); run '
            "panorama-cli build-container or add-raw-model before packaging",
            reader.location(folder.package_path, ("nodePackage", "assets")),
            properties={"package": pkg_name},
        )
    if resolver is None:
        return folder
    desc_bytes = reader.raw.get(folder.descriptor_path) if desc_data is not None else None
    safe_desc = _safe_descriptor(folder.descriptor)
    for parts, impl in impls:
        itype = impl.get("type")
        if itype == "system":
            continue  # built-in asset path (camera, HDMI), not a file in assets/
        if itype == "container":
            kind, fmt = ArtifactKind.CONTAINER, ArtifactFormat.ROOTFS
        elif itype == "model":
            kind, fmt = ArtifactKind.MODEL, ArtifactFormat.MODEL_ARCHIVE
        else:
            continue  # unknown type: a schema finding from the manifest analyzer
        resolver.resolve(
            impl.get("assetUri"),
            kind=kind,
            fmt=fmt,
            package=pkg_name,
            package_dir=pkg_dir,
            manifest_rel=folder.package_path,
            parts=(*parts, "assetUri"),
            descriptor=safe_desc,
        )
        if "descriptorUri" not in impl:
            continue
        uri = impl.get("descriptorUri")
        sa, copy_bytes = resolver.resolve(
            uri,
            kind=ArtifactKind.DESCRIPTOR,
            fmt=ArtifactFormat.DESCRIPTOR,
            package=pkg_name,
            package_dir=pkg_dir,
            manifest_rel=folder.package_path,
            parts=(*parts, "descriptorUri"),
            descriptor=safe_desc,
        )
        if sa is not None and copy_bytes is not None and desc_bytes is not None:
            _compare_descriptor(reader, sa, copy_bytes, desc_bytes, folder.descriptor_path)
    return folder


def _compare_descriptor(
    reader: ProjectReader, sa: SourceArtifact, copy_bytes: bytes, desc_bytes: bytes, desc_rel: str
) -> None:
    if copy_bytes == desc_bytes:
        return
    try:
        same_json = parse_json_text(copy_bytes) == parse_json_text(desc_bytes)
    except JsonTextError:
        same_json = False
    if same_json:
        reader._add(
            "integrity.descriptor-copy-mismatch",
            Severity.LOW,
            f"descriptor copy {sa.artifact.name} has the same JSON as {desc_rel} but different "
            "bytes (reformatted after build)",
            Location(sa.artifact.name),
            properties={"package": sa.artifact.package or "", "descriptor": desc_rel},
        )
    else:
        reader._add(
            "integrity.descriptor-copy-mismatch",
            Severity.HIGH,
            f"descriptor copy {sa.artifact.name} differs from {desc_rel}: the device would run "
            "with a descriptor other than the one in the package; rebuild the package",
            Location(sa.artifact.name),
            properties={"package": sa.artifact.package or "", "descriptor": desc_rel},
        )


def _sorted_children(folder: Path, limit: int, what: str) -> list[Path]:
    try:
        with os.scandir(folder) as it:
            names: list[str] = []
            for entry in it:
                names.append(entry.name)
                if len(names) > limit:
                    raise SourceError(f"{folder}: more than {limit} {what}; refusing to read it")
    except OSError as exc:
        raise SourceError(f"{folder}: cannot list {what}: {exc.strerror or exc}") from exc
    return [folder / n for n in sorted(names)]


def load_project(root: Path) -> ScanTarget:
    """Read a Panorama project folder into a ``ScanTarget`` (see the module docstring).

    Raises ``SourceError`` only when the folder cannot be a project at all (not a folder,
    ``graphs/`` or ``packages/`` missing or leading out of it, absurd numbers of entries);
    everything else becomes a finding.
    """
    reader = ProjectReader(Path(root))
    top = reader.root
    graphs = reader.check_dir(top / "graphs", "graphs/")
    packages = reader.check_dir(top / "packages", "packages/")
    if graphs is None or packages is None:
        raise SourceError(
            f"{root}: not a Panorama project (needs graphs/ and packages/ folders)",
            hint="point panorama-gate at the folder panorama-cli init-project created",
        )
    assets = reader.check_dir(top / "assets", "assets/")
    if assets is None:
        reader._add(
            "integrity.layout",
            Severity.MEDIUM,
            "the project has no assets/ folder (panorama-cli requires assets/, graphs/, packages/)",
            Location("assets"),
        )
    project = Project(root=top)

    graph_dirs = [
        p for p in _sorted_children(graphs, MAX_GRAPH_DIRS, "graph folders") if _is_dir(p)
    ]
    if not graph_dirs:
        reader._add(
            "integrity.manifest-missing",
            Severity.HIGH,
            "graphs/ holds no application folder with a graph.json",
            Location("graphs"),
        )
    else:
        gdir = reader.check_dir(graph_dirs[0], "graph folder", fatal=False)
        if gdir is not None:
            project.app_name = graph_dirs[0].name
            gpath = graph_dirs[0] / "graph.json"
            project.graph_path = reader.rel(gpath)
            project.graph_data = reader.read_manifest(gpath, ManifestKind.GRAPH)
            if project.graph_data is not None:
                gdoc, _ = parse_document(ManifestKind.GRAPH, project.graph_data)
                project.graph = gdoc.nodeGraph if isinstance(gdoc, NodeGraphDoc) else None
            siblings = _sorted_children(graph_dirs[0], MAX_ASSET_FILES, "files beside graph.json")
            for opath in (p for p in siblings if p.name.endswith(".json") and "override" in p.name):
                odata = reader.read_manifest(opath, ManifestKind.OVERRIDE)
                odoc = None
                if odata is not None:
                    parsed, _ = parse_document(ManifestKind.OVERRIDE, odata)
                    if isinstance(parsed, NodeGraphOverridesDoc):
                        odoc = parsed.nodeGraphOverrides
                project.overrides[reader.rel(opath)] = odoc

    resolver = _AssetResolver(reader, assets)
    unbuilt_code: list[SourceArtifact] = []
    for pkg_dir in _sorted_children(packages, MAX_PACKAGES, "package folders"):
        if not _is_dir(pkg_dir):
            continue
        real = reader.check_dir(pkg_dir, "package folder", fatal=False)
        if real is None:
            continue
        folder = load_package_folder(reader, pkg_dir, resolver)
        project.packages.append(folder)
        if folder.dockerfile_path is not None and not has_built_assets(folder.package_data):
            # A code package not built yet has no container to scan: its folder (the sources
            # build-container would copy) is scanned instead, as a lone code package would be.
            # Once built, the container (what is deployed) is scanned and the folder is not.
            unbuilt_code.append(
                code_folder_artifact(pkg_dir, folder.dir, folder.folder_name or pkg_dir.name)
            )

    if assets is not None:
        for f in _sorted_children(assets, MAX_ASSET_FILES, "asset files"):
            if f.name not in resolver.referenced and not f.name.startswith("."):
                reader._add(
                    "integrity.unreferenced-asset",
                    Severity.INFO,
                    f"assets/{f.name} is not referenced by any package (left over from an "
                    "earlier build?); it is not scanned",
                    Location(f.name),
                )
    project.texts = dict(reader.texts)
    # The manifests are artifacts too: their digests go into the report, so signing can refuse
    # a manifest edited after the scan.
    manifest_artifacts = [
        SourceArtifact(
            Artifact(
                ArtifactKind.DESCRIPTOR,
                rel,
                rel,
                Digest.sha256_of(raw),
                len(raw),
                None,
                (),
                "manifest",
            ),
            top / rel,
            ArtifactFormat.DESCRIPTOR,
            sniffed=True,
            digest_verified=True,
        )
        for rel, raw in sorted(reader.raw.items())
        if rel not in resolver.artifacts
    ]
    return ScanTarget(
        target=Target(str(root), TargetKind.PROJECT, project.app_name or top.name),
        root=top,
        artifacts=[*resolver.artifacts.values(), *unbuilt_code, *manifest_artifacts],
        manifests=reader.manifests,
        findings=reader.findings,
        project=project,
    )
