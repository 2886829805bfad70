"""Model-analyzer throughput: a weight-heavy PyTorch checkpoint and ONNX model, vs picklescan.

Builds (once, in ``--dir``) a PyTorch zip checkpoint and an ONNX model of ``--size-mib`` each
(weights dominate, as in real detectors), then times:

- panorama-gate's ``pickle`` analyzer on the checkpoint and ``onnx`` analyzer on the ONNX file
  (structure only: weight bytes are seeked over, never read), through a file-backed FileEntry;
- the whole ``scanner.pipeline.scan`` on each file (detection, digest, walk, analyzers);
- picklescan (and modelscan with ``--modelscan``) on the same files, in the same run.

Run::

    python benchmarks/models.py                 # 1 GiB files in /tmp/pg-model-bench
    python benchmarks/models.py --size-mib 256  # quicker

torch and onnx are needed to *write* the files; the analyzers import neither torch nor load
any model.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.analyzers.entry import FileEntry, LazyContent  # noqa: E402
from scanner.analyzers.ml.onnx_model import OnnxAnalyzer  # noqa: E402
from scanner.analyzers.ml.pickle_family import PickleAnalyzer  # noqa: E402
from scanner.models import AnalyzerFailure, Finding  # noqa: E402

CHUNK_MIB = 64


def build_checkpoint(path: Path, size_mib: int, tensors: int) -> None:
    """A state_dict of ``tensors`` weight tensors (plus as many small biases), ``size_mib`` total.

    Many tensors make the pickle (data.pkl) realistic: thousands of rebuild calls, as in
    detection backbones and language models, instead of a handful of giant blobs.
    """
    import torch

    per = max(1, size_mib * 1024 * 1024 // 4 // tensors)
    state = {f"layer{i}.weight": torch.zeros(per, dtype=torch.float32) for i in range(tensors)}
    state.update({f"layer{i}.bias": torch.zeros(16) for i in range(tensors)})
    torch.save(state, path)


def build_onnx(path: Path, size_mib: int) -> None:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    n = max(1, size_mib // CHUNK_MIB)
    side = int((CHUNK_MIB * 1024 * 1024 // 4) ** 0.5)
    inits, nodes = [], []
    prev = "X"
    for i in range(n):
        w = numpy_helper.from_array(np.zeros((side, side), np.float32), f"W{i}")
        inits.append(w)
        nodes.append(helper.make_node("MatMul", [prev, f"W{i}"], [f"H{i}"]))
        prev = f"H{i}"
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, side])
    y = helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, side])
    model = helper.make_model(helper.make_graph(nodes, "bench", [x], [y], inits))
    path.write_bytes(model.SerializeToString())


def file_entry(path: Path) -> FileEntry:
    def loader() -> io.BufferedReader:
        return path.open("rb")

    return FileEntry(path.name, path.name, path.stat().st_size, 0o644, LazyContent(loader))


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best = float("inf")
    result: object = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def run_ours(path: Path, analyzer: PickleAnalyzer | OnnxAnalyzer) -> str:
    out = list(analyzer.analyze(file_entry(path)))
    bad = [o for o in out if isinstance(o, Finding | AnalyzerFailure)]
    return f"{len(bad)} findings/failures"


def run_pipeline(path: Path) -> str:
    from scanner.config import ScanConfig
    from scanner.pipeline import scan

    report = scan(path, ScanConfig(analyzers=("tag:model",)))
    return f"{len(report.findings)} findings, {len(report.failures)} failures"


def run_picklescan(path: Path) -> str:
    from picklescan.scanner import scan_file_path

    r = scan_file_path(str(path))
    return f"{r.issues_count} issues, scan_err={r.scan_err}"


def run_modelscan(path: Path) -> str:
    from modelscan.modelscan import ModelScan

    res = ModelScan().scan(str(path))
    return f"{res['summary']['total_issues']} issues, {len(res['errors'])} errors"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/pg-model-bench"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--tensors", type=int, default=2048, help="weight tensors in the checkpoint"
    )
    parser.add_argument("--modelscan", action="store_true", help="also time modelscan")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    args.dir.mkdir(parents=True, exist_ok=True)
    ckpt = args.dir / f"checkpoint-{args.size_mib}m-{args.tensors}t.pt"
    onnx_path = args.dir / f"model-{args.size_mib}m.onnx"
    builders: list[tuple[Path, Callable[[Path, int], None]]] = [
        (ckpt, lambda p, s: build_checkpoint(p, s, args.tensors)),
        (onnx_path, build_onnx),
    ]
    for path, build in builders:
        if not path.exists():
            t0 = time.perf_counter()
            build(path, args.size_mib)
            print(f"built {path} in {time.perf_counter() - t0:.1f}s", flush=True)

    rows: list[tuple[str, str, int, float, str]] = []
    tools: list[tuple[str, Callable[[Path], str]]] = [
        ("panorama-gate analyzer", lambda p: run_ours(
            p, PickleAnalyzer() if p.suffix == ".pt" else OnnxAnalyzer())),
        ("panorama-gate pipeline", run_pipeline),
        ("picklescan", run_picklescan),
    ]  # fmt: skip
    if args.modelscan:
        tools.append(("modelscan", run_modelscan))
    for path in (ckpt, onnx_path):
        size = path.stat().st_size
        for name, fn in tools:
            with contextlib.redirect_stdout(io.StringIO()):
                seconds, result = timed(lambda fn=fn, path=path: fn(path), args.repeat)
            rows.append((path.name, name, size, seconds, str(result)))
            print(f"{path.name:28} {name:24} {seconds:8.3f}s {size / seconds / 1e9:9.2f} GB/s  "
                  f"{result}", flush=True)  # fmt: skip
    print(f"\n| file | tool | size | best of {args.repeat} | throughput | result |")
    print("| --- | --- | --- | --- | --- | --- |")
    for fname, name, size, seconds, result in rows:
        print(f"| {fname} | {name} | {size / 2**20:.0f} MiB | {seconds:.3f} s | "
              f"{size / seconds / 1e9:.2f} GB/s | {result} |")  # fmt: skip
    if not args.keep:
        for path in (ckpt, onnx_path):
            with contextlib.suppress(OSError):
                os.unlink(path)


if __name__ == "__main__":
    main()
