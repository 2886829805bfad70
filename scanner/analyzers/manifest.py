"""``manifest``: the Panorama manifest checks of panorama-package-format.md section 12.

A ``TargetAnalyzer`` over the project model that ``scanner.sources.panorama`` (or
``codepkg``) built. It reads the raw JSON defensively, so one schema violation does not hide
the agreement checks, and never raises on hostile documents. Rule ids (``manifest.<rule>``)
are listed in ``RULES`` with their default severity; docs/sections/manifests.md documents them.

Every finding's location is ``{artifact: the manifest's path relative to the target root,
path: a JSON path such as nodeGraph.nodes[2].interface, line: the line of that key or null}``.

Example::

    analyzer = ManifestAnalyzer()
    findings = list(analyzer.analyze_target(load_project(Path("shelf_app"))))
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeGuard

from scanner.analyzers.interface import Output, TargetAnalyzer
from scanner.models import Category, Finding, Location, Severity
from scanner.sources.interface import ScanTarget
from scanner.sources.manifests import (
    JsonPath,
    ManifestKind,
    PackageFolder,
    Project,
    format_path,
    line_index,
    line_of,
    validate_document,
)
from scanner.sources.panorama import one_line

__all__ = ["RULES", "ManifestAnalyzer"]

RULES: Mapping[str, tuple[Severity, str]] = {
    "schema": (Severity.HIGH, "manifest does not conform to the 2021-01-01 schema"),
    "empty-document": (Severity.HIGH, "manifest lacks its top-level object"),
    "descriptor-ambiguous": (Severity.MEDIUM, "descriptor holds both runtime and model parts"),
    "account-mismatch": (Severity.HIGH, "more than one AWS account across folders and graph"),
    "account-invalid": (Severity.MEDIUM, "account id is not 12 digits"),
    "folder-name": (Severity.LOW, "package folder name is not <account>-<name>-<version>"),
    "package-missing": (Severity.HIGH, "graph names a package with no folder"),
    "package-not-declared": (Severity.HIGH, "node uses a package missing from graph packages"),
    "package-unused": (Severity.LOW, "package folder not used by the graph"),
    "name-mismatch": (Severity.MEDIUM, "package.json name differs from its folder"),
    "version-mismatch": (Severity.HIGH, "versions disagree between graph, folder, package.json"),
    "duplicate-node": (Severity.HIGH, "two graph nodes share a name"),
    "interface-missing": (Severity.HIGH, "node interface not defined by its package"),
    "asset-unknown": (Severity.HIGH, "interface names an asset the package does not define"),
    "category-mismatch": (Severity.HIGH, "interface category, implementation, descriptor disagree"),
    "edge-node-missing": (Severity.HIGH, "edge endpoint names no node"),
    "edge-port-missing": (Severity.HIGH, "edge endpoint names no port of the node's interface"),
    "edge-type-mismatch": (Severity.HIGH, "edge connects ports of different types"),
    "parameter-type": (Severity.MEDIUM, "parameter value is not of its declared type"),
    "parameter-range": (Severity.HIGH, "parameter value does not fit its type"),
    "routing-node-missing": (Severity.HIGH, "routing rule names no node"),
    "routing-port-undeclared": (Severity.HIGH, "routed container port not in inboundPorts"),
    "host-port-range": (Severity.HIGH, "host port outside 8000-9000"),
    "requirement-value": (Severity.MEDIUM, "requirement value not allowed or meaningless"),
    "override-unknown-node": (Severity.HIGH, "override replaces or uses an unknown node"),
    "multiple-graphs": (Severity.LOW, "more than one application folder under graphs/"),
    "latest-base-image": (Severity.LOW, "Dockerfile base image is unpinned (latest)"),
    "gpu-with-model-nodes": (Severity.MEDIUM, "GPU-access container together with model nodes"),
    "neo-model-node": (Severity.LOW, "SageMaker Neo model node (unsupported from 8.0.29)"),
}

PARAMETER_TYPES = frozenset({"boolean", "int32", "float32", "string"})
BUILTIN_OWNER = "panorama"
# Ports of the built-in packages (panorama-package-format.md section 6).
BUILTIN_INTERFACES: Mapping[tuple[str, str], dict[str, dict[str, str]]] = {
    ("abstract_rtsp_media_source", "rtsp_v1_interface"): {
        "category": {"": "media_source"},
        "inputs": {},
        "outputs": {"video_out": "media"},
    },
    ("hdmi_data_sink", "hdmi0"): {
        "category": {"": "media_sink"},
        "inputs": {"video_in": "media"},
        "outputs": {},
    },
}
ACCOUNT_RX = re.compile(r"[0-9]{12}")
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
FLOAT32_MAX = 3.4028234663852886e38
HOST_PORT_MIN, HOST_PORT_MAX = 8000, 9000
OTA_VERSION_RX = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")
MAX_PER_RULE = 50  # findings of one rule in one file; the rest are counted
MAX_DOCKERFILE_BYTES = 1024 * 1024
CATEGORY_IMPL = {"business_logic": "container", "ml_model": "model"}
IMPL_DESCRIPTOR = {"container": "runtimeDescriptor", "model": "mlModelDescriptor"}


# ---------------------------------------------------------------------------------------------
# Defensive JSON access
# ---------------------------------------------------------------------------------------------


def _get(data: Any, *keys: str | int) -> Any:
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


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _enum(items: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(index, object) for the objects of a JSON list, skipping anything else."""
    for i, item in enumerate(_list(items)):
        if isinstance(item, Mapping):
            yield i, item


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Indexes of the project
# ---------------------------------------------------------------------------------------------


@dataclass
class _Iface:
    """An interface's facts: category, ports with types, inbound ports, where it is defined."""

    category: str | None
    inputs: dict[str, str]
    outputs: dict[str, str]
    inbound: set[int]
    asset: str | None = None
    builtin: bool = False


@dataclass
class _Pkg:
    folder: PackageFolder
    body: Mapping[str, Any] | None
    interfaces: dict[str, _Iface] = field(default_factory=dict)
    assets: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    descriptor_kinds: set[str] = field(default_factory=set)


def _ports(items: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for _, port in _enum(items):
        name, ptype = _str(port.get("name")), _str(port.get("type"))
        if name is not None and ptype is not None:
            out.setdefault(name, ptype)
    return out


def _index_package(folder: PackageFolder) -> _Pkg:
    body = _get(folder.package_data, "nodePackage")
    pkg = _Pkg(folder, body if isinstance(body, Mapping) else None)
    for _, iface in _enum(_get(body, "interfaces")):
        name = _str(iface.get("name"))
        if name is None:
            continue
        inbound = {
            p["port"]
            for _, p in _enum(_get(iface, "network", "inboundPorts"))
            if _is_int(p.get("port"))
        }
        pkg.interfaces.setdefault(
            name,
            _Iface(
                _str(iface.get("category")),
                _ports(iface.get("inputs")),
                _ports(iface.get("outputs")),
                inbound,
                _str(iface.get("asset")),
            ),
        )
    for _, asset in _enum(_get(body, "assets")):
        aname = _str(asset.get("name"))
        if aname is not None:
            pkg.assets.setdefault(aname, asset)
    if isinstance(folder.descriptor_data, Mapping):
        pkg.descriptor_kinds = {
            k for k in ("runtimeDescriptor", "mlModelDescriptor") if k in folder.descriptor_data
        }
    return pkg


def _split_interface(ref: str) -> tuple[str, str, str] | None:
    """``owner::package.interface`` -> parts, else ``None``."""
    owner, sep, rest = ref.partition("::")
    pkg, dot, iface = rest.partition(".")
    if not sep or not dot or not owner or not pkg or not iface:
        return None
    return owner, pkg, iface


@dataclass
class _Node:
    index: int
    name: str
    interface: str
    data: Mapping[str, Any]
    doc: str  # manifest path
    root: JsonPath  # JSON path of the node object
    iface: _Iface | None = None
    owner: str | None = None
    package: str | None = None

    @property
    def is_parameter(self) -> bool:
        return self.interface in PARAMETER_TYPES


# ---------------------------------------------------------------------------------------------
# The analyzer
# ---------------------------------------------------------------------------------------------


class ManifestAnalyzer(TargetAnalyzer):
    """Schema conformance and cross-manifest agreement of a Panorama project or code package."""

    name: ClassVar[str] = "manifest"
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"manifest", "integrity"})

    def analyze_target(self, target: ScanTarget) -> Iterable[Output]:
        """All manifest findings for the target (nothing for lone containers and models)."""
        project = target.project
        if not isinstance(project, Project):
            return []
        run = _Run(project, target)
        run.all()
        return sorted(run.findings, key=Finding.sort_key)


class _Run:
    """One analysis: the indexes plus the findings made so far."""

    def __init__(self, project: Project, target: ScanTarget) -> None:
        self.project = project
        self.target = target
        self.findings: list[Finding] = []
        self._lines: dict[str, dict[JsonPath, int]] = {}
        self.pkgs = [_index_package(f) for f in project.packages]
        self.by_name: dict[str, _Pkg] = {}
        for p in self.pkgs:
            if p.folder.folder_name is not None:
                self.by_name.setdefault(p.folder.folder_name, p)
        self.graph = _get(project.graph_data, "nodeGraph")
        self.graph_doc = project.graph_path or "graph.json"
        self.nodes: dict[str, _Node] = {}
        self._counts: Counter[tuple[str, str]] = Counter()

    # -- reporting ----------------------------------------------------------------------------
    def loc(self, doc: str, parts: JsonPath) -> Location:
        text = self.project.texts.get(doc)
        line = None
        if text is not None:
            index = self._lines.get(doc)
            if index is None:
                index = self._lines[doc] = line_index(text)
            line = line_of(index, parts)
            if line is None and not parts:
                line = 1
        return Location(doc, format_path(parts), line)

    def add(
        self,
        rule: str,
        message: str,
        doc: str,
        parts: JsonPath = (),
        *,
        severity: Severity | None = None,
        evidence: str = "",
        properties: Mapping[str, Any] | None = None,
        line: int | None = None,
    ) -> None:
        key = (rule, doc)
        self._counts[key] += 1
        if self._counts[key] > MAX_PER_RULE:
            return  # a hostile or generated manifest must not flood the report; summarised below
        default, title = RULES[rule]
        location = self.loc(doc, parts)
        if line is not None:
            location = Location(location.artifact, location.path, line)
        self.findings.append(
            Finding.create(
                rule_id=f"manifest.{rule}",
                category=Category.MANIFEST,
                severity=severity if severity is not None else default,
                message=one_line(message),
                location=location,
                evidence=evidence or message,
                title=title,
                properties=properties,
            )
        )

    # -- driver -------------------------------------------------------------------------------
    def all(self) -> None:
        self.schema()
        self.layout()
        self.packages_agreement()
        self.categories()
        self.requirements()
        self.dockerfiles()
        if self.project.graph_path is not None and isinstance(self.graph, Mapping):
            self.accounts()
            self.graph_packages()
            self.graph_nodes()
            self.edges(self.graph, self.graph_doc, ("nodeGraph",))
            self.parameters(self.nodes.values())
            self.routing(self.graph, self.graph_doc, ("nodeGraph",), self.nodes)
            self.overrides()
            self.model_advisories()
        self.summarise_dropped()

    def summarise_dropped(self) -> None:
        for (rule, doc), count in sorted(self._counts.items()):
            if count > MAX_PER_RULE:
                self._counts[(rule, doc)] = 0  # let the summary itself through
                self.add(
                    rule,
                    f"{count - MAX_PER_RULE} more manifest.{rule} findings in {doc} not listed",
                    doc,
                    evidence=f"{rule}:more",
                )

    # -- schema ---------------------------------------------------------------------------------
    def schema(self) -> None:
        for m in self.target.manifests:
            if m.data is None:
                continue  # unreadable: the source already reported it
            kind = ManifestKind(m.kind)
            issues = validate_document(kind, m.data)
            for issue in issues:
                self.add(
                    "schema",
                    f"{issue.path or 'document'}: {issue.message}",
                    m.path,
                    issue.parts,
                    evidence=f"{issue.path}:{issue.message}",
                )
            self.document_shape(kind, m.path, m.data)

    def document_shape(self, kind: ManifestKind, doc: str, data: Any) -> None:
        if not isinstance(data, Mapping):
            return  # a schema violation already
        if kind is ManifestKind.DESCRIPTOR:
            keys = {"runtimeDescriptor", "mlModelDescriptor"} & set(data)
            if not keys:
                self.add(
                    "empty-document",
                    "descriptor.json has neither runtimeDescriptor nor mlModelDescriptor",
                    doc,
                )
            elif len(keys) == 2:
                self.add(
                    "descriptor-ambiguous",
                    "descriptor.json holds both runtimeDescriptor and mlModelDescriptor; keep "
                    "the one that matches the asset",
                    doc,
                    ("mlModelDescriptor",),
                )
            return
        root = {
            ManifestKind.GRAPH: "nodeGraph",
            ManifestKind.PACKAGE: "nodePackage",
            ManifestKind.OVERRIDE: "nodeGraphOverrides",
        }[kind]
        if root not in data:
            self.add("empty-document", f"the manifest has no {root!r} object", doc)

    # -- layout ---------------------------------------------------------------------------------
    def layout(self) -> None:
        if self.project.graph_path is None:
            return
        graphs = self.target.root / "graphs"
        try:
            names = sorted(p.name for p in list(graphs.iterdir())[:1000] if p.is_dir())
        except OSError:
            return
        if len(names) > 1:
            self.add(
                "multiple-graphs",
                f"graphs/ holds {len(names)} application folders; panorama-cli uses only the "
                f"first one listed ({names[0]}), so the others are ignored",
                "graphs",
                line=None,
            )

    # -- packages -------------------------------------------------------------------------------
    def packages_agreement(self) -> None:
        for p in self.pkgs:
            f = p.folder
            if f.dir and f.folder_name is None:
                self.add(
                    "folder-name",
                    f"package folder {f.dir} is not <account>-<name>-<version>; panorama-cli "
                    "skips it",
                    f.dir,
                )
            if p.body is None:
                continue
            name = _str(p.body.get("name"))
            version = _str(p.body.get("version"))
            if f.folder_name is not None and name is not None and name != f.folder_name:
                self.add(
                    "name-mismatch",
                    f"package.json name {_short(name)!r} differs from the folder's "
                    f"{f.folder_name!r} (the Test Utility and deploy look packages up by folder)",
                    f.package_path,
                    ("nodePackage", "name"),
                )
            if f.folder_version is not None and version is not None and version != f.folder_version:
                self.add(
                    "version-mismatch",
                    f"package.json version {_short(version)!r} differs from the folder's "
                    f"{f.folder_version!r}",
                    f.package_path,
                    ("nodePackage", "version"),
                    severity=Severity.MEDIUM,
                )

    def categories(self) -> None:
        """``business_logic``<->container<->runtimeDescriptor, ``ml_model``<->model<->mlModel."""
        for p in self.pkgs:
            if p.body is None:
                continue
            doc = p.folder.package_path
            for ii, iface in _enum(p.body.get("interfaces")):
                category = _str(iface.get("category"))
                asset_name = _str(iface.get("asset"))
                if asset_name is None or not p.assets:
                    continue  # not built yet: nothing to agree with
                asset = p.assets.get(asset_name)
                if asset is None:
                    self.add(
                        "asset-unknown",
                        f"interface {_short(iface.get('name'))!r} names asset "
                        f"{_short(asset_name)!r}, which the package does not define",
                        doc,
                        ("nodePackage", "interfaces", ii, "asset"),
                    )
                    continue
                want_impl = CATEGORY_IMPL.get(category or "")
                impl_types = {
                    t
                    for _, impl in _enum(asset.get("implementations"))
                    if (t := _str(impl.get("type"))) is not None
                }
                if want_impl is not None and impl_types and want_impl not in impl_types:
                    self.add(
                        "category-mismatch",
                        f"interface {_short(iface.get('name'))!r} is {category} but its asset "
                        f"{asset_name!r} is implemented as {', '.join(sorted(impl_types))} "
                        f"(expected {want_impl})",
                        doc,
                        ("nodePackage", "interfaces", ii, "category"),
                    )
                    continue
                for impl_type in sorted(impl_types & set(IMPL_DESCRIPTOR)):
                    want_desc = IMPL_DESCRIPTOR[impl_type]
                    if p.descriptor_kinds and want_desc not in p.descriptor_kinds:
                        have = ", ".join(sorted(p.descriptor_kinds))
                        self.add(
                            "category-mismatch",
                            f"asset {asset_name!r} is a {impl_type} but descriptor.json holds "
                            f"{have} (expected {want_desc})",
                            p.folder.descriptor_path,
                            (sorted(p.descriptor_kinds)[0],),
                        )

    def requirements(self) -> None:
        for p in self.pkgs:
            if p.body is None:
                continue
            doc = p.folder.package_path
            for ai, asset in _enum(p.body.get("assets")):
                for ii, impl in _enum(asset.get("implementations")):
                    base: JsonPath = ("nodePackage", "assets", ai, "implementations", ii)
                    for ri, req in _enum(impl.get("requirements")):
                        self.requirement(doc, (*base, "requirements", ri), req, impl)

    def requirement(
        self, doc: str, parts: JsonPath, req: Mapping[str, Any], impl: Mapping[str, Any]
    ) -> None:
        rtype = req.get("type")
        if rtype == "hardware_access":
            if not _list(req.get("inferenceAccelerators")):
                self.add(
                    "requirement-value",
                    "hardware_access requirement lists no inferenceAccelerators; it grants "
                    "nothing (use nvhost_gpu with policy allow_all)",
                    doc,
                    (*parts, "inferenceAccelerators"),
                )
            if impl.get("type") != "container":
                self.add(
                    "requirement-value",
                    f"hardware_access (GPU) is requested by a {_short(impl.get('type'))} "
                    "implementation; only containers get GPU access",
                    doc,
                    parts,
                )
            for ai, acc in _enum(req.get("inferenceAccelerators")):
                policy = _get(acc, "sharedResourcePolicy", "policy")
                if policy is None:
                    self.add(
                        "requirement-value",
                        "inference accelerator without sharedResourcePolicy.policy; the only "
                        "allowed value is allow_all",
                        doc,
                        (*parts, "inferenceAccelerators", ai, "sharedResourcePolicy"),
                        severity=Severity.LOW,
                    )
        elif rtype == "ota":
            for key in ("minVersion", "maxVersion"):
                value = req.get(key)
                if isinstance(value, str) and not OTA_VERSION_RX.fullmatch(value):
                    self.add(
                        "requirement-value",
                        f"ota {key} {_short(value)!r} is not an x.y.z appliance version",
                        doc,
                        (*parts, key),
                        severity=Severity.LOW,
                    )

    def dockerfiles(self) -> None:
        for p in self.pkgs:
            rel = p.folder.dockerfile_path
            if rel is None:
                continue
            text = self._read_text(rel)
            if text is None:
                continue
            for lineno, image in _from_lines(text):
                if _is_unpinned(image):
                    self.add(
                        "latest-base-image",
                        f"base image {_short(image)} uses the moving 'latest' tag; pin a "
                        "version tag (e.g. 1.2.1-arm64v8) or a digest so builds are reproducible",
                        rel,
                        line=lineno,
                        evidence=image,
                    )

    def _read_text(self, rel: str) -> str | None:
        root = self.target.root
        path = root / rel
        try:
            real = path.resolve(strict=True)
            if not real.is_relative_to(root.resolve()) or not real.is_file():
                return None
            with real.open("rb") as f:
                raw = f.read(MAX_DOCKERFILE_BYTES)
        except (OSError, RuntimeError):
            return None
        return raw.decode("utf-8", "replace")

    # -- graph ------------------------------------------------------------------------------------
    def accounts(self) -> None:
        """One 12-digit account across package folders, graph packages, nodes and overrides."""
        places: list[tuple[str, str, JsonPath]] = [
            (p.folder.folder_account, p.folder.dir, ())
            for p in self.pkgs
            if p.folder.folder_account is not None
        ]
        for pi, inc in _enum(_get(self.graph, "packages")):
            owner = _str(inc.get("name"))
            if owner is not None and "::" in owner:
                places.append(
                    (owner.split("::", 1)[0], self.graph_doc, ("nodeGraph", "packages", pi, "name"))
                )
        for ni, node in _enum(_get(self.graph, "nodes")):
            ref = _split_interface(_str(node.get("interface")) or "")
            if ref is not None:
                places.append((ref[0], self.graph_doc, ("nodeGraph", "nodes", ni, "interface")))
        for odoc, odata in self._override_docs():
            body = _get(odata, "nodeGraphOverrides")
            for pi, inc in _enum(_get(body, "packages")):
                owner = _str(inc.get("name"))
                if owner is not None and "::" in owner:
                    places.append(
                        (
                            owner.split("::", 1)[0],
                            odoc,
                            ("nodeGraphOverrides", "packages", pi, "name"),
                        )
                    )
        places = [pl for pl in places if pl[0] != BUILTIN_OWNER]
        for account, doc, parts in places:
            if not ACCOUNT_RX.fullmatch(account):
                self.add(
                    "account-invalid",
                    f"account {_short(account)!r} is not a 12-digit AWS account id",
                    doc,
                    parts,
                )
        counts = Counter(a for a, _, _ in places)
        if len(counts) <= 1:
            return
        # The folders' account is what panorama-cli import-application rewrites; prefer it.
        folder_counts = Counter(
            p.folder.folder_account for p in self.pkgs if p.folder.folder_account is not None
        )
        main = (folder_counts or counts).most_common(1)[0][0]
        for account, doc, parts in places:
            if account != main:
                self.add(
                    "account-mismatch",
                    f"account {_short(account)} differs from the project's account {main}; "
                    "one application uses one account (run panorama-cli import-application)",
                    doc,
                    parts,
                    evidence=f"{account}!={main}",
                )

    def _override_docs(self) -> Iterator[tuple[str, Any]]:
        for m in self.target.manifests:
            if m.kind == ManifestKind.OVERRIDE.value and m.data is not None:
                yield m.path, m.data

    def graph_packages(self) -> None:
        used: set[str] = set()
        for pi, inc in _enum(_get(self.graph, "packages")):
            name = _str(inc.get("name"))
            version = inc.get("version")
            if name is None or "::" not in name:
                continue
            owner, pkg_name = name.split("::", 1)
            if owner == BUILTIN_OWNER:
                continue
            used.add(pkg_name)
            pkg = self.by_name.get(pkg_name)
            parts: JsonPath = ("nodeGraph", "packages", pi)
            if pkg is None:
                self.add(
                    "package-missing",
                    f"graph uses package {_short(name)} {_short(version)} but packages/ has no "
                    f"{owner}-{pkg_name}-{_short(version)} folder",
                    self.graph_doc,
                    (*parts, "name"),
                )
                continue
            fv = pkg.folder.folder_version
            if isinstance(version, str) and fv is not None and version != fv:
                self.add(
                    "version-mismatch",
                    f"graph asks for {_short(name)} version {_short(version)} but the package "
                    f"folder is version {fv}",
                    self.graph_doc,
                    (*parts, "version"),
                )
        if self.project.graph_path is not None:
            for p in self.pkgs:
                fname = p.folder.folder_name
                if fname is not None and fname not in used:
                    self.add(
                        "package-unused",
                        f"package folder {p.folder.dir} is not used by the graph; it is still "
                        "uploaded by package-application",
                        p.folder.dir,
                    )

    def _resolve_node(self, node: _Node, declared: set[str]) -> None:
        ref = _split_interface(node.interface)
        if ref is None:
            return
        owner, pkg_name, iface_name = ref
        node.owner, node.package = owner, pkg_name
        if f"{owner}::{pkg_name}" not in declared:
            self.add(
                "package-not-declared",
                f"node {_short(node.name)!r} uses package {owner}::{pkg_name}, which is not in "
                "the graph's packages list",
                node.doc,
                (*node.root, "interface"),
            )
        if owner == BUILTIN_OWNER:
            spec = BUILTIN_INTERFACES.get((pkg_name, iface_name))
            if spec is not None:
                node.iface = _Iface(
                    spec["category"][""],
                    dict(spec["inputs"]),
                    dict(spec["outputs"]),
                    set(),
                    builtin=True,
                )
            return
        pkg = self.by_name.get(pkg_name)
        if pkg is None or pkg.body is None:
            return  # missing package: reported once by graph_packages
        iface = pkg.interfaces.get(iface_name)
        if iface is None:
            known = ", ".join(sorted(pkg.interfaces)) or "none"
            self.add(
                "interface-missing",
                f"node {_short(node.name)!r} uses interface {_short(iface_name)!r}, which package "
                f"{pkg_name} does not define (it defines: {_short(known)})",
                node.doc,
                (*node.root, "interface"),
            )
            return
        node.iface = iface

    def _declared(self, body: Any) -> set[str]:
        return {
            n
            for _, inc in _enum(_get(body, "packages"))
            if (n := _str(inc.get("name"))) is not None
        }

    def _collect_nodes(
        self, body: Any, doc: str, root: JsonPath, declared: set[str]
    ) -> dict[str, _Node]:
        nodes: dict[str, _Node] = {}
        for ni, data in _enum(_get(body, "nodes")):
            name, interface = _str(data.get("name")), _str(data.get("interface"))
            if name is None or interface is None:
                continue  # schema violation
            node = _Node(ni, name, interface, data, doc, (*root, "nodes", ni))
            if name in nodes:
                self.add(
                    "duplicate-node",
                    f"node name {_short(name)!r} is used twice; edges and routing rules become "
                    "ambiguous",
                    doc,
                    (*node.root, "name"),
                )
                continue
            nodes[name] = node
            if not node.is_parameter:
                self._resolve_node(node, declared)
        return nodes

    def graph_nodes(self) -> None:
        self.nodes = self._collect_nodes(
            self.graph, self.graph_doc, ("nodeGraph",), self._declared(self.graph)
        )

    def _endpoint(
        self, value: Any, nodes: Mapping[str, _Node], doc: str, parts: JsonPath, producer: bool
    ) -> tuple[_Node, str | None] | None:
        """(node, port) of an edge end after checking both exist; ``None`` when reported/unknown."""
        text = _str(value)
        if text is None:
            return None
        node_name, dot, port = text.partition(".")
        node = nodes.get(node_name)
        role = "producer" if producer else "consumer"
        if node is None:
            self.add(
                "edge-node-missing",
                f"edge {role} {_short(text)!r} names node {_short(node_name)!r}, which the graph "
                "does not define",
                doc,
                parts,
            )
            return None
        if node.is_parameter:
            if not producer or dot:
                self.add(
                    "edge-port-missing",
                    f"edge {role} {_short(text)!r}: parameter node {node_name!r} can only be a "
                    "producer, written as its bare name",
                    doc,
                    parts,
                )
                return None
            return node, None
        if not dot:
            self.add(
                "edge-port-missing",
                f"edge {role} {_short(text)!r} names no port (write node.port)",
                doc,
                parts,
            )
            return None
        if node.iface is None:
            return None  # interface unknown (external package): cannot check ports
        ports = node.iface.outputs if producer else node.iface.inputs
        if port not in ports:
            kind = "output" if producer else "input"
            known = ", ".join(sorted(ports)) or "none"
            self.add(
                "edge-port-missing",
                f"edge {role} {_short(text)!r}: interface of node {node_name!r} has no {kind} "
                f"port {_short(port)!r} (its {kind}s: {_short(known)})",
                doc,
                parts,
            )
            return None
        return node, port

    def edges(
        self, body: Any, doc: str, root: JsonPath, nodes: Mapping[str, _Node] | None = None
    ) -> None:
        nodes = self.nodes if nodes is None else nodes
        for ei, edge in _enum(_get(body, "edges")):
            base: JsonPath = (*root, "edges", ei)
            prod = self._endpoint(edge.get("producer"), nodes, doc, (*base, "producer"), True)
            cons = self._endpoint(edge.get("consumer"), nodes, doc, (*base, "consumer"), False)
            if prod is None or cons is None:
                continue
            pnode, pport = prod
            cnode, cport = cons
            ptype = (
                pnode.interface
                if pport is None
                else (pnode.iface.outputs[pport] if pnode.iface else None)
            )
            ctype = cnode.iface.inputs.get(cport or "") if cnode.iface else None
            if ptype is not None and ctype is not None and ptype != ctype:
                self.add(
                    "edge-type-mismatch",
                    f"edge {_short(edge.get('producer'))} -> {_short(edge.get('consumer'))} "
                    f"connects output type {ptype} to input type {ctype}",
                    doc,
                    base,
                    evidence=f"{ptype}->{ctype}",
                )

    def parameters(self, nodes: Iterable[_Node]) -> None:
        for node in nodes:
            if not node.is_parameter or "value" not in node.data:
                continue
            value = node.data["value"]
            parts = (*node.root, "value")
            if node.interface == "float32":
                if _is_int(value):
                    self.add(
                        "parameter-type",
                        f"float32 parameter {node.name!r} has integer value {value}; write "
                        f"{value}.0 (the Panorama Test Utility and SDK expect a float)",
                        node.doc,
                        parts,
                    )
                if _is_number(value) and (
                    not math.isfinite(float(value)) or abs(float(value)) > FLOAT32_MAX
                ):
                    self.add(
                        "parameter-range",
                        f"float32 parameter {node.name!r} value {_short(value)} does not fit "
                        "in a 32-bit float",
                        node.doc,
                        parts,
                    )
            elif node.interface == "int32":
                number = value
                if isinstance(value, float) and value.is_integer():
                    number = int(value)
                    self.add(
                        "parameter-type",
                        f"int32 parameter {node.name!r} has float value {value}; write {number}",
                        node.doc,
                        parts,
                        severity=Severity.LOW,
                    )
                if _is_int(number) and not INT32_MIN <= number <= INT32_MAX:
                    self.add(
                        "parameter-range",
                        f"int32 parameter {node.name!r} value {_short(value)} does not fit in "
                        "32 bits",
                        node.doc,
                        parts,
                    )

    def routing(self, body: Any, doc: str, root: JsonPath, nodes: Mapping[str, _Node]) -> None:
        for ri, rule in _enum(_get(body, "networkRoutingRules")):
            base: JsonPath = (*root, "networkRoutingRules", ri)
            node_name = _str(rule.get("node"))
            cport = rule.get("containerPort")
            hport = rule.get("hostPort")
            if _is_int(hport) and not HOST_PORT_MIN <= hport <= HOST_PORT_MAX:
                self.add(
                    "host-port-range",
                    f"host port {hport} is outside {HOST_PORT_MIN}-{HOST_PORT_MAX}, the range "
                    "Panorama allows applications to open",
                    doc,
                    (*base, "hostPort"),
                )
            if node_name is None:
                continue
            node = nodes.get(node_name)
            if node is None:
                self.add(
                    "routing-node-missing",
                    f"routing rule names node {_short(node_name)!r}, which the graph does not "
                    "define",
                    doc,
                    (*base, "node"),
                )
                continue
            if node.iface is None or node.iface.builtin or not _is_int(cport):
                continue
            if cport not in node.iface.inbound:
                declared = ", ".join(str(p) for p in sorted(node.iface.inbound)) or "none"
                self.add(
                    "routing-port-undeclared",
                    f"container port {cport} of node {node_name!r} is not declared in its "
                    f"interface's network.inboundPorts (declared: {declared})",
                    doc,
                    (*base, "containerPort"),
                )

    def overrides(self) -> None:
        for odoc, odata in self._override_docs():
            body = _get(odata, "nodeGraphOverrides")
            if not isinstance(body, Mapping):
                continue
            root: JsonPath = ("nodeGraphOverrides",)
            declared = self._declared(self.graph) | self._declared(body)
            onodes = self._collect_nodes(body, odoc, root, declared)
            self.parameters(onodes.values())
            combined = {**self.nodes, **onodes}
            self.routing(body, odoc, root, combined)
            self.edges(body, odoc, root, combined)
            for oi, ov in _enum(body.get("nodeOverrides")):
                base: JsonPath = (*root, "nodeOverrides", oi)
                replace = _str(ov.get("replace"))
                if replace is not None and replace not in self.nodes:
                    self.add(
                        "override-unknown-node",
                        f"override replaces node {_short(replace)!r}, which the graph does not "
                        "define",
                        odoc,
                        (*base, "replace"),
                    )
                for wi, w in _enum(ov.get("with")):
                    wname = _str(w.get("name"))
                    if wname is not None and wname not in onodes:
                        self.add(
                            "override-unknown-node",
                            f"override uses node {_short(wname)!r}, which the override's nodes "
                            "do not define",
                            odoc,
                            (*base, "with", wi, "name"),
                        )

    def model_advisories(self) -> None:
        model_nodes = [
            n for n in self.nodes.values() if n.iface is not None and n.iface.category == "ml_model"
        ]
        for node in model_nodes:
            self.add(
                "neo-model-node",
                f"node {node.name!r} is a SageMaker Neo model node; appliance software 8.0.29 "
                "and later no longer run them: run the model inside the code container with GPU "
                "access",
                node.doc,
                (*node.root, "interface"),
            )
        if not model_nodes:
            return
        used = {n.package for n in self.nodes.values() if n.package is not None}
        for p in self.pkgs:
            if p.body is None or p.folder.folder_name not in used:
                continue
            for ai, asset in _enum(p.body.get("assets")):
                for ii, impl in _enum(asset.get("implementations")):
                    gpu = any(
                        req.get("type") == "hardware_access"
                        for _, req in _enum(impl.get("requirements"))
                    )
                    if gpu and impl.get("type") == "container":
                        self.add(
                            "gpu-with-model-nodes",
                            f"container {_short(asset.get('name'))!r} asks for GPU access while "
                            "the application also has Neo model nodes; Panorama refuses GPU-access "
                            "containers next to Neo model nodes on a device",
                            p.folder.package_path,
                            ("nodePackage", "assets", ai, "implementations", ii, "requirements"),
                        )


# ---------------------------------------------------------------------------------------------
# Dockerfile base images
# ---------------------------------------------------------------------------------------------

_FROM_RX = re.compile(r"^\s*FROM\s+(.*)$", re.IGNORECASE)


def _from_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line, image) for each ``FROM`` that names an external image (not an earlier stage)."""
    stages: set[str] = set()
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno = i + 1
        line = lines[i]
        # Join continuation lines so "FROM \\\n image" is one instruction.
        while line.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line.rstrip()[:-1] + " " + lines[i]
        i += 1
        m = _FROM_RX.match(line)
        if m is None:
            continue
        words = [w for w in m.group(1).split() if not w.startswith("--")]
        if not words:
            continue
        image = words[0]
        if len(words) >= 3 and words[1].lower() == "as":
            stages.add(words[2].lower())
        if image.lower() in stages or image.lower() == "scratch":
            continue
        yield lineno, image


def _is_unpinned(image: str) -> bool:
    """True for ``name`` or ``name:latest`` without a digest; variables are not guessed at."""
    if "$" in image or "@" in image:
        return False
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return True
    return last.rsplit(":", 1)[1].lower() == "latest"
