"""What a worker's fork server imports before the walk: the hosted analyzers and their heavy
libraries, so that no worker stops mid-walk to import onnx."""

from __future__ import annotations

from scanner.analyzers.code_bandit import CodeAnalyzer
from scanner.analyzers.ml.onnx_model import OnnxAnalyzer
from scanner.analyzers.secrets import SecretsAnalyzer
from scanner.walk.worker_host import worker_modules


def test_hosted_analyzers_and_their_lazy_imports_are_preloaded() -> None:
    modules = worker_modules([OnnxAnalyzer, SecretsAnalyzer, CodeAnalyzer])
    assert modules[0] == "scanner.walk.worker_host"
    assert OnnxAnalyzer.__module__ in modules
    assert SecretsAnalyzer.__module__ in modules
    assert {"onnx", "onnx.checker", "onnx.shape_inference"} <= set(modules)
    # an analyzer that runs in the scanning process is not imported by the fork server
    assert CodeAnalyzer.__module__ not in modules


def test_without_hosted_analyzers_only_the_worker_loop_is_preloaded() -> None:
    assert worker_modules([CodeAnalyzer]) == ["scanner.walk.worker_host"]
