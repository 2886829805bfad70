"""sign_target / verify_target: round trips, refusals and failures, each with its own reason."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scanner.errors import UsageError
from signing import (
    ATTESTATION_FILE,
    PREDICATE_TYPE,
    Reason,
    SignRefusedError,
    VerificationError,
    load_signer,
    load_verifier,
    sign_target,
    verify_target,
)
from signing.bundle import key_bundle_json
from signing.dsse import IN_TOTO_PAYLOAD_TYPE, sign_envelope
from signing.errors import InputError
from signing.statement import GatePredicate, Subject, build_statement, statement_bytes
from tests.helpers.project_builder import BuiltProject
from tests.helpers.signing_fixtures import (
    PASSWORD,
    POLICY_SHA,
    Keys,
    folder_artifact,
    project_files,
    report_for,
)

FIXED = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)


def _sign(project: BuiltProject, report_path: Path, keys: Keys, out: Path) -> None:
    sign_target(
        project.root, report_path, load_signer(keys.private, PASSWORD), out, clock=lambda: FIXED
    )


def _fails(reason: Reason, target: Path, out: Path, keys: Keys, **kw: object) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        verify_target(target, out, load_verifier(keys.public), **kw)  # type: ignore[arg-type]
    assert info.value.reason is reason, info.value.diagnostics()
    assert info.value.exit_code == 1
    return info.value


def test_round_trip(project: BuiltProject, report_path: Path, keys: Keys, tmp_path: Path) -> None:
    out = tmp_path / "sigs"
    result = sign_target(
        project.root, report_path, load_signer(keys.private, PASSWORD), out, clock=lambda: FIXED
    )
    st = result.statement
    names = {s.name for s in st.subjects}
    assert project.rel(project.container_asset) in names  # type: ignore[arg-type]
    assert project.rel(project.model_asset) in names  # type: ignore[arg-type]
    assert project.rel(project.graph_path) in names
    assert any(n.endswith("package.json") for n in names)
    assert st.predicate_type == PREDICATE_TYPE
    pred = st.predicate
    assert (pred.decision, pred.policy_name, pred.policy_sha256) == (
        "approved",
        "default",
        POLICY_SHA,
    )
    assert pred.report_sha256 == __import__("hashlib").sha256(report_path.read_bytes()).hexdigest()
    assert pred.signed_at == "2026-11-29T16:00:00Z"
    # a detached .sig per asset file, named after it
    for p in (project.root / "assets").iterdir():
        assert (out / (p.name + ".sig")).is_file()
    assert (out / ATTESTATION_FILE).is_file()
    # model-signing bundle only for ECDSA key files
    assert bool(result.model_signatures) == (keys.key_type.value == "ecdsa-p256")
    v = verify_target(
        project.root, out, load_verifier(keys.public), expected_policy_sha256=POLICY_SHA
    )
    assert v.subjects == len(st.subjects)
    assert v.signatures == 4
    assert v.model_signatures == len(result.model_signatures)


def test_statement_carries_sbom_digest(
    project: BuiltProject, report_path: Path, ec_keys: Keys, tmp_path: Path
) -> None:
    sbom = tmp_path / "sbom.cdx.json"
    sbom.write_text('{"bomFormat": "CycloneDX"}')
    r = sign_target(
        project.root, report_path, load_signer(ec_keys.private, PASSWORD), tmp_path / "s", sbom=sbom
    )
    assert (
        r.statement.predicate.sbom_sha256
        == __import__("hashlib").sha256(sbom.read_bytes()).hexdigest()
    )
    payload = json.loads(statement_bytes(r.statement))
    assert payload["predicate"]["sbom"] == {
        "sha256": r.statement.predicate.sbom_sha256,
        "size": sbom.stat().st_size,
    }


# --- sign refuses --------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["rejected", "incomplete"])
def test_sign_refuses_unapproved(
    project: BuiltProject, ec_keys: Keys, tmp_path: Path, decision: str
) -> None:
    rp = tmp_path / "r.json"
    rp.write_text(json.dumps(report_for(project.root, project_files(project), decision=decision)))
    with pytest.raises(SignRefusedError, match=f"verdict is '{decision}'") as info:
        _sign(project, rp, ec_keys, tmp_path / "out")
    assert info.value.reason is Reason.NOT_APPROVED
    assert info.value.exit_code == 1
    assert not (tmp_path / "out").exists()  # nothing written


def test_sign_refuses_changed_bytes(
    project: BuiltProject, report_path: Path, ec_keys: Keys, tmp_path: Path
) -> None:
    assert project.container_asset is not None
    with project.container_asset.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(SignRefusedError, match="the report says") as info:
        _sign(project, report_path, ec_keys, tmp_path / "out")
    assert info.value.reason is Reason.DIGEST_MISMATCH
    assert not (tmp_path / "out").exists()


def test_sign_refuses_missing_artifact_and_bad_reports(
    project: BuiltProject, report_path: Path, ec_keys: Keys, tmp_path: Path
) -> None:
    assert project.model_asset is not None
    project.model_asset.unlink()
    with pytest.raises(SignRefusedError) as info:
        _sign(project, report_path, ec_keys, tmp_path / "out")
    assert info.value.reason is Reason.MISSING_ARTIFACT
    for doc, what in [
        ("{", "not a JSON report"),
        ("{}", "has no verdict"),
        (
            json.dumps(
                {"verdict": {"decision": "approved", "policy": {"sha256": "00"}}, "artifacts": []}
            ),
            "lists no artifacts",
        ),
    ]:
        (tmp_path / "bad.json").write_text(doc)
        # A bad report is bad input (exit 2, the file named), not a refusal of the target.
        with pytest.raises(InputError, match=what) as bad:
            _sign(project, tmp_path / "bad.json", ec_keys, tmp_path / "out")
        assert bad.value.exit_code == 2
        assert "bad.json: invalid report" in str(bad.value)
    with pytest.raises(InputError, match="cannot read the report") as missing:
        _sign(project, tmp_path / "absent.json", ec_keys, tmp_path / "out")
    assert missing.value.exit_code == 2


def test_sign_refuses_unscanned_leftover_asset(
    project: BuiltProject, report_path: Path, ec_keys: Keys, tmp_path: Path
) -> None:
    (project.root / "assets" / ("0" * 64 + ".tar.gz")).write_bytes(b"old build")
    with pytest.raises(SignRefusedError, match="not among the report's artifacts") as info:
        _sign(project, report_path, ec_keys, tmp_path / "out")
    assert info.value.reason is Reason.UNSCANNED_FILE
    assert not (tmp_path / "out").exists()


def test_hidden_files_in_assets_are_ignored_like_the_scan_does(
    project: BuiltProject, report_path: Path, ec_keys: Keys, tmp_path: Path
) -> None:
    (project.root / "assets" / ".gitkeep").write_bytes(b"")
    _sign(project, report_path, ec_keys, tmp_path / "out")
    verify_target(project.root, tmp_path / "out", load_verifier(ec_keys.public))


# --- verify fails, each with its own reason ------------------------------------------------


@pytest.fixture
def signed(project: BuiltProject, report_path: Path, ec_keys: Keys, tmp_path: Path) -> Path:
    out = tmp_path / "sigs"
    _sign(project, report_path, ec_keys, out)
    return out


def test_wrong_key(project: BuiltProject, signed: Path, other_keys: Keys) -> None:
    err = _fails(Reason.WRONG_KEY, project.root, signed, other_keys)
    assert "not the given key" in str(err)


def test_missing_subject(project: BuiltProject, signed: Path, ec_keys: Keys) -> None:
    (project.root / "assets" / ("f" * 64 + ".tar.gz")).write_bytes(b"smuggled")
    err = _fails(Reason.MISSING_SUBJECT, project.root, signed, ec_keys)
    assert "is not a subject of the attestation" in str(err)


def test_changed_subject(project: BuiltProject, signed: Path, ec_keys: Keys) -> None:
    project.graph_path.write_text(project.graph_path.read_text() + " ")
    err = _fails(Reason.SUBJECT_MISMATCH, project.root, signed, ec_keys)
    assert "graph.json: sha256 is" in str(err)


def test_deleted_subject(project: BuiltProject, signed: Path, ec_keys: Keys) -> None:
    assert project.model_asset is not None
    project.model_asset.unlink()
    _fails(Reason.SUBJECT_MISSING_FILE, project.root, signed, ec_keys)


def test_unexpected_policy_digest(project: BuiltProject, signed: Path, ec_keys: Keys) -> None:
    err = _fails(
        Reason.UNEXPECTED_POLICY, project.root, signed, ec_keys, expected_policy_sha256="cd" * 32
    )
    assert "not the expected" in str(err)
    # the prefixed form and case do not matter
    verify_target(
        project.root,
        signed,
        load_verifier(ec_keys.public),
        expected_policy_sha256="sha256:" + POLICY_SHA.upper(),
    )


def test_rejected_verdict_attested(project: BuiltProject, ec_keys: Keys, tmp_path: Path) -> None:
    # `sign` refuses such a statement, so build one with the lower-level API, as an attacker with
    # the key (or an older tool) could.
    subjects = [
        Subject(project.rel(p), __import__("hashlib").sha256(p.read_bytes()).hexdigest())
        for p in sorted(project.root.rglob("*"))
        if p.is_file()
    ]
    pred = GatePredicate(
        decision="rejected",
        policy_name="default",
        policy_sha256=POLICY_SHA,
        report_sha256="00" * 32,
        report_size=1,
        tool_name="panorama-gate",
        tool_version="0",
        signed_at="2026-11-29T16:00:00Z",
    )
    signer = load_signer(ec_keys.private, PASSWORD)
    env = sign_envelope(
        signer, IN_TOTO_PAYLOAD_TYPE, statement_bytes(build_statement(subjects, pred))
    )
    out = tmp_path / "sigs"
    out.mkdir()
    (out / ATTESTATION_FILE).write_bytes(key_bundle_json(env, signer.key_id))
    err = _fails(Reason.VERDICT_NOT_APPROVED, project.root, out, ec_keys)
    assert "'rejected', not 'approved'" in str(err)


def test_missing_and_bad_detached_signatures(
    project: BuiltProject, signed: Path, ec_keys: Keys
) -> None:
    assert project.container_asset is not None
    sig = signed / (project.container_asset.name + ".sig")
    good = sig.read_bytes()
    sig.unlink()
    _fails(Reason.MISSING_SIGNATURE, project.root, signed, ec_keys)
    other = signed / (project.model_asset.name + ".sig")  # type: ignore[union-attr]
    sig.write_bytes(other.read_bytes())  # a valid signature, of another asset
    _fails(Reason.BAD_DETACHED_SIGNATURE, project.root, signed, ec_keys)
    sig.write_bytes(good + b"\n")  # a trailing newline (as `cosign` may write) is fine
    verify_target(project.root, signed, load_verifier(ec_keys.public))


def test_tampered_model_bundle(project: BuiltProject, signed: Path, ec_keys: Keys) -> None:
    msig = signed / (project.model_asset.name + ".model.sig")  # type: ignore[union-attr]
    doc = json.loads(msig.read_text())
    doc["dsseEnvelope"]["signatures"][0]["sig"] = doc["dsseEnvelope"]["signatures"][0]["sig"][::-1]
    msig.write_text(json.dumps(doc))
    _fails(Reason.BAD_MODEL_SIGNATURE, project.root, signed, ec_keys)


def test_no_attestation(project: BuiltProject, ec_keys: Keys, tmp_path: Path) -> None:
    _fails(Reason.MISSING_SIGNATURE, project.root, tmp_path, ec_keys)


def test_bundle_reserialised_by_another_tool_still_verifies(
    project: BuiltProject, signed: Path, ec_keys: Keys, other_keys: Keys
) -> None:
    # Other key order and spacing, as another tool re-serialising the bundle writes it: the
    # unsigned wrapper is not trusted, so the same signed payload verifies.
    b = signed / ATTESTATION_FILE
    doc = json.loads(b.read_text())
    b.write_text(json.dumps(dict(reversed(list(doc.items())))))
    verify_target(project.root, signed, load_verifier(ec_keys.public))
    # ...and it is still only the signer's key that verifies it.
    _fails(Reason.WRONG_KEY, project.root, signed, other_keys)
    doc["dsseEnvelope"]["payload"] = doc["dsseEnvelope"]["payload"][:-8] + "AAAAAAA="
    b.write_text(json.dumps(doc))
    with pytest.raises(VerificationError):
        verify_target(project.root, signed, load_verifier(ec_keys.public))


def test_single_file_and_folder_targets(tmp_path: Path, ec_keys: Keys) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07onnx-ish" * 100)
    rp = tmp_path / "r.json"
    rp.write_text(json.dumps(report_for(model, [("model.onnx", "model")])))
    out = tmp_path / "s1"
    r = sign_target(model, rp, load_signer(ec_keys.private, PASSWORD), out)
    assert [s.name for s in r.statement.subjects] == ["model.onnx"]
    assert (out / "model.onnx.sig").is_file()
    assert (out / "model.onnx.model.sig").is_file()
    verify_target(model, out, load_verifier(ec_keys.public))

    folder = tmp_path / "saved_model"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"pb")
    (folder / "variables" / "variables.index").write_bytes(b"idx")
    doc = report_for(folder, [])
    # As the scan lists a model folder target: named and pathed after the folder itself.
    doc["artifacts"] = [folder_artifact(folder, "model", path="saved_model")]
    rp.write_text(json.dumps(doc))
    out2 = tmp_path / "s2"
    r2 = sign_target(folder, rp, load_signer(ec_keys.private, PASSWORD), out2)
    assert {s.name for s in r2.statement.subjects} == {
        "saved_model.pb",
        "variables/variables.index",
    }
    assert r2.model_signatures
    verify_target(folder, out2, load_verifier(ec_keys.public))
    (folder / "variables" / "extra").write_bytes(b"x")
    _fails(Reason.MISSING_SUBJECT, folder, out2, ec_keys)


def test_signatures_are_written_atomically_and_public(signed: Path) -> None:
    assert not list(signed.glob(".*.tmp"))
    for p in signed.iterdir():
        assert p.stat().st_mode & 0o044 == 0o044, p


def test_sign_overwrites_previous_output(
    project: BuiltProject, report_path: Path, ec_keys: Keys, signed: Path
) -> None:
    shutil.copy(signed / ATTESTATION_FILE, signed / "old.json")
    _sign(project, report_path, ec_keys, signed)
    verify_target(project.root, signed, load_verifier(ec_keys.public))


def test_signatures_folder_inside_a_folder_target(tmp_path: Path, ec_keys: Keys) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "src").mkdir(parents=True)
    (pkg / "Dockerfile").write_text("FROM scratch\n")
    (pkg / "src" / "app.py").write_text("print('hi')\n")
    rp = tmp_path / "r.json"
    doc = report_for(pkg, [])
    doc["artifacts"] = [folder_artifact(pkg, "code")]
    rp.write_text(json.dumps(doc))
    # Signatures written into the folder being signed would change it: a usage error.
    with pytest.raises(UsageError, match="inside"):
        sign_target(pkg, rp, load_signer(ec_keys.private, PASSWORD), pkg / "signatures")
    assert not (pkg / "signatures").exists()
    out = tmp_path / "signatures"
    r = sign_target(pkg, rp, load_signer(ec_keys.private, PASSWORD), out)
    assert {s.name for s in r.statement.subjects} == {"Dockerfile", "src/app.py"}
    # Verify leaves a signatures folder inside the target out (pull puts one there).
    shutil.copytree(out, pkg / ".panorama-gate")
    verify_target(pkg, pkg / ".panorama-gate", load_verifier(ec_keys.public))
    (pkg / "src" / "backdoor.py").write_text("import os\n")
    _fails(Reason.MISSING_SUBJECT, pkg, pkg / ".panorama-gate", ec_keys)


def test_report_inside_a_folder_target_is_refused_with_a_hint(
    tmp_path: Path, ec_keys: Keys
) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "app.py").write_text("x = 1\n")
    doc = report_for(pkg, [("app.py", "code")])
    (pkg / "report.json").write_text(json.dumps(doc))
    with pytest.raises(SignRefusedError, match="report.json is in the target") as info:
        sign_target(
            pkg, pkg / "report.json", load_signer(ec_keys.private, PASSWORD), tmp_path / "s"
        )
    assert "keep reports outside the target" in info.value.diagnostics()


def _signed_payload(
    out: Path, keys: Keys, payload: bytes, payload_type: str = IN_TOTO_PAYLOAD_TYPE
) -> None:
    signer = load_signer(keys.private, PASSWORD)
    out.mkdir(exist_ok=True)
    env = sign_envelope(signer, payload_type, payload)
    (out / ATTESTATION_FILE).write_bytes(key_bundle_json(env, signer.key_id))


@pytest.mark.parametrize(
    ("payload", "payload_type", "message"),
    [
        (b"{}", "text/plain", "payload type is 'text/plain'"),
        (b"not json", IN_TOTO_PAYLOAD_TYPE, "statement is not JSON"),
        (
            json.dumps({"_type": "https://in-toto.io/Statement/v0.1"}).encode(),
            IN_TOTO_PAYLOAD_TYPE,
            "_type",
        ),
        (
            json.dumps(
                {
                    "_type": "https://in-toto.io/Statement/v1",
                    "predicateType": "https://slsa.dev/provenance/v1",
                }
            ).encode(),
            IN_TOTO_PAYLOAD_TYPE,
            "predicateType",
        ),
        (
            json.dumps(
                {
                    "_type": "https://in-toto.io/Statement/v1",
                    "predicateType": PREDICATE_TYPE,
                    "subject": [],
                }
            ).encode(),
            IN_TOTO_PAYLOAD_TYPE,
            "no subjects",
        ),
    ],
    ids=["payload-type", "not-json", "statement-type", "predicate-type", "no-subjects"],
)
def test_signed_but_foreign_statements_are_refused(
    project: BuiltProject,
    ec_keys: Keys,
    tmp_path: Path,
    payload: bytes,
    payload_type: str,
    message: str,
) -> None:
    _signed_payload(tmp_path / "sigs", ec_keys, payload, payload_type)
    err = _fails(Reason.MALFORMED_STATEMENT, project.root, tmp_path / "sigs", ec_keys)
    assert message in str(err)


def test_key_of_another_type_is_a_wrong_key(
    project: BuiltProject, signed: Path, ed_keys: Keys
) -> None:
    _fails(Reason.WRONG_KEY, project.root, signed, ed_keys)


def test_stripped_hint_still_needs_the_right_key(
    project: BuiltProject, signed: Path, ec_keys: Keys, other_keys: Keys
) -> None:
    # Without the hint the wrong key is caught by the signature itself.
    b = signed / ATTESTATION_FILE
    doc = json.loads(b.read_text())
    doc["verificationMaterial"]["publicKey"]["hint"] = ""
    for s in doc["dsseEnvelope"]["signatures"]:
        s["keyid"] = ""
    b.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    _fails(Reason.BAD_SIGNATURE, project.root, signed, other_keys)
    verify_target(project.root, signed, load_verifier(ec_keys.public))


def test_failed_resign_leaves_no_stale_attestation(
    project: BuiltProject,
    report_path: Path,
    ec_keys: Keys,
    signed: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*args: object, **kwargs: object) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr("signing.sign.sign_envelope", boom)
    with pytest.raises(OSError, match="disk full"):
        _sign(project, report_path, ec_keys, signed)
    _fails(Reason.MISSING_SIGNATURE, project.root, signed, ec_keys)


def test_report_listing_a_file_twice_or_inside_a_listed_folder(
    tmp_path: Path, ec_keys: Keys
) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "app.py").write_text("x = 1\n")
    doc = report_for(pkg, [("app.py", "code"), ("app.py", "code")])
    doc["artifacts"].append(folder_artifact(pkg, "code"))
    (tmp_path / "r.json").write_text(json.dumps(doc))
    r = sign_target(
        pkg, tmp_path / "r.json", load_signer(ec_keys.private, PASSWORD), tmp_path / "s"
    )
    assert [s.name for s in r.statement.subjects] == ["app.py"]
    assert [a.signature for a in r.statement.predicate.artifacts] == ["app.py.sig"]
    verify_target(pkg, tmp_path / "s", load_verifier(ec_keys.public))


def test_report_pin(
    project: BuiltProject, signed: Path, report_path: Path, ec_keys: Keys, tmp_path: Path
) -> None:
    verify_target(project.root, signed, load_verifier(ec_keys.public), report=report_path)
    other = tmp_path / "other.json"
    other.write_bytes(report_path.read_bytes() + b"\n")
    err = _fails(Reason.REPORT_MISMATCH, project.root, signed, ec_keys, report=other)
    assert "the attested verdict came from a report" in str(err)
