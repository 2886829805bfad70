"""Real joblib files (every compression joblib offers): inline arrays skipped, payloads found."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

from scanner.models import Severity
from tests.helpers.model_runner import failures, findings, run_models

joblib = pytest.importorskip("joblib")


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, ("id",)


COMPRESSIONS = [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)]


def _dump(obj: object, compress: object) -> bytes:
    buf = io.BytesIO()
    joblib.dump(obj, buf, compress=compress)
    return buf.getvalue()


@pytest.mark.parametrize("compress", COMPRESSIONS, ids=str)
def test_payload_after_inline_arrays_is_found(compress: object) -> None:
    obj = {
        "weights": np.arange(1000.0),
        "objects": np.array([1, "a", None], dtype=object),
        "int8": np.ones((3, 3), np.int8),
        "payload": _Payload(),
    }
    out = run_models("model.joblib", _dump(obj, compress))
    assert not failures(out)
    got = [(f.rule_id, f.properties["global"]) for f in findings(out)]
    assert got == [("pickle.code-execution", "posix.system")]
    assert findings(out)[0].severity is Severity.CRITICAL


@pytest.mark.parametrize("compress", [0, 3], ids=str)
def test_clean_joblib(compress: object) -> None:
    obj = {"w": np.arange(10.0), "m": np.ones((3, 3), np.float32), "s": np.array(["ab", "c"])}
    out = run_models("clean.joblib", _dump(obj, compress))
    assert out == []
