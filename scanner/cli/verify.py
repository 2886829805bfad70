"""``panorama-gate verify TARGET --key PUB [--signatures DIR]``: check before deploy.

Fails closed (exit 1) with the precise reason: wrong key, altered bundle or artifact, an
artifact that is not a subject, a verdict that was not approved, an unexpected policy digest.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from scanner.cli._options import add_keyless_flags, keyless_identity

EXAMPLES = """\
examples:
  panorama-gate verify app/ --key cosign.pub
  panorama-gate verify app/ --key cosign.pub --signatures sigs/ --policy-sha256 3f2a...
  panorama-gate verify app/ --key cosign.pub --report report.json
  panorama-gate verify app/ --key awskms:///alias/panorama-gate
  panorama-gate verify app/ --certificate-identity \\
      https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com   (offline)

exit codes: 0 verified, 1 verification failed (do not deploy), 2 bad input, 3 tool failure.
"""


def register(sub: Any) -> None:
    """Add the ``verify`` command."""
    p = sub.add_parser(
        "verify",
        help="verify a target's signatures and attestation (fails closed)",
        description="Check every signature, artifact digest, the attested verdict and policy.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", type=Path, metavar="TARGET", help="the target to deploy")
    p.add_argument("--key", help="public key PEM file or awskms://[ENDPOINT]/KEY")
    p.add_argument(
        "--signatures",
        type=Path,
        default=Path("signatures"),
        metavar="DIR",
        help="folder written by sign (default: ./signatures)",
    )
    p.add_argument(
        "--policy-sha256", metavar="HEX", help="require the attested policy to have this SHA-256"
    )
    p.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="require this JSON report to be the one the attested verdict came from",
    )
    add_keyless_flags(p)
    p.add_argument("--endpoint-url", help="KMS endpoint URL (for awskms:// keys)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Verify; print a one-line summary."""
    from signing.signer import load_verifier
    from signing.verify import verify_target

    identity = keyless_identity(args, "verify")
    verifier = load_verifier(args.key, endpoint_url=args.endpoint_url) if args.key else None
    result = verify_target(
        args.target,
        args.signatures,
        verifier,
        identity=identity,
        expected_policy_sha256=args.policy_sha256,
        report=args.report,
    )
    pred = result.statement.predicate
    print(
        f"verified: {result.subjects} subjects, {result.signatures} detached signatures, "
        f"{result.model_signatures} model bundles; verdict {pred.decision} under policy "
        f"{pred.policy_name!r} (sha256 {pred.policy_sha256}); signed by {result.signer}",
        file=sys.stdout,
    )
    return 0
