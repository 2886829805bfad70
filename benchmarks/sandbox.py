"""Sandbox overhead per profile, against running the same script bare.

    python benchmarks/sandbox.py [--runs 5] [--frames 30] [--json]

One base rootfs (the host's Python, stdlib and numpy, plus the well-behaved test application)
is built, imported into Docker once and extracted for bubblewrap once (both reported
separately: they are per-asset costs, not per-run ones). Then the application runs ``--runs``
times each: bare (host Python, the emulated SDK on PYTHONPATH, no sandbox), in Docker and under
bubblewrap, with unpaced frames so that only overhead differs. The overhead is the median
sandboxed wall time (the whole ``profile()`` call: staging, container or namespace set-up,
cgroup, run, measurement, cleanup) minus the median bare wall time. Target: under 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scanner.sandbox import Budgets, FrameSpec, SandboxRequest  # noqa: E402
from scanner.sandbox._bwrap import BwrapSandbox  # noqa: E402
from scanner.sandbox._docker import DockerSandbox  # noqa: E402
from scanner.sandbox._stage import data_dir  # noqa: E402
from tests.helpers.sandbox_apps import WELL_BEHAVED  # noqa: E402
from tests.helpers.sandbox_rootfs import app_rootfs  # noqa: E402


def bare(app: Path, frames: int, work: Path) -> float:
    """Wall seconds of the application run directly by the host's Python."""
    req = SandboxRequest(
        asset=app,
        asset_format="rootfs",
        max_frames=frames,
        frames=FrameSpec(fps=0, width=320, height=240),
    )
    cfg = work / "run.json"
    cfg.write_text(req.run_config(None, []))
    env = {
        **os.environ,
        "PYTHONPATH": str(data_dir() / "site"),
        "PANORAMA_GATE_RUN": str(cfg),
        "PANORAMA_GATE_STATUS": "",
    }
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(app)], env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def sandboxed(
    sandbox: DockerSandbox | BwrapSandbox, rootfs: Path, frames: int, work: Path
) -> tuple[float, float | None]:
    """Wall seconds of one whole ``profile()`` call, and the app's own wall time inside."""
    req = SandboxRequest(
        asset=rootfs,
        asset_format="rootfs",
        entry_name="/panorama/app.py",
        max_frames=frames,
        frames=FrameSpec(fps=0, width=320, height=240),
        budgets=Budgets(),
        digest="bench",
        name="bench",
    )
    t0 = time.perf_counter()
    p = sandbox.profile(req, work)
    wall = time.perf_counter() - t0
    if not p.ran or p.exit_code != 0:
        raise SystemExit(f"{sandbox.name}: the benchmark app did not run cleanly: {p}")
    return wall, p.wall_seconds


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    results: dict[str, object] = {"runs": args.runs, "frames": args.frames}
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        rootfs = app_rootfs(work / "rootfs.tar", {"app": WELL_BEHAVED}, compress=False)
        results["rootfs_build_s"] = round(time.perf_counter() - t0, 3)
        results["rootfs_mb"] = round(rootfs.stat().st_size / 1e6, 1)
        app = work / "app.py"
        app.write_text(WELL_BEHAVED)
        bare_runs = [bare(app, args.frames, work) for _ in range(args.runs)]
        results["bare_s"] = round(statistics.median(bare_runs), 3)
        for name, cls in (("docker", DockerSandbox), ("bwrap", BwrapSandbox)):
            with cls() as sandbox:
                reason = sandbox.unavailable_reason()
                if reason:
                    results[name] = {"skipped": reason}
                    continue
                t0 = time.perf_counter()
                sandboxed(sandbox, rootfs, 1, work)  # import/extract + warm-up + first run
                first = time.perf_counter() - t0
                runs = [sandboxed(sandbox, rootfs, args.frames, work) for _ in range(args.runs)]
                walls = [w for w, _ in runs]
                inner = [i for _, i in runs if i is not None]
                med = statistics.median(walls)
                results[name] = {
                    "first_profile_s": round(first, 3),
                    "profile_s": round(med, 3),
                    "app_inside_s": round(statistics.median(inner), 3) if inner else None,
                    "overhead_s": round(med - statistics.median(bare_runs), 3),
                    "target_met": med - statistics.median(bare_runs) < 0.5,
                }
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"rootfs: {results['rootfs_mb']} MB built in {results['rootfs_build_s']} s; "
        f"{args.runs} runs of {args.frames} unpaced frames"
    )
    print(f"bare (host python, no sandbox): {results['bare_s']:.3f} s")
    for name in ("docker", "bwrap"):
        r = results[name]
        assert isinstance(r, dict)
        if "skipped" in r:
            print(f"{name}: skipped ({r['skipped']})")
            continue
        print(
            f"{name}: first profile (import/extract + warm-up) {r['first_profile_s']:.3f} s; "
            f"per profile {r['profile_s']:.3f} s (app inside {r['app_inside_s']} s); "
            f"overhead {r['overhead_s']:+.3f} s -> "
            f"{'meets' if r['target_met'] else 'MISSES'} the 0.5 s target"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
