"""Keras, TensorFlow, MXNet and safetensors details beyond the corpus."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from scanner.models import Severity
from tests.helpers.model_corpus import (
    keras_zip,
    mxnet_params,
    safetensors_file,
    tf_graphdef,
    tf_saved_model,
)
from tests.helpers.model_runner import findings, run_models


def _keras3(layer: dict[str, Any]) -> bytes:
    return keras_zip({"module": "keras", "class_name": "Sequential",
                      "config": {"name": "s", "layers": [layer]}})  # fmt: skip


@pytest.mark.parametrize(
    ("layer", "rule", "severity"),
    [
        ({"module": "keras.layers", "class_name": "Lambda", "config": {"name": "l",
          "function": {"class_name": "__lambda__", "config": {"code": "YWJj"}}}},
         "keras.lambda-code", Severity.CRITICAL),
        ({"module": "mypkg.layers", "class_name": "Fancy", "config": {"name": "f"}},
         "keras.custom-object", Severity.HIGH),
        ({"module": "builtins", "class_name": "function", "config": "eval"},
         "keras.code-execution", Severity.CRITICAL),
        ({"module": "keras.layers", "class_name": "Lambda", "config": {"name": "l",
          "function": "helper", "module": "mypkg.ops", "function_type": "function"}},
         "keras.lambda-function", Severity.HIGH),
    ],
    ids=["keras3-lambda", "custom-module", "builtins-eval", "named-function"],
)  # fmt: skip
def test_keras3_configs(layer: dict[str, Any], rule: str, severity: Severity) -> None:
    got = [(f.rule_id, f.severity) for f in findings(run_models("m.keras", _keras3(layer)))]
    assert (rule, severity) in got, got


def test_keras_clean_src_modules_and_registered_custom() -> None:
    clean = {"module": "keras.src.layers.core.dense", "class_name": "Dense",
             "config": {"name": "d", "units": 1}}  # fmt: skip
    assert findings(run_models("m.keras", _keras3(clean))) == []
    custom = {"class_name": "Gate", "registered_name": "acme>Gate", "config": {"name": "g"}}
    assert [f.rule_id for f in findings(run_models("m.keras", _keras3(custom)))] == [
        "keras.custom-object"
    ]


def test_not_hdf5_is_malformed() -> None:
    (f,) = findings(run_models("weights.h5", b"not an hdf5 file at all"))
    assert f.rule_id == "keras.malformed"


@pytest.mark.parametrize(
    ("op", "rule"),
    [("RpcCall", "tensorflow.network-access"), ("EagerPyFunc", "tensorflow.code-execution"),
     ("MatchingFiles", "tensorflow.file-access"), ("SaveV2", "tensorflow.checkpoint-io")],
)  # fmt: skip
def test_tensorflow_ops_in_frozen_graphs(op: str, rule: str) -> None:
    got = findings(run_models("graph.pb", tf_graphdef([("n", op)])))
    assert [(f.rule_id, f.properties["op"]) for f in got] == [(rule, op)]


def test_saved_model_checkpoint_ops_are_expected_but_broken_file_is_not() -> None:
    assert findings(run_models("m/saved_model.pb", tf_saved_model([("s", "SaveV2")]))) == []
    (f,) = findings(run_models("m/saved_model.pb", b"\x0a\xff\xff\xff\xff\x0f"))
    assert f.rule_id == "tensorflow.malformed"
    assert findings(run_models("other.pb", b"\x0a\xff\xff\xff\xff\x0f")) == []


def test_mxnet_params_variants() -> None:
    good = mxnet_params([("arg:w", (2, 3)), ("aux:m", (3,))])
    assert findings(run_models("n-0000.params", good)) == []
    trailing = findings(run_models("n-0000.params", good + b"\x00"))
    assert [f.rule_id for f in trailing] == ["mxnet.malformed-params"]
    bad_magic = findings(run_models("n-0000.params", struct.pack("<QQQ", 7, 0, 0)))
    assert "magic" in bad_magic[0].message


def test_mxnet_unknown_op() -> None:
    sym = {"nodes": [{"op": "null", "name": "data", "inputs": []},
                     {"op": "MyPluginOp", "name": "p", "inputs": [[0, 0, 0]]}],
           "arg_nodes": [0], "heads": [[1, 0, 0]]}  # fmt: skip
    (f,) = findings(run_models("n-symbol.json", json.dumps(sym).encode()))
    assert (f.rule_id, f.severity, f.properties["op"]) == (
        "mxnet.unknown-op",
        Severity.MEDIUM,
        "MyPluginOp",
    )


@pytest.mark.parametrize(
    ("header", "data", "needle"),
    [
        ({"w": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "dtype"),
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "needs 8"),
        ({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
          "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}, b"\0" * 6, "overlaps"),
        ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "shape"),
    ],
    ids=["dtype", "size", "overlap", "negative-shape"],
)  # fmt: skip
def test_safetensors_header_errors(header: dict[str, Any], data: bytes, needle: str) -> None:
    (f,) = findings(run_models("x.safetensors", safetensors_file(header, data)))
    assert f.rule_id == "safetensors.malformed-header"
    assert needle in f.message


def test_safetensors_gap_and_huge_header() -> None:
    gap = safetensors_file({"w": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}},
                           b"\0" * 4 + b"PAYLOAD!")  # fmt: skip
    assert [f.rule_id for f in findings(run_models("g.safetensors", gap))] == [
        "safetensors.data-gap"
    ]
    huge = struct.pack("<Q", 1 << 40) + b"{}"
    assert "header length" in findings(run_models("h.safetensors", huge))[0].message
