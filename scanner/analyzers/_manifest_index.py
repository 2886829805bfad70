"""Indexes of a project for the manifest checks: packages, interfaces, ports and graph nodes.

Built from the raw JSON defensively (the typed models exist only for conforming documents), so
one schema violation does not hide the agreement checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from scanner.sources.manifests import JsonPath, PackageFolder, jget, jobjects, jstr

__all__ = [
    "BUILTIN_INTERFACES",
    "BUILTIN_OWNER",
    "PARAMETER_TYPES",
    "Iface",
    "Node",
    "Pkg",
    "index_package",
    "is_int",
    "is_number",
    "short",
    "split_interface",
]

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
CATEGORY_IMPL = {"business_logic": "container", "ml_model": "model"}
IMPL_DESCRIPTOR = {"container": "runtimeDescriptor", "model": "mlModelDescriptor"}
DESCRIPTOR_KEYS = ("mlModelDescriptor", "runtimeDescriptor")


def short(value: Any, limit: int = 80) -> str:
    """A value as a message quotes it: clipped to ``limit`` characters."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_int(value: Any) -> TypeGuard[int]:
    """A JSON integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A JSON number (not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class Iface:
    """An interface's facts: category, ports with types, inbound ports, where it is defined."""

    category: str | None
    inputs: dict[str, str]
    outputs: dict[str, str]
    inbound: set[int]
    asset: str | None = None
    builtin: bool = False


@dataclass
class Pkg:
    folder: PackageFolder
    body: Mapping[str, Any] | None
    interfaces: dict[str, Iface] = field(default_factory=dict)
    assets: dict[str, Mapping[str, Any]] = field(default_factory=dict)


def ports(items: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for _, port in jobjects(items):
        name, ptype = jstr(port.get("name")), jstr(port.get("type"))
        if name is not None and ptype is not None:
            out.setdefault(name, ptype)
    return out


def index_package(folder: PackageFolder) -> Pkg:
    body = jget(folder.package_data, "nodePackage")
    pkg = Pkg(folder, body if isinstance(body, Mapping) else None)
    for _, iface in jobjects(jget(body, "interfaces")):
        name = jstr(iface.get("name"))
        if name is None:
            continue
        inbound = {
            p["port"]
            for _, p in jobjects(jget(iface, "network", "inboundPorts"))
            if is_int(p.get("port"))
        }
        pkg.interfaces.setdefault(
            name,
            Iface(
                jstr(iface.get("category")),
                ports(iface.get("inputs")),
                ports(iface.get("outputs")),
                inbound,
                jstr(iface.get("asset")),
            ),
        )
    for _, asset in jobjects(jget(body, "assets")):
        aname = jstr(asset.get("name"))
        if aname is not None:
            pkg.assets.setdefault(aname, asset)
    return pkg


def split_interface(ref: str) -> tuple[str, str, str] | None:
    """``owner::package.interface`` -> parts, else ``None``."""
    owner, sep, rest = ref.partition("::")
    pkg, dot, iface = rest.partition(".")
    if not sep or not dot or not owner or not pkg or not iface:
        return None
    return owner, pkg, iface


@dataclass
class Node:
    index: int
    name: str
    interface: str
    data: Mapping[str, Any]
    doc: str  # manifest path
    root: JsonPath  # JSON path of the node object
    iface: Iface | None = None
    owner: str | None = None
    package: str | None = None

    @property
    def is_parameter(self) -> bool:
        return self.interface in PARAMETER_TYPES
