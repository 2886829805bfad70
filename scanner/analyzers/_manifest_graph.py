"""Manifest checks of the application graph and its overrides: accounts, packages, nodes,
edges, parameters, routing, overrides, and advisories about model nodes."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from scanner.analyzers._manifest_index import (
    ACCOUNT_RX,
    BUILTIN_INTERFACES,
    BUILTIN_OWNER,
    FLOAT32_MAX,
    HOST_PORT_MAX,
    HOST_PORT_MIN,
    INT32_MAX,
    INT32_MIN,
    Iface,
    Node,
    is_int,
    is_number,
    short,
    split_interface,
)
from scanner.analyzers._manifest_run import RunState
from scanner.models import Severity
from scanner.sources.manifests import JsonPath, ManifestKind, jget, jobjects, jstr

__all__ = ["GraphChecks"]


class GraphChecks(RunState):
    """Agreement of the graph (and overrides) with the packages it uses."""

    # -- graph ------------------------------------------------------------------------------------
    def accounts(self) -> None:
        """One 12-digit account across package folders, graph packages, nodes and overrides."""
        places: list[tuple[str, str, JsonPath]] = [
            (p.folder.folder_account, p.folder.dir, ())
            for p in self.pkgs
            if p.folder.folder_account is not None
        ]
        for pi, inc in jobjects(jget(self.graph, "packages")):
            owner = jstr(inc.get("name"))
            if owner is not None and "::" in owner:
                places.append(
                    (owner.split("::", 1)[0], self.graph_doc, ("nodeGraph", "packages", pi, "name"))
                )
        for ni, node in jobjects(jget(self.graph, "nodes")):
            ref = split_interface(jstr(node.get("interface")) or "")
            if ref is not None:
                places.append((ref[0], self.graph_doc, ("nodeGraph", "nodes", ni, "interface")))
        for odoc, odata in self._override_docs():
            body = jget(odata, "nodeGraphOverrides")
            for pi, inc in jobjects(jget(body, "packages")):
                owner = jstr(inc.get("name"))
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
                    f"account {short(account)!r} is not a 12-digit AWS account id",
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
                    f"account {short(account)} differs from the project's account {main}; "
                    "one application uses one account (run panorama-cli import-application)",
                    doc,
                    parts,
                    evidence=f"{account}!={main}",
                )

    def _override_docs(self) -> Iterator[tuple[str, Any]]:
        """(path, data) of each override meant to be used as it is (templates are not)."""
        for m in self.target.manifests:
            if m.kind == ManifestKind.OVERRIDE.value and m.data is not None and not m.template:
                yield m.path, m.data

    def graph_packages(self) -> None:
        used: set[str] = set()
        for pi, inc in jobjects(jget(self.graph, "packages")):
            name = jstr(inc.get("name"))
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
                    f"graph uses package {short(name)} {short(version)} but packages/ has no "
                    f"{owner}-{pkg_name}-{short(version)} folder",
                    self.graph_doc,
                    (*parts, "name"),
                )
                continue
            registered = pkg.folder.registered_version
            if isinstance(version, str) and pkg.body is not None and version != registered:
                self.add(
                    "version-mismatch",
                    f"graph asks for {short(name)} version {short(version)} but "
                    f"package-application registers version {registered} (package.json's "
                    f"{'version' if 'version' in pkg.body else 'default, as it has no version'})",
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

    def _resolve_node(self, node: Node, declared: set[str]) -> None:
        ref = split_interface(node.interface)
        if ref is None:
            return
        owner, pkg_name, iface_name = ref
        node.owner, node.package = owner, pkg_name
        if f"{owner}::{pkg_name}" not in declared:
            self.add(
                "package-not-declared",
                f"node {short(node.name)!r} uses package {owner}::{pkg_name}, which is not in "
                "the graph's packages list",
                node.doc,
                (*node.root, "interface"),
            )
        if owner == BUILTIN_OWNER:
            spec = BUILTIN_INTERFACES.get((pkg_name, iface_name))
            if spec is not None:
                node.iface = Iface(
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
                f"node {short(node.name)!r} uses interface {short(iface_name)!r}, which package "
                f"{pkg_name} does not define (it defines: {short(known)})",
                node.doc,
                (*node.root, "interface"),
            )
            return
        node.iface = iface

    def _declared(self, body: Any) -> set[str]:
        return {
            n
            for _, inc in jobjects(jget(body, "packages"))
            if (n := jstr(inc.get("name"))) is not None
        }

    def _collect_nodes(
        self, body: Any, doc: str, root: JsonPath, declared: set[str]
    ) -> dict[str, Node]:
        nodes: dict[str, Node] = {}
        for ni, data in jobjects(jget(body, "nodes")):
            name, interface = jstr(data.get("name")), jstr(data.get("interface"))
            if name is None or interface is None:
                continue  # schema violation
            node = Node(ni, name, interface, data, doc, (*root, "nodes", ni))
            if name in nodes:
                self.add(
                    "duplicate-node",
                    f"node name {short(name)!r} is used twice; edges and routing rules become "
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
        self, value: Any, nodes: Mapping[str, Node], doc: str, parts: JsonPath, producer: bool
    ) -> tuple[Node, str | None] | None:
        """(node, port) of an edge end after checking both exist; ``None`` when reported/unknown."""
        text = jstr(value)
        if text is None:
            return None
        node_name, dot, port = text.partition(".")
        node = nodes.get(node_name)
        role = "producer" if producer else "consumer"
        if node is None:
            self.add(
                "edge-node-missing",
                f"edge {role} {short(text)!r} names node {short(node_name)!r}, which the graph "
                "does not define",
                doc,
                parts,
            )
            return None
        if node.is_parameter:
            if not producer or dot:
                self.add(
                    "edge-port-missing",
                    f"edge {role} {short(text)!r}: parameter node {node_name!r} can only be a "
                    "producer, written as its bare name",
                    doc,
                    parts,
                )
                return None
            return node, None
        if not dot:
            self.add(
                "edge-port-missing",
                f"edge {role} {short(text)!r} names no port (write node.port)",
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
                f"edge {role} {short(text)!r}: interface of node {node_name!r} has no {kind} "
                f"port {short(port)!r} (its {kind}s: {short(known)})",
                doc,
                parts,
            )
            return None
        return node, port

    def edges(
        self, body: Any, doc: str, root: JsonPath, nodes: Mapping[str, Node] | None = None
    ) -> None:
        nodes = self.nodes if nodes is None else nodes
        for ei, edge in jobjects(jget(body, "edges")):
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
                    f"edge {short(edge.get('producer'))} -> {short(edge.get('consumer'))} "
                    f"connects output type {ptype} to input type {ctype}",
                    doc,
                    base,
                    evidence=f"{ptype}->{ctype}",
                )

    def parameters(self, nodes: Iterable[Node]) -> None:
        for node in nodes:
            if not node.is_parameter or "value" not in node.data:
                continue
            value = node.data["value"]
            parts = (*node.root, "value")
            if node.interface == "float32":
                if is_int(value):
                    self.add(
                        "parameter-type",
                        f"float32 parameter {node.name!r} has integer value {value}; write "
                        f"{value}.0 (the Panorama Test Utility and SDK expect a float)",
                        node.doc,
                        parts,
                    )
                if is_number(value) and (
                    not math.isfinite(float(value)) or abs(float(value)) > FLOAT32_MAX
                ):
                    self.add(
                        "parameter-range",
                        f"float32 parameter {node.name!r} value {short(value)} does not fit "
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
                if is_int(number) and not INT32_MIN <= number <= INT32_MAX:
                    self.add(
                        "parameter-range",
                        f"int32 parameter {node.name!r} value {short(value)} does not fit in "
                        "32 bits",
                        node.doc,
                        parts,
                    )

    def routing(self, body: Any, doc: str, root: JsonPath, nodes: Mapping[str, Node]) -> None:
        for ri, rule in jobjects(jget(body, "networkRoutingRules")):
            base: JsonPath = (*root, "networkRoutingRules", ri)
            node_name = jstr(rule.get("node"))
            cport = rule.get("containerPort")
            hport = rule.get("hostPort")
            if is_int(hport) and not HOST_PORT_MIN <= hport <= HOST_PORT_MAX:
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
                    f"routing rule names node {short(node_name)!r}, which the graph does not "
                    "define",
                    doc,
                    (*base, "node"),
                )
                continue
            if node.iface is None or node.iface.builtin or not is_int(cport):
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
            body = jget(odata, "nodeGraphOverrides")
            if not isinstance(body, Mapping):
                continue
            root: JsonPath = ("nodeGraphOverrides",)
            declared = self._declared(self.graph) | self._declared(body)
            onodes = self._collect_nodes(body, odoc, root, declared)
            self.parameters(onodes.values())
            combined = {**self.nodes, **onodes}
            self.routing(body, odoc, root, combined)
            self.edges(body, odoc, root, combined)
            for oi, ov in jobjects(body.get("nodeOverrides")):
                base: JsonPath = (*root, "nodeOverrides", oi)
                replace = jstr(ov.get("replace"))
                if replace is not None and replace not in self.nodes:
                    self.add(
                        "override-unknown-node",
                        f"override replaces node {short(replace)!r}, which the graph does not "
                        "define",
                        odoc,
                        (*base, "replace"),
                    )
                for wi, w in jobjects(ov.get("with")):
                    wname = jstr(w.get("name"))
                    if wname is not None and wname not in onodes:
                        self.add(
                            "override-unknown-node",
                            f"override uses node {short(wname)!r}, which the override's nodes "
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
            for ai, asset in jobjects(p.body.get("assets")):
                for ii, impl in jobjects(asset.get("implementations")):
                    gpu = any(
                        req.get("type") == "hardware_access"
                        for _, req in jobjects(impl.get("requirements"))
                    )
                    if gpu and impl.get("type") == "container":
                        self.add(
                            "gpu-with-model-nodes",
                            f"container {short(asset.get('name'))!r} asks for GPU access while "
                            "the application also has Neo model nodes; Panorama refuses GPU-access "
                            "containers next to Neo model nodes on a device",
                            p.folder.package_path,
                            ("nodePackage", "assets", ai, "implementations", ii, "requirements"),
                        )
