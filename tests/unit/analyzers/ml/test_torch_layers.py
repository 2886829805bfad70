"""The exact list of PyTorch layer classes a full-model pickle may name (``_torch_layers``)
matches what the installed torch defines: one class each, no module-wide wildcard.

Regenerate after a torch upgrade with::

    python -m tests.unit.analyzers.ml.test_torch_layers \
        > scanner/analyzers/ml/_torch_layers.py
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

import pytest

from scanner.analyzers.ml._torch_layers import TORCH_LAYERS

ROOTS = ("torch.nn.modules", "torch.ao.nn")


def defined_layers() -> dict[str, tuple[str, ...]]:
    """Every ``nn.Module`` subclass defined under ``ROOTS``, by defining module."""
    torch = (
        pytest.importorskip("torch") if __name__ != "__main__" else importlib.import_module("torch")
    )
    out: dict[str, list[str]] = {}
    for root in ROOTS:
        pkg = importlib.import_module(root)
        names = [root] + [m.name for m in pkgutil.walk_packages(pkg.__path__, root + ".")]
        for module_name in names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    module = importlib.import_module(module_name)
                except Exception:  # noqa: BLE001, S112 - optional backends (fbgemm...) may not import
                    continue
            for name, obj in vars(module).items():
                if (
                    inspect.isclass(obj)
                    and issubclass(obj, torch.nn.Module)
                    and obj.__module__ == module_name
                ):
                    out.setdefault(module_name, []).append(name)
    return {m: tuple(sorted(v)) for m, v in sorted(out.items())}


def render(layers: dict[str, tuple[str, ...]]) -> str:
    lines = [
        '"""PyTorch layer classes that full-model pickles name (``torch.save(model)``): generated.',
        "",
        "Every ``nn.Module`` subclass defined under ``torch.nn.modules`` and ``torch.ao.nn``, one",
        "exact name each (the allow-list has no module wildcards: a wildcard would also allow",
        "whatever those modules import, such as ``functools`` or ``torch`` itself). Regenerate",
        "with ``python -m tests.unit.analyzers.ml.test_torch_layers``.",
        '"""',
        "",
        "TORCH_LAYERS: dict[str, tuple[str, ...]] = {",
    ]
    for module, names in layers.items():
        lines.append(f"    {module!r}: (")
        lines.extend(f"        {n!r}," for n in names)
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines).replace("'", '"') + "\n"


def test_the_layer_list_is_what_torch_defines() -> None:
    assert defined_layers() == TORCH_LAYERS


if __name__ == "__main__":
    print(render(defined_layers()), end="")
