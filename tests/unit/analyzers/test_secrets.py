"""Secret rules and the ``secrets`` analyzer: rule families, samples, third-party lowering."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scanner.analyzers._secret_rules import entropy, find_secrets, is_placeholder, scan_bytes
from scanner.analyzers.secrets import SecretsAnalyzer
from scanner.models import (
    AnalyzerFailure,
    Artifact,
    ArtifactKind,
    Category,
    Finding,
    Severity,
    Skipped,
)
from scanner.sources.interface import ArtifactFormat, SourceArtifact
from tests.helpers.entries import make_entry
from tests.helpers.keys import rsa_pem as make_rsa_pem

# Made-up values with the right shapes; none of them was ever a real credential.
AKID = "AKIAZ4XQ7RMBC2JT6N5W"
ASID = "ASIAZ4XQ7RMBC2JT6N5W"
SECRET = "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"
SESSION = "FwoGZXIvYXdzE" + "Kq9Lm3Np7Rt2Vx5Zb8Df1Hj4" * 5
CAM_PASSWORD = "Kx9-pw7Q"
GH = "ghp_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"


@pytest.fixture(scope="module")
def rsa_pem() -> bytes:
    return make_rsa_pem()


@pytest.fixture(scope="module")
def rsa_pem_encrypted() -> bytes:
    return make_rsa_pem(password=b"not-a-secret")


def _run(path: str, data: bytes, **kw: object) -> list[Finding]:
    out = list(SecretsAnalyzer().analyze(make_entry(path, data, **kw)))  # type: ignore[arg-type]
    assert all(isinstance(o, Finding) for o in out), out
    return [o for o in out if isinstance(o, Finding)]


def _rules(findings: list[Finding]) -> list[tuple[str, Severity, int | None]]:
    return [(f.rule_id, f.severity, f.location.line) for f in findings]


@pytest.mark.parametrize(
    ("text", "rule", "severity", "line"),
    [
        (f"x = 1\nkey = '{AKID}'\n", "secrets.aws-access-key-id", Severity.CRITICAL, 2),
        (f"key = '{ASID}'\n", "secrets.aws-access-key-id", Severity.HIGH, 1),
        (
            f"\n\naws_secret_access_key = {SECRET}\n",
            "secrets.aws-secret-access-key",
            Severity.CRITICAL,
            3,
        ),
        (
            f'{{"SecretAccessKey": "{SECRET}"}}',
            "secrets.aws-secret-access-key",
            Severity.CRITICAL,
            1,
        ),
        (f"aws_session_token = {SESSION}\n", "secrets.aws-session-token", Severity.HIGH, 1),
        (
            f'CAM = "rtsp://admin:{CAM_PASSWORD}@192.168.1.20:554/s1"',
            "secrets.credential-url",
            Severity.CRITICAL,
            1,
        ),
        (
            'u = "https://deploy:Zq81mW-77aa@git.example.org/repo.git"',
            "secrets.credential-url",
            Severity.HIGH,
            1,
        ),
        ('db_password = "Correct-Horse-9"\n', "secrets.hardcoded-password", Severity.HIGH, 1),
        (
            'api_token: "Qm9vZ2llV29vZ2llOTk4NzY1NDMyMQ"\n',
            "secrets.generic-secret",
            Severity.HIGH,
            1,
        ),
        (f"token = '{GH}'", "secrets.github-token", Severity.HIGH, 1),
    ],
    ids=[
        "akia",
        "asia",
        "aws-secret",
        "aws-secret-json",
        "session",
        "rtsp",
        "https-url",
        "password",
        "generic",
        "github",
    ],
)
def test_text_rules(text: str, rule: str, severity: Severity, line: int) -> None:
    findings = _run("panorama/app.py", text.encode())
    assert (rule, severity, line) in _rules(findings)
    for f in findings:
        assert f.category is Category.SECRET
        assert f.location.path == "panorama/app.py"


@pytest.mark.parametrize(
    "text",
    [
        'password = os.environ["DB_PASSWORD"]',
        'password = "changeme"',
        'url = "rtsp://user:{password}@cam/stream"',
        'url = "postgres://user:password@localhost/db"',
        "token_type = 'bearer'",
        "max_tokens = 4096",
        'secret_name = "prod/camera/credentials"',
        "key = 'AKIA'",
        "def check_password(password): return password == expected",
    ],
)
def test_no_false_positive(text: str) -> None:
    assert _run("panorama/app.py", text.encode()) == []


def test_documented_sample_key_is_info_with_reason() -> None:
    sample = b"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
    sample += b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    # In the app both rules see it; inside a package only the key id rule runs (see below).
    for path, rules in (
        ("panorama/example.py", {"secrets.aws-access-key-id", "secrets.aws-secret-access-key"}),
        ("usr/lib/python3/dist-packages/botocore/docs/example.py", {"secrets.aws-access-key-id"}),
    ):
        findings = _run(path, sample)
        assert {f.rule_id for f in findings} == rules
        for f in findings:
            assert f.severity is Severity.INFO
            assert f.properties["sample"] is True
            assert "documented example" in f.properties["reason"]


def test_third_party_files_skip_heuristics_and_say_so() -> None:
    a = SecretsAnalyzer()
    lib = "usr/lib/python3/site-packages/somelib/client.py"
    text = b'password = "Correct-Horse-9"\nurl = "https://bob:Zq81mW-77aa@db.example.org/x"\n'
    out = list(a.analyze(make_entry(lib, text, artifact="c.tar.gz")))
    # The credential URL is still found, lowered with its reason; the password rule did not run.
    assert [(o.rule_id, o.severity) for o in out if isinstance(o, Finding)] == [
        ("secrets.credential-url", Severity.LOW)
    ]
    assert "third-party" in out[0].properties["reason"]  # type: ignore[union-attr]
    # The same text in the app is reported in full.
    app = _run("panorama/client.py", text)
    assert {f.rule_id for f in app} == {"secrets.hardcoded-password", "secrets.credential-url"}
    # finish() records, once per artifact, that the rules were left out and for how many files.
    art = SourceArtifact(
        Artifact(ArtifactKind.CONTAINER, "c.tar.gz", "assets/c.tar.gz", None, 0),
        None,
        ArtifactFormat.ROOTFS,
    )
    [skip] = list(a.finish(art))
    assert isinstance(skip, Skipped)
    assert "1 text file(s)" in skip.reason
    assert list(a.finish(art)) == []


def test_private_keys(rsa_pem: bytes, rsa_pem_encrypted: bytes) -> None:
    assert _rules(_run("panorama/key.pem", rsa_pem)) == [
        ("secrets.private-key", Severity.CRITICAL, 1)
    ]
    assert _rules(_run("panorama/key.pem", rsa_pem_encrypted)) == [
        ("secrets.encrypted-private-key", Severity.HIGH, 1)
    ]
    legacy = make_rsa_pem(password=b"not-a-secret", traditional=True)
    assert b"Proc-Type: 4,ENCRYPTED" in legacy
    got = _run("panorama/legacy.pem", legacy)
    assert _rules(got) == [("secrets.encrypted-private-key", Severity.HIGH, 1)]
    assert got[0].properties["format"] == "pem-rsa"
    cert_and_key = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" + rsa_pem
    rules = {r for r, _, _ in _rules(_run("etc/ssl/bundle.pem", cert_and_key))}
    assert rules == {"secrets.private-key", "secrets.certificate-with-key"}
    # A test key inside a third-party package: still reported, lowered, with the reason.
    tp = _run("usr/lib/python3/dist-packages/tornado/test/test.key", rsa_pem)
    assert _rules(tp) == [("secrets.private-key", Severity.LOW, 1)]
    assert "tests" in tp[0].properties["reason"]


def test_openssh_keys(tmp_path: Path) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen (openssh-client) is not installed")
    plain = tmp_path / "plain"
    enc = tmp_path / "enc"
    for path, pw in ((plain, ""), (enc, "pw-for-test")):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", pw, "-f", str(path)],
            check=True,
            capture_output=True,
        )
    assert _rules(_run("root/.ssh/id_ed25519", plain.read_bytes())) == [
        ("secrets.private-key", Severity.CRITICAL, 1)
    ]
    enc_findings = _run("root/.ssh/id_ed25519", enc.read_bytes())
    assert _rules(enc_findings) == [("secrets.encrypted-private-key", Severity.HIGH, 1)]
    assert enc_findings[0].properties["format"] == "openssh"


def test_binary_files_only_searched_for_key_material(rsa_pem: bytes) -> None:
    blob = b"\x7fELF\x00\x00" + b"password = 'Correct-Horse-9'\n" + rsa_pem + AKID.encode()
    rules = {r for r, _, _ in _rules(_run("usr/local/bin/tool", blob))}
    assert rules == {"secrets.private-key", "secrets.aws-access-key-id"}


def test_pem_label_without_body_is_not_a_key() -> None:
    # libcrypto holds the PEM labels as strings; they are not keys.
    blob = b"\x00\x01-----BEGIN RSA PRIVATE KEY-----\x00-----END RSA PRIVATE KEY-----\x00"
    assert _run("usr/lib/libcrypto.so.3", blob) == []


def test_credential_files() -> None:
    aws = _run("root/.aws/credentials", f"[default]\naws_access_key_id = {AKID}\n".encode())
    assert {r for r, _, _ in _rules(aws)} == {
        "secrets.aws-credentials-file",
        "secrets.aws-access-key-id",
    }
    netrc = _run("root/.netrc", b"machine ftp.example.org login bob password Tq7-xz9Lw2\n")
    assert _rules(netrc) == [("secrets.netrc-password", Severity.HIGH, 1)]
    env = _run("panorama/.env", b"REGION=us-west-2\nDB_PASSWORD=Tq7-xz9Lw2\nAPI_KEY=changeme\n")
    assert ("secrets.dotenv-secret", Severity.HIGH, 2) in _rules(env)
    assert all(line != 3 for _, _, line in _rules(env))
    auth = base64.b64encode(b"robot:Tq7-xz9Lw2-registry").decode()
    docker = json.dumps({"auths": {"registry.example.org": {"auth": auth}}}, indent=1)
    got = _run("root/.docker/config.json", docker.encode())
    assert ("secrets.docker-auth", Severity.CRITICAL, 4) in _rules(got)


def test_provisioning_archive_and_device_certificates(rsa_pem: bytes) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("certificates/device-certificate.pem.crt", b"-----BEGIN CERTIFICATE-----")
        zf.writestr("certificates/private.pem.key", rsa_pem)
    data = buf.getvalue()
    found = _run("panorama/certificates-omni_my-appliance.zip", data)
    rules = _rules(found)
    assert ("secrets.panorama-provisioning-archive", Severity.CRITICAL, None) in rules
    inner = [f for f in found if f.rule_id == "secrets.private-key"]
    assert inner
    assert inner[0].properties["member"] == "certificates/private.pem.key"
    renamed = {r for r, _, _ in _rules(_run("panorama/bundle.zip", data))}
    assert "secrets.certificate-archive" in renamed
    cert = _run("panorama/certs/abc123-certificate.pem.crt", b"-----BEGIN CERTIFICATE-----\n")
    assert _rules(cert) == [("secrets.device-certificate", Severity.HIGH, None)]


def test_broken_zip_is_a_failure_in_app_and_a_skip_in_third_party() -> None:
    broken = b"PK\x03\x04" + b"\x00" * 40
    app = list(SecretsAnalyzer().analyze(make_entry("panorama/data.zip", broken)))
    assert any(isinstance(o, AnalyzerFailure) for o in app)
    lib = list(SecretsAnalyzer().analyze(make_entry("usr/share/x/data.zip", broken)))
    assert any(isinstance(o, Skipped) for o in lib)
    assert not any(isinstance(o, AnalyzerFailure) for o in lib)


def test_values_never_leave_redacted(rsa_pem: bytes) -> None:
    text = (
        f"{AKID}\naws_secret_access_key={SECRET}\nrtsp://admin:{CAM_PASSWORD}@10.1.1.1/x\n"
        f"password = 'Correct-Horse-9'\n"
    ).encode() + rsa_pem
    findings = _run("panorama/config.py", text)
    assert len(findings) >= 5
    body = rsa_pem.decode().splitlines()[1]
    for f in findings:
        blob = json.dumps([f.message, f.title, f.fingerprint, dict(f.properties)], default=str)
        for value in (AKID, SECRET, CAM_PASSWORD, "Correct-Horse-9", body):
            assert value not in blob


def test_find_secrets_api_for_other_analyzers() -> None:
    [m] = find_secrets(f'aws_secret_access_key = "{SECRET}"')
    assert (m.rule, m.redacted, m.line) == ("aws-secret-access-key", "Zp8d…(40)", 1)
    assert m.evidence == "aws-secret-access-key:Zp8d…(40)"


def test_helpers() -> None:
    assert entropy("aaaa") == 0.0
    assert entropy("abcd") == 2.0
    assert is_placeholder("${DB_PASSWORD}")
    assert is_placeholder("<your-token>")
    assert not is_placeholder("Tq7-xz9Lw2")
    assert scan_bytes(b"") == []


def test_wants_skips_media_but_not_provisioning_archives() -> None:
    a = SecretsAnalyzer()
    assert a.wants("panorama/app.py", 10)
    assert not a.wants("panorama/logo.png", 10)
    assert not a.wants("panorama/empty", 0)
    assert a.wants("panorama/certificates-omni_dev.zip", 10)
    assert not a.wants("panorama/huge.bin", a.max_size + 1)


@settings(max_examples=60, deadline=None)
@given(
    password=st.text(
        alphabet=st.sampled_from("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_.!~"),
        min_size=9,
        max_size=40,
    )
)
def test_property_camera_password_found_and_never_leaked(password: str) -> None:
    """Any camera password in an RTSP URL is found, and only its redacted form comes out."""
    assume(not is_placeholder(password))
    text = f'CAMERA = "rtsp://admin:{password}@10.0.0.7:554/live"\n'.encode()
    findings = _run("panorama/app.py", text)
    urls = [f for f in findings if f.rule_id == "secrets.credential-url"]
    assert len(urls) == 1
    assert urls[0].severity is Severity.CRITICAL
    for f in findings:
        blob = json.dumps([f.message, f.title, f.fingerprint, dict(f.properties)], default=str)
        assert password not in blob


def test_one_line_json_config_is_searched() -> None:
    """``json.dump`` writes one long line; a secret far into it is still found."""
    cfg = {"labels": [f"class_{i}" for i in range(1500)], "db_password": "Tq7-xz9Lw2"}
    findings = _run("panorama/config.json", json.dumps(cfg).encode())
    assert _rules(findings) == [("secrets.hardcoded-password", Severity.HIGH, 1)]


# --- webhooks, configuration literals and the app's own vendored code --------------------------

SLACK_HOOK = "https://hooks.slack.com/services/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"


def test_a_slack_incoming_webhook_is_a_secret() -> None:
    (f,) = _run("panorama/notify.py", f'HOOK = "{SLACK_HOOK}"\n'.encode())
    assert (f.rule_id, f.severity, f.location.line) == ("secrets.slack-webhook", Severity.HIGH, 1)
    assert SLACK_HOOK not in f.message
    assert SLACK_HOOK[8:] not in json.dumps(dict(f.properties))


def test_a_documentation_webhook_is_not() -> None:
    doc = b"url: https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX\n"
    assert _run("panorama/config/alerts.yaml", doc) == []


def test_an_unquoted_password_in_yaml_is_a_secret() -> None:
    data = b"database:\n  host: db.internal\n  password: Tr0ub4dor-3xx\n"
    (f,) = _run("panorama/config/settings.yaml", data)
    assert (f.rule_id, f.severity, f.location.line) == (
        "secrets.hardcoded-password",
        Severity.HIGH,
        3,
    )


@pytest.mark.parametrize(
    "value",
    ["${DB_PASSWORD}", "!vault |", "*default_password", "&pw Tr0ub4dor", "changeme", "null"],
)
def test_yaml_values_that_are_no_literal_secret_are_not(value: str) -> None:
    assert _run("panorama/config/settings.yml", f"password: {value}\n".encode()) == []


def test_an_unquoted_name_in_code_is_an_expression_not_a_secret() -> None:
    assert _run("panorama/app.py", b"password = Tr0ub4dorValue\n") == []


def test_tokens_in_the_apps_own_vendor_folder_get_the_strict_rules() -> None:
    data = f'token = "{GH}"\n'.encode()
    for path in ("panorama/src/vendor/client/config.py", "panorama/vendor/api.py"):
        (f,) = _run(path, data)
        assert (f.rule_id, f.severity) == ("secrets.github-token", Severity.HIGH), path
        assert "third_party" not in f.properties


def test_tokens_in_installed_packages_stay_documentation_values() -> None:
    data = f'token = "{GH}"\n'.encode()
    assert _run("usr/lib/python3/dist-packages/client/config.py", data) == []
    assert _run("usr/local/lib/python3.8/site-packages/pip/_vendor/x.py", data) == []
