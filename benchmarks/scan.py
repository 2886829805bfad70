"""Benchmark: the whole gate on a realistic project, against decompressing its assets and syft.

The project is ``tests.helpers.bench_project``: a stock Debian 12 root filesystem from the
distribution's mirror with python3 and python3-numpy, a dozen current wheels pip-installed, an
ONNX model in ``/panorama`` and a TorchScript model archive, exported as panorama-cli exports it
(``small``: ~330 MiB and ~20,000 files uncompressed); ``1g`` adds torch's CPU wheel (~1 GiB,
~34,000 files). An offline OSV database (20,000 PyPI and 400 Debian records) comes with it.

In one run, each command in its own process, in turn (A B C ... A B C ...), for ``--pairs``
rounds, so that every ratio is taken within a round and the machine's drift cancels out:

- ``floor``: isal decompression and a tar walk reading every file of every asset (tarfile over
  a reader that only seeks forwards: the leanest walk we know in Python);
- ``scan``: ``panorama-gate scan PROJECT --offline --no-profile --no-cache --vuln-db DB``,
  default jobs (one per core);
- ``scan-j1``: the same with ``--jobs 1``;
- ``no-ownership``: the default scan with ``ScanConfig.ownership`` off (the same CLI path, the
  switch set in process), for what attributing and verifying every file costs;
- ``syft``: ``syft scan file:CONTAINER_ASSET`` (an SBOM only), when syft is installed.

Wall seconds are the process's; CPU seconds add up the whole process tree (the scan's worker
processes are children of multiprocessing's fork server), read from /proc while it runs; the
peak is the largest sum of the tree's resident memory seen. It prints medians with their
min-max, each ratio's median and range over the rounds, the load average before and after,
and where the default scan's time went (its report's ``timings``). Usage::

    python benchmarks/scan.py [--sizes small,1g] [--pairs 7] [--no-syft] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.bench_project import BenchProject, bench_project  # noqa: E402

FLOOR = """
import io, sys, tarfile
from isal import igzip

class Forward(io.RawIOBase):
    def __init__(self, f):
        self.f, self.pos = f, 0
    def readable(self):
        return True
    def seekable(self):
        return True
    def tell(self):
        return self.pos
    def read(self, n=-1):
        b = self.f.read(n)
        self.pos += len(b)
        return b
    def seek(self, pos, whence=0):
        while pos > self.pos and self.read(min(pos - self.pos, 1 << 20)):
            pass
        return self.pos

for path in sys.argv[1:]:
    with open(path, "rb") as raw, igzip.IGzipFile(fileobj=raw) as gz:
        with tarfile.open(fileobj=Forward(gz), mode="r:") as tf:
            for ti in tf:
                if ti.isreg():
                    f = tf.extractfile(ti)
                    while f.read(1 << 20):
                        pass
"""

# The CLI's own path, with ScanConfig.ownership set as the first argument says.
SCAN = """
import dataclasses, sys
own = sys.argv.pop(1) == "on"
# what the CLI does first, before it imports the commands (the harness imports one to patch it)
from scanner.cli import start_ahead
start_ahead(sys.argv[1:])
import scanner.cli.scan as cli_scan
made = cli_scan.config_from_args
cli_scan.config_from_args = lambda a, p: dataclasses.replace(made(a, p), ownership=own)
from scanner.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Run:
    """One command's figures."""

    wall: float
    cpu: float
    peak_mb: float
    code: int


@dataclass
class Series:
    """All rounds of one command."""

    name: str
    runs: list[Run] = field(default_factory=list)

    def med(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)

    def span(self, attr: str) -> tuple[float, float]:
        vals = [getattr(r, attr) for r in self.runs]
        return min(vals), max(vals)


def _tree(root: int) -> list[int]:
    """``root`` and every process descended from it (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def _usage(pid: int) -> tuple[float, int]:
    """CPU seconds and proportional set size (bytes) of one process (0 when it is gone).

    PSS, not RSS: the workers fork from one server and share its pages; summing their RSS
    would count those pages once per process.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            pss = next(int(line.split()[1]) for line in f if line.startswith(b"Pss:"))
    except (OSError, StopIteration):
        return 0.0, 0
    tick = os.sysconf("SC_CLK_TCK")
    # fields after the name: state(0) ppid(1) ... utime(11) stime(12)
    return (int(fields[11]) + int(fields[12])) / tick, pss * 1024


def run(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``cmd``; wall, the tree's CPU (sampled; the root's own is exact) and peak RSS."""
    start = time.perf_counter()
    # stderr to a file: a pipe read only at the end would block a chatty command
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    proc = subprocess.Popen(  # noqa: S603 - our own commands
        cmd, stdout=subprocess.DEVNULL, stderr=errors, env=env, cwd=REPO
    )
    cpu: dict[int, float] = {}
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            rss = 0
            for pid in _tree(proc.pid):
                c, r = _usage(pid)
                cpu[pid] = max(cpu.get(pid, 0.0), c)
                rss += r
            peak = max(peak, rss)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    errors.seek(0)
    err = errors.read().decode(errors="replace")
    errors.close()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code not in (0, 1):
        print(f"  {cmd[:3]} exited {code}: {err[-500:]}", file=sys.stderr)
    cpu[proc.pid] = usage.ru_utime + usage.ru_stime + 0.0  # exact for the root
    return Run(wall, sum(cpu.values()), peak / 1e6, code)


def _commands(project: BenchProject, out: Path, syft: bool) -> dict[str, list[str]]:
    py = sys.executable
    scan = [
        "-q", "scan", str(project.root), "--offline", "--no-profile", "--no-cache",
        "--vuln-db", str(project.vuln_db), "--format", "json",
    ]  # fmt: skip
    assets = sorted(str(p) for p in (project.root / "assets").glob("*.tar.gz"))
    cmds = {
        "floor": [py, "-c", FLOOR, *assets],
        "scan": [py, "-c", SCAN, "on", *scan, "-o", str(out / "scan.json")],
        "scan-j1": [py, "-c", SCAN, "on", *scan, "-o", str(out / "scan-j1.json"), "--jobs", "1"],
        "no-ownership": [py, "-c", SCAN, "off", *scan, "-o", str(out / "no-ownership.json")],
    }
    if syft and shutil.which("syft"):
        cmds["syft"] = [
            str(shutil.which("syft")), "scan", f"file:{project.container_asset}", "-q",
            "-o", f"syft-json={out / 'syft.json'}",
        ]  # fmt: skip
    return cmds


RATIOS = (
    ("scan / floor", "scan", "floor"),
    ("scan-j1 / floor", "scan-j1", "floor"),
    ("scan / scan-j1", "scan", "scan-j1"),
    ("scan / no-ownership", "scan", "no-ownership"),
    ("syft / scan", "syft", "scan"),
)


def _ratio_rows(series: dict[str, Series]) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    for label, a, b in RATIOS:
        if a not in series or b not in series:
            continue
        vals = [x.wall / y.wall for x, y in zip(series[a].runs, series[b].runs, strict=True)]
        rows[label] = {
            "median": round(statistics.median(vals), 2),
            "min": round(min(vals), 2),
            "max": round(max(vals), 2),
        }
    return rows


def _breakdown(report_path: Path) -> list[str]:
    t = json.loads(report_path.read_text()).get("timings") or {}
    lines = [
        f"  default scan, its own account: {t.get('wall_seconds')} s wall, "
        f"{t.get('cpu_seconds')} s CPU, {t.get('jobs')} jobs"
    ]
    for kind in ("stages", "analyzers"):
        rows = sorted((t.get(kind) or {}).items(), key=lambda kv: -kv[1]["seconds"])
        shown = ", ".join(f"{k} {v['seconds']:.2f}" for k, v in rows if v["seconds"] >= 0.01)
        lines.append(f"  {kind}: {shown}")
    return lines


def bench(project: BenchProject, pairs: int, syft: bool) -> dict[str, Any]:
    """Run every command ``pairs`` times in turn; print and return the figures."""
    size = sum(p.stat().st_size for p in (project.root / "assets").glob("*.tar.gz"))
    with tempfile.TemporaryDirectory(prefix="pg-bench-scan-") as tmp:
        out = Path(tmp)
        cmds = _commands(project, out, syft)
        series = {name: Series(name) for name in cmds}
        # as installed: Python's compiled bytecode is written and reused (a warm-up round
        # writes it), whatever the calling shell says
        env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false", "PYTHONPATH": str(REPO)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for cmd in cmds.values():
            run(cmd, env)  # warm-up: bytecode, page cache; not counted
        load_before = os.getloadavg()
        for i in range(pairs):
            for name, cmd in cmds.items():
                series[name].runs.append(run(cmd, env))
            print(f"  round {i + 1}/{pairs}: " + ", ".join(
                f"{n} {s.runs[-1].wall:.2f}s" for n, s in series.items()
            ), flush=True)  # fmt: skip
        load_after = os.getloadavg()
        breakdown = _breakdown(out / "scan.json")
    print(f"\n{project.variant}: assets {size / 2**20:.0f} MiB compressed; "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")  # fmt: skip
    print(f"  {'command':<14} {'wall s (min-max)':>20} {'CPU s':>7} {'peak MB':>8}")
    for name, s in series.items():
        lo, hi = s.span("wall")
        print(f"  {name:<14} {s.med('wall'):>7.2f} ({lo:.2f}-{hi:.2f}) "
              f"{s.med('cpu'):>7.2f} {s.med('peak_mb'):>8.0f}")  # fmt: skip
    ratios = _ratio_rows(series)
    for label, r in ratios.items():
        print(f"  {label:<22} {r['median']:.2f}x ({r['min']:.2f}-{r['max']:.2f})")
    print("\n".join(breakdown))
    return {
        "variant": project.variant,
        "pairs": pairs,
        "load": [round(load_before[0], 2), round(load_after[0], 2)],
        "median": {
            n: {
                "wall": round(s.med("wall"), 2),
                "cpu": round(s.med("cpu"), 2),
                "peak_mb": round(s.med("peak_mb")),
            }
            for n, s in series.items()
        },  # fmt: skip
        "ratios": ratios,
    }


def main() -> int:
    """Build the projects (cached), run the benchmark, print a table and a JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="small,1g", help="variants: small, 1g")
    ap.add_argument("--pairs", type=int, default=7, help="rounds of every command")
    ap.add_argument("--no-syft", action="store_true", help="leave syft out")
    ap.add_argument("--work", type=Path, help="where the projects are built (kept)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.gettempdir()) / "panorama-gate-bench-scan"
    results = []
    for variant in args.sizes.split(","):
        project = bench_project(work / variant, variant)
        results.append(bench(project, args.pairs, not args.no_syft))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
