"""What a file is comes from its bytes: hostile models under unexpected names are caught, and
their benign look-alikes are not flagged. Every file goes through the real dispatcher."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from scanner.models import ArtifactKind, Severity
from tests.helpers.lookalikes import (
    joblib_xz,
    lzma_alone,
    saved_model_pbtxt,
    torch_checkpoint,
)
from tests.helpers.model_runner import failures, findings, run_models

pytest.importorskip("torch")


def _rules(out: list[object]) -> set[tuple[str, Severity]]:
    return {(f.rule_id, f.severity) for f in findings(out)}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    ["model.PTH", "weights/MODEL.Pt", "checkpoint.tar", "best.pth.tar", "pytorch_model.bin",
     "no_extension"],
)  # fmt: skip
def test_a_hostile_checkpoint_is_caught_whatever_its_name(name: str) -> None:
    out = run_models(name, torch_checkpoint(evil=True))
    assert ("pickle.code-execution", Severity.CRITICAL) in _rules(out)


@pytest.mark.parametrize("name", ["model.PTH", "checkpoint.tar", "pytorch_model.bin"])
def test_a_clean_checkpoint_is_not_flagged_whatever_its_name(name: str) -> None:
    out = run_models(name, torch_checkpoint(evil=False))
    assert findings(out) == []
    assert failures(out) == []


@pytest.mark.parametrize("name", ["model.pkl.xz", "model.joblib", "model.xz", "blob"])
def test_a_hostile_joblib_xz_is_caught(name: str) -> None:
    out = run_models(name, joblib_xz(evil=True))
    assert ("pickle.code-execution", Severity.CRITICAL) in _rules(out)


def test_a_clean_joblib_xz_of_arrays_is_not_flagged() -> None:
    out = run_models("arrays.pkl.xz", joblib_xz(evil=False))
    assert findings(out) == []
    assert failures(out) == []


def test_a_pickle_in_the_legacy_lzma_container_is_caught() -> None:
    out = run_models("model.pkl.lzma", lzma_alone(b"cos\nsystem\n(S'id'\ntR."))
    assert ("pickle.code-execution", Severity.CRITICAL) in _rules(out)


@pytest.mark.parametrize("name", ["saved_model.pbtxt", "export/1/saved_model.pbtxt", "graph.txt"])
def test_a_text_saved_model_running_python_is_caught(name: str) -> None:
    data = saved_model_pbtxt([("x", "Placeholder"), ("cb", "PyFunc"), ("r", "ReadFile")])
    got = _rules(run_models(name, data))
    assert ("tensorflow.code-execution", Severity.CRITICAL) in got
    assert ("tensorflow.file-access", Severity.HIGH) in got


def test_a_clean_text_saved_model_is_not_flagged() -> None:
    data = saved_model_pbtxt([("x", "Placeholder"), ("w", "VarHandleOp"), ("y", "MatMul")])
    assert findings(run_models("saved_model.pbtxt", data)) == []


def test_a_label_map_pbtxt_is_text_not_a_finding() -> None:
    data = b'item {\n  name: "/m/01g317"\n  id: 1\n  display_name: "person"\n}\n'
    assert findings(run_models("label_map.pbtxt", data)) == []


def test_random_bytes_taken_as_a_model_are_reported_not_approved_silently() -> None:
    (f,) = findings(run_models("weights.bin", os.urandom(4096)))
    assert f.rule_id == "model-format.unrecognised"
    assert f.severity is Severity.MEDIUM
    assert "unknown" in f.message


def test_an_image_named_like_a_checkpoint_is_reported() -> None:
    (f,) = findings(run_models("owl.pt", b"\x89PNG\r\n\x1a\n" + os.urandom(200)))
    assert f.rule_id == "model-format.unrecognised"
    assert "png" in f.message


def test_generic_names_in_a_root_filesystem_are_not_taken_as_models() -> None:
    out = run_models("usr/lib/firmware/blob.bin", os.urandom(4096), kind=ArtifactKind.CONTAINER)
    assert findings(out) == []


def test_specific_model_names_in_a_root_filesystem_still_are() -> None:
    out = run_models("panorama/models/detector.pt", os.urandom(4096), kind=ArtifactKind.CONTAINER)
    assert [f.rule_id for f in findings(out)] == ["model-format.unrecognised"]


def test_a_pickle_hidden_in_a_checkpoint_member_with_a_text_name_is_read() -> None:
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(torch_checkpoint(evil=False))) as src,
        zipfile.ZipFile(buf, "w") as zf,
    ):
        for info in src.infolist():
            zf.writestr(info, src.read(info))
        zf.writestr("archive/notes.txt", b"cos\nsystem\n(S'id'\ntR.")
    got = _rules(run_models("bundle.pt", buf.getvalue()))
    assert ("pickle.code-execution", Severity.CRITICAL) in got
    assert ("pickle.hidden-pickle", Severity.MEDIUM) in got
