"""SBOM and license exports, validated by the maintained libraries' own schemas/validators."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from scanner.analyzers.licenses import LicensesAnalyzer
from scanner.analyzers.packages import PackagesAnalyzer
from scanner.analyzers.vulns import VulnsAnalyzer
from scanner.config import ScanConfig
from scanner.models import Report
from scanner.pipeline import scan
from scanner.report import get_writer
from tests.helpers.inventory_fixtures import build_rootfs_tar, install_wheels, write_osv_db


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    tmp = tmp_path_factory.mktemp("sbom")
    tar = build_rootfs_tar(tmp / "rootfs.tar", install_wheels(tmp / "site"))
    db = write_osv_db(tmp / "db", fetched_at=datetime.now(UTC))
    config = ScanConfig(
        options={
            "vulns": {"vuln_db": str(db)},
            "packages": {"license_texts": True},
            # judge the OS packages too, so that every status shows up in the exports
            "licenses": {"deny": ["GPL-3.0-only"], "unknown": "warn", "scopes": ["app", "os"]},
        }
    )
    return scan(
        tar,
        config,
        analyzers=[PackagesAnalyzer(), LicensesAnalyzer(), VulnsAnalyzer()],
        clock=lambda: "2026-01-02T03:04:05Z",
    )


def _write(report: Report, fmt: str) -> str:
    buf = io.StringIO()
    get_writer(fmt).write(report, buf)
    return buf.getvalue()


def _flatten(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in components:
        out.append(c)
        out.extend(_flatten(c.get("components", [])))
    return out


def test_cyclonedx_is_schema_valid_and_complete(report: Report) -> None:
    text = _write(report, "cyclonedx")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6"
    # the deployed artifact is the top-level component, with its digest; packages sit inside it
    (asset,) = bom["components"]
    assert asset["type"] == "container"
    assert asset["hashes"] == [{"alg": "SHA-256", "content": report.artifacts[0].digest.hex}]
    assert {c["name"] for c in asset["components"]} >= {"urllib3", "bash", "numpy"}
    assert bom["metadata"]["component"]["type"] == "application"
    root_deps = next(d for d in bom["dependencies"] if d["ref"] == "target")
    assert root_deps["dependsOn"] == [asset["bom-ref"]]
    comps = {c["name"]: c for c in _flatten(bom["components"])}
    assert comps["urllib3"]["purl"] == "pkg:pypi/urllib3@1.24.1"
    assert comps["urllib3"]["licenses"] == [{"license": {"id": "MIT"}}]
    assert sorted(lic["license"]["id"] for lic in comps["libpython3.10-minimal"]["licenses"]) == [
        "BSD-2-Clause",
        "PSF-2.0",
    ]  # the library sorts licenses
    assert comps["tzdata"]["licenses"] == [{"license": {"name": "LicenseRef-public-domain"}}]
    assert "licenses" not in comps["numpy"]  # UNKNOWN: no license claim at all
    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    assert set(vulns) >= {"GHSA-mh33-7rrq-662w", "GHSA-x84v-xcm2-53pg", "UBUNTU-CVE-2022-37434"}
    affects = vulns["GHSA-x84v-xcm2-53pg"]["affects"][0]["ref"]
    assert affects == comps["requests"]["bom-ref"]
    assert {"id": "CVE-2018-18074", "source": {"name": "alias"}} in vulns["GHSA-x84v-xcm2-53pg"][
        "references"
    ]
    assert _write(report, "cyclonedx") == text  # deterministic


def test_spdx_is_valid_per_spdx_tools(report: Report, tmp_path: Path) -> None:
    text = _write(report, "spdx")
    path = tmp_path / "bom.spdx.json"
    path.write_text(text)
    doc = parse_file(str(path))
    assert validate_full_spdx_document(doc) == []
    data = json.loads(text)
    assert data["spdxVersion"] == "SPDX-2.3"
    pkgs = {p["name"]: p for p in data["packages"]}
    asset = pkgs[report.artifacts[0].name]
    assert asset["checksums"] == [
        {"algorithm": "SHA256", "checksumValue": report.artifacts[0].digest.hex}
    ]
    rels = {
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"])
        for r in data["relationships"]
    }
    assert ("SPDXRef-Target", "CONTAINS", asset["SPDXID"]) in rels
    assert (asset["SPDXID"], "CONTAINS", pkgs["Jinja2"]["SPDXID"]) in rels
    assert pkgs["Jinja2"]["licenseDeclared"] == "BSD-3-Clause"
    assert pkgs["libpython3.10-minimal"]["licenseDeclared"] == "PSF-2.0 AND BSD-2-Clause"
    assert pkgs["numpy"]["licenseDeclared"] == "NOASSERTION"
    refs = pkgs["zlib1g"]["externalRefs"]
    assert refs[0]["referenceLocator"].startswith("pkg:deb/ubuntu/zlib1g@1:1.2.11.dfsg-2ubuntu9")
    assert [e["licenseId"] for e in data["hasExtractedLicensingInfos"]] == [
        "LicenseRef-public-domain"
    ]
    assert _write(report, "spdx") == text


def test_license_csv_json_markdown(report: Report) -> None:
    rows = list(csv.DictReader(io.StringIO(_write(report, "licenses-csv"))))
    by_name = {r["name"]: r for r in rows}
    assert by_name["bash"]["status"] == "denied"
    assert by_name["tzdata"]["status"] == "unknown"
    assert by_name["urllib3"]["status"] == "ok"
    assert by_name["urllib3"]["license_source"] == "license-field"  # "MIT" is SPDX
    assert by_name["numpy"]["licenses"] == "UNKNOWN"
    assert by_name["numpy"]["status"] == "not installed"
    # with the default scopes, an OS package is listed with its license but not judged
    default = dataclasses.replace(
        report,
        findings=tuple(f for f in report.findings if f.rule_id != "licenses.denied"),
        config_audit={"license_scopes": ["app"]},
    )
    plain = {r["name"]: r for r in csv.DictReader(io.StringIO(_write(default, "licenses-csv")))}
    assert plain["bash"]["status"] == "not judged (os)"
    assert plain["bash"]["licenses"] == "GPL-3.0-only"
    doc = json.loads(_write(report, "licenses-json"))
    summary = {s["license"]: s["components"] for s in doc["summary"]}
    assert summary["Apache-2.0"] == 2  # requests and libssl3
    md = _write(report, "licenses-markdown")
    assert "| bash | 5.1-6ubuntu1 | deb | GPL-3.0-only | copyright-text | denied |" in md


def test_notice_holds_license_texts_as_found(report: Report) -> None:
    text = _write(report, "notice")
    assert "urllib3 1.24.1 (pypi, app)\nLicense: MIT" in text
    assert "Permission is hereby granted, free of charge" in text  # urllib3's LICENSE.txt
    assert "usr/share/doc/zlib1g/copyright" in text
    assert "Jean-loup Gailly and Mark Adler" in text
    assert "numpy" not in text  # declared, not shipped


def test_html_is_self_contained(report: Report) -> None:
    page = _write(report, "licenses-html")
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page.replace("http-equiv", "")
    assert "https://" not in page
    assert 'id="q"' in page
    assert "<td>GPL-3.0-only</td>" in page
