"""Benchmark: scanning a large gzip'd root filesystem against the decompress-and-walk floor.

Builds a synthetic docker-export rootfs (many small files, some large binaries, text that
compresses like real code) of each requested size, then measures in one run, each in a fresh
subprocess so peak memory is its own:

- floor (stdlib): ``gzip`` + ``tarfile`` stream, reading every member's bytes;
- floor (isal): the same with ``isal.igzip``;
- scan: ``panorama-gate``'s pipeline with the integrity, archive and manifest checks only.

Usage: ``python benchmarks/unpack.py --sizes 256,1024`` (sizes in MiB).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FLOOR_STDLIB = """
import gzip, sys, tarfile
with open(sys.argv[1], "rb") as raw, gzip.GzipFile(fileobj=raw) as gz:
  with tarfile.open(fileobj=gz, mode="r|", bufsize=1 << 20) as tf:
    for ti in tf:
        if ti.isreg():
            f = tf.extractfile(ti)
            while f.read(1 << 20):
                pass
"""

FLOOR_ISAL = FLOOR_STDLIB.replace("import gzip,", "from isal import igzip as gzip; import").replace(
    "gzip.GzipFile(fileobj=raw)", "gzip.IGzipFile(fileobj=raw)"
)

SCAN = """
import sys
from pathlib import Path
from scanner.config import ScanConfig
from scanner.analyzers import load_analyzers
from scanner.pipeline import scan
# integrity and archive checks are part of reading; add the manifest analyzer when present
wanted = tuple(n for n in ("manifest",) if n in load_analyzers())
report = scan(Path(sys.argv[1]), ScanConfig(cache_dir=None, analyzers=wanted),
              analyzers=None if wanted else [])
print(len(report.findings), file=sys.stderr)
"""

WORDS = (
    b"import numpy as np\nfrom panoramasdk import node\ndef process(frame):\n"
    b"    return frame.mean(axis=2)\n# comment line for realism\n"
)


def build_rootfs(path: Path, size_mib: int, seed: int = 7) -> None:
    """Write a gzip'd rootfs tar of about ``size_mib`` MiB uncompressed."""
    from isal import igzip

    rng = random.Random(seed)
    target = size_mib * 1024 * 1024
    written = 0
    n = 0
    with igzip.open(path, "wb", compresslevel=1) as gz, tarfile.open(fileobj=gz, mode="w|") as tf:
        for d in ("etc", "usr", "usr/lib", "usr/bin", "panorama", "opt/aws/panorama/logs"):
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            tf.addfile(ti)
        while written < target:
            n += 1
            kind = rng.random()
            if kind < 0.85:  # small text files (python sources, configs)
                size = rng.randint(200, 20_000)
                data = (WORDS * (size // len(WORDS) + 1))[:size]
                name = f"usr/lib/python3/dist-packages/pkg{n % 400}/mod{n}.py"
            elif kind < 0.98:  # shared objects: half random, half zero pages
                size = rng.randint(50_000, 2_000_000)
                data = os.urandom(size // 2) + bytes(size - size // 2)
                name = f"usr/lib/lib{n}.so"
            else:  # a model-sized blob
                size = rng.randint(5_000_000, 30_000_000)
                data = os.urandom(size // 3) + bytes(size - size // 3)
                name = f"panorama/models/model{n}.bin"
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            import io

            tf.addfile(ti, io.BytesIO(data))
            written += len(data)


def measure(code: str, arg: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of running ``code`` in a fresh interpreter."""
    wrapper = (
        "import resource, runpy, sys, time\n"
        "t = time.perf_counter()\n"
        f"exec(compile({code!r}, 'bench', 'exec'))\n"
        # VmHWM is this process's own high-water mark (ru_maxrss would include the parent's
        # RSS at fork time)
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(time.perf_counter() - t, hwm)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, str(arg)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    secs, rss_kib = out.stdout.split()
    return float(secs), int(rss_kib) * 1024


def main() -> None:
    """Run the benchmark and print a table plus a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,1024", help="sizes in MiB, comma-separated")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="pg-bench-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"rootfs-{size}.tar.gz"
            t0 = time.perf_counter()
            build_rootfs(path, size)
            print(
                f"built {size} MiB rootfs ({path.stat().st_size / 2**20:.0f} MiB gzip) "
                f"in {time.perf_counter() - t0:.1f}s",
                flush=True,
            )
            row: dict[str, float | int] = {"size_mib": size}
            for label, code in (
                ("floor_stdlib", FLOOR_STDLIB),
                ("floor_isal", FLOOR_ISAL),
                ("scan", SCAN),
            ):
                best = min((measure(code, path) for _ in range(args.repeat)), key=lambda r: r[0])
                row[f"{label}_s"] = round(best[0], 2)
                row[f"{label}_peak_mb"] = round(best[1] / 1e6, 1)
            row["scan_vs_isal_floor"] = round(float(row["scan_s"]) / float(row["floor_isal_s"]), 2)
            row["scan_vs_stdlib_floor"] = round(
                float(row["scan_s"]) / float(row["floor_stdlib_s"]), 2
            )
            results.append(row)
            print(
                f"{size:>6} MiB  stdlib floor {row['floor_stdlib_s']:>6}s  isal floor "
                f"{row['floor_isal_s']:>6}s  scan {row['scan_s']:>6}s  "
                f"scan/isal {row['scan_vs_isal_floor']}x  scan peak {row['scan_peak_mb']} MB",
                flush=True,
            )
    print(json.dumps(results))
    _ = resource  # peak memory is read in the child processes


if __name__ == "__main__":
    main()
