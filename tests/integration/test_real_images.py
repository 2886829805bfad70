"""End to end against real outputs: an image built by the real Docker engine, then
``docker export``, ``docker save`` and ``skopeo copy`` to an OCI archive, each scanned; and a
real Debian root filesystem (from this host) that must give no archive finding at all."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from scanner.analyzers.interface import ImageConfigAnalyzer, Output
from scanner.config import ScanConfig
from scanner.models import Category, Finding, Location, Severity
from scanner.pipeline import scan
from scanner.sources.interface import SourceArtifact
from tests.helpers.archives import M, tar_bytes
from tests.helpers.probe import ProbeAnalyzer

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HOST_TREES = [
    "etc",
    "usr/bin",
    "usr/sbin",
    "usr/share/zoneinfo",
    "var/lib/dpkg/status",
    "usr/lib/os-release",
]


class ConfigProbe(ImageConfigAnalyzer):
    """Records the image config it is handed and flags ENV values holding the marker."""

    name = "configprobe"
    patterns = ()

    def __init__(self) -> None:
        super().__init__()
        self.configs: list[Mapping[str, Any]] = []

    def analyze_config(
        self, config: Mapping[str, Any], artifact: SourceArtifact
    ) -> Iterable[Output]:
        self.configs.append(config)
        for env in (config.get("config") or {}).get("Env") or []:
            if "PLANTED" in env:
                yield Finding.create(
                    rule_id="configprobe.env",
                    category=Category.CONTAINER,
                    severity=Severity.HIGH,
                    message="marker in ENV",
                    location=Location(artifact.artifact.name, "config.json"),
                )


def _docker(*args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["docker", *args], check=True, capture_output=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def built_image(
    docker_engine: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    """Build an app image with the real engine and export it in every form."""
    tmp = tmp_path_factory.mktemp("real-images")
    tag = f"panorama-gate-test-{uuid.uuid4().hex[:8]}"
    base = f"{tag}-base:latest"
    base_tar = tar_bytes(
        [
            M("etc/", kind="dir"),
            M("etc/os-release", b'ID=ubuntu\nVERSION_ID="20.04"\n'),
            M("usr/", kind="dir"),
            M("usr/bin/", kind="dir"),
            M("opt/aws/panorama/logs/", kind="dir"),
            M("opt/aws/panorama/storage/", kind="dir"),
        ]
    )
    (tmp / "base.tar").write_bytes(base_tar)
    _docker("import", str(tmp / "base.tar"), base)
    ctx = tmp / "ctx"
    (ctx / "src").mkdir(parents=True)
    (ctx / "src" / "app.py").write_text(f"TOKEN = '{ProbeAnalyzer.MARKER.decode()}'\n")
    (ctx / "Dockerfile").write_text(
        f"FROM {base}\nENV API_KEY=PLANTED-IN-ENV\nCOPY src /panorama\n"
        "COPY src/app.py /panorama/copy.py\n"
    )
    _docker("build", "--network", "none", "-q", "-t", f"{tag}:1.0", str(ctx))
    cid = _docker("create", f"{tag}:1.0", "python3", "/panorama/app.py").stdout.decode().strip()
    out: dict[str, Path] = {}
    try:
        export = tmp / "export.tar"
        _docker("export", "-o", str(export), cid)
        out["export.tar.gz"] = tmp / "export.tar.gz"
        out["export.tar.gz"].write_bytes(gzip.compress(export.read_bytes(), compresslevel=1))
        out["save.tar"] = tmp / "save.tar"
        _docker("save", "-o", str(out["save.tar"]), f"{tag}:1.0")
        if shutil.which("skopeo"):
            out["oci.tar"] = tmp / "oci.tar"
            subprocess.run(
                [
                    "skopeo",
                    "copy",
                    "--quiet",
                    f"docker-archive:{out['save.tar']}",
                    f"oci-archive:{out['oci.tar']}",
                ],
                check=True,
                capture_output=True,
                timeout=300,
            )
        yield out
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True, check=False)
        subprocess.run(
            ["docker", "rmi", "-f", f"{tag}:1.0", base], capture_output=True, check=False
        )


@pytest.mark.parametrize("form", ["export.tar.gz", "save.tar", "oci.tar"])
def test_real_docker_outputs_are_scanned(
    built_image: dict[str, Path], form: str, tmp_path: Path
) -> None:
    if form not in built_image:
        pytest.skip("skopeo is not installed (.ci/run installs it)")
    probe, cfg = ProbeAnalyzer(), ConfigProbe()
    report = scan(
        built_image[form], ScanConfig(cache_dir=None, work_dir=tmp_path), analyzers=[probe, cfg]
    )
    assert report.target.kind.value == "container"
    assert not report.failures
    markers = sorted(f.location.path for f in report.findings if f.rule_id == "probe.marker")
    assert markers == ["panorama/app.py", "panorama/copy.py"]
    assert not [f for f in report.findings if f.category is Category.ARCHIVE]
    if form == "export.tar.gz":
        assert report.artifacts[0].media_type == "rootfs"
        assert cfg.configs == []  # a docker export carries no image config
    else:
        assert report.artifacts[0].media_type in ("docker-save", "oci-archive")
        assert any(f.rule_id == "configprobe.env" for f in report.findings)


@pytest.fixture(scope="module")
def debian_export(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real Debian tree from this host, imported and exported by the real engine."""
    tmp = tmp_path_factory.mktemp("debian")
    trees = [t for t in HOST_TREES if Path("/", t).exists()]
    src = tmp / "host.tar"
    subprocess.run(
        ["tar", "-C", "/", "--ignore-failed-read", "-cf", str(src), *trees],
        check=False,
        capture_output=True,
        timeout=300,
    )
    tag = f"panorama-gate-test-debian-{uuid.uuid4().hex[:8]}:latest"
    _docker("import", str(src), tag)
    cid = _docker("create", tag, "/bin/true").stdout.decode().strip()
    try:
        out = tmp / "debian-export.tar"
        _docker("export", "-o", str(out), cid)
        yield out
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def test_clean_debian_rootfs_has_no_archive_finding(debian_export: Path, tmp_path: Path) -> None:
    probe = ProbeAnalyzer()
    report = scan(debian_export, ScanConfig(cache_dir=None, work_dir=tmp_path), analyzers=[probe])
    assert report.target.kind.value == "container"
    archive = [f for f in report.findings if f.category is Category.ARCHIVE]
    assert archive == []
    assert len(probe.seen) > 500  # it really walked a full tree
    assert len(probe.seen) == len(set(probe.seen))
