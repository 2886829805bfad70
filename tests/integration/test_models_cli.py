"""End to end through the CLI: model files, model archives and projects with model assets."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.model_corpus import build_corpus, clean_cases

REPO = Path(__file__).resolve().parents[2]
CASES = {c.key: c for c in build_corpus() + clean_cases()}


def scan(target: Path, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(target), "--format", "json", "-o",
         str(out), "--no-profile", "--offline"],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
    )  # fmt: skip
    assert out.exists(), proc.stderr
    return proc.returncode, json.loads(out.read_text())


def _tgz(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _rules(report: dict[str, Any]) -> set[str]:
    return {f["rule_id"] for f in report["findings"]}


def test_loose_malicious_pickle_is_rejected(tmp_path: Path) -> None:
    target = tmp_path / "model.pkl"
    target.write_bytes(CASES["memo-stack-global"].data)
    code, report = scan(target, tmp_path)
    assert code == 1
    assert report["target"]["kind"] == "model"
    assert report["verdict"]["decision"] == "rejected"
    (f,) = [f for f in report["findings"] if f["rule_id"] == "pickle.code-execution"]
    assert f["severity"] == "critical"
    assert f["location"]["artifact"] == "model.pkl"
    assert f["properties"]["global"] == "os.system"


@pytest.mark.parametrize("key", ["clean-pickle", "clean-onnx", "clean-safetensors", "clean-npy"])
def test_loose_clean_models_are_approved(tmp_path: Path, key: str) -> None:
    case = CASES[key]
    target = tmp_path / case.filename
    target.write_bytes(case.data)
    code, report = scan(target, tmp_path)
    assert [f for f in report["findings"] if f["severity"] in ("medium", "high", "critical")] == []
    assert report["failures"] == []
    assert code == 0, report["verdict"]


def test_model_archive_names_archive_member_and_global(tmp_path: Path) -> None:
    archive = _tgz(tmp_path / "detector.tar.gz", {
        "detector/model.pt": CASES["torch-zip"].data,
        "detector/labels.pkl": CASES["clean-pickle"].data,
        "detector/extra.onnx": CASES["onnx-traversal"].data,
    })  # fmt: skip
    code, report = scan(archive, tmp_path)
    assert code == 1
    by_rule = {f["rule_id"]: f for f in report["findings"]}
    f = by_rule["pickle.code-execution"]
    assert f["location"] == {"artifact": "detector.tar.gz", "path": "detector/model.pt",
                             "line": None}  # fmt: skip
    assert f["properties"]["member"] == "archive/data.pkl"
    assert f["properties"]["global"] == "os.system"
    g = by_rule["onnx.external-data-traversal"]
    assert g["location"]["path"] == "detector/extra.onnx"
    assert g["properties"]["external_location"] == "../../../etc/passwd"
    assert not any(f["location"]["path"] == "detector/labels.pkl" for f in report["findings"])


def test_unparseable_pickle_makes_the_verdict_not_approved(tmp_path: Path) -> None:
    target = tmp_path / "broken.pkl"
    target.write_bytes(CASES["truncated"].data)
    code, report = scan(target, tmp_path)
    assert code in (1, 3)
    assert report["verdict"]["decision"] != "approved"
    assert any(x["analyzer"] == "pickle" for x in report["failures"])


def test_project_model_asset_and_descriptor(tmp_path: Path) -> None:
    from tests.helpers.project_builder import ProjectSpec, build_project

    proj = build_project(tmp_path / "proj", ProjectSpec(
        framework="MXNET",
        model_inputs=[{"name": "data", "shape": [1, 3, 224, 224]}],
        model_files={"model.pth": CASES["torch-zip"].data},
    ))  # fmt: skip
    code, report = scan(proj.root, tmp_path)
    assert code == 1
    rules = _rules(report)
    assert "pickle.code-execution" in rules
    (mm,) = [f for f in report["findings"]
             if f["rule_id"] == "model-descriptor.framework-mismatch"]  # fmt: skip
    assert mm["severity"] == "high"
    assert mm["location"]["artifact"].endswith(".tar.gz")


def test_model_inside_container_rootfs(tmp_path: Path) -> None:
    from tests.helpers.project_builder import ProjectSpec, build_project

    proj = build_project(tmp_path / "proj", ProjectSpec(
        rootfs_files={"panorama/models/detector.pt": CASES["torch-zip-bin"].data,
                      "panorama/models/detector.onnx": CASES["clean-onnx"].data},
        with_model=False,
    ))  # fmt: skip
    code, report = scan(proj.root, tmp_path)
    assert code == 1
    hits = [f for f in report["findings"] if f["rule_id"] == "pickle.code-execution"]
    assert [f["location"]["path"] for f in hits] == ["panorama/models/detector.pt"]
    assert hits[0]["location"]["artifact"].endswith(".tar.gz")
    assert not [f for f in report["findings"] if f["location"]["path"].endswith(".onnx")]


def test_policy_allow_list_reaches_the_analyzer(tmp_path: Path) -> None:
    target = tmp_path / "custom.pkl"
    target.write_bytes(CASES["unknown-global"].data)
    code, report = scan(target, tmp_path)
    assert (code, _rules(report)) == (1, {"pickle.unknown-global"})
    default = (REPO / "scanner" / "data" / "policies" / "default.yaml").read_text()
    assert "  allow_globals: []" in default
    policy = tmp_path / "policy.yaml"
    # a wildcard is refused (it would allow whatever __main__ imports): exit 2, named
    policy.write_text(default.replace("  allow_globals: []", '  allow_globals: ["__main__.*"]'))
    wild = subprocess.run(
        [sys.executable, "-m", "scanner", "policy", "validate", str(policy)],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
    )  # fmt: skip
    assert wild.returncode == 2
    assert "exact names only" in wild.stderr + wild.stdout
    policy.write_text(default.replace("  allow_globals: []", '  allow_globals: ["__main__.Evil"]'))
    out = tmp_path / "allowed.json"
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(target), "--policy", str(policy),
         "--format", "json", "-o", str(out), "--no-profile", "--offline"],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["findings"] == []
