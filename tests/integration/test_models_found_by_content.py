"""Models are found by what their bytes are, wherever they sit: loose files under any name,
nested archives in model archives, and model containers inside a container's root
filesystem (where ordinary OS archives stay closed). Scans run through the real pipeline."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scanner.config import ScanConfig
from scanner.gate import run_gate
from scanner.models import Decision, Report
from scanner.policy.model import load_policy
from tests.helpers.archives import rootfs_tar
from tests.helpers.lookalikes import joblib_xz, torch_checkpoint

REPO = Path(__file__).resolve().parents[2]
MODELS = ("tag:model", "secrets")

pytest.importorskip("torch")


def _gate(target: Path, tmp_path: Path, policy: str = "default") -> Report:
    config = ScanConfig(analyzers=MODELS, offline=True, work_dir=tmp_path / "work")
    return run_gate(target, config, load_policy(Path(policy)))


def _where(report: Report, rule: str) -> list[str]:
    return sorted(f.location.path for f in report.findings if f.rule_id == rule)


def _tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            if name.endswith("/"):
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
                continue
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _jar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_model_container_inside_a_root_filesystem_is_opened(tmp_path: Path) -> None:
    bundle = _tgz(
        {"yolo/": b"", "yolo/labels.txt": b"person\n", "yolo/model.pt": torch_checkpoint(evil=True)}
    )
    target = tmp_path / "rootfs.tar.gz"
    target.write_bytes(
        rootfs_tar(
            {
                "panorama/app.py": b"print('hi')\n",
                "panorama/models/bundle.tar.gz": bundle,
                "panorama/models/checkpoint.tar": torch_checkpoint(evil=True),
            }
        )
    )
    report = _gate(target, tmp_path)
    assert report.verdict is not None
    assert report.verdict.decision is Decision.REJECTED
    assert _where(report, "pickle.code-execution") == [
        "panorama/models/bundle.tar.gz!/yolo/model.pt",
        "panorama/models/checkpoint.tar",
    ]


def test_ordinary_os_archives_in_a_root_filesystem_stay_closed(tmp_path: Path) -> None:
    # A jar and a documentation tarball hold no model: opening them is cost without purpose.
    key = b"aws_access_key_id = AKIA" + b"Q" * 16 + b"\n"
    target = tmp_path / "rootfs.tar.gz"
    target.write_bytes(
        rootfs_tar(
            {
                "usr/share/java/lib.jar": _jar(
                    {"META-INF/MANIFEST.MF": b"x", "app.properties": key}
                ),
                "usr/share/doc/lib/examples.tar.gz": _tgz(
                    {"examples/": b"", "examples/a.properties": key}
                ),  # fmt: skip
                "panorama/app.py": b"print('hi')\n",
            }
        )
    )
    report = _gate(target, tmp_path)
    assert not [f for f in report.findings if "!/" in f.location.path]
    assert report.failures == ()


def test_every_archive_inside_a_model_archive_is_opened_whatever_its_name(tmp_path: Path) -> None:
    inner = _tgz({"pipeline/": b"", "pipeline/scaler.pkl.xz": joblib_xz(evil=True)})
    target = tmp_path / "model.tar.gz"
    target.write_bytes(_tgz({"model/": b"", "model/extras.data": inner}))
    report = _gate(target, tmp_path)
    assert _where(report, "pickle.code-execution") == ["model/extras.data!/pipeline/scaler.pkl.xz"]


def _cli(target: Path, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / f"{target.name}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(target), "--format", "json", "-o",
         str(out), "--no-profile", "--offline", "--analyzers", ",".join(MODELS), *extra],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
    )  # fmt: skip
    assert out.exists(), proc.stderr
    return proc.returncode, json.loads(out.read_text())


@pytest.mark.parametrize("name", ["weights.bin", "weights.dat", "engine.plan"])
def test_random_bytes_given_as_a_model_are_never_approved_silently(
    tmp_path: Path, name: str
) -> None:
    target = tmp_path / name
    target.write_bytes(os.urandom(8192))
    code, report = _cli(target, tmp_path)
    assert code == 0
    assert [f["rule_id"] for f in report["findings"]] == ["model-format.unrecognised"]
    assert any(r["level"] == "warning" for r in report["verdict"]["reasons"])
    # the strict policy rejects what it cannot read
    code, _ = _cli(target, tmp_path, "--policy", "strict")
    assert code == 1


def test_a_clean_checkpoint_named_like_a_tar_is_approved(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.tar"
    target.write_bytes(torch_checkpoint(evil=False))
    code, report = _cli(target, tmp_path)
    assert (code, report["findings"]) == (0, [])


def test_a_checkpoint_that_only_its_central_directory_reveals_is_scanned_whole(
    tmp_path: Path,
) -> None:
    # A notes file first: the head shows a plain zip; the central directory shows a checkpoint.
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(torch_checkpoint(evil=True))) as src,
        zipfile.ZipFile(buf, "w") as out,
    ):
        out.writestr("archive/NOTES.txt", b"exported by the training job\n")
        for info in src.infolist():
            out.writestr(info, src.read(info))
    target = tmp_path / "model.tar.gz"
    target.write_bytes(_tgz({"model/": b"", "model/export.zip": buf.getvalue()}))
    report = _gate(target, tmp_path)
    assert _where(report, "pickle.code-execution") == ["model/export.zip"]
