"""``panorama-gate verify TARGET --key PUB [--signatures DIR]``: check before deploy.

Fails closed (exit 1) with the precise reason: wrong key, altered bundle or artifact, an
artifact that is not a subject, a verdict that was not approved, an unexpected policy digest,
another application or version than asked for, a version older than ``--min-version``.
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
  panorama-gate verify app/ --key cosign.pub --app shelf_app --app-version 1.4.0 --min-version 1.4.0
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
    p.add_argument(
        "--app", metavar="NAME", help="require the attestation to be for this application"
    )
    p.add_argument(
        "--app-version", metavar="VERSION", help="require the attestation to be for this version"
    )
    add_release_flags(p)
    p.add_argument("--endpoint-url", help="KMS endpoint URL (for awskms:// keys)")
    p.set_defaults(func=run)


def add_release_flags(p: argparse.ArgumentParser) -> None:
    """``--min-version`` and ``--published-to``, shared by verify and pull."""
    p.add_argument(
        "--min-version",
        metavar="VERSION",
        help="refuse a release older than this version (a rollback to a known-bad release)",
    )
    p.add_argument(
        "--published-to",
        metavar="URL",
        help="the destination the release was published to (s3://BUCKET/PREFIX), when it "
        "was copied elsewhere since; pull otherwise requires the URL it reads from",
    )


def run(args: argparse.Namespace) -> int:
    """Verify; print a one-line summary."""
    from signing.release import ReleaseExpectation, parse_version
    from signing.signer import load_verifier
    from signing.store import split_url
    from signing.verify import verify_target

    identity = keyless_identity(args, "verify")
    if args.min_version is not None:
        parse_version(args.min_version, "--min-version")
    if args.published_to is not None:
        split_url(args.published_to)
    verifier = load_verifier(args.key, endpoint_url=args.endpoint_url) if args.key else None
    result = verify_target(
        args.target,
        args.signatures,
        verifier,
        identity=identity,
        expected_policy_sha256=args.policy_sha256,
        report=args.report,
        release=ReleaseExpectation(args.app, args.app_version, args.published_to, args.min_version),
    )
    pred = result.statement.predicate
    print(
        f"verified: {result.subjects} subjects, {result.signatures} detached signatures, "
        f"{result.model_signatures} model bundles; verdict {pred.decision} under policy "
        f"{pred.policy_name!r} (sha256 {pred.policy_sha256}); signed by {result.signer}",
        file=sys.stdout,
    )
    return 0
