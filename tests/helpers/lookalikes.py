"""Hostile models that dodge name-based dispatch, and their benign look-alikes, built in code.

Each hostile file is what a loader really runs (``torch.load``, ``joblib.load``,
``pickle.load`` twice, ``tf.saved_model.load``); each benign one is the same container made
the ordinary way. Real PyTorch checkpoints come from torch itself (``torch.save``).

Example::

    data = torch_checkpoint(evil=True)          # a zip checkpoint whose data.pkl runs os.system
    (tmp_path / "checkpoint.tar").write_bytes(data)
"""

from __future__ import annotations

import io
import lzma
import os
import pickle
import struct
from typing import Any

from tests.helpers.model_corpus import P

__all__ = [
    "Evil",
    "attribute_write_on_class",
    "attribute_write_on_module",
    "broken_second_pickle",
    "class_swap",
    "joblib_xz",
    "module_object",
    "reexported_critical",
    "saved_model_pbtxt",
    "second_pickle_any_opcode",
    "torch_checkpoint",
    "torch_full_model",
]


class Evil:
    """Unpickling it runs ``os.system``."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo pwned",))


def torch_checkpoint(*, evil: bool) -> bytes:
    """``torch.save`` of a state_dict (the zip format), optionally carrying ``Evil``."""
    import torch

    state: dict[str, Any] = {"conv.weight": torch.zeros(2, 3), "conv.bias": torch.ones(2)}
    if evil:
        state["extra"] = Evil()
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def torch_full_model() -> bytes:
    """``torch.save(model)`` of a model built only from PyTorch's own layers."""
    import torch

    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Flatten()
    )
    buf = io.BytesIO()
    torch.save(model, buf)
    return buf.getvalue()


def joblib_xz(*, evil: bool) -> bytes:
    """``joblib.dump(..., compress="xz")`` of arrays (joblib's documented ``.pkl.xz``)."""
    import joblib
    import numpy as np

    obj: dict[str, Any] = {"weights": np.arange(64, dtype=np.float32), "bias": np.zeros(4)}
    if evil:
        obj["hook"] = Evil()
    buf = io.BytesIO()
    joblib.dump(obj, buf, compress="xz")
    data = buf.getvalue()
    assert data.startswith(b"\xfd7zXZ")
    return data


def saved_model_pbtxt(ops: list[tuple[str, str]]) -> bytes:
    """A SavedModel in text form: one meta graph whose nodes use ``ops`` (name, op)."""
    nodes = "".join(
        f'      node {{\n        name: "{name}"\n        op: "{op}"\n'
        f'        attr {{ key: "T" value {{ type: DT_FLOAT }} }}\n      }}\n'
        for name, op in ops
    )
    return (
        "saved_model_schema_version: 1\n"
        "meta_graphs {\n"
        '  meta_info_def {\n    stripped_op_list {\n      op { name: "Const" }\n    }\n'
        '    tags: "serve"\n  }\n'
        f"  graph_def {{\n{nodes}  }}\n"
        "}\n"
    ).encode()


def second_pickle_any_opcode() -> bytes:
    """A clean pickle, then one that opens with NONE/POP: ``pickle.load`` twice runs it."""
    return pickle.dumps([1, 2, 3]) + b"N0cos\nsystem\n(S'echo pwned'\ntR."


def broken_second_pickle() -> bytes:
    """The second pickle runs ``os.system`` and only then hits a byte that is no opcode."""
    return pickle.dumps({"a": 1}) + b"cos\nsystem\n(S'echo pwned'\ntR\xff."


def reexported_critical() -> bytes:
    """``functools.partial`` reached under a layer module that imports it."""
    return (
        P(2).glob("torch.nn.modules.conv", "partial").glob("os", "getcwd").tuple1().reduce().stop()
    )


def module_object(module: str = "torch.nn.modules.module", name: str = "torch") -> bytes:
    """A module object fetched through a layer module (every attribute reachable from it)."""
    return P(2).glob(module, name).stop()


def attribute_write_on_module() -> bytes:
    """BUILD on a module object: rewrites one of its attributes for the whole process."""
    p = P(2).glob("torch.nn.modules", "conv").raw(b"}")
    p.ustr("F").glob("builtins", "print").raw(b"s")
    return p.raw(b"b").stop()


def attribute_write_on_class(
    cls: tuple[str, str] = ("torch.nn.modules.activation", "ReLU"),
) -> bytes:
    """BUILD on an allowed class (not an instance): a class attribute changed process-wide."""
    p = P(2).glob(*cls).raw(b"}")
    p.ustr("inplace").raw(b"\x88s")
    return p.raw(b"b").stop()


def class_swap() -> bytes:
    """An allowed instance whose BUILD state sets ``__class__``."""
    p = P(2).glob("collections", "OrderedDict").raw(b")R}")
    p.ustr("__class__").glob("__main__", "Backdoor").raw(b"s")
    return p.raw(b"b").stop()


def lzma_alone(data: bytes) -> bytes:
    """joblib's ``.lzma``: the legacy lzma container."""
    return lzma.compress(data, format=lzma.FORMAT_ALONE)


def u64(n: int) -> bytes:
    """A little-endian u64 (safetensors header length)."""
    return struct.pack("<Q", n)
