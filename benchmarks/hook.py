"""Benchmark: the pre-push hook's cost as a developer feels it (the wall time of ``git push``).

Builds a realistic Panorama project in a temporary git repository (the project builder's
layout, a code package with ``--modules`` extra Python modules, a container asset holding
``--rootfs-mib`` MiB of real files from this interpreter's site-packages, and a model), installs
the hook, pushes once to a local bare repository (warming the cache), then times, ``--runs``
times each, a push of:

- ``no-relevant``: a README change (target < 1 s: nothing to scan),
- ``one-file``: one edited source file in the code package (target < 5 s),
- ``manifest``: a graph.json change, which rescans the whole project (assets from the cache),
- ``baseline``: the same README push with no hook, to show git's own cost.

Usage::

    python benchmarks/hook.py
    python benchmarks/hook.py --runs 5 --rootfs-mib 64
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.project_builder import ProjectSpec, build_project  # noqa: E402


def rootfs_from_site(mib: int) -> dict[str, bytes]:
    """About ``mib`` MiB of real installed files, as container content."""
    site = Path(sysconfig.get_paths()["purelib"])
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(site.rglob("*.py")):
        if total >= mib * 1024 * 1024:
            break
        data = path.read_bytes()
        files[f"usr/lib/python3/dist-packages/{path.relative_to(site).as_posix()}"] = data
        total += len(data)
    return files


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def module(i: int) -> bytes:
    return (
        f'"""Helper module {i}."""\n\nimport json\n\n\n'
        f"def handle_{i}(frame, threshold=0.5):\n"
        f"    scores = [x * {i} for x in range(10)]\n"
        f"    return json.dumps({{'n': len(scores), 'ok': max(scores) > threshold}})\n"
    ).encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--modules", type=int, default=20)
    ap.add_argument("--rootfs-mib", type=int, default=16)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument(
        "--bytecode",
        action="store_true",
        help="let Python cache bytecode (unset PYTHONDONTWRITEBYTECODE), as a pip-installed "
        "panorama-gate has it; without this every run compiles the sources",
    )
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hook-bench-") as tmp:
        base = Path(tmp)
        env = dict(
            os.environ,
            HOME=str(base),
            XDG_CACHE_HOME=str(base / "cache"),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=str(base / "gitconfig"),
            GIT_AUTHOR_NAME="b",
            GIT_AUTHOR_EMAIL="b@example.com",
            GIT_COMMITTER_NAME="b",
            GIT_COMMITTER_EMAIL="b@example.com",
            PYTHONPATH=str(REPO),
        )
        if opts.bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        work = base / "app"
        src = {"app.py": ProjectSpec().src_files["app.py"]}
        src.update({f"lib/helper_{i}.py": module(i) for i in range(opts.modules)})
        project = build_project(
            work, ProjectSpec(src_files=src, rootfs_files=rootfs_from_site(opts.rootfs_mib))
        )

        def git(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["git", *args], cwd=work, env=env, capture_output=True, text=True, check=False
            )

        subprocess.run(["git", "init", "-q", "--bare", str(base / "r.git")], check=True, env=env)
        git("init", "-q", "-b", "main")
        git("remote", "add", "origin", str(base / "r.git"))
        git("add", "-A")
        git("commit", "-qm", "init")
        subprocess.run(
            [sys.executable, "-m", "scanner", "hook", "install"], cwd=work, env=env, check=True
        )
        t0 = time.monotonic()
        first = git("push", "origin", "main")
        cold = time.monotonic() - t0
        if first.returncode != 0:
            print(first.stderr, file=sys.stderr)
            return 1
        source = project.code_dir / "src" / "lib" / "helper_0.py"
        graph = project.graph_path

        def edit(kind: str, n: int) -> None:
            if kind in ("no-relevant", "baseline"):
                (work / "README.md").write_text(f"notes {kind} {n}\n")
            elif kind == "one-file":
                source.write_text(source.read_text() + f"\n# change {n}\n")
            else:
                g = json.loads(graph.read_text())
                g["nodeGraph"]["description"] = f"revision {n}"
                graph.write_text(json.dumps(g, indent=2))
            git("add", "-A")
            git("commit", "-qm", f"{kind} {n}")

        figures: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        for kind in ("baseline", "no-relevant", "one-file", "manifest"):
            extra = ["--no-verify"] if kind == "baseline" else []
            for n in range(opts.runs):
                edit(kind, n)
                # CPU seconds of git and the hook (children of this process) are robust to a
                # loaded machine, where wall time mostly measures waiting for a CPU.
                c0 = _children_cpu()
                t0 = time.monotonic()
                r = git("push", *extra, "origin", "main")
                figures.setdefault(kind, []).append(time.monotonic() - t0)
                cpu.setdefault(kind, []).append(_children_cpu() - c0)
                if r.returncode != 0:
                    print(r.stderr, file=sys.stderr)
                    return 1
        size = project.container_asset.stat().st_size if project.container_asset else 0
    medians = {k: statistics.median(v) for k, v in figures.items()}
    cpu_medians = {k: statistics.median(v) for k, v in cpu.items()}
    if opts.json:
        print(
            json.dumps(
                {
                    "first_push_s": cold,
                    "median_s": medians,
                    "cpu_median_s": cpu_medians,
                    "runs": figures,
                }
            )
        )
        return 0
    print(f"project: {opts.modules + 1} source modules, container asset {size / 2**20:.1f} MiB")
    print(f"bytecode cache: {'on' if opts.bytecode else 'as the environment says'}")
    print(
        f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    print(f"first push (whole project, cold cache): {cold:.2f} s")
    for kind, value in medians.items():
        runs = ", ".join(f"{x:.2f}" for x in figures[kind])
        print(f"{kind:12} median {value:.2f} s wall, {cpu_medians[kind]:.2f} s CPU  (runs: {runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
