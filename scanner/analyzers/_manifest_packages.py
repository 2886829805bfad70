"""Manifest checks of the documents and the packages: schema, layout, names and versions,
categories, requirements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.analyzers._manifest_index import (
    CATEGORY_IMPL,
    DESCRIPTOR_KEYS,
    IMPL_DESCRIPTOR,
    OTA_VERSION_RX,
    Pkg,
    short,
)
from scanner.analyzers._manifest_run import RunState
from scanner.models import Severity
from scanner.sources.manifests import (
    JsonPath,
    ManifestKind,
    jget,
    jlist,
    jobjects,
    jstr,
    validate_document,
)

__all__ = ["PackageChecks"]


class PackageChecks(RunState):
    """Schema conformance of every manifest and the agreement inside each package."""

    # -- schema ---------------------------------------------------------------------------------
    def schema(self) -> None:
        """Each manifest against its official schema (fill-in templates are only noted)."""
        for m in self.target.manifests:
            if m.data is None:
                continue  # unreadable: the source already reported it
            if m.template:
                shown = ", ".join(m.template[:4]) + (" ..." if len(m.template) > 4 else "")
                self.add(
                    "override-template",
                    f"{m.path} is a fill-in template ({shown}), not an override to deploy as "
                    "it is; it is checked once filled in",
                    m.path,
                    evidence="template",
                )
                continue
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
                    f"{doc.rsplit('/', 1)[-1]} has neither runtimeDescriptor nor mlModelDescriptor",
                    doc,
                )
            elif len(keys) == 2:
                self.add(
                    "descriptor-ambiguous",
                    f"{doc.rsplit('/', 1)[-1]} holds both runtimeDescriptor and "
                    "mlModelDescriptor; keep the one that matches the asset",
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
            name = jstr(p.body.get("name"))
            version = jstr(p.body.get("version"))
            if f.folder_name is not None and name is not None and name != f.folder_name:
                self.add(
                    "name-mismatch",
                    f"package.json name {short(name)!r} differs from the folder's "
                    f"{f.folder_name!r} (the Test Utility and deploy look packages up by folder)",
                    f.package_path,
                    ("nodePackage", "name"),
                )
            if f.folder_version is not None and version is not None and version != f.folder_version:
                self.add(
                    "folder-version",
                    f"package.json version {short(version)!r} differs from the folder's "
                    f"{f.folder_version!r}; panorama-cli registers package.json's version, so "
                    "the graph must ask for that one (the Test Utility also expects them equal)",
                    f.package_path,
                    ("nodePackage", "version"),
                )

    def categories(self) -> None:
        """``business_logic``<->container<->runtimeDescriptor, ``ml_model``<->model<->mlModel."""
        for p in self.pkgs:
            if p.body is None:
                continue
            doc = p.folder.package_path
            for ii, iface in jobjects(p.body.get("interfaces")):
                category = jstr(iface.get("category"))
                asset_name = jstr(iface.get("asset"))
                if asset_name is None or not p.assets:
                    continue  # not built yet: nothing to agree with
                asset = p.assets.get(asset_name)
                if asset is None:
                    self.add(
                        "asset-unknown",
                        f"interface {short(iface.get('name'))!r} names asset "
                        f"{short(asset_name)!r}, which the package does not define",
                        doc,
                        ("nodePackage", "interfaces", ii, "asset"),
                    )
                    continue
                want_impl = CATEGORY_IMPL.get(category or "")
                impl_types = {
                    t
                    for _, impl in jobjects(asset.get("implementations"))
                    if (t := jstr(impl.get("type"))) is not None
                }
                if want_impl is not None and impl_types and want_impl not in impl_types:
                    self.add(
                        "category-mismatch",
                        f"interface {short(iface.get('name'))!r} is {category} but its asset "
                        f"{asset_name!r} is implemented as {', '.join(sorted(impl_types))} "
                        f"(expected {want_impl})",
                        doc,
                        ("nodePackage", "interfaces", ii, "category"),
                    )
                    continue
                self.descriptor_kind(p, asset_name, asset)

    def descriptor_kind(self, p: Pkg, asset_name: str, asset: Mapping[str, Any]) -> None:
        """A container's descriptor is ``runtimeDescriptor``, a model's ``mlModelDescriptor``.

        A container's is the folder's descriptor.json (build-container copies it); a model's
        is its own copy in assets/ (add-raw-model copies whatever file it is given).
        """
        for _, impl in jobjects(asset.get("implementations")):
            impl_type = jstr(impl.get("type"))
            want = IMPL_DESCRIPTOR.get(impl_type or "")
            if want is None:
                continue
            doc, data = p.folder.descriptor_path, p.folder.descriptor_data
            if impl_type == "model":
                uri = jstr(impl.get("descriptorUri"))
                if uri is None or uri not in p.folder.descriptor_copies:
                    continue  # not in this checkout: nothing to compare
                doc, data = f"assets/{uri}", p.folder.descriptor_copies[uri]
            have = sorted(k for k in DESCRIPTOR_KEYS if isinstance(data, Mapping) and k in data)
            if have and want not in have:
                self.add(
                    "category-mismatch",
                    f"asset {asset_name!r} is a {impl_type} but {doc.rsplit('/', 1)[-1]} holds "
                    f"{', '.join(have)} (expected {want})",
                    doc,
                    (have[0],),
                )

    def requirements(self) -> None:
        for p in self.pkgs:
            if p.body is None:
                continue
            doc = p.folder.package_path
            for ai, asset in jobjects(p.body.get("assets")):
                for ii, impl in jobjects(asset.get("implementations")):
                    base: JsonPath = ("nodePackage", "assets", ai, "implementations", ii)
                    for ri, req in jobjects(impl.get("requirements")):
                        self.requirement(doc, (*base, "requirements", ri), req, impl)

    def requirement(
        self, doc: str, parts: JsonPath, req: Mapping[str, Any], impl: Mapping[str, Any]
    ) -> None:
        rtype = req.get("type")
        if rtype == "hardware_access":
            if not jlist(req.get("inferenceAccelerators")):
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
                    f"hardware_access (GPU) is requested by a {short(impl.get('type'))} "
                    "implementation; only containers get GPU access",
                    doc,
                    parts,
                )
            for ai, acc in jobjects(req.get("inferenceAccelerators")):
                policy = jget(acc, "sharedResourcePolicy", "policy")
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
                        f"ota {key} {short(value)!r} is not an x.y.z appliance version",
                        doc,
                        (*parts, key),
                        severity=Severity.LOW,
                    )
