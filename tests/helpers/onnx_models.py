"""Small, valid ONNX models built with onnx's own helpers, for tests."""

from __future__ import annotations

from onnx import TensorProto, helper


def pooled_classifier_onnx() -> bytes:
    """GlobalAveragePool, Flatten, MatMul: a 10-class model on 3x8x8 input named ``data``."""
    x = helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 10])
    node = helper.make_node("GlobalAveragePool", ["data"], ["pooled"])
    flat = helper.make_node("Flatten", ["pooled"], ["flat"])
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 10], [0.1] * 30)
    mm = helper.make_node("MatMul", ["flat", "w"], ["scores"])
    graph = helper.make_graph([node, flat, mm], "g", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()
