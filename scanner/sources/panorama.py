"""Read a Panorama project folder as panorama-cli and the appliance use it.

``load_project(root)`` parses ``graphs/<app>/graph.json`` (first sub-folder, sorted), the
deploy-time overrides (JSON files beside the graph that hold ``nodeGraphOverrides``, and every
override in ``deployment_overrides/``), every ``packages/*/package.json`` with the descriptors
panorama-cli uses, and resolves each non-system asset implementation to a ``SourceArtifact``:

- an asset file that is there must be a regular file inside the project whose SHA-256 equals
  the 64-hex stem of its name; a container's descriptor copy must equal the package's
  ``descriptor.json``; a model's is the copy of whichever file ``add-raw-model`` was given;
- an asset that is named but not in ``assets/`` is what a checkout looks like (git does not keep
  ``assets/``): reported once per package as not covered by the scan (``integrity.not-built``,
  low), never as corruption;
- every code package is scanned from what is there: its built container when present,
  otherwise its source folder (what ``build-container`` would copy). When neither holds the
  code (the Dockerfile copies a folder the checkout does not have), the scan records a failure:
  the application code was not reviewed, so the verdict cannot be approved;
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
import json
from collections.abc import Mapping
from pathlib import Path

from scanner.errors import SourceError
from scanner.models import (
    AnalyzerFailure,
    Artifact,
    ArtifactKind,
    Digest,
    Location,
    Severity,
    Target,
    TargetKind,
)
from scanner.sources._assets import AssetResolver, sha256_file
from scanner.sources._coverage import check_code_sources
from scanner.sources._package_folder import (
    empty_assets,
    implementation_refs,
    load_package_folder,
    missing_summary,
    parse_folder_name,
)
from scanner.sources._reader import (
    MAX_ASSET_FILES,
    MAX_GRAPH_DIRS,
    MAX_PACKAGES,
    ProjectReader,
    is_dir,
    one_line,
    sorted_children,
)
from scanner.sources.interface import ArtifactFormat, ScanTarget, SourceArtifact
from scanner.sources.manifests import (
    ManifestKind,
    NodeGraphDoc,
    NodeGraphOverridesDoc,
    PackageFolder,
    Project,
    jget,
    parse_document,
)

__all__ = [
    "ProjectReader",
    "code_folder_artifact",
    "code_folders_scanned_as_source",
    "cover_code",
    "load_package_folder",
    "load_project",
    "one_line",
    "parse_folder_name",
    "sha256_file",
]

OVERRIDES_DIR = "deployment_overrides"
MAX_OVERRIDE_FILES = 64


def code_folder_artifact(folder: Path, rel: str, package: str) -> SourceArtifact:
    """A code package folder as one ``code`` artifact, walked as a directory (``rel``: its
    path in the report)."""
    artifact = Artifact(
        kind=ArtifactKind.CODE, name=folder.name, path=rel, digest=None, size=0, package=package
    )
    return SourceArtifact(artifact, folder, ArtifactFormat.DIRECTORY, folder, None)


# -- graph and overrides ----------------------------------------------------------------------


def _read_graph(reader: ProjectReader, project: Project, graphs: Path) -> None:
    graph_dirs = [p for p in sorted_children(graphs, MAX_GRAPH_DIRS, "graph folders") if is_dir(p)]
    if not graph_dirs:
        reader.add(
            "integrity.manifest-missing",
            Severity.HIGH,
            "graphs/ holds no application folder with a graph.json",
            Location("graphs"),
        )
        return
    gdir = reader.check_dir(graph_dirs[0], "graph folder", fatal=False)
    if gdir is None:
        return
    project.app_name = graph_dirs[0].name
    gpath = graph_dirs[0] / "graph.json"
    project.graph_path = reader.rel(gpath)
    project.graph_data = reader.read_manifest(gpath, ManifestKind.GRAPH)
    if project.graph_data is not None:
        gdoc, _ = parse_document(ManifestKind.GRAPH, project.graph_data)
        project.graph = gdoc.nodeGraph if isinstance(gdoc, NodeGraphDoc) else None
    siblings = sorted_children(graph_dirs[0], MAX_ASSET_FILES, "files beside graph.json")
    for path in siblings:
        if path.name == "graph.json" or not path.name.lower().endswith(".json"):
            continue
        _read_override(reader, project, path, by_name="override" in path.name.lower())


def _read_override(reader: ProjectReader, project: Project, path: Path, *, by_name: bool) -> None:
    """Read ``path`` as a deploy-time override when its content (or its name) says it is one.

    Other JSON files (an alternative graph kept for the emulator, say) are not read: neither
    panorama-cli nor the service uses them.
    """
    data = reader.peek_json(path)
    if not by_name and not (isinstance(data, Mapping) and "nodeGraphOverrides" in data):
        return
    odata = reader.read_manifest(path, ManifestKind.OVERRIDE)
    odoc = None
    if odata is not None:
        parsed, _ = parse_document(ManifestKind.OVERRIDE, odata)
        if isinstance(parsed, NodeGraphOverridesDoc):
            odoc = parsed.nodeGraphOverrides
    project.overrides[reader.rel(path)] = odoc


def _read_deployment_overrides(reader: ProjectReader, project: Project) -> None:
    """``deployment_overrides/`` (the samples' folder of real overrides), one level deep."""
    folder = reader.check_dir(reader.root / OVERRIDES_DIR, f"{OVERRIDES_DIR}/", fatal=False)
    if folder is None:
        return
    files = [
        p
        for p in sorted_children(folder, MAX_ASSET_FILES, "override files")
        if p.name.lower().endswith(".json") and not is_dir(p)
    ]
    for path in files[:MAX_OVERRIDE_FILES]:
        _read_override(reader, project, path, by_name="override" in path.name.lower())


# -- what of each code package is scanned ------------------------------------------------------


def _not_covered(reader: ProjectReader, folder: PackageFolder, name: str, what: str) -> None:
    where = folder.missing[0][2] if folder.missing else ("nodePackage", "assets")
    reader.add(
        "integrity.not-built",
        Severity.LOW,
        what,
        reader.location(folder.package_path, where),
        evidence=f"not-built:{name}",
        properties={
            "package": name,
            "missing": [f"assets/{uri}" for _, uri, _ in folder.missing],
            "scanned_from": folder.scanned_from or "nothing",
        },
    )


def _state(folder: PackageFolder) -> str:
    """How the package stands in this checkout: never built, or built elsewhere."""
    if empty_assets(folder):
        return 'is not built yet (empty "assets")'
    n = len(folder.missing)
    return (
        f"lists {missing_summary(folder)}, {'which is' if n == 1 else 'which are'} not in this "
        "checkout (panorama-cli builds assets/; git does not keep it)"
    )


def cover_code(
    reader: ProjectReader, folder: PackageFolder, pkg_dir: Path, name: str
) -> tuple[list[SourceArtifact], list[AnalyzerFailure]]:
    """Decide where a package's code is scanned from, and say what is not covered.

    A built container in ``assets/`` is what deploys, so it is scanned and the folder is not.
    Without one, the folder stands in for it, provided it holds the code the Dockerfile copies;
    otherwise the code is nowhere, and a failure (``incomplete``) says so.
    """
    unbuilt = empty_assets(folder)
    if not folder.code:
        if folder.model and unbuilt:
            _not_covered(
                reader,
                folder,
                name,
                f'package {name} has no model yet (empty "assets"; panorama-cli add-raw-model '
                "adds one): no model was scanned",
            )
        elif folder.missing:
            what = "the model was not scanned" if folder.model else "those files were not scanned"
            _not_covered(reader, folder, name, f"package {name} {_state(folder)}: {what}")
        elif unbuilt:
            _not_covered(reader, folder, name, f'package {name} has no assets yet (empty "assets")')
        return [], []
    if folder.containers:
        folder.scanned_from = "container"
        if folder.missing:
            _not_covered(
                reader, folder, name, f"package {name} {_state(folder)}: those were not scanned"
            )
        return [], []
    dockerfile = pkg_dir / "Dockerfile" if folder.dockerfile_path else None
    check = check_code_sources(pkg_dir, dockerfile, entry_point(folder))
    if not check.present:
        container = (
            "it is not built"
            if unbuilt or not folder.missing
            else (
                f"{missing_summary(folder)} {'is' if len(folder.missing) == 1 else 'are'} not here "
                "either"
            )
        )
        reason = (
            f"package {name}: its code is not in this target: {check.reason}, and {container}; "
            "the application code was not reviewed"
        )
        where = Location(folder.dockerfile_path or folder.package_path, "", check.line)
        # What is there (the Dockerfile's pip installs, any file) is still scanned.
        folder.scanned_from = "source (code missing)"
        artifact = code_folder_artifact(pkg_dir, folder.dir, folder.folder_name or pkg_dir.name)
        return [artifact], [AnalyzerFailure("sources", one_line(reason), where)]
    folder.scanned_from = "source"
    also = ""
    if check.missing:
        names = ", ".join(f"{src} (Dockerfile line {line})" for src, line in check.missing[:5])
        also = f"; the Dockerfile also copies {names}, not in this checkout either"
    _not_covered(
        reader,
        folder,
        name,
        f"package {name} {_state(folder)}: its code was scanned from the source folder "
        f"{folder.dir or '.'} instead, but what the build adds (the base image, packages the "
        f"Dockerfile installs) was not{also}",
    )
    return [code_folder_artifact(pkg_dir, folder.dir, folder.folder_name or pkg_dir.name)], []


def entry_point(folder: PackageFolder) -> str | None:
    """The script the package's runtime descriptor starts (``/panorama/app.py``), if it says."""
    name = jget(folder.descriptor_data, "runtimeDescriptor", "entry", "name")
    return name if isinstance(name, str) and name.startswith("/") else None


def code_folders_scanned_as_source(root: Path) -> list[Path]:
    """Code package folders a project scan walks in place of a container (see ``cover_code``).

    A code package (Dockerfile, container implementation or ``business_logic`` interface) none
    of whose container assets is in ``assets/``. Signing uses the same rule to require every
    file of such a folder to be a subject. A package.json that cannot be read counts as not
    built: its folder's files must then be subjects too, which is the stricter reading.
    """
    packages, assets = root / "packages", root / "assets"
    if not is_dir(packages):
        return []
    out: list[Path] = []
    for folder in sorted(packages.iterdir()):
        if not is_dir(folder) or folder.is_symlink():
            continue
        try:
            data = json.loads((folder / "package.json").read_bytes())
        except (OSError, ValueError):
            data = None
        refs = [impl for _, impl in implementation_refs(data)]
        categories = (
            {
                i.get("category")
                for i in (((data or {}).get("nodePackage") or {}).get("interfaces") or [])
                if isinstance(i, Mapping)
            }
            if isinstance(data, Mapping)
            else set()
        )
        code = (
            (folder / "Dockerfile").is_file()
            or any(r.get("type") == "container" for r in refs)
            or "business_logic" in categories
        )
        built = any(
            r.get("type") == "container"
            and isinstance(r.get("assetUri"), str)
            and "/" not in r["assetUri"]
            and (assets / r["assetUri"]).is_file()
            for r in refs
        )
        if (code or data is None) and not built:
            out.append(folder)
    return out


# -- the project ------------------------------------------------------------------------------


def _unreferenced(reader: ProjectReader, assets: Path, resolver: AssetResolver) -> None:
    descriptors = {
        hashlib.sha256(raw).hexdigest(): rel
        for rel, raw in reader.raw.items()
        if rel.endswith("descriptor.json")
    }
    for f in sorted_children(assets, MAX_ASSET_FILES, "asset files"):
        if f.name in resolver.referenced or f.name.startswith("."):
            continue
        copy_of = descriptors.get(f.name.split(".", 1)[0])
        what = f"a copy of {copy_of}, " if copy_of else ""
        reader.add(
            "integrity.unreferenced-asset",
            Severity.INFO,
            f"assets/{f.name} is {what}not referenced by any package (left over from an "
            "earlier build?); it is not scanned",
            Location(f.name),
        )


def _manifest_artifacts(reader: ProjectReader, resolver: AssetResolver) -> list[SourceArtifact]:
    """The manifests as artifacts: their digests go into the report, so signing can refuse a
    manifest edited after the scan."""
    return [
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
            reader.root / rel,
            ArtifactFormat.DESCRIPTOR,
            sniffed=True,
            digest_verified=True,
        )
        for rel, raw in sorted(reader.raw.items())
        if rel not in resolver.artifacts
    ]


def load_project(root: Path) -> ScanTarget:
    """Read a Panorama project folder into a ``ScanTarget`` (see the module docstring).

    Raises ``SourceError`` only when the folder cannot be a project at all (not a folder,
    ``graphs/`` or ``packages/`` missing or leading out of it, absurd numbers of entries);
    everything else becomes a finding (or, for code that is nowhere, a failure).
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
        reader.add(
            "integrity.layout",
            Severity.LOW,
            "the project has no assets/ folder (git does not keep empty folders; panorama-cli "
            "needs one): none of the assets the packages name is here to scan",
            Location("assets"),
        )
    project = Project(root=top)
    _read_graph(reader, project, graphs)
    _read_deployment_overrides(reader, project)
    resolver = AssetResolver(reader, assets)
    code_artifacts: list[SourceArtifact] = []
    failures: list[AnalyzerFailure] = []
    for pkg_dir in sorted_children(packages, MAX_PACKAGES, "package folders"):
        if not is_dir(pkg_dir) or reader.check_dir(pkg_dir, "package folder", fatal=False) is None:
            continue
        folder = load_package_folder(reader, pkg_dir, resolver)
        project.packages.append(folder)
        if folder.package_data is None:
            continue  # unreadable package.json: already a finding
        name = folder.folder_name or pkg_dir.name
        found, failed = cover_code(reader, folder, pkg_dir, name)
        code_artifacts.extend(found)
        failures.extend(failed)
    if assets is not None:
        _unreferenced(reader, assets, resolver)
    project.texts = dict(reader.texts)
    return ScanTarget(
        target=Target(str(root), TargetKind.PROJECT, project.app_name or top.name),
        root=top,
        artifacts=[
            *resolver.artifacts.values(),
            *code_artifacts,
            *_manifest_artifacts(reader, resolver),
        ],
        manifests=reader.manifests,
        findings=reader.findings,
        failures=failures,
        project=project,
    )
