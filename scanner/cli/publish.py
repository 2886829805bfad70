"""``panorama-gate publish TARGET --to s3://BUCKET/PREFIX``: scan, decide, sign, encrypt, upload.

Nothing is uploaded unless the verdict is approved; the release index is written last.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

from scanner.cli._options import (
    add_output_flags,
    add_scan_flags,
    config_from_args,
    output_pairs,
    policy_from_args,
    write_outputs,
)
from scanner.errors import UsageError
from scanner.models import Decision

EXAMPLES = """\
examples:
  PANORAMA_GATE_KEY_PASSWORD=... panorama-gate publish app/ --to s3://releases/panorama \\
      --key ci.key --kms-key arn:aws:kms:us-east-1:111122223333:key/mrk-1234... \\
      --sse-kms-key-id alias/releases
  panorama-gate publish app/ --to s3://releases/panorama --dry-run
  panorama-gate publish app/ --to file:///tmp/releases --key ci.key --encrypt-to device.pub.pem

layout (one folder per application version; see the README's publish section):
  APP/VERSION/index.json                     written last: a release without it is incomplete
  APP/VERSION/meta/<sha256>/attestation.sigstore.json   signed in-toto statement
  APP/VERSION/meta/<sha256>/report.json      the JSON report
  APP/VERSION/signatures/<sha256>/<file>.sig detached signatures of the plaintext assets
  APP/VERSION/objects/sha256/<hex>.enc       encrypted files (AWS Encryption SDK format)

exit codes: 0 published (or already published), 1 rejected (nothing uploaded), 2 bad input,
3 incomplete verdict or a failure (no index written; rerun to resume).
"""

EXIT = {Decision.APPROVED: 0, Decision.REJECTED: 1, Decision.INCOMPLETE: 3}
RAW_AES_HELP = "file with a raw 32-byte AES key (tests and local trials only)"


class RichProgress:
    """Transfer progress on stderr: a bar with bytes, rate and time left per object."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}", style="cyan"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._lock = threading.Lock()
        self._task: Any = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def begin(self, label: str, total: int) -> None:
        """Start a bar for one object."""
        with self._lock:
            self._task = self._progress.add_task(label, total=total)

    def advance(self, n: int) -> None:
        """Move the current bar (called from upload threads)."""
        with self._lock:
            if self._task is not None:
                self._progress.advance(self._task, n)

    def end(self) -> None:
        """The current object is done."""
        with self._lock:
            self._task = None


def add_transport_flags(p: argparse.ArgumentParser) -> None:
    """S3 endpoint, Region, FIPS and retry flags shared by publish and pull."""
    p.add_argument(
        "--endpoint-url",
        help="S3-compatible endpoint (and KMS endpoint); https only, http on loopback only",
    )
    p.add_argument(
        "--kms-endpoint-url",
        help="KMS endpoint for --kms-key and awskms:// keys (default: --endpoint-url, as local "
        "test servers serve both; set it when --endpoint-url is an S3-compatible store)",
    )
    p.add_argument("--region", help="AWS Region (default: boto3's normal configuration chain)")
    p.add_argument("--fips", action="store_true", help="use FIPS endpoints for S3 and KMS")
    p.add_argument(
        "--retries", type=int, default=5, help="attempts per request on transient failures"
    )
    p.add_argument(
        "--kms-key",
        dest="kms_keys",
        action="append",
        default=[],
        metavar="ARN",
        help="AWS KMS key ARN for envelope encryption (repeatable: any one key decrypts; "
        "multi-region mrk- keys allowed)",
    )
    p.add_argument("--raw-aes-key-file", type=Path, help=RAW_AES_HELP)


def kms_endpoint(args: argparse.Namespace) -> str | None:
    """The KMS endpoint: ``--kms-endpoint-url``, else ``--endpoint-url`` (checked likewise)."""
    from signing.store import check_endpoint

    url: str | None = args.kms_endpoint_url or args.endpoint_url
    check_endpoint(url)
    return url


def keyring_from_args(args: argparse.Namespace, *, rsa_paths: list[Path], decrypt: bool) -> Any:
    """One keyring from the key flags; exactly one kind must be given."""
    from signing.encrypt import KmsKeyring, RawAesKeyring, RawRsaKeyring

    kinds = [bool(args.kms_keys), bool(rsa_paths), bool(args.raw_aes_key_file)]
    if sum(kinds) != 1:
        flag = "--decrypt-key" if decrypt else "--encrypt-to"
        raise UsageError(
            f"give exactly one kind of encryption key: --kms-key, {flag} or --raw-aes-key-file"
        )
    if args.kms_keys:
        return KmsKeyring(
            args.kms_keys, region=args.region, endpoint_url=kms_endpoint(args), fips=args.fips
        )
    if args.raw_aes_key_file:
        return RawAesKeyring(_read(args.raw_aes_key_file), key_name="panorama-gate")
    if decrypt:
        password_env = os.environ.get("PANORAMA_GATE_DECRYPT_KEY_PASSWORD")
        password = password_env.encode() if password_env else None
        return RawRsaKeyring.from_private_pem(_read(rsa_paths[0]), password)
    return RawRsaKeyring.from_public_pem(*(_read(p) for p in rsa_paths))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def register(sub: Any) -> None:
    """Add the ``publish`` command."""
    p = sub.add_parser(
        "publish",
        help="scan, decide, sign, encrypt and upload (nothing uploaded unless approved)",
        description=(
            "The whole gate in one step for CI: scan the target, evaluate the policy, and only "
            "if approved sign it, encrypt every file (AWS Encryption SDK format) and upload the "
            "release to S3 (or file://DIR) with the release index written last."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scan_flags(p)
    add_output_flags(p)
    # Not required=True: argparse would refuse before PANORAMA_GATE_TO is applied.
    p.add_argument("--to", metavar="URL", help="s3://BUCKET/PREFIX or file://DIR (required)")
    p.add_argument("--key", help="signing key: private key PEM file or awskms://[ENDPOINT]/KEY")
    p.add_argument(
        "--keyless",
        action="store_true",
        help="sign with the CI's OIDC identity through Sigstore instead of a key (online)",
    )
    p.add_argument(
        "--encrypt-to",
        dest="encrypt_to",
        action="append",
        default=[],
        type=Path,
        metavar="PUB",
        help="RSA public key PEM (>= 3072 bits) to encrypt to, for teams without KMS (repeatable)",
    )
    add_transport_flags(p)
    p.add_argument(
        "--sse-kms-key-id",
        help="server-side encryption at rest with this KMS key (SSE-KMS with S3 Bucket Keys)",
    )
    p.add_argument("--app", help="application name (default: from the target)")
    p.add_argument(
        "--app-version",
        help="release version (default: the code package's version, or the one version the "
        "project's own packages share in its graph)",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        help="where staged ciphertexts and resumable-upload state live; must be private "
        "(yours, not writable by others, not a link) (default: CACHE_DIR/publish, or "
        "$XDG_STATE_HOME/panorama-gate/publish with --no-cache)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="scan and decide, then print what would be uploaded; upload nothing",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check every flag, then scan and decide; if approved, sign, encrypt and upload."""
    from scanner.cli._release_docs import write_release_documents
    from scanner.gate import run_gate
    from signing.publish import PublishOptions, check_segment, publish_release
    from signing.store import RetryPolicy, check_endpoint, split_url

    # Every flag is checked before any work (the scan can take minutes): a run that would
    # fail on a missing version or key must fail at once, --dry-run included.
    if not args.to:
        raise UsageError("publish needs --to s3://BUCKET/PREFIX or file://DIR")
    split_url(args.to)
    check_endpoint(args.endpoint_url)
    if args.app is not None:
        check_segment(args.app, "--app")
    version = args.app_version or project_version(args.target)
    if not version:
        raise UsageError(
            f"{args.target}: cannot tell the release version (the project's own packages do not "
            "share one version): pass --app-version VERSION"
        )
    check_segment(version, "--app-version" if args.app_version else "version")
    pairs = output_pairs(args)
    policy = policy_from_args(args)
    config = config_from_args(args, policy)
    keyring = signer = token = None
    if not args.dry_run or args.key or args.keyless:
        if args.keyless:
            token = _identity_token(args)
        else:
            signer = _signer(args)
    if not args.dry_run or args.kms_keys or args.encrypt_to or args.raw_aes_key_file:
        keyring = keyring_from_args(args, rsa_paths=list(args.encrypt_to), decrypt=False)
    report = run_gate(args.target, config, policy, waivers=args.waivers)
    write_outputs(report, pairs, args.quiet)
    assert report.verdict is not None
    decision = report.verdict.decision
    if decision is not Decision.APPROVED:
        print(f"verdict: {decision.value}; nothing was uploaded", file=sys.stderr)
        return EXIT[decision]
    # Staged ciphertexts must outlive a failed run (a rerun resumes from them): the cache
    # folder, or a per-user state folder with --no-cache; publish checks it is private.
    state_dir = args.state_dir or (config.cache_dir / "publish" if config.cache_dir else None)
    show = sys.stderr.isatty() and not args.quiet
    progress = RichProgress() if show else None
    options = PublishOptions(
        destination=args.to,
        signer=signer,
        keyring=keyring,
        documents=write_release_documents,
        application=args.app,
        version=version,
        endpoint_url=args.endpoint_url,
        region=args.region,
        fips=args.fips,
        sse_kms_key_id=args.sse_kms_key_id,
        dry_run=args.dry_run,
        state_dir=state_dir,
        progress=progress,
        retry=RetryPolicy(attempts=max(1, args.retries)),
        identity_token=token,
    )
    if progress is not None:
        with progress:
            result = publish_release(args.target, report, options)
    else:
        result = publish_release(args.target, report, options)
    return _print_result(result, args.quiet)


def _print_result(result: Any, quiet: bool) -> int:
    if result.dry_run:
        state = (
            " (already published: a real run changes nothing)" if result.already_published else ""
        )
        print(f"dry run: would publish {result.url}{state}")
        for o in result.objects:
            size = f" ({o.size} bytes)" if o.size else ""
            print(f"  {o.key}{size}  {o.what}")
        return 0
    if result.already_published:
        print(
            f"{result.url}: already published with the same files; nothing to do", file=sys.stderr
        )
        return 0
    if not quiet:
        for o in result.objects:
            print(f"{o.action:9} {result.url}/{o.key}  {o.what}", file=sys.stderr)
    print(f"{result.url}/index.json")
    return 0


def project_version(target: Path) -> str | None:
    """The release version a target carries, read without scanning: a code package folder's
    ``<account>-<name>-<version>``, or the one version a project's own packages share in its
    graph (``panorama::`` packages are AWS's, not the application's)."""
    import json

    from scanner.sources.panorama import parse_folder_name

    if not target.is_dir():
        return None
    graphs = sorted(target.glob("graphs/*/graph.json"))
    if not graphs:
        parsed = parse_folder_name(target.name)
        return parsed[2] if parsed and (target / "package.json").is_file() else None
    versions: set[str] = set()
    for graph in graphs:
        try:
            if graph.stat().st_size > 4 * 1024 * 1024:
                return None
            doc = json.loads(graph.read_bytes())
            packages = doc["nodeGraph"]["packages"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        for pkg in packages if isinstance(packages, list) else []:
            if not isinstance(pkg, dict):
                continue
            name, version = pkg.get("name"), pkg.get("version")
            if isinstance(name, str) and not name.startswith("panorama::"):
                if not isinstance(version, str) or not version:
                    return None
                versions.add(version)
    return versions.pop() if len(versions) == 1 else None


def _identity_token(args: argparse.Namespace) -> str:
    if args.key:
        raise UsageError("give one of --key KEY or --keyless, not both")
    token = os.environ.get("SIGSTORE_ID_TOKEN")
    if not token:
        from signing.keyless import ambient_identity_token

        token = ambient_identity_token()
    if not token:
        raise UsageError(
            "--keyless needs an OIDC identity: run in CI with id-token permission, or set "
            "SIGSTORE_ID_TOKEN"
        )
    return token


def _signer(args: argparse.Namespace) -> Any:
    from scanner.cli.keygen import read_password
    from signing.signer import KMS_SCHEME, load_signer

    if not args.key:
        raise UsageError("publish needs --key (signing key: PEM file or awskms://...)")
    password = None if str(args.key).startswith(KMS_SCHEME) else read_password(confirm=False)
    return load_signer(args.key, password, endpoint_url=kms_endpoint(args))
