"""What a worker's fork server imports before the walk (the hosted analyzers' modules), and
what each worker imports on a thread as it starts (their heavy libraries, such as onnx), so
that no worker stops mid-walk to import."""

from __future__ import annotations

import subprocess
import sys

from scanner.analyzers.code_bandit import CodeAnalyzer
from scanner.analyzers.ml.onnx_model import OnnxAnalyzer
from scanner.analyzers.secrets import SecretsAnalyzer
from scanner.walk.worker_host import worker_modules


def test_hosted_analyzers_are_preloaded_but_not_their_heavy_libraries() -> None:
    modules = worker_modules([OnnxAnalyzer, SecretsAnalyzer, CodeAnalyzer])
    assert modules[0] == "scanner.walk.worker_host"
    assert OnnxAnalyzer.__module__ in modules
    assert SecretsAnalyzer.__module__ in modules
    assert not {"onnx", "onnx.checker"} & set(modules)  # the fork server stays small
    # an analyzer that runs in the scanning process is not imported by the fork server
    assert CodeAnalyzer.__module__ not in modules


def test_a_worker_imports_its_analyzers_heavy_libraries_on_a_thread() -> None:
    code = (
        "import sys; from scanner.walk.worker_host import _import_heavy; "
        "from scanner.analyzers.ml.onnx_model import OnnxAnalyzer; "
        "assert 'onnx' not in sys.modules; "
        "_import_heavy([OnnxAnalyzer()]).join(60); "
        "assert {'onnx', 'onnx.checker', 'onnx.shape_inference'} <= set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_without_hosted_analyzers_only_the_worker_loop_is_preloaded() -> None:
    assert worker_modules([CodeAnalyzer]) == ["scanner.walk.worker_host"]
