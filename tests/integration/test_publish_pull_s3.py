"""End to end: the real gate, ``publish`` to a real S3 API (moto's server mode on
loopback), cross-checked with independent clients (the AWS CLI and the AWS Encryption CLI),
then ``pull`` back.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.cli import main
from signing.encrypt import RawRsaKeyring
from signing.keys import KeyType, write_keypair
from tests.helpers.keys import write_rsa_keypair
from tests.helpers.moto_server import FAKE_ENV, MotoServer, aws_cli, start_moto
from tests.helpers.project_builder import BuiltProject, ProjectSpec, build_project

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
PASSWORD = "integration password"  # noqa: S105 - a throwaway test key's password


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    yield from start_moto()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("keys")
    priv, pub = write_keypair(d / "ci", KeyType.ECDSA_P256, PASSWORD.encode())
    write_rsa_keypair(d / "device.pem", d / "device.pub.pem")
    return {"sign": priv, "verify": pub, "enc": d / "device.pub.pem", "dec": d / "device.pem"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANORAMA_GATE_KEY_PASSWORD", PASSWORD)
    for k, v in FAKE_ENV.items():
        monkeypatch.setenv(k, v)


def _publish(
    moto: MotoServer, keys: dict[str, Path], target: Path, to: str, tmp: Path, *extra: str
) -> int:
    return main(
        [
            "-q",
            "publish",
            str(target),
            "--to",
            to,
            "--key",
            str(keys["sign"]),
            "--encrypt-to",
            str(keys["enc"]),
            "--endpoint-url",
            moto.url,
            "--no-profile",
            "--offline",
            "--no-cache",
            "--state-dir",
            str(tmp / "state"),
            "--app-version",
            "1.0.0",
            "--format",
            "json",
            "-o",
            str(tmp / "report.json"),
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def big_project(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    # Random data makes the container asset larger than one 8 MiB part: a multipart upload.
    spec = ProjectSpec(with_model=False, rootfs_files={"opt/data.bin": os.urandom(11 * MiB)})
    return build_project(tmp_path_factory.mktemp("proj") / "app", spec)


def _cli_json(moto: MotoServer, *args: str) -> dict:  # type: ignore[type-arg]
    res = aws_cli(moto.url, *args)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout) if res.stdout.strip() else {}  # type: ignore[no-any-return]


@pytest.mark.slow
def test_publish_then_pull_cross_checked_with_aws_clients(
    moto: MotoServer,
    keys: dict[str, Path],
    big_project: BuiltProject,
    tmp_path: Path,
    env: None,
) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="releases")
    sse_key = moto.client("kms").create_key()["KeyMetadata"]["Arn"]
    code = _publish(
        moto,
        keys,
        big_project.root,
        "s3://releases/panorama",
        tmp_path,
        "--sse-kms-key-id",
        sse_key,
    )
    assert code == 0
    prefix = "panorama/shelf_app/1.0.0/"

    # The AWS CLI (its own HTTP stack and parser) sees the release.
    listing = _cli_json(
        moto, "s3api", "list-objects-v2", "--bucket", "releases", "--prefix", prefix
    )
    keys_seen = {o["Key"][len(prefix) :] for o in listing["Contents"]}
    assert "index.json" in keys_seen
    for name in ("attestation.sigstore.json", "report.json"):
        # content-addressed: meta/<sha256>/<name>
        assert any(k.startswith("meta/") and k.endswith("/" + name) for k in keys_seen), name
    container_key = f"objects/sha256/{big_project.container_sha}.enc"
    assert container_key in keys_seen
    assert any(k.startswith("signatures/") and k.endswith(".sig") for k in keys_seen)

    head = _cli_json(
        moto,
        "s3api",
        "head-object",
        "--bucket",
        "releases",
        "--key",
        prefix + container_key,
        "--checksum-mode",
        "ENABLED",
    )
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == sse_key
    assert head["Metadata"]["pg-sha256"] == big_project.container_sha
    assert head["Metadata"]["pg-verdict"] == "approved"
    assert head["ContentLength"] > 8 * MiB
    index = json.loads(s3.get_object(Bucket="releases", Key=prefix + "index.json")["Body"].read())
    entry = next(f for f in index["files"] if f["sha256"] == big_project.container_sha)
    assert head["ContentLength"] == entry["object"]["size"]
    # A multipart upload: S3's composite checksum is the SHA-256 of the parts' SHA-256s.
    body = s3.get_object(Bucket="releases", Key=prefix + container_key)["Body"].read()
    parts = [body[i : i + 8 * MiB] for i in range(0, len(body), 8 * MiB)]
    import base64

    composite = base64.b64encode(
        hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    ).decode()
    assert head["ChecksumSHA256"].split("-")[0] == composite
    assert hashlib.sha256(body).hexdigest() == entry["object"]["sha256"]
    tags = _cli_json(
        moto, "s3api", "get-object-tagging", "--bucket", "releases", "--key", prefix + container_key
    )["TagSet"]
    assert {"Key": "panorama-gate:verdict", "Value": "approved"} in tags
    assert {"Key": "panorama-gate:sha256", "Value": big_project.container_sha} in tags
    small = _cli_json(
        moto, "s3api", "head-object", "--bucket", "releases", "--key", prefix + "index.json"
    )
    assert small["ServerSideEncryption"] == "aws:kms"

    # The AWS Encryption CLI decrypts a published asset with the raw RSA keyring (through the
    # plugin entry point panorama-gate registers for it).
    downloaded = tmp_path / "container.enc"
    res = aws_cli(moto.url, "s3", "cp", f"s3://releases/{prefix}{container_key}", str(downloaded))
    assert res.returncode == 0, res.stderr
    site = tmp_path / "site" / "panorama_gate_cli_plugin-0.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: panorama-gate-cli-plugin\nVersion: 0\n"
    )
    # A test-only plugin name: once the project registers "panorama-gate-rsa" itself, two
    # distributions offering one name would make the CLI ask which one to use.
    (site / "entry_points.txt").write_text(
        "[aws_encryption_sdk_cli.master_key_providers]\n"
        "panorama-gate-rsa-test = signing.encrypt:cli_raw_rsa_provider\n"
    )
    key_name = RawRsaKeyring.from_private_pem(keys["dec"].read_bytes()).key_names[0]
    plain = tmp_path / "container.tar.gz"
    res = subprocess.run(
        [
            "aws-encryption-cli",
            "--decrypt-unsigned",
            "-i",
            str(downloaded),
            "-o",
            str(plain),
            "--wrapping-keys",
            "provider=panorama-gate-rsa-test",
            f"key={key_name}",
            f"private-key={keys['dec']}",
            "--encryption-context",
            f"panorama-gate:sha256={big_project.container_sha}",
            "panorama-gate:application=shelf_app",
            "panorama-gate:version=1.0.0",
            "--buffer",
            "-S",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{REPO}"},
    )
    assert res.returncode == 0, res.stderr
    assert big_project.container_asset is not None
    assert plain.read_bytes() == big_project.container_asset.read_bytes()

    # pull (the deploy side) rebuilds the project and verifies it.
    out = tmp_path / "deploy"
    code = main(
        [
            "-q",
            "pull",
            f"s3://releases/{prefix}",
            "-o",
            str(out),
            "--key",
            str(keys["verify"]),
            "--decrypt-key",
            str(keys["dec"]),
            "--endpoint-url",
            moto.url,
        ]
    )
    assert code == 0
    rel = big_project.rel(big_project.container_asset)
    assert (out / rel).read_bytes() == big_project.container_asset.read_bytes()
    assert (out / ".panorama-gate" / "attestation.sigstore.json").is_file()

    # A rerun of the complete release is a no-op.
    assert (
        _publish(
            moto,
            keys,
            big_project.root,
            "s3://releases/panorama",
            tmp_path,
            "--sse-kms-key-id",
            sse_key,
        )
        == 0
    )


@pytest.mark.slow
def test_rejected_target_uploads_nothing(
    moto: MotoServer, keys: dict[str, Path], tmp_path: Path, env: None
) -> None:
    moto.client("s3").create_bucket(Bucket="rejected")
    # A policy that rejects container findings from low: the fixture's tag-pinned base image.
    default = (REPO / "scanner" / "data" / "policies" / "default.yaml").read_text()
    policy = tmp_path / "strict.yaml"
    policy.write_text(
        default.replace("name: default", "name: publish-strict", 1).replace(
            "\n  container: high", "\n  container: low", 1
        )
    )
    token = "AKIA" + "QX7RZ2M9VJ4K8T3N"  # made up, not a documented example (those are waived)
    spec = ProjectSpec(
        with_model=False,
        rootfs_files={"panorama/settings.py": f"AWS_ACCESS_KEY_ID = '{token}'\n".encode()},
    )
    proj = build_project(tmp_path / "app", spec)
    code = _publish(moto, keys, proj.root, "s3://rejected/p", tmp_path, "--policy", str(policy))
    assert code == 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"]["decision"] == "rejected"
    assert moto.client("s3").list_objects_v2(Bucket="rejected").get("KeyCount", 0) == 0


def test_dry_run_uploads_nothing(
    moto: MotoServer,
    keys: dict[str, Path],
    big_project: BuiltProject,
    tmp_path: Path,
    env: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moto.client("s3").create_bucket(Bucket="dry")
    # Flags also come from PANORAMA_GATE_<FLAG>, the required --to included.
    monkeypatch.setenv("PANORAMA_GATE_TO", "s3://dry/p")
    monkeypatch.setenv("PANORAMA_GATE_ENDPOINT_URL", moto.url)
    code = main(
        [
            "publish",
            str(big_project.root),
            "--dry-run",
            "--no-profile",
            "--offline",
            "--no-cache",
            "--app-version",
            "1.0.0",
            "--format",
            "json",
            "-o",
            str(tmp_path / "r.json"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "dry run: would publish s3://dry/p/shelf_app/1.0.0" in out
    assert f"objects/sha256/{big_project.container_sha}.enc" in out
    assert moto.client("s3").list_objects_v2(Bucket="dry").get("KeyCount", 0) == 0


def test_plain_http_to_a_remote_endpoint_is_refused(
    keys: dict[str, Path],
    big_project: BuiltProject,
    env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "publish",
            str(big_project.root),
            "--to",
            "s3://b/p",
            "--endpoint-url",
            "http://s3.example.com",
            "--key",
            str(keys["sign"]),
            "--encrypt-to",
            str(keys["enc"]),
        ]
    )
    assert code == 2
    assert "only https://" in capsys.readouterr().err


def test_cli_help_lists_publish_and_pull() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "scanner", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=60,
    )
    assert "publish" in res.stdout
    assert "pull" in res.stdout


@pytest.mark.slow
def test_kms_keyring_and_file_destination_and_tampered_pull(
    moto: MotoServer,
    keys: dict[str, Path],
    tmp_path: Path,
    env: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    kms = moto.client("kms")
    arns = [kms.create_key()["KeyMetadata"]["Arn"] for _ in range(2)]
    proj = build_project(tmp_path / "app", ProjectSpec(with_model=False))
    dest = tmp_path / "releases"
    caplog.set_level("DEBUG")
    code = main(
        [
            "-q",
            "publish",
            str(proj.root),
            "--to",
            f"file://{dest}",
            "--key",
            str(keys["sign"]),
            "--kms-key",
            arns[0],
            "--kms-key",
            arns[1],
            "--endpoint-url",
            moto.url,
            "--no-profile",
            "--offline",
            "--no-cache",
            "--app-version",
            "3.1.0",
            "--state-dir",
            str(tmp_path / "state"),
            "--format",
            "json",
            "-o",
            str(tmp_path / "r.json"),
        ]
    )
    assert code == 0
    rel = dest / "shelf_app" / "3.1.0"
    index = json.loads((rel / "index.json").read_text())
    assert index["encryption"]["keyring"] == {"kind": "aws-kms", "key_ids": arns}
    # The signing key's password never reaches a log line or the release.
    assert PASSWORD not in caplog.text
    assert not any(PASSWORD.encode() in p.read_bytes() for p in rel.rglob("*") if p.is_file())

    # Either KMS key decrypts (one key per Region the devices run in).
    out = tmp_path / "deploy"
    pull = [
        "pull",
        f"file://{rel}",
        "--key",
        str(keys["verify"]),
        "--kms-key",
        arns[1],
        "--kms-endpoint-url",
        moto.url,
    ]
    assert main(["-q", *pull, "-o", str(out)]) == 0
    assert proj.container_asset is not None
    assert (out / proj.rel(proj.container_asset)).read_bytes() == proj.container_asset.read_bytes()

    # Tampering: the CLI exits 1 with the check that failed, and writes nothing.
    obj = rel / f"objects/sha256/{proj.container_sha}.enc"
    data = bytearray(obj.read_bytes())
    data[-30] ^= 1
    obj.write_bytes(bytes(data))
    capsys.readouterr()
    assert main([*pull, "-o", str(tmp_path / "deploy2")]) == 1
    err = capsys.readouterr().err
    assert "replaced or damaged in storage" in err
    assert not (tmp_path / "deploy2").exists()
    assert not [p for p in tmp_path.iterdir() if ".pull-" in p.name]


def test_incomplete_verdict_uploads_nothing_and_exits_3(
    moto: MotoServer,
    keys: dict[str, Path],
    big_project: BuiltProject,
    tmp_path: Path,
    env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The real gate, with one analyzer failure injected into its report: incomplete.
    import dataclasses

    import scanner.gate
    from scanner.models import AnalyzerFailure, Decision, Reason

    real = scanner.gate.run_gate

    def failing_gate(*a: object, **kw: object) -> object:
        report = real(*a, **kw)  # type: ignore[arg-type]
        assert report.verdict is not None
        verdict = dataclasses.replace(
            report.verdict,
            decision=Decision.INCOMPLETE,
            reasons=(Reason("analyzer-failed", "vulns failed: database unreadable"),),
        )
        return dataclasses.replace(
            report,
            verdict=verdict,
            failures=(*report.failures, AnalyzerFailure("vulns", "database unreadable")),
        )

    monkeypatch.setattr(scanner.gate, "run_gate", failing_gate)
    moto.client("s3").create_bucket(Bucket="incomplete")
    assert _publish(moto, keys, big_project.root, "s3://incomplete/p", tmp_path) == 3
    assert "verdict: incomplete; nothing was uploaded" in capsys.readouterr().err
    assert moto.client("s3").list_objects_v2(Bucket="incomplete").get("KeyCount", 0) == 0


def test_keyless_publish_needs_an_identity(
    keys: dict[str, Path],
    big_project: BuiltProject,
    env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import signing.keyless

    monkeypatch.delenv("SIGSTORE_ID_TOKEN", raising=False)
    monkeypatch.setattr(signing.keyless, "ambient_identity_token", lambda: None)
    code = main(
        [
            "publish",
            str(big_project.root),
            "--to",
            "file:///nonexistent/never",
            "--keyless",
            "--encrypt-to",
            str(keys["enc"]),
        ]
    )
    assert code == 2
    assert "--keyless needs an OIDC identity" in capsys.readouterr().err
    assert not Path("/nonexistent/never").exists()
