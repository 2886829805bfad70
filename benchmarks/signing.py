"""Benchmark: sign and verify a 1 GiB artifact, against ``openssl dgst -sha256`` of the same file.

In one run, on one file (random bytes, page cache warmed by a first read):

* ``openssl dgst -sha256 FILE``: the floor, one read and one hash;
* ``sign_target``: hash the artifact once (checked against the report), sign the digest for the
  detached ``.sig``, build and sign the attestation (ECDSA P-256, the default);
* ``verify_target``: verify the attestation, hash the artifact once, check the ``.sig``.

Each is timed ``--repeat`` times, interleaved in rounds, and the best is kept. The target is
sign and verify each within 1.2x of openssl's hashing time (one read of the data).

Usage::

    python benchmarks/signing.py                  # 1 GiB
    python benchmarks/signing.py --size-mib 256 --repeat 5 --json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from signing import load_signer, load_verifier, sign_target, verify_target  # noqa: E402
from signing.keys import KeyType, write_keypair  # noqa: E402

PASSWORD = b"benchmark-only-password"


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The fastest of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def make_file(path: Path, size: int) -> None:
    """``size`` random bytes (incompressible, so nothing can shortcut the hash)."""
    chunk = os.urandom(1 << 20)
    with path.open("wb") as f:
        for _ in range(size >> 20):
            f.write(chunk)
        f.write(chunk[: size & ((1 << 20) - 1)])


def openssl_sha256(path: Path) -> str:
    """``openssl dgst -sha256 -r FILE`` → hex digest."""
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", "-r", str(path)], capture_output=True, text=True, check=True
    )
    return out.stdout.split()[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--key-type", choices=[k.value for k in KeyType], default="ecdsa-p256")
    ap.add_argument("--dir", type=Path, help="scratch folder (default: a temporary folder)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        artifact = work / "asset.tar"
        make_file(artifact, args.size_mib << 20)
        digest = openssl_sha256(artifact)  # also warms the page cache
        report = work / "report.json"
        report.write_text(
            json.dumps(
                {
                    "tool": {"name": "panorama-gate", "version": "bench"},
                    "target": {"kind": "container"},
                    "artifacts": [
                        {
                            "name": artifact.name,
                            "kind": "container",
                            "path": artifact.name,
                            "sha256": digest,
                            "size": artifact.stat().st_size,
                        }
                    ],
                    "verdict": {
                        "decision": "approved",
                        "reasons": [],
                        "policy": {"name": "default", "sha256": "0" * 64},
                    },
                }
            )
        )
        priv, pub = write_keypair(work / "k", KeyType(args.key_type), PASSWORD)
        signer = load_signer(priv, PASSWORD)
        verifier = load_verifier(pub)
        out = work / "sigs"

        # Interleave the three in rounds, so a load spike on a shared machine hits all alike.
        t_openssl = t_sign = t_verify = float("inf")
        for _ in range(args.repeat):
            t_openssl = min(t_openssl, best_of(1, lambda: openssl_sha256(artifact)))
            t_sign = min(t_sign, best_of(1, lambda: sign_target(artifact, report, signer, out)))
            t_verify = min(t_verify, best_of(1, lambda: verify_target(artifact, out, verifier)))

    size = args.size_mib << 20
    result = {
        "size_mib": args.size_mib,
        "key_type": args.key_type,
        "openssl_dgst_s": round(t_openssl, 3),
        "sign_s": round(t_sign, 3),
        "verify_s": round(t_verify, 3),
        "sign_ratio": round(t_sign / t_openssl, 3),
        "verify_ratio": round(t_verify / t_openssl, 3),
        "openssl_mib_s": round(size / t_openssl / 2**20, 1),
        "sign_mib_s": round(size / t_sign / 2**20, 1),
        "verify_mib_s": round(size / t_verify / 2**20, 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.size_mib} MiB, {args.key_type}, best of {args.repeat}")
        print(f"  openssl dgst -sha256  {t_openssl:7.3f} s  ({result['openssl_mib_s']} MiB/s)")
        print(f"  sign                  {t_sign:7.3f} s  ({result['sign_ratio']}x openssl)")
        print(f"  verify                {t_verify:7.3f} s  ({result['verify_ratio']}x openssl)")
        target_met = max(result["sign_ratio"], result["verify_ratio"]) <= 1.2
        print(f"  target (<= 1.2x): {'met' if target_met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
