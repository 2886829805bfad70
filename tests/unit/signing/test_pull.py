"""publish → pull through the file:// store, and every way pull must refuse (writing nothing).

Reports are built as ``scanner.models.Report`` values from the project's real bytes, so these
tests do not depend on the scan pipeline; tests/integration/test_publish_pull_s3.py and
test_publish_network_faults.py run the real gate.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner import __version__
from scanner.cli._release_docs import write_release_documents
from scanner.errors import UsageError
from scanner.models import (
    Artifact,
    ArtifactKind,
    Decision,
    Digest,
    Report,
    Target,
    TargetKind,
    Verdict,
)
from signing.encrypt import DecryptionError, EncryptionError, RawAesKeyring
from signing.errors import SignRefusedError, VerificationError
from signing.publish import PublishOptions, PublishRefusedError, publish_release
from signing.pull import META_DIR, PullError, pull_release
from signing.signer import load_signer, load_verifier
from signing.verify import verify_target
from tests.helpers.project_builder import BuiltProject, build_project
from tests.helpers.reports import project_report
from tests.helpers.signing_fixtures import PASSWORD, Keys

KEY = RawAesKeyring(b"\x05" * 32, key_name="unit")


def make_report(
    proj: BuiltProject, decision: Decision = Decision.APPROVED, version: str = "1.0.0"
) -> Report:
    return project_report(proj, decision=decision, version=version)


@pytest.fixture
def proj(tmp_path: Path) -> BuiltProject:
    return build_project(tmp_path / "app")


def options(tmp_path: Path, keys: Keys, **kw: object) -> PublishOptions:
    base: dict[str, object] = {
        "destination": f"file://{tmp_path / 'releases'}",
        "signer": load_signer(keys.private, PASSWORD),
        "keyring": KEY,
        "documents": write_release_documents,
        "state_dir": tmp_path / "state",
    }
    base.update(kw)
    return PublishOptions(**base)  # type: ignore[arg-type]


@pytest.fixture
def published(tmp_path: Path, proj: BuiltProject, ec_keys: Keys) -> Path:
    result = publish_release(proj.root, make_report(proj), options(tmp_path, ec_keys))
    assert result.index is not None
    return tmp_path / "releases" / "shelf_app" / "1.0.0"


def _pull(tmp_path: Path, rel: Path, keys: Keys, out: str = "out", **kw: object) -> Path:
    args: dict[str, object] = {"keyring": KEY, "verifier": load_verifier(keys.public)}
    args.update(kw)
    pull_release(f"file://{rel}", tmp_path / out, **args)  # type: ignore[arg-type]
    return tmp_path / out


def _leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if ".pull-" in p.name or p.name == "out")


def test_round_trip_rebuilds_the_signed_project(
    tmp_path: Path, proj: BuiltProject, ec_keys: Keys, published: Path
) -> None:
    out = _pull(tmp_path, published, ec_keys)
    originals = {
        p.relative_to(proj.root).as_posix(): p.read_bytes()
        for p in proj.root.rglob("*")
        if p.is_file()
    }
    pulled = {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and META_DIR not in p.parts
    }
    assert pulled
    for name, data in pulled.items():
        assert originals[name] == data
    assert all(n.startswith(("assets/", "graphs/", "packages/")) for n in pulled)
    assert {n for n in originals if n.startswith("assets/")} <= set(pulled)
    meta = sorted(p.name for p in (out / META_DIR).iterdir())
    assert {"index.json", "attestation.sigstore.json", "report.json"} <= set(meta)
    # The `verify` command's own check passes on what was pulled.
    verify_target(out, out / META_DIR, load_verifier(ec_keys.public))
    assert _leftovers(tmp_path) == ["out"]


def test_layout_and_index(published: Path, proj: BuiltProject) -> None:
    index = json.loads((published / "index.json").read_text())
    assert index["application"] == "shelf_app"
    assert index["version"] == "1.0.0"
    assert index["encryption"]["algorithm"] == "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
    assert index["encryption"]["frame_length"] == 1024 * 1024
    assert "\x05" not in json.dumps(index)
    for f in index["files"]:
        key = f["object"]["key"]
        assert key == f"objects/sha256/{f['sha256']}.enc"
        data = (published / key).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["object"]["sha256"]
        assert f["context"]["panorama-gate:sha256"] == f["sha256"]
    container = next(f for f in index["files"] if f["sha256"] == proj.container_sha)
    assert container["signature"]["key"].startswith("signatures/")
    assert (published / container["signature"]["key"]).is_file()
    # every object but the index is named by its content (racing publishers cannot clobber)
    for role, name in (("report", "report.json"), ("attestation", "attestation.sigstore.json")):
        entry = index[role]
        assert entry["key"] == f"meta/{entry['sha256']}/{name}"
        data = (published / entry["key"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    sig = container["signature"]
    assert sig["key"] == f"signatures/{sig['sha256']}/{container['name'].rsplit('/', 1)[-1]}.sig"


def test_rerun_of_a_complete_release_changes_nothing(
    tmp_path: Path, proj: BuiltProject, ec_keys: Keys, published: Path
) -> None:
    before = {p: p.stat().st_mtime_ns for p in published.rglob("*") if p.is_file()}
    again = publish_release(proj.root, make_report(proj), options(tmp_path, ec_keys))
    assert again.already_published
    assert again.uploaded == ()
    assert {p: p.stat().st_mtime_ns for p in published.rglob("*") if p.is_file()} == before


def test_same_version_with_other_files_is_refused(
    tmp_path: Path, proj: BuiltProject, ec_keys: Keys, published: Path
) -> None:
    other = build_project(tmp_path / "other")
    (other.root / "graphs" / "shelf_app" / "graph.json").write_text("{}")
    with pytest.raises(PublishRefusedError, match="immutable") as err:
        publish_release(other.root, make_report(other), options(tmp_path, ec_keys))
    assert err.value.exit_code == 2


@pytest.mark.parametrize(("decision", "code"), [(Decision.REJECTED, 1), (Decision.INCOMPLETE, 3)])
def test_nothing_uploaded_unless_approved(
    tmp_path: Path, proj: BuiltProject, ec_keys: Keys, decision: Decision, code: int
) -> None:
    with pytest.raises(PublishRefusedError, match=decision.value) as err:
        publish_release(proj.root, make_report(proj, decision), options(tmp_path, ec_keys))
    assert err.value.exit_code == code
    assert not (tmp_path / "releases").exists()


def test_changed_bytes_after_the_scan_are_refused(
    tmp_path: Path, proj: BuiltProject, ec_keys: Keys
) -> None:
    report = make_report(proj)
    assert proj.container_asset is not None
    proj.container_asset.write_bytes(b"swapped")
    with pytest.raises(SignRefusedError, match="digest-mismatch"):
        publish_release(proj.root, report, options(tmp_path, ec_keys))
    assert not (tmp_path / "releases").exists()


def test_dry_run_plans_and_writes_nothing(tmp_path: Path, proj: BuiltProject) -> None:
    result = publish_release(
        proj.root,
        make_report(proj),
        PublishOptions(
            destination=f"file://{tmp_path / 'releases'}", signer=None, keyring=None, dry_run=True
        ),
    )
    assert result.dry_run
    keys = [o.key for o in result.objects]
    assert keys[-1] == "index.json"
    assert f"objects/sha256/{proj.container_sha}.enc" in keys
    assert not (tmp_path / "releases").exists()


def test_interrupted_publish_leaves_no_index_and_rerun_skips_finished_objects(
    tmp_path: Path, proj: BuiltProject, ec_keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signing._publish_objects as pub

    real = pub.encrypt_file
    calls = {"n": 0}

    def flaky(*a: object, **kw: object) -> object:
        calls["n"] += 1
        if calls["n"] == 3:
            raise EncryptionError("simulated failure in the middle of a release")
        return real(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pub, "encrypt_file", flaky)
    with pytest.raises(EncryptionError, match="simulated"):
        publish_release(proj.root, make_report(proj), options(tmp_path, ec_keys))
    rel = tmp_path / "releases" / "shelf_app" / "1.0.0"
    assert not (rel / "index.json").exists()
    assert len(list((rel / "objects" / "sha256").iterdir())) == 2
    with pytest.raises(PullError, match="no release index"):
        _pull(tmp_path, rel, ec_keys)
    assert _leftovers(tmp_path) == []

    monkeypatch.setattr(pub, "encrypt_file", real)
    result = publish_release(proj.root, make_report(proj), options(tmp_path, ec_keys))
    skipped = [o for o in result.skipped if o.key.startswith("objects/")]
    assert len(skipped) == 2
    assert (rel / "index.json").is_file()
    _pull(tmp_path, rel, ec_keys)


def _index(rel: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((rel / "index.json").read_text())  # type: ignore[no-any-return]


def _write_index(rel: Path, index: dict) -> None:  # type: ignore[type-arg]
    (rel / "index.json").write_text(json.dumps(index))


def _container_object(rel: Path, proj: BuiltProject) -> tuple[dict, Path]:  # type: ignore[type-arg]
    index = _index(rel)
    entry = next(f for f in index["files"] if f["sha256"] == proj.container_sha)
    return entry, rel / entry["object"]["key"]


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))


def test_tampered_ciphertext(
    tmp_path: Path, proj: BuiltProject, ec_keys: Keys, published: Path
) -> None:
    # An attacker with write access to the store changes the object and fixes up the index.
    entry, obj = _container_object(published, proj)
    _flip(obj, obj.stat().st_size - 40)
    index = _index(published)
    for f in index["files"]:
        if f["sha256"] == proj.container_sha:
            f["object"]["sha256"] = hashlib.sha256(obj.read_bytes()).hexdigest()
    _write_index(published, index)
    with pytest.raises(DecryptionError, match=r"\(tampered\)"):
        _pull(tmp_path, published, ec_keys)
    assert _leftovers(tmp_path) == []


def test_mismatched_object_digest(
    tmp_path: Path, proj: BuiltProject, ec_keys: Keys, published: Path
) -> None:
    _, obj = _container_object(published, proj)
    _flip(obj, 10)
    with pytest.raises(PullError, match="replaced or damaged in storage"):
        _pull(tmp_path, published, ec_keys)
    assert _leftovers(tmp_path) == []


def test_wrong_decryption_key(tmp_path: Path, ec_keys: Keys, published: Path) -> None:
    with pytest.raises(DecryptionError, match=r"\(wrong-key\)"):
        _pull(tmp_path, published, ec_keys, keyring=RawAesKeyring(b"\x06" * 32, "unit"))
    assert _leftovers(tmp_path) == []


def test_missing_object(tmp_path: Path, proj: BuiltProject, ec_keys: Keys, published: Path) -> None:
    _, obj = _container_object(published, proj)
    obj.unlink()
    with pytest.raises(PullError, match="encrypted object .* is missing"):
        _pull(tmp_path, published, ec_keys)
    assert _leftovers(tmp_path) == []


def test_missing_signature_file(
    tmp_path: Path, proj: BuiltProject, ec_keys: Keys, published: Path
) -> None:
    entry, _ = _container_object(published, proj)
    (published / entry["signature"]["key"]).unlink()
    with pytest.raises(PullError, match="signature of .* is missing"):
        _pull(tmp_path, published, ec_keys)
    assert _leftovers(tmp_path) == []


def test_wrong_signing_key(
    tmp_path: Path, ec_keys: Keys, other_keys: Keys, published: Path
) -> None:
    with pytest.raises(VerificationError, match="wrong-key"):
        _pull(tmp_path, published, other_keys)
    assert _leftovers(tmp_path) == []


def test_index_listing_an_unsigned_file(tmp_path: Path, ec_keys: Keys, published: Path) -> None:
    index = _index(published)
    extra = dict(index["files"][0])
    extra["name"] = "assets/extra.bin"
    index["files"].append(extra)
    _write_index(published, index)
    with pytest.raises(PullError, match="does not vouch for"):
        _pull(tmp_path, published, ec_keys)
    assert _leftovers(tmp_path) == []


def test_report_swapped(tmp_path: Path, ec_keys: Keys, published: Path) -> None:
    (published / _index(published)["report"]["key"]).write_text('{"verdict": "approved"}')
    with pytest.raises(PullError, match="report's sha256"):
        _pull(tmp_path, published, ec_keys)
    index = _index(published)
    index["report"]["sha256"] = hashlib.sha256(b'{"verdict": "approved"}').hexdigest()
    _write_index(published, index)
    with pytest.raises(PullError, match="the attestation records"):
        _pull(tmp_path, published, ec_keys)
    assert _leftovers(tmp_path) == []


def test_release_copied_under_another_version_is_refused(
    tmp_path: Path, ec_keys: Keys, published: Path
) -> None:
    copy = published.parent / "2.0.0"
    shutil.copytree(published, copy)
    with pytest.raises(PullError, match="not the requested"):
        _pull(tmp_path, copy, ec_keys)


def test_output_folder_rules(tmp_path: Path, ec_keys: Keys, published: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("keep me")
    with pytest.raises(UsageError, match="not empty"):
        _pull(tmp_path, published, ec_keys, out="busy")
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["x"]
    (tmp_path / "empty").mkdir()
    out = _pull(tmp_path, published, ec_keys, out="empty")
    assert (out / "assets").is_dir()


def _plain_report(root: Path, rels: list[str], kind: TargetKind) -> Report:
    arts = []
    for rel in rels:
        p = root / rel if root.is_dir() else root
        data = p.read_bytes()
        arts.append(
            Artifact(ArtifactKind.MODEL, Path(rel).name, rel, Digest.sha256_of(data), len(data))
        )
    return Report(
        tool_name="panorama-gate",
        tool_version=__version__,
        created_at="2026-11-29T16:00:00Z",
        target=Target(str(root), kind, "detector", "0.3.0"),
        artifacts=tuple(arts),
        verdict=Verdict(Decision.APPROVED, (), "default", "ab" * 32),
    )


def test_single_file_and_plain_folder_targets(tmp_path: Path, ec_keys: Keys) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07" + bytes(range(256)) * 50)
    opts = options(tmp_path, ec_keys)
    publish_release(model, _plain_report(model, ["model.onnx"], TargetKind.MODEL), opts)
    rel = tmp_path / "releases" / "detector" / "0.3.0"
    assert json.loads((rel / "index.json").read_text())["target"]["layout"] == "file"
    out = _pull(tmp_path, rel, ec_keys)
    assert (out / "model.onnx").read_bytes() == model.read_bytes()

    folder = tmp_path / "saved_model"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"pb" * 100)
    (folder / "variables" / "v.index").write_bytes(b"ix" * 100)
    report = _plain_report(folder, ["saved_model.pb", "variables/v.index"], TargetKind.MODEL)
    report = Report(
        **{
            **{f: getattr(report, f) for f in report.__slots__},  # type: ignore[arg-type]
            "target": Target(str(folder), TargetKind.MODEL, "detector", "0.4.0"),
        }
    )
    publish_release(folder, report, opts)
    out2 = _pull(tmp_path, tmp_path / "releases" / "detector" / "0.4.0", ec_keys, out="out2")
    assert (out2 / "variables" / "v.index").read_bytes() == b"ix" * 100
    assert (out2 / META_DIR / "index.json").is_file()


def test_racing_publisher_loses_at_the_index(
    tmp_path: Path, proj: BuiltProject, ec_keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another publisher completes the same version between our check and our index write.
    import signing.publish as pub

    real_upload = pub._upload
    other = tmp_path / "other"
    shutil.copytree(proj.root, other)

    def racing(store: object, *a: object, **kw: object) -> object:
        monkeypatch.setattr(pub, "_upload", real_upload)
        publish_release(
            other,
            make_report(BuiltProject(**{**proj.__dict__, "root": other})),
            options(tmp_path, ec_keys, state_dir=tmp_path / "state2"),
        )
        return real_upload(store, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pub, "_upload", racing)
    # Exactly one index wins. Every other object is content-addressed or written only if
    # absent, so the loser replaced nothing of the winner's: it finds the same release
    # complete, and pull accepts that one complete release.
    result = publish_release(proj.root, make_report(proj), options(tmp_path, ec_keys))
    assert result.already_published
    out = _pull(tmp_path, tmp_path / "releases" / "shelf_app" / "1.0.0", ec_keys)
    assert proj.container_asset is not None
    pulled = out / proj.container_asset.relative_to(proj.root)
    assert pulled.read_bytes() == proj.container_asset.read_bytes()
    assert _leftovers(tmp_path) == ["out"]  # the pulled release, and no staging folder


@pytest.fixture(scope="module")
def sealed_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from signing.keys import KeyType, write_keypair

    root = tmp_path_factory.mktemp("sealed")
    proj = build_project(root / "app")
    priv, pub = write_keypair(root / "k", KeyType.ECDSA_P256, PASSWORD)
    publish_release(
        proj.root,
        make_report(proj),
        PublishOptions(
            destination=f"file://{root / 'releases'}",
            signer=load_signer(priv, PASSWORD),
            keyring=KEY,
            documents=write_release_documents,
            state_dir=root / "state",
        ),
    )
    return root / "releases" / "shelf_app" / "1.0.0", pub


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pick=st.integers(min_value=0),
    where=st.floats(min_value=0, max_value=1),
    bit=st.integers(min_value=0, max_value=7),
)
def test_any_flipped_bit_in_a_signed_or_encrypted_file_fails_closed(
    tmp_path_factory: pytest.TempPathFactory,
    sealed_release: tuple[Path, Path],
    pick: int,
    where: float,
    bit: int,
) -> None:
    from scanner.errors import ScannerError

    rel, pub = sealed_release
    work = tmp_path_factory.mktemp("flip")
    copy = work / "shelf_app" / "1.0.0"
    shutil.copytree(rel, copy)
    # Every file pull checks byte for byte: objects, signatures, attestation, report. (The
    # index is unsigned by design: its facts are all re-checked against the attestation.)
    files = sorted(
        p
        for p in copy.rglob("*")
        if p.is_file() and ".meta" not in p.parts and p.name != "index.json"
    )
    target = files[pick % len(files)]
    data = bytearray(target.read_bytes())
    data[min(len(data) - 1, int(where * len(data)))] ^= 1 << bit
    target.write_bytes(bytes(data))
    with pytest.raises(ScannerError):
        pull_release(
            f"file://{copy}",
            work / "out",
            keyring=KEY,
            verifier=load_verifier(pub),
            published_to=f"file://{rel.parent.parent}",  # a copy: name where it was published
        )
    assert not (work / "out").exists()
    assert not [p for p in work.iterdir() if ".pull-" in p.name]


def test_a_copied_release_pulls_only_when_its_original_destination_is_named(
    tmp_path: Path, sealed_release: tuple[Path, Path]
) -> None:
    rel, pub = sealed_release
    copy = tmp_path / "mirror" / "shelf_app" / "1.0.0"
    shutil.copytree(rel, copy)
    with pytest.raises(VerificationError, match="wrong-release.*signed for publishing to") as info:
        pull_release(f"file://{copy}", tmp_path / "a", keyring=KEY, verifier=load_verifier(pub))
    assert "--published-to" in info.value.diagnostics()
    assert not (tmp_path / "a").exists()
    out = pull_release(
        f"file://{copy}",
        tmp_path / "b",
        keyring=KEY,
        verifier=load_verifier(pub),
        published_to=f"file://{rel.parent.parent}",
    )
    assert out.version == "1.0.0"
    assert not [p for p in tmp_path.iterdir() if ".pull-" in p.name]
