"""The ``vulns`` analyzer: offline OSV matching, database age, and failing closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import scanner.analyzers._pip_audit as pip_audit_adapter
from scanner.analyzers._inventory import Collector, OsRelease
from scanner.analyzers.vulns import VulnsAnalyzer, deb_ecosystems
from scanner.config import ScanConfig
from scanner.errors import ConfigError
from scanner.models import AnalyzerFailure, Finding, Severity, Skipped
from scanner.vulndb import VulnDbError
from tests.helpers.inventory_fixtures import (
    OSV_PYPI,
    install_wheels,
    run_file_analyzer,
    tree_files,
    ubuntu_rootfs_files,
    write_osv_db,
)
from tests.helpers.osv_records import PANORAMA_PYPI


@pytest.fixture(scope="module")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    site = install_wheels(tmp_path_factory.mktemp("site"))
    return {**ubuntu_rootfs_files(), **tree_files(site)}


def _split(out: list[Any]) -> tuple[dict[tuple[str, str], Finding], list[AnalyzerFailure]]:
    found = {
        (f.properties["package"], f.properties["vulnerability_id"]): f
        for f in out
        if isinstance(f, Finding) and f.rule_id == "vulns.known-vulnerability"
    }
    return found, [o for o in out if isinstance(o, AnalyzerFailure)]


def test_offline_matching_of_real_advisories(image_files: dict[str, bytes], tmp_path: Path) -> None:
    db = write_osv_db(tmp_path / "db", fetched_at=datetime.now(UTC) - timedelta(days=1))
    out = run_file_analyzer(VulnsAnalyzer(), image_files, options={"vuln_db": str(db)})
    found, failures = _split(out)
    assert failures == []
    assert set(found) == {
        ("urllib3", "GHSA-mh33-7rrq-662w"),
        ("urllib3", "GHSA-r64q-w8jr-g9qp"),
        ("requests", "GHSA-x84v-xcm2-53pg"),
        ("Jinja2", "GHSA-462w-v97r-4m45"),
        ("zlib1g", "UBUNTU-CVE-2022-37434"),
    }  # and not openssl: the installed libssl3 is newer than the fix
    f = found[("requests", "GHSA-x84v-xcm2-53pg")]
    props = f.properties
    assert props["version"] == "2.19.1"
    assert "CVE-2018-18074" in props["aliases"]
    assert props["fixed_versions"] == ["2.20.0"]
    assert props["purl"] == "pkg:pypi/requests@2.19.1"
    assert f.severity is Severity.HIGH
    zlib = found[("zlib1g", "UBUNTU-CVE-2022-37434")]
    assert zlib.properties["source_package"] == "zlib"
    assert zlib.properties["fixed_versions"] == ["1:1.2.11.dfsg-2ubuntu9.1"]
    assert zlib.severity is Severity.CRITICAL
    age = [f for f in out if isinstance(f, Finding) and f.rule_id == "vulns.database-age"]
    assert len(age) == 1
    assert age[0].properties["age_days"] == pytest.approx(1.0, abs=0.01)
    assert not [f for f in out if isinstance(f, Finding) and f.rule_id == "vulns.database-stale"]


def test_stale_database_is_a_finding(image_files: dict[str, bytes], tmp_path: Path) -> None:
    db = write_osv_db(tmp_path / "db", fetched_at=datetime.now(UTC) - timedelta(days=30))
    out = run_file_analyzer(
        VulnsAnalyzer(), image_files, options={"vuln_db": str(db), "max_db_age_days": 7}
    )
    stale = [f for f in out if isinstance(f, Finding) and f.rule_id == "vulns.database-stale"]
    assert len(stale) == 1
    assert stale[0].severity is Severity.HIGH
    assert "30.0 days old" in stale[0].message


def test_debian_release_and_unknown_severity(tmp_path: Path) -> None:
    files = {
        "etc/os-release": b'ID=debian\nVERSION_ID="11"\n',
        "var/lib/dpkg/status": b"Package: zlib1g\nStatus: install ok installed\n"
        b"Architecture: amd64\nSource: zlib\nVersion: 1:1.2.11.dfsg-2+deb11u1\n",
    }
    db = write_osv_db(tmp_path / "db", fetched_at=datetime.now(UTC))
    out = run_file_analyzer(
        VulnsAnalyzer(), files, options={"vuln_db": str(db), "unknown_severity": "low"}
    )
    found, failures = _split(out)
    assert failures == []
    dsa = found[("zlib1g", "DSA-5218-1")]
    assert dsa.severity is Severity.LOW  # the record states none: the policy's default
    assert dsa.properties["severity_source"] == "policy-default"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("no-pypi-data", "has no PyPI records"),
        ("no-os-release", "cannot tell the Debian/Ubuntu release"),
        ("other-release", "no Ubuntu 20.04 records"),
        ("bad-version", "not audited: not a PEP 440 version"),
        ("bad-range", "is not a PEP 440 version range"),
    ],
)
def test_what_cannot_be_audited_is_a_failure(tmp_path: Path, case: str, reason: str) -> None:
    files: dict[str, bytes] = dict(ubuntu_rootfs_files())
    ecosystems: dict[str, Any] | None = None
    if case == "no-pypi-data":
        ecosystems = {"Ubuntu": []}
        files["x/a-1.0.dist-info/METADATA"] = b"Name: a\nVersion: 1.0\n"
    elif case == "no-os-release":
        del files["etc/os-release"]
    elif case == "other-release":
        files["etc/os-release"] = b'ID=ubuntu\nVERSION_ID="20.04"\n'
    elif case == "bad-version":
        files["x/a-1.0.dist-info/METADATA"] = b"Name: a\nVersion: 1.0 final\n"
    elif case == "bad-range":
        files["panorama/requirements.txt"] = b"flask>=2 latest\n"
    db = write_osv_db(tmp_path / "db", fetched_at=datetime.now(UTC), ecosystems=ecosystems)
    out = run_file_analyzer(VulnsAnalyzer(), files, options={"vuln_db": str(db)})
    _, failures = _split(out)
    assert any(reason in f.reason for f in failures), failures


def test_offline_without_database_fails_closed(image_files: dict[str, bytes]) -> None:
    out = run_file_analyzer(VulnsAnalyzer(), image_files, config=ScanConfig(offline=True))
    _, failures = _split(out)
    reasons = " | ".join(f.reason for f in failures)
    assert "Python package(s) not audited: --offline" in reasons
    assert "OS package(s) not audited" in reasons
    assert not [o for o in out if isinstance(o, Finding)]


def test_os_packages_skip_is_explicit(image_files: dict[str, bytes], tmp_path: Path) -> None:
    db = write_osv_db(tmp_path / "db", fetched_at=datetime.now(UTC), ecosystems={"PyPI": OSV_PYPI})
    out = run_file_analyzer(
        VulnsAnalyzer(), image_files, options={"vuln_db": str(db), "os_packages": "skip"}
    )
    _, failures = _split(out)
    assert failures == []
    assert any(isinstance(o, Skipped) and "OS package" in o.reason for o in out)


def test_online_pip_audit_unreachable_is_a_failure_not_a_pass(
    image_files: dict[str, bytes], tmp_path: Path
) -> None:
    # The network is blocked in tests: pip-audit cannot reach PyPI. It must not pass.
    pypi_only = {k: v for k, v in image_files.items() if "dist-packages" in k}
    out = run_file_analyzer(VulnsAnalyzer(), pypi_only, options={"timeout": 2}, work_dir=tmp_path)
    found, failures = _split(out)
    assert found == {}
    assert {f.reason.split(" not audited")[0] for f in failures} == {
        "urllib3 1.24.1",
        "requests 2.19.1",
        "Jinja2 2.10",
    }
    assert all("pip-audit" in f.reason for f in failures)


def test_pip_audit_skipped_dependency_is_a_failure(
    image_files: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What PyPI's JSON API answering 404 looks like through pip-audit: a SkippedDependency.
    from pip_audit._service import PyPIService, SkippedDependency

    def fake_query(self: Any, spec: Any) -> Any:
        return SkippedDependency(name=spec.name, skip_reason="Dependency not found on PyPI"), []

    monkeypatch.setattr(PyPIService, "query", fake_query)
    pypi_only = {k: v for k, v in image_files.items() if "dist-packages" in k}
    out = run_file_analyzer(VulnsAnalyzer(), pypi_only, work_dir=tmp_path)
    _, failures = _split(out)
    assert len(failures) == 3
    assert all("skipped it: Dependency not found on PyPI" in f.reason for f in failures)


def test_pip_audit_results_become_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    from packaging.version import Version
    from pip_audit._service import PyPIService, VulnerabilityResult

    def fake_query(self: Any, spec: Any) -> Any:
        vuln = VulnerabilityResult.create(
            ids=["PYSEC-2019-133", "CVE-2019-11324", "GHSA-mh33-7rrq-662w"],
            description="Improper Certificate Validation",
            fix_versions=[Version("1.24.2")],
            published=None,
        )
        return spec, [vuln] if spec.name == "urllib3" else []

    monkeypatch.setattr(PyPIService, "query", fake_query)
    got = pip_audit_adapter.audit([("urllib3", "1.24.1"), ("six", "1.16.0")])
    assert got[0].vulnerabilities[0].id == "PYSEC-2019-133"
    assert "CVE-2019-11324" in got[0].vulnerabilities[0].aliases
    assert got[0].vulnerabilities[0].fixed_versions == ("1.24.2",)
    assert got[1].vulnerabilities == ()
    assert got[1].error is None
    bad = pip_audit_adapter.audit([("x", "not-pep440 at all")])
    assert bad[0].error is not None


def test_bad_options_and_database(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="os_packages"):
        run_file_analyzer(VulnsAnalyzer(), {}, options={"os_packages": "never"})
    with pytest.raises(VulnDbError, match="not found"):
        run_file_analyzer(VulnsAnalyzer(), {}, options={"vuln_db": str(tmp_path / "none")})


def test_ubuntu_ecosystem_selection() -> None:
    available = ["Ubuntu:22.04:LTS", "Ubuntu:Pro:22.04:LTS", "Ubuntu:20.04:LTS", "Debian:12"]
    assert deb_ecosystems(OsRelease("ubuntu", "22.04"), available) == ["Ubuntu:22.04:LTS"]
    assert deb_ecosystems(OsRelease("debian", "12"), available) == ["Debian:12"]
    assert deb_ecosystems(OsRelease("alpine", "3.19"), available) == []
    assert Collector("x").inventory().debs == []


def test_database_without_metadata_is_dated_by_its_records(
    image_files: dict[str, bytes], tmp_path: Path
) -> None:
    db = write_osv_db(tmp_path / "db")  # no osv-meta.json: newest record is 2024-09-10
    out = run_file_analyzer(VulnsAnalyzer(), image_files, options={"vuln_db": str(db)})
    age = [f for f in out if isinstance(f, Finding) and f.rule_id == "vulns.database-age"]
    assert age[0].properties["fetched_at"].startswith("2024-09-10")
    assert any(isinstance(f, Finding) and f.rule_id == "vulns.database-stale" for f in out)


@pytest.mark.online
def test_real_pip_audit_never_passes_silently(tmp_path: Path) -> None:
    """With the network: pip-audit either finds urllib3 1.24.1's CVEs or reports a failure."""
    got = pip_audit_adapter.audit([("urllib3", "1.24.1")], cache_dir=tmp_path, timeout=20)
    assert len(got) == 1
    result = got[0]
    if result.error is None:
        aliases = {a for v in result.vulnerabilities for a in (v.id, *v.aliases)}
        assert "CVE-2019-11324" in aliases
    else:
        assert result.vulnerabilities == ()


def _unpinned_run(tmp_path: Path, requirements: bytes) -> list[Any]:
    db = write_osv_db(
        tmp_path / "db", fetched_at=datetime.now(UTC), ecosystems={"PyPI": PANORAMA_PYPI}
    )
    files = {"requirements.txt": requirements}
    return run_file_analyzer(VulnsAnalyzer(), files, options={"vuln_db": str(db)})


def test_a_range_every_version_of_which_is_affected_is_a_vulnerability(tmp_path: Path) -> None:
    out = _unpinned_run(tmp_path, b"boto3==1.24.*\nopencv-python==4.6.*\n")
    found, failures = _split(out)
    assert failures == []
    f = found[("opencv-python", "GHSA-qr4w-53vh-m672")]
    assert f.severity is Severity.HIGH
    assert f.location.path == "requirements.txt"
    assert f.location.line == 2
    assert f.properties["version"] == "==4.6.*"
    assert f.properties["pinned"] is False
    assert f.properties["fixed_versions"] == ["4.8.1.78"]
    assert "every version opencv-python ==4.6.* allows is affected" in f.message
    # one finding per requirement: opencv's is the vulnerability; boto3's says it is not pinned
    unpinned = [
        o for o in out if isinstance(o, Finding) and o.rule_id == "vulns.unpinned-requirement"
    ]
    assert [(o.properties["package"], o.location.line) for o in unpinned] == [("boto3", 1)]
    assert "no known advisory affects the versions it allows" in unpinned[0].message


def test_a_range_with_some_affected_versions_is_one_low_finding(tmp_path: Path) -> None:
    out = _unpinned_run(tmp_path, b"boto3\nopencv-python\nrequests\n")
    found, failures = _split(out)
    assert failures == []
    assert found == {}  # the newest versions are fixed: nothing proves a vulnerable install
    unpinned = {
        f.properties["package"]: f
        for f in out
        if isinstance(f, Finding) and f.rule_id == "vulns.unpinned-requirement"
    }
    assert set(unpinned) == {"boto3", "opencv-python", "requests"}
    assert unpinned["boto3"].properties["aliases"] == []  # not pinned, no advisory in range
    cv = unpinned["opencv-python"]
    assert cv.severity is Severity.LOW
    assert cv.location.line == 2
    assert "GHSA-qr4w-53vh-m672 (4.5.4.58 to 4.8.0.76, fixed in 4.8.1.78)" in cv.message
    req = unpinned["requests"]
    assert sorted(req.properties["aliases"]) == ["GHSA-9wx4-h78v-vm56", "GHSA-j8r2-6x86-q33q"]
    assert req.properties["fixed_versions"] == ["2.31.0", "2.32.0"]


def test_unpinned_requirements_online_are_stated_not_failed() -> None:
    files = {"requirements.txt": b"opencv-python\n"}
    out = run_file_analyzer(VulnsAnalyzer(), files, config=ScanConfig(offline=True))
    assert not [o for o in out if isinstance(o, AnalyzerFailure)]
    (f,) = [o for o in out if isinstance(o, Finding)]
    assert f.rule_id == "vulns.unpinned-requirement"
    assert "not audited" in f.message


def test_dockerfile_pins_are_audited_at_their_line(tmp_path: Path) -> None:
    db = write_osv_db(
        tmp_path / "db", fetched_at=datetime.now(UTC), ecosystems={"PyPI": PANORAMA_PYPI}
    )
    dockerfile = (
        b"FROM public.ecr.aws/panorama/panorama-application:1.2.1-arm64v8\n"
        b"RUN apt-get update && \\\n"
        b"    pip install --no-cache-dir boto3 \\\n"
        b"        opencv-python-headless==4.5.4.60\n"
        b"COPY src /panorama\n"
    )
    out = run_file_analyzer(
        VulnsAnalyzer(), {"Dockerfile": dockerfile}, options={"vuln_db": str(db)}
    )
    found, failures = _split(out)
    assert failures == []
    f = found[("opencv-python-headless", "GHSA-qr4w-53vh-m672")]
    assert (f.location.path, f.location.line) == ("Dockerfile", 4)
    assert f.properties["version"] == "4.5.4.60"


def test_a_constraints_file_pins_what_requirements_leave_open(tmp_path: Path) -> None:
    db = write_osv_db(
        tmp_path / "db", fetched_at=datetime.now(UTC), ecosystems={"PyPI": PANORAMA_PYPI}
    )
    files = {
        "requirements.txt": b"-c constraints.txt\nopencv-python\n",
        "constraints.txt": b"opencv-python==4.7.0.72\nnumpy==1.24.4\n",
    }
    out = run_file_analyzer(VulnsAnalyzer(), files, options={"vuln_db": str(db)})
    found, failures = _split(out)
    assert failures == []
    f = found[("opencv-python", "GHSA-qr4w-53vh-m672")]
    assert f.properties["version"] == "4.7.0.72"
    assert (f.location.path, f.location.line) == ("requirements.txt", 2)


def test_a_direct_reference_is_unpinned_not_a_failure(tmp_path: Path) -> None:
    out = _unpinned_run(tmp_path, b"lib @ https://files.example.com/lib.tar.gz?token=s3cr3t\n")
    assert not [o for o in out if isinstance(o, AnalyzerFailure)]
    (f,) = [o for o in out if isinstance(o, Finding) and o.rule_id == "vulns.unpinned-requirement"]
    assert "installed from https://files.example.com/lib.tar.gz" in f.message
    assert "s3cr3t" not in f.message
