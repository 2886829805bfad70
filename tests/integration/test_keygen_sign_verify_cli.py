"""End to end through the CLI: keygen → sign → verify, exit codes and messages.

Reports are written from the project's real bytes in the JSON report's form; the scan → sign
chain with the real pipeline is in ``test_scan_sign_verify.py``.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from scanner.cli import main
from signing import load_private_key
from tests.helpers.project_builder import BuiltProject, build_project
from tests.helpers.signing_fixtures import POLICY_SHA, project_files, report_for

PASSWORD = "cli-test-password"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("PANORAMA_GATE_KEY_PASSWORD", PASSWORD)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def project(env: Path) -> BuiltProject:
    return build_project(env / "app")


def _report(project: BuiltProject, path: Path, **kw: object) -> Path:
    path.write_text(json.dumps(report_for(project.root, project_files(project), **kw)))  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize("key_type", ["ecdsa-p256", "ed25519"])
def test_keygen_sign_verify(
    env: Path, project: BuiltProject, capsys: pytest.CaptureFixture[str], key_type: str
) -> None:
    assert main(["keygen", "--out", "ci", "--type", key_type]) == 0
    assert (env / "ci.key").read_text().startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    report = _report(project, env / "report.json")
    capsys.readouterr()
    assert main(["sign", str(project.root), "--key", "ci.key", "--report", str(report)]) == 0
    written = capsys.readouterr().out.split()
    assert "signatures/attestation.sigstore.json" in written
    for asset in (project.root / "assets").iterdir():
        assert (env / "signatures" / f"{asset.name}.sig").is_file()
    assert (
        main(["verify", str(project.root), "--key", "ci.pub", "--policy-sha256", POLICY_SHA]) == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("verified: ")
    assert "verdict approved" in out
    assert PASSWORD not in out


def test_openssl_verifies_what_the_cli_wrote(env: Path, project: BuiltProject) -> None:
    assert main(["keygen", "--out", "ci"]) == 0
    report = _report(project, env / "report.json")
    assert (
        main(["sign", str(project.root), "--key", "ci.key", "--report", str(report), "-o", "out"])
        == 0
    )
    assert project.container_asset is not None
    der = env / "sig.der"
    der.write_bytes(
        base64.b64decode((env / "out" / f"{project.container_asset.name}.sig").read_bytes())
    )
    ok = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            "ci.pub",
            "-signature",
            str(der),
            str(project.container_asset),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert "Verified OK" in ok.stdout


def test_sign_refuses_rejected_report(
    env: Path, project: BuiltProject, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keygen", "--out", "ci"]) == 0
    report = _report(project, env / "report.json", decision="rejected")
    assert main(["sign", str(project.root), "--key", "ci.key", "--report", str(report)]) == 1
    err = capsys.readouterr().err
    assert "refusing to sign (not-approved)" in err
    assert not (env / "signatures").exists()


def test_sign_refuses_changed_bytes(
    env: Path, project: BuiltProject, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keygen", "--out", "ci"]) == 0
    report = _report(project, env / "report.json")
    assert project.model_asset is not None
    project.model_asset.write_bytes(b"swapped model")
    assert main(["sign", str(project.root), "--key", "ci.key", "--report", str(report)]) == 1
    assert "refusing to sign (digest-mismatch)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("setup", "args", "reason"),
    [
        ("other-key", [], "wrong-key"),
        ("extra-asset", [], "missing-subject"),
        ("none", ["--policy-sha256", "cd" * 32], "unexpected-policy"),
        ("changed-asset", [], "subject-mismatch"),
        ("none", ["--report", "other-report.json"], "report-mismatch"),
    ],
    ids=["wrong-key", "missing-subject", "unexpected-policy", "changed-asset", "report-mismatch"],
)
def test_verify_failures_exit_1_with_reason(
    env: Path,
    project: BuiltProject,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    args: list[str],
    reason: str,
) -> None:
    assert main(["keygen", "--out", "ci"]) == 0
    assert main(["keygen", "--out", "other"]) == 0
    report = _report(project, env / "report.json")
    assert main(["sign", str(project.root), "--key", "ci.key", "--report", str(report)]) == 0
    key = "other.pub" if setup == "other-key" else "ci.pub"
    (env / "other-report.json").write_text("{}")
    if setup == "extra-asset":
        (project.root / "assets" / ("e" * 64 + ".tar.gz")).write_bytes(b"extra")
    if setup == "changed-asset":
        assert project.container_asset is not None
        project.container_asset.write_bytes(b"changed")
    capsys.readouterr()
    assert main(["verify", str(project.root), "--key", key, *args]) == 1
    err = capsys.readouterr().err
    assert f"verification failed ({reason})" in err


def test_usage_errors_exit_2(
    env: Path,
    project: BuiltProject,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keygen", "--out", "ci"]) == 0
    assert main(["keygen", "--out", "ci"]) == 2  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["verify", str(project.root)]) == 2  # neither key nor identity
    assert main(["verify", str(project.root), "--certificate-identity", "x"]) == 2  # issuer missing
    report = _report(project, env / "report.json")
    assert main(["sign", str(project.root), "--report", str(report)]) == 2  # no key
    monkeypatch.delenv("PANORAMA_GATE_KEY_PASSWORD")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["sign", str(project.root), "--key", "ci.key", "--report", str(report)]) == 2
    assert "PANORAMA_GATE_KEY_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("PANORAMA_GATE_KEY_PASSWORD", "Zq9-not-the-password")
    assert main(["sign", str(project.root), "--key", "ci.key", "--report", str(report)]) == 2
    err = capsys.readouterr().err
    assert "wrong password" in err
    assert "Zq9-not-the-password" not in err


def _reference_keyless_flags(env: Path, shared_reference: Path) -> list[str]:
    """The real keyless reference bundle as a signatures folder, and its signer's identity."""
    sigs = env / "sigs"
    sigs.mkdir()
    src = shared_reference / "sigstore-keyless" / "rfc8785-0.1.2-py3-none-any.whl.sigstore.json"
    (sigs / "attestation.sigstore.json").write_bytes(src.read_bytes())
    return [
        "--signatures",
        str(sigs),
        "--certificate-identity",
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
        "--certificate-oidc-issuer",
        "https://token.actions.githubusercontent.com",
    ]


def test_verify_keyless_reference_bundle_via_cli(
    env: Path, shared_reference: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The reference bundle signs a wheel, not our attestation: the CLI must fail closed on it
    # (its signature and identity are fine, but it is not a DSSE statement of ours).
    target = env / "rfc8785-0.1.2-py3-none-any.whl"
    target.write_bytes(b"not the wheel")
    code = main(["verify", str(target), *_reference_keyless_flags(env, shared_reference)])
    assert code == 1
    assert "verification failed" in capsys.readouterr().err


def test_verify_keyless_trusted_root_flag_reaches_the_verifier(
    env: Path, shared_reference: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = env / "trusted_root.json"
    root.write_text('{"mediaType": "not a trusted root"}')
    flags = _reference_keyless_flags(env, shared_reference)
    code = main(["verify", str(env), *flags, "--trusted-root", str(root)])
    assert code == 2
    assert f"{root}: not a Sigstore trusted root" in capsys.readouterr().err


def test_keygen_prompts_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PANORAMA_GATE_KEY_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter(["first-try", "typo"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["keygen", "--out", "k"]) == 2
    assert "the two passwords differ" in capsys.readouterr().err
    assert not (tmp_path / "k.key").exists()
    answers = iter(["same-password", "same-password"])
    assert main(["keygen", "--out", "k"]) == 0
    assert load_private_key(tmp_path / "k.key", b"same-password") is not None
