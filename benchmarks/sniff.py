"""What sniffing every file costs a root-filesystem scan: the same scan with and without it.

Every file's head is read once and sniffed so that content, not the name, decides which
analyzers see it (and which archives are opened). The baseline is the same scan, same
analyzers, with the sniffer switched off (files offered by name only, as before), in the same
process, runs alternating. Reported: CPU seconds (min and median of the runs) and the ratio.

    python benchmarks/sniff.py --rootfs exported.tar      # e.g. `docker export` of an image
    python benchmarks/sniff.py                            # builds one from this host's /usr
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.config import ScanConfig  # noqa: E402
from scanner.pipeline import scan  # noqa: E402
from scanner.walk import dispatch, walker  # noqa: E402

HOST_TREES = ("usr/lib/python3", "usr/share/doc", "usr/bin", "etc")


def host_rootfs(dest: Path) -> Path:
    """A root-filesystem tar of real files from this host (python, docs, binaries, /etc)."""
    with tarfile.open(dest, "w") as tf:
        for tree in HOST_TREES:
            src = Path("/") / tree
            if src.exists():
                tf.add(src, arcname=tree, filter=lambda ti: ti if ti.size < 64 << 20 else None)
    return dest


@contextlib.contextmanager
def sniffing(on: bool) -> Iterator[None]:
    """Switch the sniffer off: no content analyzers, no archive peeks (names decide)."""
    if on:
        yield
        return
    original = dispatch.Dispatcher.__init__
    opens = walker.opens_nested

    def init(self: dispatch.Dispatcher, *args: object, **kw: object) -> None:
        original(self, *args, **kw)  # type: ignore[arg-type]
        self.content_analyzers = []

    dispatch.Dispatcher.__init__ = init  # type: ignore[method-assign]
    walker.opens_nested = lambda *a: False  # type: ignore[assignment]
    try:
        yield
    finally:
        dispatch.Dispatcher.__init__ = original  # type: ignore[method-assign]
        walker.opens_nested = opens


def cpu_of(target: Path, on: bool) -> float:
    config = ScanConfig(analyzers=("-sandbox", "-vulns", "-code"), offline=True)
    with sniffing(on):
        start = time.process_time()
        scan(target, config)
        return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rootfs", type=Path, help="a root-filesystem tar (default: build one)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        target = args.rootfs or host_rootfs(Path(tmp) / "rootfs.tar")
        with tarfile.open(target) as tf:
            files = sum(1 for m in tf if m.isfile())
        cpu_of(target, True)  # warm the page cache and imports
        with_s: list[float] = []
        without: list[float] = []
        for _ in range(args.runs):
            with_s.append(cpu_of(target, True))
            without.append(cpu_of(target, False))
    ratios = [a / b for a, b in zip(with_s, without, strict=True)]
    size = target.stat().st_size if args.rootfs else 0
    print(f"root filesystem: {files} files{f', {size / 2**20:.0f} MiB' if size else ''}")
    print(f"with sniffing    cpu s: min {min(with_s):.2f}  median {statistics.median(with_s):.2f}")
    print(
        f"without sniffing cpu s: min {min(without):.2f}  median {statistics.median(without):.2f}"
    )
    print(f"ratio (paired)  median {statistics.median(ratios):.3f}  min {min(ratios):.3f}")


if __name__ == "__main__":
    main()
