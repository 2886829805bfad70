"""Run the model analyzers on bytes, the way a scan does (through the real dispatcher)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.analyzers.interface import AnalyzerContext, FileAnalyzer, Output
from scanner.analyzers.ml.keras_model import KerasAnalyzer
from scanner.analyzers.ml.model_format import ModelFormatAnalyzer
from scanner.analyzers.ml.mxnet_model import MxnetAnalyzer
from scanner.analyzers.ml.onnx_model import OnnxAnalyzer
from scanner.analyzers.ml.pickle_family import PickleAnalyzer
from scanner.analyzers.ml.safetensors_model import SafetensorsAnalyzer
from scanner.analyzers.ml.tensorflow_model import TensorFlowAnalyzer
from scanner.models import AnalyzerFailure, ArtifactKind, Finding, Severity
from scanner.sources.interface import ArtifactFormat
from tests.helpers.analyzer_harness import AnalyzerHarness

FILE_ANALYZERS: tuple[type[FileAnalyzer], ...] = (
    PickleAnalyzer,
    OnnxAnalyzer,
    TensorFlowAnalyzer,
    KerasAnalyzer,
    MxnetAnalyzer,
    SafetensorsAnalyzer,
    ModelFormatAnalyzer,
)


def model_analyzers(options: Mapping[str, Any] | None = None) -> list[FileAnalyzer]:
    """One configured instance of each model FileAnalyzer."""
    out: list[FileAnalyzer] = []
    for cls in FILE_ANALYZERS:
        a = cls()
        if options is not None:
            a.configure(AnalyzerContext(a.name, options))
        out.append(a)
    return out


def run_models(
    path: str,
    data: bytes,
    options: Mapping[str, Any] | None = None,
    artifact: str = "model.tar.gz",
    kind: ArtifactKind = ArtifactKind.MODEL,
) -> list[Output]:
    """What the model analyzers report for one file named ``path`` holding ``data``."""
    fmt = ArtifactFormat.MODEL_ARCHIVE if kind is ArtifactKind.MODEL else ArtifactFormat.ROOTFS
    harness = AnalyzerHarness(*(cls() for cls in FILE_ANALYZERS), options=options)
    return harness.run({path: data}, artifact=artifact, kind=kind, fmt=fmt)


def findings(out: list[Output]) -> list[Finding]:
    return [o for o in out if isinstance(o, Finding)]


def failures(out: list[Output]) -> list[AnalyzerFailure]:
    return [o for o in out if isinstance(o, AnalyzerFailure)]


def blocking(out: list[Output]) -> bool:
    """What the default policy would refuse: a failure, or a finding at high or above."""
    return bool(failures(out)) or any(f.severity >= Severity.HIGH for f in findings(out))
