"""``panorama-gate pull s3://BUCKET/PREFIX/APP/VERSION -o DIR``: download, verify, decrypt, write.

Any failure leaves nothing in DIR: everything is checked in a staging folder first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from scanner.cli._options import add_keyless_flags, keyless_identity
from scanner.cli.publish import (
    RichProgress,
    add_transport_flags,
    keyring_from_args,
    kms_endpoint,
)
from scanner.cli.verify import add_release_flags
from scanner.errors import UsageError

EXAMPLES = """\
examples:
  panorama-gate pull s3://releases/panorama/shelf_app/1.0.0 -o deploy/ --key ci.pub \\
      --kms-key arn:aws:kms:us-east-1:111122223333:key/mrk-1234...
  PANORAMA_GATE_DECRYPT_KEY_PASSWORD=... panorama-gate pull file:///tmp/releases/shelf_app/1.0.0 \\
      -o deploy/ --key ci.pub --decrypt-key device.key.pem --min-version 1.0.0

The signed attestation must be for the APP and VERSION of the URL and for the destination it
was read from (--published-to names the original one of a copied release).

DIR receives the target's files as they were signed, plus DIR/.panorama-gate/ with the release
index, the attestation, the report and the detached signatures (so `verify DIR --key PUB
--signatures DIR/.panorama-gate` can be rerun later).

exit codes: 0 pulled and verified, 1 verification failed (nothing written), 2 bad input,
3 tool or network failure (nothing written).
"""


def register(sub: Any) -> None:
    """Add the ``pull`` command."""
    p = sub.add_parser(
        "pull",
        help="download, verify and decrypt a published release (nothing written unless valid)",
        description=(
            "The deploy side of publish: download a release, check its index, attestation and "
            "every signature, decrypt each file and check its digest against the signed "
            "statement, and only then move the files into DIR."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "url", metavar="URL", help="s3://BUCKET/PREFIX/APP/VERSION or file://DIR/APP/VERSION"
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        help="new or empty folder to write the release into (required)",
    )
    p.add_argument("--key", help="the signer's public key PEM or awskms://[ENDPOINT]/KEY")
    add_keyless_flags(p)
    p.add_argument("--policy-sha256", help="also require the release to be decided by this policy")
    add_release_flags(p)
    p.add_argument(
        "--decrypt-key",
        type=Path,
        metavar="PRIV",
        help="RSA private key PEM for releases encrypted with --encrypt-to "
        "(password from PANORAMA_GATE_DECRYPT_KEY_PASSWORD if encrypted)",
    )
    add_transport_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Pull and verify; print the output folder."""
    from signing.pull import pull_release
    from signing.release import parse_version
    from signing.signer import load_verifier
    from signing.store import RetryPolicy, check_endpoint, split_url

    if args.output is None:
        raise UsageError("pull needs -o DIR (a new or empty folder)")
    split_url(args.url)
    check_endpoint(args.endpoint_url)
    if args.min_version is not None:
        parse_version(args.min_version, "--min-version")
    if args.published_to is not None:
        split_url(args.published_to)
    identity = keyless_identity(args, "pull")
    verifier = load_verifier(args.key, endpoint_url=kms_endpoint(args)) if args.key else None
    rsa_paths = [args.decrypt_key] if args.decrypt_key else []
    keyring = keyring_from_args(args, rsa_paths=rsa_paths, decrypt=True)
    show = sys.stderr.isatty() and not args.quiet
    progress = RichProgress() if show else None
    kwargs: dict[str, Any] = {
        "keyring": keyring,
        "verifier": verifier,
        "identity": identity,
        "expected_policy_sha256": args.policy_sha256,
        "min_version": args.min_version,
        "published_to": args.published_to,
        "endpoint_url": args.endpoint_url,
        "region": args.region,
        "fips": args.fips,
        "progress": progress,
        "retry": RetryPolicy(attempts=max(1, args.retries)),
    }
    if progress is not None:
        with progress:
            result = pull_release(args.url, args.output, **kwargs)
    else:
        result = pull_release(args.url, args.output, **kwargs)
    if not args.quiet:
        print(
            f"pulled {result.application} {result.version}: {len(result.files)} files verified "
            f"(signed by {result.signer})",
            file=sys.stderr,
        )
    print(result.out_dir)
    return 0
