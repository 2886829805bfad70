"""``panorama-gate keygen --out PREFIX``: make a signing key pair.

The private key is written encrypted (PKCS#8, password from ``PANORAMA_GATE_KEY_PASSWORD`` or a
prompt); the public key is a standard PEM that openssl and cosign read.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from scanner.errors import UsageError

EXAMPLES = """\
examples:
  PANORAMA_GATE_KEY_PASSWORD=... panorama-gate keygen --out ci/cosign
  panorama-gate keygen --out release --type ed25519      (prompts for the password)

writes PREFIX.key (encrypted private key, mode 0600) and PREFIX.pub (public key).
"""

PASSWORD_ENV = "PANORAMA_GATE_KEY_PASSWORD"  # noqa: S105 - the variable name, not a secret


def read_password(*, confirm: bool) -> bytes:
    """The key password from ``PANORAMA_GATE_KEY_PASSWORD`` or, on a terminal, a prompt."""
    env = os.environ.get(PASSWORD_ENV)
    if env is not None:
        if not env:
            raise UsageError(f"{PASSWORD_ENV} is set but empty")
        return env.encode("utf-8")
    if not sys.stdin.isatty():
        raise UsageError(f"no key password: set {PASSWORD_ENV} (there is no terminal to prompt on)")
    first = getpass.getpass("key password: ")
    if confirm and getpass.getpass("again: ") != first:
        raise UsageError("the two passwords differ")
    if not first:
        raise UsageError("an empty password is not allowed")
    return first.encode("utf-8")


def register(sub: Any) -> None:
    """Add the ``keygen`` command."""
    p = sub.add_parser(
        "keygen",
        help="make a signing key pair (encrypted private key + PEM public key)",
        description="Make an ECDSA P-256 (default) or Ed25519 key pair for sign/verify.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out", required=True, type=Path, metavar="PREFIX", help="write PREFIX.key and PREFIX.pub"
    )
    p.add_argument(
        "--type",
        dest="key_type",
        choices=("ecdsa-p256", "ed25519"),
        default="ecdsa-p256",
        help="key algorithm (default: ecdsa-p256)",
    )
    p.add_argument("--force", action="store_true", help="overwrite existing key files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write the key pair; print both paths."""
    from signing.keys import KeyType, write_keypair

    password = read_password(confirm=True)
    priv, pub = write_keypair(args.out, KeyType(args.key_type), password, force=args.force)
    print(f"private key: {priv}")
    print(f"public key:  {pub}")
    return 0
