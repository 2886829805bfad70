"""Benchmark: ``bandit -r`` against the ``code`` analyzer, and the secrets analyzer's throughput.

Part 1 copies ~2,000 Python files (default: this interpreter's site-packages, whole packages in
name order) into a temporary tree, then times, in the same run, ``bandit -r TREE -f json`` and
``CodeAnalyzer`` (scope ``all``, one worker per core), and checks that both report the same
(path, line, test id) set and the same unparsable files.

Part 2 builds a gzip root-filesystem tar of about ``--secrets-mib`` MiB from real local files
(``/usr`` and site-packages) and times the real pipeline on it, each run in a fresh process:
(a) the floor: decompress and walk with no analyzer, (b) the same with the secrets analyzer.

Usage::

    python benchmarks/code_scan.py                 # both parts
    python benchmarks/code_scan.py --files 500 --secrets-mib 0
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scanner.analyzers.code_bandit import CodeAnalyzer, run_bandit  # noqa: E402
from scanner.analyzers.interface import AnalyzerContext  # noqa: E402


def pick_files(site: Path, count: int) -> list[Path]:
    """Whole top-level packages, in name order, until ``count`` .py files are collected."""
    chosen: list[Path] = []
    for top in sorted(p for p in site.iterdir() if p.is_dir() and not p.name.endswith("-info")):
        if top.name in ("scanner", "signing", "__pycache__"):
            continue
        files = sorted(top.rglob("*.py"))
        if not files or len(files) > count:
            continue
        chosen.extend(files)
        if len(chosen) >= count:
            break
    return chosen


def copy_tree(files: list[Path], site: Path, dest: Path) -> None:
    for f in files:
        target = dest / f.relative_to(site)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)


def bench_bandit(args: argparse.Namespace) -> dict[str, object]:
    site = Path(args.tree or sysconfig.get_paths()["purelib"])
    with tempfile.TemporaryDirectory(prefix="bench-code-") as tmp:
        tree = Path(tmp) / "tree"
        copy_tree(pick_files(site, args.files), site, tree)
        files = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*.py"))
        size = sum((tree / f).stat().st_size for f in files)
        print(f"tree: {len(files)} files, {size / 1e6:.1f} MB from {site}", flush=True)

        out = Path(tmp) / "bandit.json"
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bandit", "-r", str(tree), "-f", "json", "-o", str(out), "-q"],
            check=False,
            capture_output=True,
        )
        t_bandit = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_bandit = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        data = json.loads(out.read_text())
        ref = {
            (os.path.relpath(r["filename"], tree), r["line_number"], r["test_id"])
            for r in data["results"]
        }
        ref_err = {os.path.relpath(e["filename"], tree) for e in data["errors"]}

        analyzer = CodeAnalyzer()
        analyzer.configure(AnalyzerContext("code", {"scope": "all"}))
        t0 = time.perf_counter()
        issues, errors = run_bandit(tree, files, jobs=args.jobs)
        t_ours = time.perf_counter() - t0
        ours = {(i.path, i.line, i.test_id) for i in issues}
        ours_err = {p for p, _ in errors}

        t0, c0 = time.perf_counter(), time.process_time()
        s_issues, s_errors = run_bandit(tree, files, jobs=1) if args.serial else (issues, errors)
        t_serial = time.perf_counter() - t0 if args.serial else float("nan")
        cpu_serial = time.process_time() - c0 if args.serial else float("nan")

    result = {
        "files": len(files),
        "bytes": size,
        "bandit_r_seconds": round(t_bandit, 2),
        "ours_seconds": round(t_ours, 2),
        "ours_serial_seconds": round(t_serial, 2),
        "bandit_r_cpu_seconds": round(cpu_bandit, 2),
        "ours_serial_cpu_seconds": round(cpu_serial, 2),
        "cpu_ratio_bandit_over_ours": round(cpu_bandit / cpu_serial, 2) if args.serial else None,
        "load_average": os.getloadavg()[0],
        "speedup": round(t_bandit / t_ours, 2),
        "jobs": args.jobs or os.cpu_count(),
        "findings_bandit": len(ref),
        "findings_ours": len(ours),
        "identical_findings": ref == ours,
        "identical_errors": ref_err == ours_err,
        "parallel_equals_serial": (issues, errors) == (s_issues, s_errors),
    }
    if ref != ours:
        result["only_bandit"] = sorted(ref - ours)[:10]
        result["only_ours"] = sorted(ours - ref)[:10]
    return result


def build_rootfs(dest: Path, mib: int, sources: list[Path]) -> int:
    """A gzip -1 tar of files from ``sources`` until ``mib`` MiB of content."""
    limit = mib * 1024**2
    total = 0
    with tarfile.open(dest, "w:gz", compresslevel=1) as tar:
        for src in sources:
            for dirpath, _dirs, names in os.walk(src):
                for n in sorted(names):
                    p = Path(dirpath, n)
                    if not p.is_file() or p.is_symlink():
                        continue
                    try:
                        tar.add(p, arcname=str(p).lstrip("/"), recursive=False)
                    except OSError:
                        continue
                    total += p.stat().st_size
                    if total >= limit:
                        return total
    return total


PIPELINE = """
import sys, time
from pathlib import Path
from scanner.config import ScanConfig
from scanner.pipeline import scan
from scanner.analyzers.secrets import SecretsAnalyzer
analyzers = [SecretsAnalyzer()] if sys.argv[2] == "secrets" else []
t0 = time.perf_counter()
report = scan(Path(sys.argv[1]), ScanConfig(cache_dir=None), analyzers=analyzers)
print(time.perf_counter() - t0, len(report.findings), len(report.failures))
"""


def run_pipeline(archive: Path, which: str) -> tuple[float, int, int]:
    """Time the real pipeline (floor: no analyzer; or the secrets analyzer) in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", PIPELINE, str(archive), which],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def bench_secrets(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-secrets-") as tmp:
        archive = Path(tmp) / "rootfs.tar.gz"
        sources = [Path(p) for p in args.rootfs_from]
        content = build_rootfs(archive, args.secrets_mib, sources)
        print(
            f"rootfs: {content / 1024**2:.0f} MiB content, {archive.stat().st_size / 1024**2:.0f}"
            " MiB gzip",
            flush=True,
        )
        floors, withs = [], []
        findings = failures = 0
        for _ in range(args.repeat):
            floors.append(run_pipeline(archive, "floor")[0])
            t, findings, failures = run_pipeline(archive, "secrets")
            withs.append(t)
    floor, with_secrets = min(floors), min(withs)
    return {
        "rootfs_content_mib": round(content / 1024**2),
        "floor_seconds": round(floor, 2),
        "with_secrets_seconds": round(with_secrets, 2),
        "ratio": round(with_secrets / floor, 2),
        "secrets_mib_per_s": round(content / 1024**2 / max(with_secrets - floor, 1e-9), 1),
        "findings": findings,
        "failures": failures,
        "runs": args.repeat,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--tree", help="folder of Python files (default: site-packages)")
    p.add_argument("--files", type=int, default=2000)
    p.add_argument("--jobs", type=int, default=0)
    p.add_argument("--serial", action="store_true", help="also time a serial run and compare")
    p.add_argument("--secrets-mib", type=int, default=1024, help="0 skips the secrets part")
    p.add_argument("--rootfs-from", nargs="*", default=["/usr", sysconfig.get_paths()["purelib"]])
    p.add_argument("--skip-bandit", action="store_true")
    p.add_argument("--repeat", type=int, default=2, help="secrets runs (the fastest counts)")
    args = p.parse_args()
    results: dict[str, object] = {}
    if not args.skip_bandit:
        results["bandit"] = bench_bandit(args)
        print(json.dumps(results["bandit"], indent=2), flush=True)
    if args.secrets_mib:
        results["secrets"] = bench_secrets(args)
        print(json.dumps(results["secrets"], indent=2), flush=True)


if __name__ == "__main__":
    main()
