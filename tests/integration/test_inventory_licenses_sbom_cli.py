"""End to end through the CLI: scan, licenses and sbom on a root filesystem with real wheels."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from scanner.cli import main
from tests.helpers.inventory_fixtures import build_rootfs_tar, install_wheels, write_osv_db

ANALYZERS = "packages,licenses,vulns"
# A policy that judges the base image's OS packages too (the default only reports them).
JUDGE_OS_POLICY = (
    "name: judge-os\nseverity_threshold: high\n"
    "licenses:\n  deny: [GPL-3.0-only]\n  scopes: [app, os]\n"
)
PINNED_APP = {
    "panorama/app.py": b"import requests\n",
    "panorama/requirements.txt": b"requests==2.19.1\nurllib3==1.24.1\n",
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("inventory_fixtures-cli")
    site = install_wheels(tmp / "site")
    return {
        "tmp": tmp,
        "pinned": build_rootfs_tar(tmp / "pinned.tar", site, app=False, extra=PINNED_APP),
        "unpinned": build_rootfs_tar(tmp / "unpinned.tar", site),
        "db": write_osv_db(tmp / "db", fetched_at=datetime.now(UTC) - timedelta(hours=5)),
        "stale": write_osv_db(tmp / "stale", fetched_at=datetime.now(UTC) - timedelta(days=40)),
    }


def _scan(target: Path, out: Path, *extra: str) -> tuple[int, dict[str, object]]:
    code = main(
        [
            "-q",
            "scan",
            str(target),
            "--no-cache",
            "--no-profile",
            "--analyzers",
            ANALYZERS,
            "--format",
            "json",
            "-o",
            str(out),
            *extra,
        ]
    )
    return code, json.loads(out.read_text())


def test_scan_reports_components_and_real_vulnerabilities(env: dict[str, Path]) -> None:
    code, report = _scan(env["pinned"], env["tmp"] / "r.json", "--vuln-db", str(env["db"]))
    assert code == 1  # high vulnerabilities reject
    comps = {(c["ecosystem"], c["name"]): c for c in report["components"]}  # type: ignore[union-attr]
    urllib3 = comps[("pypi", "urllib3")]
    assert urllib3["version"] == "1.24.1"
    assert urllib3["purl"] == "pkg:pypi/urllib3@1.24.1"
    assert urllib3["licenses"] == ["MIT"]
    assert urllib3["location"] == {
        "artifact": "pinned.tar",
        "path": "usr/local/lib/python3.10/dist-packages/urllib3-1.24.1.dist-info/METADATA",
    }
    assert comps[("deb", "tzdata")]["licenses"] == ["LicenseRef-public-domain"]
    vulns = {
        f["properties"]["vulnerability_id"]: f
        for f in report["findings"]  # type: ignore[union-attr]
        if f["category"] == "vulnerability" and f["rule_id"] == "vulns.known-vulnerability"
    }
    assert set(vulns) == {
        "GHSA-mh33-7rrq-662w",
        "GHSA-r64q-w8jr-g9qp",
        "GHSA-x84v-xcm2-53pg",
        "GHSA-462w-v97r-4m45",
        "UBUNTU-CVE-2022-37434",
    }
    jinja = vulns["GHSA-462w-v97r-4m45"]["properties"]
    assert jinja["package"] == "Jinja2"
    assert jinja["version"] == "2.10"
    assert "CVE-2019-10906" in jinja["aliases"]
    assert jinja["fixed_versions"] == ["2.10.1"]
    age = [f for f in report["findings"] if f["rule_id"] == "vulns.database-age"]  # type: ignore[union-attr]
    assert 0.1 < age[0]["properties"]["age_days"] < 0.3
    # bash and tzdata are the base image's OS packages: the default policy reports their
    # licenses (components, exports) and judges only what the application installs
    assert comps[("deb", "bash")]["properties"]["scope"] == "os"
    assert urllib3["properties"]["scope"] == "app"
    assert not [f for f in report["findings"] if f["category"] == "license"]  # type: ignore[union-attr]
    assert report["failures"] == []
    assert report["verdict"]["decision"] == "rejected"  # type: ignore[index]


def test_os_packages_are_judged_when_the_policy_scopes_them(env: dict[str, Path]) -> None:
    policy = env["tmp"] / "os-scope.yaml"
    policy.write_text(JUDGE_OS_POLICY)
    code, report = _scan(
        env["pinned"], env["tmp"] / "os.json", "--policy", str(policy), "--vuln-db", str(env["db"])
    )
    license_rules = {
        f["properties"]["package"]: f["rule_id"]
        for f in report["findings"]  # type: ignore[union-attr]
        if f["category"] == "license"
    }
    assert license_rules == {"bash": "licenses.denied", "tzdata": "licenses.unknown"}
    assert code == 1


def test_an_unpinned_requirement_is_shown_as_such_not_a_failure(env: dict[str, Path]) -> None:
    _code, report = _scan(env["unpinned"], env["tmp"] / "u.json", "--vuln-db", str(env["db"]))
    assert report["verdict"]["decision"] != "incomplete"  # type: ignore[index]
    assert not [f for f in report["failures"] if "numpy" in f["reason"]]  # type: ignore[union-attr]
    (numpy,) = [c for c in report["components"] if c["name"] == "numpy"]  # type: ignore[union-attr]
    assert numpy["version"] == ""
    assert numpy["properties"]["specifier"] == ">=1.20"


def test_what_cannot_be_audited_makes_the_verdict_incomplete(env: dict[str, Path]) -> None:
    code, report = _scan(env["pinned"], env["tmp"] / "o.json", "--offline")
    assert code == 3
    reasons = " ".join(f["reason"] for f in report["failures"])  # type: ignore[union-attr]
    assert "not audited" in reasons
    assert not [f for f in report["findings"] if f["category"] == "vulnerability"]  # type: ignore[union-attr]


def test_stale_database_rejects(env: dict[str, Path]) -> None:
    _code, report = _scan(env["pinned"], env["tmp"] / "s.json", "--vuln-db", str(env["stale"]))
    stale = [f for f in report["findings"] if f["rule_id"] == "vulns.database-stale"]  # type: ignore[union-attr]
    assert stale
    assert stale[0]["severity"] == "high"
    assert report["verdict"]["decision"] == "rejected"  # type: ignore[index]


def test_bad_vuln_db_is_a_usage_error(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "scan",
            str(env["pinned"]),
            "--no-cache",
            "--no-profile",
            "--analyzers",
            ANALYZERS,
            "--vuln-db",
            str(env["tmp"] / "missing"),
            "--format",
            "json",
            "-o",
            str(env["tmp"] / "x.json"),
        ]
    )
    assert code == 2
    assert "vulnerability database not found" in capsys.readouterr().err


def test_licenses_command_writes_every_format(env: dict[str, Path]) -> None:
    out = env["tmp"] / "lic"
    out.mkdir()
    formats = ["csv", "json", "markdown", "html", "spdx", "cyclonedx", "notice"]
    policy = env["tmp"] / "judge-os.yaml"
    policy.write_text(JUDGE_OS_POLICY)
    args = ["-q", "licenses", str(env["pinned"]), "--no-cache", "--policy", str(policy)]
    for fmt in formats:
        args += ["--format", fmt, "-o", str(out / f"licenses.{fmt}")]
    assert main(args) == 1  # a policy judging OS packages denies bash's GPL-3.0-only
    csv_text = (out / "licenses.csv").read_text()
    assert "bash,5.1-6ubuntu1,deb,GPL-3.0-only,copyright-text,denied" in csv_text
    assert (
        JsonStrictValidator(SchemaVersion.V1_6).validate_str(
            (out / "licenses.cyclonedx").read_text()
        )
        is None
    )
    assert json.loads((out / "licenses.spdx").read_text())["spdxVersion"] == "SPDX-2.3"
    notice = (out / "licenses.notice").read_text()
    assert "Permission is hereby granted, free of charge" in notice
    assert '<table id="components">' in (out / "licenses.html").read_text()


def test_sbom_command(env: dict[str, Path]) -> None:
    out = env["tmp"] / "bom.cdx.json"
    spdx = env["tmp"] / "bom.spdx.json"
    code = main(
        [
            "-q",
            "sbom",
            str(env["pinned"]),
            "--no-cache",
            "--vuln-db",
            str(env["db"]),
            "--format",
            "cyclonedx",
            "-o",
            str(out),
            "--format",
            "spdx",
            "-o",
            str(spdx),
        ]
    )
    assert code == 0
    bom = json.loads(out.read_text())
    (asset,) = bom["components"]  # the container asset holds the 9 packages
    assert len(asset["components"]) == 9
    assert {v["id"] for v in bom["vulnerabilities"]} >= {"GHSA-x84v-xcm2-53pg"}
    assert len(json.loads(spdx.read_text())["packages"]) == 11  # the target, the asset and 9
    assert (
        main(
            [
                "-q",
                "sbom",
                str(env["unpinned"]),
                "--no-cache",
                "--offline",
                "--format",
                "cyclonedx",
                "-o",
                str(out),
            ]
        )
        == 0
    )  # inventory alone is complete
