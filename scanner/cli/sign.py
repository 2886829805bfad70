"""``panorama-gate sign TARGET --key KEY --report REPORT [-o DIR]``: sign an approved target.

Refuses (exit 1) when the report's verdict is not approved or any artifact's bytes no longer
match the report's digests. Writes ``attestation.sigstore.json`` and per-asset ``.sig`` files.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from scanner.cli.keygen import read_password
from scanner.errors import UsageError

EXAMPLES = """\
examples:
  panorama-gate scan app/ --format json -o report.json
  PANORAMA_GATE_KEY_PASSWORD=... panorama-gate sign app/ --key cosign.key --report report.json
  panorama-gate sign app/ --key awskms:///alias/panorama-gate --report report.json -o sigs/
  panorama-gate sign app/ --keyless --report report.json      (CI with an OIDC identity; online)

exit codes: 0 signed, 1 refused (verdict not approved, or bytes differ from the report),
2 bad input (key, password, report), 3 tool failure (KMS, Sigstore, I/O).
"""


def register(sub: Any) -> None:
    """Add the ``sign`` command."""
    p = sub.add_parser(
        "sign",
        help="sign an approved target (attestation + detached signatures)",
        description=(
            "Sign an approved target: an in-toto attestation (DSSE in a Sigstore bundle) of the "
            "verdict and every artifact digest, cosign-style detached signatures per asset, and "
            "OpenSSF model-signing bundles for models."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", type=Path, metavar="TARGET", help="the scanned target")
    p.add_argument("--key", help="private key PEM file or awskms://[ENDPOINT]/KEY")
    p.add_argument(
        "--keyless",
        action="store_true",
        help="sign with the CI's OIDC identity through Sigstore (online)",
    )
    p.add_argument("--report", required=True, type=Path, help="the JSON report of the scan")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("signatures"),
        metavar="DIR",
        help="output folder (default: ./signatures)",
    )
    p.add_argument("--sbom", type=Path, help="SBOM file whose SHA-256 goes into the attestation")
    p.add_argument(
        "--no-model-signatures",
        action="store_true",
        help="do not write OpenSSF model-signing bundles for models",
    )
    p.add_argument(
        "--app", metavar="NAME", help="application the release is for (default: the report's)"
    )
    p.add_argument(
        "--app-version", metavar="VERSION", help="release version (default: the report's)"
    )
    p.add_argument("--endpoint-url", help="KMS endpoint URL (for awskms:// keys)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Sign; print the written files, one per line."""
    from signing.keyless import ambient_identity_token
    from signing.sign import sign_target
    from signing.signer import KMS_SCHEME, load_signer
    from signing.statement import ReleaseInfo

    if bool(args.key) == bool(args.keyless):
        raise UsageError("give exactly one of --key KEY or --keyless")
    token = None
    signer = None
    if args.keyless:
        token = os.environ.get("SIGSTORE_ID_TOKEN") or ambient_identity_token()
        if not token:
            raise UsageError(
                "--keyless needs an OIDC identity: run in CI with id-token "
                "permission, or set SIGSTORE_ID_TOKEN"
            )
    else:
        password = None if str(args.key).startswith(KMS_SCHEME) else read_password(confirm=False)
        signer = load_signer(args.key, password, endpoint_url=args.endpoint_url)
    result = sign_target(
        args.target,
        args.report,
        signer,
        args.output,
        sbom=args.sbom,
        model_signatures=not args.no_model_signatures,
        identity_token=token,
        release=ReleaseInfo(args.app, args.app_version) if args.app or args.app_version else None,
    )
    for path in (result.attestation, *result.signatures, *result.model_signatures):
        print(path)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if not args.quiet:
        print(
            f"signed {len(result.statement.subjects)} subjects into {args.output}", file=sys.stderr
        )
    return 0
