"""Property: flipping any single byte of an artifact, the attestation bundle, a detached
signature or a model-signing bundle makes ``verify`` fail (the model-transparency fuzz
property)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from signing import VerificationError, load_signer, load_verifier, sign_target, verify_target
from signing.keys import KeyType, write_keypair
from tests.helpers.project_builder import ProjectSpec, build_project
from tests.helpers.signing_fixtures import PASSWORD, project_files, report_for


@pytest.fixture(scope="module", params=list(KeyType), ids=[k.value for k in KeyType])
def signed_project(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    base = tmp_path_factory.mktemp(f"tamper-{request.param.value}")
    # Small assets keep each verify fast, so hypothesis can try many flips.
    proj = build_project(base / "app", ProjectSpec(model_files={"model.pth": b"weights" * 64}))
    report = base / "r.json"
    report.write_text(json.dumps(report_for(proj.root, project_files(proj))))
    priv, pub = write_keypair(base / "k", request.param, PASSWORD)
    out = base / "sigs"
    result = sign_target(proj.root, report, load_signer(priv, PASSWORD), out)
    verifier = load_verifier(pub)
    verify_target(proj.root, out, verifier)  # sanity: untouched verifies
    assert proj.container_asset is not None
    assert proj.model_asset is not None
    files = {
        "container": proj.container_asset,
        "model": proj.model_asset,
        "graph": proj.graph_path,
        "bundle": out / "attestation.sigstore.json",
        "signature": out / (proj.container_asset.name + ".sig"),
    }
    if result.model_signatures:  # ECDSA only: model-signing has no Ed25519 key method
        files["model-bundle"] = result.model_signatures[0]
    return {"root": proj.root, "out": out, "verifier": verifier, "files": files}


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    which=st.sampled_from(["container", "model", "graph", "bundle", "signature", "model-bundle"]),
    position=st.floats(min_value=0, max_value=1, exclude_max=True),
    mask=st.integers(min_value=1, max_value=255),
)
def test_any_single_byte_flip_fails_verification(
    signed_project: dict[str, object], which: str, position: float, mask: int
) -> None:
    files: dict[str, Path] = signed_project["files"]  # type: ignore[assignment]
    assume(which in files)
    path = files[which]
    original = path.read_bytes()
    index = int(position * len(original))
    flipped = bytearray(original)
    flipped[index] ^= mask
    path.write_bytes(bytes(flipped))
    try:
        with pytest.raises(VerificationError):
            verify_target(signed_project["root"], signed_project["out"], signed_project["verifier"])  # type: ignore[arg-type]
    finally:
        path.write_bytes(original)
