"""Benchmark: inventory + licenses + offline vulnerability matching versus ``syft scan``.

Builds a realistic image from this machine's own package metadata (its dpkg database, every
package's copyright file, and the ``*.dist-info``/``*.egg-info`` folders of its Python
installs: about a thousand real packages, no code), generates a full-size PyPI OSV database
(20,000 records by default, some for the image's own packages) plus Debian records, then times:

1. ``panorama-gate``'s pipeline with the packages, licenses and vulns analyzers (offline);
2. ``syft scan file:IMAGE`` on the same file;
3. loading the PyPI index, and matching 1,000 packages against it once loaded.

It also prints how our component list compares with syft's. Usage::

    python benchmarks/packages.py [--records 20000] [--keep DIR] [--image TAR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scanner.analyzers._inventory import parse_dpkg_status  # noqa: E402
from scanner.analyzers.licenses import LicensesAnalyzer  # noqa: E402
from scanner.analyzers.packages import PackagesAnalyzer  # noqa: E402
from scanner.analyzers.vulns import VulnsAnalyzer  # noqa: E402
from scanner.config import ScanConfig  # noqa: E402
from scanner.models import Component, Finding  # noqa: E402
from scanner.pipeline import scan  # noqa: E402
from scanner.vulndb import OsvDatabase  # noqa: E402
from tests.helpers.inventory_fixtures import (  # noqa: E402
    build_host_inventory_tar,
    compare_with_syft,
    syft_packages,
)
from tests.helpers.osv_records import synthetic_record  # noqa: E402


def generate_db(root: Path, real_pypi: list[str], real_src: list[str], records: int) -> Path:
    """A full-size PyPI database (real names get a few records each) plus Debian:12 records."""
    rng = random.Random(4)
    pypi = root / "PyPI"
    pypi.mkdir(parents=True)
    with zipfile.ZipFile(pypi / "all.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(records):
            if i < 3 * len(real_pypi):
                name = real_pypi[i % len(real_pypi)]
            else:
                name = f"synthetic-package-{i % (records // 3)}"
            major = rng.randint(0, 5)
            fixed = f"{major}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
            rec = synthetic_record(f"PYSEC-2099-{i:05d}", "PyPI", name, fixed)
            zf.writestr(f"PYSEC-2099-{i:05d}.json", json.dumps(rec))
    deb = root / "Debian"
    deb.mkdir()
    with zipfile.ZipFile(deb / "all.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for i, src in enumerate(real_src):
            rec = synthetic_record(
                f"DSA-9{i:04d}-1", "Debian:12", src, f"1:{rng.randint(0, 9)}.0-1"
            )
            zf.writestr(f"DSA-9{i:04d}-1.json", json.dumps(rec))
    meta = {"format": 1, "fetched_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    (root / "osv-meta.json").write_text(json.dumps(meta))
    return root


def main() -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=20_000, help="PyPI OSV records to generate")
    ap.add_argument("--image", type=Path, help="use this root-filesystem tar instead")
    ap.add_argument("--keep", type=Path, help="keep the image and database in this folder")
    ap.add_argument("--no-syft", action="store_true", help="skip the syft run")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="pg-bench-packages-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        if args.image:
            image, dists, debs = args.image, -1, -1
        else:
            image, dists, debs = build_host_inventory_tar(work / "image.tar")
        print(
            f"image: {image} ({image.stat().st_size / 1e6:.1f} MB; {dists} Python "
            f"metadata folders, {debs} dpkg packages; built in {time.perf_counter() - t:.1f} s)"
        )

        inventory = scan(image, ScanConfig(), analyzers=[PackagesAnalyzer()])
        pypi_names = sorted({c.name for c in inventory.components if c.ecosystem == "pypi"})
        status = Path("/var/lib/dpkg/status")
        sources = sorted(
            {p.source for p in parse_dpkg_status(status.read_bytes(), "s")}
            if status.is_file()
            else set()
        )
        db_dir = work / "vulndb"
        shutil.rmtree(db_dir, ignore_errors=True)
        t = time.perf_counter()
        generate_db(db_dir, pypi_names, sources, args.records)
        print(
            f"database: {args.records} PyPI + {len(sources)} Debian records "
            f"(generated in {time.perf_counter() - t:.1f} s)"
        )

        config = ScanConfig(
            options={
                "vulns": {"vuln_db": str(db_dir), "os_packages": "audit"},
                "licenses": {"deny": ["GPL-3.0-only", "AGPL-3.0-only"], "unknown": "warn"},
            }
        )
        t = time.perf_counter()
        report = scan(
            image, config, analyzers=[PackagesAnalyzer(), LicensesAnalyzer(), VulnsAnalyzer()]
        )
        ours_s = time.perf_counter() - t
        comps: list[Component] = list(report.components)
        vulns = [
            f
            for f in report.findings
            if isinstance(f, Finding) and f.rule_id == "vulns.known-vulnerability"
        ]
        lic = [f for f in report.findings if f.category.value == "license"]
        print(
            f"panorama-gate (packages + licenses + offline vulns): {ours_s:.2f} s; "
            f"{len(comps)} components, {len(vulns)} vulnerability findings, "
            f"{len(lic)} license findings, {len(report.failures)} failures"
        )

        db = OsvDatabase(db_dir)
        t = time.perf_counter()
        db.load(["PyPI"])
        load_s = time.perf_counter() - t
        rng = random.Random(7)
        queries = [(n, "1.0.0") for n in pypi_names]
        while len(queries) < 1000:
            queries.append((f"synthetic-package-{rng.randrange(args.records // 3)}", "2.3.4"))
        t = time.perf_counter()
        hits = sum(len(db.query("PyPI", n, v)) for n, v in queries[:1000])
        match_s = time.perf_counter() - t
        print(
            f"PyPI index: {db.records} records loaded in {load_s:.2f} s; 1,000 packages "
            f"matched in {match_s * 1000:.0f} ms ({hits} matches)"
        )

        if not args.no_syft and shutil.which("syft"):
            t = time.perf_counter()
            theirs = syft_packages(f"file:{image}", work)
            syft_s = time.perf_counter() - t
            print(
                f"syft scan file:IMAGE (inventory + licenses, no vulnerabilities): "
                f"{syft_s:.2f} s; {len(theirs)} packages"
            )
            print(f"speed-up: {syft_s / ours_s:.1f}x")
            diff = compare_with_syft(
                comps, theirs, status.read_bytes() if status.is_file() else None
            )
            for key, items in diff.items():
                print(f"  {key}: {len(items)}")
                for item in items[:10]:
                    print(f"    {item}")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
