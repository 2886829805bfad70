"""The whole-scan benchmark's project: a stock app on Debian 12 as panorama-cli lays it out.

The container asset is the real exported image of ``tests.helpers.stock_image`` (Debian 12 from
its mirror with python3 and python3-numpy, a dozen current wheels pip-installed, an ONNX model
in ``/panorama``); the ``1g`` variant adds torch's CPU wheel to reach about 1 GiB uncompressed.
The model package is a TorchScript archive. Beside it, an offline OSV database with records for
the image's own PyPI and Debian packages (and many others), so the scan does everything a CI
job's would, offline. Used by ``benchmarks/scan.py`` and by the test that keeps the findings of
the fast paths identical to the plain ones.

Example::

    project = bench_project(tmp_path / "bench", "small")   # raises StockImageError if unbuildable
    scan(project.root, ScanConfig(options={"vulns": {"vuln_db": str(project.vuln_db)}}))
"""

from __future__ import annotations

import io
import json
import random
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scanner.vulndb import OsvDatabase
from tests.helpers.osv_records import synthetic_record
from tests.helpers.stock_image import (
    StockImageError,
    file_sha256,
    project_with_asset,
    stock_app_asset,
)

__all__ = ["VARIANTS", "BenchProject", "bench_project", "torchscript_model"]

TORCH_WHEEL_GLOB = "torch-*cp311*.whl"
WHEEL_DIRS = (Path("/opt/wheels"),)

VARIANTS = ("small", "1g")


@dataclass(frozen=True)
class BenchProject:
    """Where the benchmark project and its inputs are."""

    root: Path
    container_asset: Path  # inside root/assets
    model_asset: Path
    vuln_db: Path
    variant: str


def _torch_wheel() -> Path:
    for d in WHEEL_DIRS:
        found = sorted(d.glob(TORCH_WHEEL_GLOB))
        if found:
            return found[-1]
    raise StockImageError(f"no torch wheel for Python 3.11 in {', '.join(map(str, WHEEL_DIRS))}")


def torchscript_model() -> bytes:
    """A small TorchScript model (a zip with its code and pickled constants), made by torch."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
    buf = io.BytesIO()
    torch.jit.save(torch.jit.trace(net, torch.rand(1, 3, 32, 32)), buf)
    return buf.getvalue()


# Names the stock image installs (from Debian and from pip): each gets advisories, fixed long
# ago, so matching runs over them for real and finds nothing (the default policy approves).
_PYPI = ("requests", "urllib3", "idna", "certifi", "pillow", "protobuf", "onnx", "numpy", "pyyaml")
_DEBIAN = ("bash", "coreutils", "glibc", "openssl", "python3.11", "zlib", "gnutls28", "apt")


def write_vuln_db(root: Path, records: int = 20_000) -> Path:
    """A full-size offline OSV database (PyPI and Debian:12), deterministic."""
    rng = random.Random(4)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for eco, names, count in (("PyPI", _PYPI, records), ("Debian", _DEBIAN, 400)):
        (root / eco).mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(root / eco / "all.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            for i in range(count):
                name = names[i % len(names)] if i < 3 * len(names) else f"synthetic-{i % 5000}"
                rid = f"{'PYSEC' if eco == 'PyPI' else 'DSA'}-2099-{i:05d}"
                osv_eco = "PyPI" if eco == "PyPI" else "Debian:12"
                fixed = f"0.0.{rng.randint(1, 9)}" if i < 3 * len(names) else "99.0"
                zf.writestr(f"{rid}.json", json.dumps(synthetic_record(rid, osv_eco, name, fixed)))
    # written at every build: the database must stay fresh for the staleness check
    (root / "osv-meta.json").write_text(json.dumps({"format": 1, "fetched_at": stamp}))
    # indexed, as `vulndb update` leaves a database
    for base in ("PyPI", "Debian"):
        OsvDatabase(root).write_index(base)
    return root


def bench_project(root: Path, variant: str = "small") -> BenchProject:
    """Build the benchmark project under ``root`` (reused when already built there)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
    extra = (_torch_wheel(),) if variant == "1g" else ()
    asset = stock_app_asset("debian12", extra)
    real = root / "assets" / f"{file_sha256(asset)}.tar.gz"
    db = root.parent / f"{root.name}-osv"
    if not real.is_file():
        shutil.rmtree(root, ignore_errors=True)
        project_with_asset(root, asset, {"detector.pt": torchscript_model()})
    write_vuln_db(db)
    models = [p for p in (root / "assets").glob("*.tar.gz") if p != real]
    return BenchProject(root, real, models[0], db, variant)
