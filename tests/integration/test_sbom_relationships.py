"""The SBOM through the CLI: the application as root, the asset with its digest containing the
packages, a wheel containing its vendored library, Requires-Dist and dpkg Depends as edges;
both documents validated by the CycloneDX and SPDX libraries."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from scanner.cli import main
from tests.helpers.archives import rootfs_tar, write

SITE = "usr/local/lib/python3.11/site-packages"
LIB = b"\0not really ELF, named by its file name"

FILES = {
    "etc/os-release": b'ID=debian\nVERSION_ID="12"\n',
    "var/lib/dpkg/status": (
        b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\n"
        b"Source: glibc\n\n"
        b"Package: libtinfo6\nStatus: install ok installed\nVersion: 6.4-4\nArchitecture: amd64\n"
        b"Source: ncurses\nDepends: libc6 (>= 2.34)\n\n"
        b"Package: libncursesw6\nStatus: install ok installed\nVersion: 6.4-4\n"
        b"Architecture: amd64\nSource: ncurses\nDepends: libtinfo6 (= 6.4-4), libc6 (>= 2.34)\n"
    ),
    # libncursesw6 has no folder of its own: its copyright is libtinfo6's (same source)
    "usr/share/doc/libtinfo6/copyright": (
        b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        b"Files: *\nCopyright: x\nLicense: X11\n"
    ),
    "usr/share/doc/libc6/copyright": b"Format: dep5\n\nFiles: *\nLicense: LGPL-2.1+\n",
    f"{SITE}/app_dep-1.0.dist-info/METADATA": (
        b"Metadata-Version: 2.1\nName: app-dep\nVersion: 1.0\nLicense-Expression: MIT\n"
        b"Requires-Dist: six>=1.5\nRequires-Dist: pytest; extra == 'test'\n"
        b"Requires-Dist: missing-dist\n"
    ),
    f"{SITE}/six-1.16.0.dist-info/METADATA": (
        b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\nLicense: MIT\n"
    ),
    f"{SITE}/app_dep.libs/libz-5f0ad1a4.so.1.3": LIB,
}


def _flatten(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in components:
        out.append(c)
        out.extend(_flatten(c.get("components", [])))
    return out


def test_sbom_has_the_app_the_asset_containment_and_dependency_edges(tmp_path: Path) -> None:
    asset = write(tmp_path / "app.tar.gz", rootfs_tar(FILES))
    cdx, spdx = tmp_path / "bom.cdx.json", tmp_path / "bom.spdx.json"
    code = main(
        ["-q", "sbom", str(asset), "--no-cache", "--format", "cyclonedx", "-o", str(cdx)]
        + ["--format", "spdx", "-o", str(spdx)]
    )
    assert code == 0
    text = cdx.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    assert bom["metadata"]["component"]["bom-ref"] == "target"
    (artifact,) = bom["components"]
    digest = hashlib.sha256(asset.read_bytes()).hexdigest()
    assert artifact["hashes"] == [{"alg": "SHA-256", "content": digest}]
    comps = {c["name"]: c for c in _flatten(bom["components"])}
    # the vendored library sits inside its wheel, named from its file name, with its digest
    wheel = comps["app-dep"]
    assert [c["name"] for c in wheel["components"]] == ["libz"]
    lib = comps["libz"]
    assert lib["version"] == "1.3"
    assert lib["hashes"][0]["content"] == hashlib.sha256(LIB).hexdigest()
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in bom["dependencies"]}
    assert deps["target"] == {artifact["bom-ref"]}
    # Requires-Dist six resolved; the extra's pytest and the uninstalled dist are not edges
    assert deps[wheel["bom-ref"]] == {comps["six"]["bom-ref"], lib["bom-ref"]}
    assert deps[comps["libncursesw6"]["bom-ref"]] == {
        comps["libtinfo6"]["bom-ref"],
        comps["libc6"]["bom-ref"],
    }
    assert comps["libncursesw6"]["licenses"] == [{"license": {"id": "X11"}}]

    doc = parse_file(str(spdx))
    assert validate_full_spdx_document(doc) == []
    data = json.loads(spdx.read_text())
    ids = {p["name"]: p["SPDXID"] for p in data["packages"]}
    rels = {
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"])
        for r in data["relationships"]
    }
    assert ("SPDXRef-Target", "CONTAINS", ids["app.tar.gz"]) in rels
    assert (ids["app.tar.gz"], "CONTAINS", ids["six"]) in rels
    assert (ids["app-dep"], "CONTAINS", ids["libz"]) in rels
    assert (ids["app-dep"], "DEPENDS_ON", ids["six"]) in rels
    assert (ids["libncursesw6"], "DEPENDS_ON", ids["libtinfo6"]) in rels
