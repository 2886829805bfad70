"""Every pickle stream is read to its end; the allow-list is exact; module objects and
attribute writes are findings; what PyTorch itself writes for ordinary models stays clean."""

from __future__ import annotations

import pickle

import pytest

from scanner.analyzers.ml._globals import GlobalPolicy, GlobalVerdict
from scanner.models import Severity
from tests.helpers.lookalikes import (
    attribute_write_on_class,
    attribute_write_on_module,
    broken_second_pickle,
    class_swap,
    module_object,
    reexported_critical,
    second_pickle_any_opcode,
    torch_checkpoint,
    torch_full_model,
)
from tests.helpers.model_runner import failures, findings, run_models


def _rules(name: str, data: bytes) -> dict[str, Severity]:
    return {f.rule_id: f.severity for f in findings(run_models(name, data))}


def test_a_second_pickle_starting_with_any_opcode_is_read() -> None:
    assert _rules("model.pkl", second_pickle_any_opcode())["pickle.code-execution"] is (
        Severity.CRITICAL
    )


def test_what_a_broken_second_pickle_names_before_breaking_is_reported() -> None:
    got = _rules("model.pkl", broken_second_pickle())
    assert got["pickle.code-execution"] is Severity.CRITICAL
    assert got["pickle.trailing-data"] is Severity.LOW


def test_many_clean_pickles_in_a_row_are_clean() -> None:
    data = b"".join(
        pickle.dumps({"step": i, "loss": 0.5}, protocol=p) for i, p in enumerate([0, 2, 4, 5])
    )
    out = run_models("log.pkl", data)
    assert findings(out) == []
    assert failures(out) == []


def test_a_name_reexported_by_an_allowed_module_is_still_critical() -> None:
    (f,) = findings(run_models("m.pkl", reexported_critical()))[:1]
    assert (f.rule_id, f.severity) == ("pickle.code-execution", Severity.CRITICAL)
    assert f.properties["global"] == "torch.nn.modules.conv.partial"


@pytest.mark.parametrize(
    ("module", "name"),
    [("torch.nn.modules.module", "torch"), ("torch.nn.modules.linear", "functools"),
     ("torch", "nn"), ("torch.nn.modules", "conv"), ("collections", "operator")],
)  # fmt: skip
def test_a_module_object_is_a_finding(module: str, name: str) -> None:
    (f,) = findings(run_models("m.pkl", module_object(module, name)))
    assert (f.rule_id, f.severity) == ("pickle.module-object", Severity.CRITICAL)


def test_writing_attributes_of_a_module_is_a_finding() -> None:
    got = _rules("m.pkl", attribute_write_on_module())
    assert got["pickle.attribute-write"] is Severity.CRITICAL
    assert got["pickle.module-object"] is Severity.CRITICAL


def test_writing_attributes_of_an_allowed_class_is_a_finding() -> None:
    (f,) = findings(run_models("m.pkl", attribute_write_on_class()))
    assert (f.rule_id, f.severity) == ("pickle.attribute-write", Severity.CRITICAL)
    assert f.properties["target"] == "torch.nn.modules.activation.ReLU"
    assert f.properties["attributes"] == ["inplace"]


def test_swapping_the_class_of_an_allowed_instance_is_a_finding() -> None:
    got = _rules("m.pkl", class_swap())
    assert got["pickle.attribute-write"] is Severity.HIGH
    assert got["pickle.unknown-global"] is Severity.HIGH


def test_a_critical_name_is_never_allowed_by_the_policy() -> None:
    policy = GlobalPolicy.from_options(
        {"allow_globals": ["functools.partial", "torch.nn.modules.conv.partial", "torch.nn"]}
    )
    assert policy.classify("functools", "partial") is GlobalVerdict.CRITICAL
    assert policy.classify("torch.nn.modules.conv", "partial") is GlobalVerdict.CRITICAL
    assert policy.classify("torch", "nn") is GlobalVerdict.MODULE


def test_layers_are_allowed_one_by_one_not_by_module() -> None:
    policy = GlobalPolicy()
    assert policy.classify("torch.nn.modules.conv", "Conv2d") is GlobalVerdict.ALLOWED
    assert policy.classify("torch.nn.modules.conv", "Conv9000d") is GlobalVerdict.UNKNOWN
    assert policy.classify("torch.nn.modules.conv", "F") is GlobalVerdict.MODULE


def test_an_ordinary_state_dict_is_clean() -> None:
    pytest.importorskip("torch")
    out = run_models("model.pth", torch_checkpoint(evil=False))
    assert findings(out) == []
    assert failures(out) == []


def test_a_full_model_of_pytorch_layers_is_clean() -> None:
    pytest.importorskip("torch")
    out = run_models("model.pt", torch_full_model())
    assert findings(out) == []
    assert failures(out) == []
