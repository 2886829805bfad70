"""Reading one ``packages/<account>-<name>-<version>/`` folder as panorama-cli uses it.

What panorama-cli does with a package decides what is checked (aws/aws-panorama-cli,
``panoramacli/panorama-cli``):

- ``build-container`` copies the folder's ``descriptor.json`` into ``assets/``, so a code
  package needs one, and its container's ``descriptorUri`` copy must equal it;
- ``add-raw-model --descriptor-path FILE`` copies *any* file, so a model asset's descriptor is
  its copy in ``assets/``; the folder may hold one descriptor per model, under any name, or none;
- camera and data-sink packages (``create-package --type Camera|Datasink``) have only
  ``system`` implementations and no descriptor at all;
- ``package-application`` uploads the assets that exist and skips the rest, so an asset named
  in package.json but not in ``assets/`` is the normal state of a checkout, recorded in
  ``PackageFolder.missing`` for the caller to report as not covered.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from scanner.errors import SourceError
from scanner.models import Artifact, ArtifactKind, Location, Severity
from scanner.sources._assets import AssetResolver, same_descriptor
from scanner.sources._reader import MAX_MANIFEST_BYTES, ProjectReader, probe, sorted_children
from scanner.sources.interface import ArtifactFormat, ManifestDoc
from scanner.sources.manifests import (
    AssetDescriptorDoc,
    JsonPath,
    ManifestKind,
    NodePackageDoc,
    PackageFolder,
    jget,
    jlist,
    jobjects,
    parse_document,
)

__all__ = ["implementation_refs", "load_package_folder", "parse_folder_name"]

MAX_DESCRIPTOR_FILES = 64
DESCRIPTOR_KEYS = ("mlModelDescriptor", "runtimeDescriptor")


def parse_folder_name(name: str) -> tuple[str, str, str] | None:
    """``<account>-<name>-<version>`` as the CLI splits it (names may hold ``-``); else ``None``."""
    parts = name.split("-")
    if len(parts) < 3:
        return None
    return parts[0], "-".join(parts[1:-1]), parts[-1]


def implementation_refs(data: Any) -> Iterable[tuple[JsonPath, Mapping[str, Any]]]:
    """(JSON path, implementation object) for every implementation in a package.json."""
    for ai, asset in jobjects(jget(data, "nodePackage", "assets")):
        for ii, impl in jobjects(asset.get("implementations")):
            yield ("nodePackage", "assets", ai, "implementations", ii), impl


def _roles(folder: PackageFolder) -> None:
    """Is the package code, a model, or neither (a camera, a data sink)?"""
    types = {impl.get("type") for _, impl in implementation_refs(folder.package_data)}
    categories = {
        iface.get("category")
        for _, iface in jobjects(jget(folder.package_data, "nodePackage", "interfaces"))
    }
    folder.code = (
        folder.dockerfile_path is not None or "container" in types or "business_logic" in categories
    )
    folder.model = not folder.code and ("model" in types or "ml_model" in categories)


def _safe_descriptor(doc: AssetDescriptorDoc | None) -> Mapping[str, Any] | None:
    """The descriptor as plain JSON for the walker, only when it conforms to the schema.

    Downstream code reads ``runtimeDescriptor.entry.name``; handing it a hostile document with
    wrong types would move the type checking there.
    """
    if doc is None:
        return None
    return doc.model_dump(mode="json", by_alias=True, exclude_none=True)


def load_package_folder(
    reader: ProjectReader, pkg_dir: Path, resolver: AssetResolver | None
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
    name = jget(pkg_data, "nodePackage", "name")
    pkg_name = name if isinstance(name, str) else (folder.folder_name or pkg_dir.name)
    # Re-tag the manifest with its package name now that it is known.
    last = reader.manifests[-1]
    reader.manifests[-1] = ManifestDoc(last.kind, last.path, last.data, pkg_name)
    folder.package_data = pkg_data
    if pkg_data is not None:
        doc, _ = parse_document(ManifestKind.PACKAGE, pkg_data)
        folder.package = doc.nodePackage if isinstance(doc, NodePackageDoc) else None
    docker_stat, _ = probe(pkg_dir / "Dockerfile")
    if docker_stat is not None and stat.S_ISREG(docker_stat.st_mode):  # lstat: no symlinks
        folder.dockerfile_path = f"{prefix}Dockerfile"
    _roles(folder)
    _read_descriptor(reader, folder, pkg_dir, pkg_name, resolver)
    if pkg_data is None or resolver is None:
        return folder
    _resolve_implementations(reader, folder, pkg_dir, pkg_name, resolver)
    return folder


def _read_descriptor(
    reader: ProjectReader,
    folder: PackageFolder,
    pkg_dir: Path,
    pkg_name: str,
    resolver: AssetResolver | None,
) -> None:
    desc_path = pkg_dir / "descriptor.json"
    found, error = probe(desc_path)
    if found is not None or error is not None:
        folder.descriptor_data = reader.read_manifest(desc_path, ManifestKind.DESCRIPTOR, pkg_name)
    elif folder.code and folder.package_data is not None:
        # build-container copies it into assets/; without it the package cannot be built
        # (once built, the copy in assets/ is what the device uses).
        built = resolver is not None and any(
            resolver.present(impl.get("assetUri"))
            for _, impl in implementation_refs(folder.package_data)
            if impl.get("type") == "container"
        )
        reader.add(
            "integrity.manifest-missing",
            Severity.LOW if built else Severity.MEDIUM,
            f"{folder.descriptor_path} is missing: panorama-cli build-container copies it into "
            "assets/ as the container's descriptor, so the package cannot be built without it",
            Location(folder.descriptor_path),
        )
    if folder.descriptor_data is not None:
        ddoc, _ = parse_document(ManifestKind.DESCRIPTOR, folder.descriptor_data)
        folder.descriptor = ddoc if isinstance(ddoc, AssetDescriptorDoc) else None
    if folder.model:
        _read_model_descriptors(reader, folder, pkg_dir, pkg_name)


def _read_model_descriptors(
    reader: ProjectReader, folder: PackageFolder, pkg_dir: Path, pkg_name: str
) -> None:
    """Other descriptor files of a model package (one per model, any name), read as manifests."""
    try:
        children = sorted_children(pkg_dir, 10_000, "files")
    except SourceError:  # unlistable or absurdly large: package.json's reading said so
        return
    found = 0
    for path in children:
        if path.suffix.lower() != ".json" or path.name in ("package.json", "descriptor.json"):
            continue
        data = reader.peek_json(path)
        if isinstance(data, Mapping) and any(k in data for k in DESCRIPTOR_KEYS):
            reader.read_manifest(path, ManifestKind.DESCRIPTOR, pkg_name)
            folder.descriptor_files.append(reader.rel(path))
            found += 1
            if found >= MAX_DESCRIPTOR_FILES:
                break


def _resolve_implementations(
    reader: ProjectReader,
    folder: PackageFolder,
    pkg_dir: Path,
    pkg_name: str,
    resolver: AssetResolver,
) -> None:
    safe_desc = _safe_descriptor(folder.descriptor)
    for parts, impl in implementation_refs(folder.package_data):
        itype = impl.get("type")
        if itype == "container":
            kind, fmt = ArtifactKind.CONTAINER, ArtifactFormat.ROOTFS
        elif itype == "model":
            kind, fmt = ArtifactKind.MODEL, ArtifactFormat.MODEL_ARCHIVE
        else:
            continue  # system: a built-in path (camera, HDMI); other: a schema finding
        common: dict[str, Any] = {
            "package": pkg_name,
            "package_dir": pkg_dir,
            "manifest_rel": folder.package_path,
            "descriptor": safe_desc,
        }
        uri = impl.get("assetUri")
        got = resolver.resolve(uri, kind=kind, fmt=fmt, parts=(*parts, "assetUri"), **common)
        if got.absent:
            folder.missing.append((kind.value, str(uri), (*parts, "assetUri")))
        elif got.artifact is not None and kind is ArtifactKind.CONTAINER:
            folder.containers.append(got.artifact.artifact.name)
        if "descriptorUri" not in impl:
            continue
        duri = impl.get("descriptorUri")
        copy = resolver.resolve(
            duri,
            kind=ArtifactKind.DESCRIPTOR,
            fmt=ArtifactFormat.DESCRIPTOR,
            parts=(*parts, "descriptorUri"),
            **common,
        )
        if copy.absent:
            folder.missing.append(("descriptor", str(duri), (*parts, "descriptorUri")))
        elif copy.artifact is not None and copy.data is not None:
            if kind is ArtifactKind.CONTAINER:
                _compare_container_descriptor(
                    reader, folder, copy.artifact.artifact.name, copy.data
                )
            else:
                _check_model_descriptor(reader, folder, copy.artifact.artifact, copy.data)


def _compare_container_descriptor(
    reader: ProjectReader, folder: PackageFolder, name: str, copy: bytes
) -> None:
    """A container's descriptor copy is build-container's copy of the folder's descriptor.json."""
    desc = reader.raw.get(folder.descriptor_path) if folder.descriptor_data is not None else None
    if desc is None:
        return
    same = same_descriptor(copy, desc)
    if same == "bytes":
        return
    props = {"package": folder.folder_name or "", "descriptor": folder.descriptor_path}
    if same == "json":
        reader.add(
            "integrity.descriptor-copy-mismatch",
            Severity.LOW,
            f"descriptor copy {name} has the same JSON as {folder.descriptor_path} but different "
            "bytes (reformatted after build)",
            Location(name),
            properties=props,
        )
    else:
        reader.add(
            "integrity.descriptor-copy-mismatch",
            Severity.HIGH,
            f"descriptor copy {name} differs from {folder.descriptor_path}: the device would run "
            "with a descriptor other than the one in the package; rebuild the package",
            Location(name),
            properties=props,
        )


def _check_model_descriptor(
    reader: ProjectReader, folder: PackageFolder, artifact: Artifact, copy: bytes
) -> None:
    """A model's descriptor copy is whatever file add-raw-model was given: find which one."""
    name = artifact.name
    data = reader.peek_json(reader.root / artifact.path)
    folder.descriptor_copies[name] = data
    candidates = [folder.descriptor_path, *folder.descriptor_files]
    for rel in candidates:
        raw = reader.raw.get(rel)
        if raw is not None and same_descriptor(copy, raw):
            return  # the copy of a descriptor file in the package: checked there
    # Not a copy of any descriptor in the folder: it is what the device uses, so it is read and
    # checked as a manifest on its own.
    if len(copy) <= MAX_MANIFEST_BYTES:
        reader.read_manifest(reader.root / artifact.path, ManifestKind.DESCRIPTOR, artifact.package)
    reader.add(
        "integrity.descriptor-copy-unmatched",
        Severity.INFO,
        f"descriptor copy {name} matches no descriptor file in {folder.dir or 'the package'} "
        "(add-raw-model --descriptor-path may name any file): it was checked on its own",
        Location(name),
        properties={"package": folder.folder_name or ""},
    )


def missing_summary(folder: PackageFolder) -> str:
    """``assets/a.tar.gz and descriptor copy assets/b.json``: the package's missing assets."""
    parts = [
        f"{'descriptor copy ' if kind == 'descriptor' else kind + ' asset '}assets/{uri}"
        for kind, uri, _ in folder.missing
    ]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def empty_assets(folder: PackageFolder) -> bool:
    """package.json is a package object whose ``assets`` list is empty (never built)."""
    body = jget(folder.package_data, "nodePackage")
    return isinstance(body, Mapping) and not jlist(body.get("assets"))
