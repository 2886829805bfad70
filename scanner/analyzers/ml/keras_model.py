"""``keras``: Keras ``.h5``/``.keras`` and ``keras_metadata.pb``: Lambda code, custom objects.

The model config (HDF5 attribute ``model_config``, ``config.json`` inside ``.keras``, or the
JSON strings in a SavedModel's ``keras_metadata.pb``) is parsed as JSON; nothing is imported.

Rules (``keras.<rule>``):

- ``lambda-code`` (critical): a Lambda layer carrying marshalled Python bytecode.
- ``code-execution`` (critical): a serialized object or function resolved from a module
  that runs code (``os``, ``subprocess``, ``builtins.eval``...).
- ``custom-object`` (high): a class or function imported from a module outside Keras.
- ``lambda-function`` (high): a Lambda layer naming a Python function to import.
- ``malformed`` (high): the file does not parse.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any, ClassVar

from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import AnalyzerContext, FileAnalyzer, Output
from scanner.analyzers.ml._common import (
    MODEL_MAX_SIZE,
    model_finding,
    model_options,
    sniffed_of,
)
from scanner.analyzers.ml._globals import GlobalPolicy
from scanner.analyzers.ml._protowire import WireError, iter_fields
from scanner.models import AnalyzerFailure, Location, Severity, Skipped
from scanner.sources.sniff import ContentKind

__all__ = ["KerasAnalyzer", "iter_keras_configs"]

_MAX_CONFIG = 64 * 1024**2
_KERAS_MODULES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras")


def _is_keras_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in _KERAS_MODULES)


def iter_keras_configs(entry: FileEntry) -> Iterator[tuple[str, Any]]:
    """``(where, parsed JSON)`` for each model config the file holds (by content; the name
    only says what ``keras_metadata.pb``, a protobuf of no signature, is)."""
    lower = entry.path.lower()
    kind = sniffed_of(entry).kind
    if kind in (ContentKind.KERAS_ZIP, ContentKind.ZIP, ContentKind.TORCH_ZIP) or (
        kind is not ContentKind.HDF5 and lower.endswith(".keras")
    ):
        f = entry.open()
        try:
            with zipfile.ZipFile(f) as zf:
                for name in ("config.json", "metadata.json"):
                    if name in zf.namelist():
                        info = zf.getinfo(name)
                        if info.file_size > _MAX_CONFIG:
                            raise ValueError(f"{name} is larger than {_MAX_CONFIG} bytes")
                        yield name, json.loads(zf.read(name))
        finally:
            f.close()
    elif lower.endswith("keras_metadata.pb"):
        data = entry.read(_MAX_CONFIG + 1)
        if len(data) > _MAX_CONFIG:
            raise ValueError("keras_metadata.pb larger than the config limit")
        for number, wt, node in iter_fields(data):
            if number != 1 or not isinstance(node, bytes) or wt != 2:
                continue
            for sub_no, sub_wt, value in iter_fields(node):
                if sub_no == 5 and sub_wt == 2 and isinstance(value, bytes):
                    yield "keras_metadata.pb", json.loads(value.decode("utf-8"))
    else:
        import h5py  # heavy import: only for HDF5 files

        f = entry.open()
        try:
            with h5py.File(f, "r") as h5:
                for key in ("model_config", "training_config"):
                    raw = h5.attrs.get(key)
                    if raw is None:
                        continue
                    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                    yield f"attrs/{key}", json.loads(text)
        finally:
            f.close()


class KerasAnalyzer(FileAnalyzer):
    """Finds Lambda bytecode and non-Keras objects in Keras model configs."""

    name: ClassVar[str] = "keras"
    parallel: ClassVar[bool] = True  # heavy: runs in a worker beside the walk
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"model"})
    patterns: ClassVar[tuple[str, ...]] = (
        "**/*.h5", "**/*.hdf5", "**/*.keras", "**/keras_metadata.pb",
    )  # fmt: skip
    content_kinds: ClassVar[frozenset[str]] = frozenset(
        {ContentKind.HDF5.value, ContentKind.KERAS_ZIP.value}
    )
    max_size: ClassVar[int] = MODEL_MAX_SIZE

    def __init__(self) -> None:
        super().__init__()
        self._policy = GlobalPolicy()

    def configure(self, ctx: AnalyzerContext) -> None:
        """The pickle allow-list options also govern Keras module references."""
        super().configure(ctx)
        self._policy = GlobalPolicy.from_options(model_options(ctx))

    def analyze(self, entry: FileEntry) -> Iterator[Output]:
        """Scan one Keras file."""
        loc = entry.location()
        try:
            configs = list(iter_keras_configs(entry))
        except (
            OSError,
            ValueError,
            KeyError,
            RuntimeError,
            OverflowError,
            TypeError,
            EOFError,
            IndexError,
            NotImplementedError,
            zlib.error,
            zipfile.BadZipFile,
            WireError,
        ) as exc:  # h5py and zipfile report corrupt files through all of these
            if entry.path.lower().endswith((".keras", ".h5", ".hdf5")) or (
                sniffed_of(entry).kind is ContentKind.KERAS_ZIP
            ):
                yield model_finding(
                    self.name,
                    "malformed",
                    Severity.HIGH,
                    f"{entry.path} cannot be read as a Keras model ({exc}).",
                    loc,
                    "malformed",
                )
            elif entry.path.lower().endswith("keras_metadata.pb"):
                yield AnalyzerFailure(self.name, f"cannot read {entry.path}: {exc}", loc)
            else:
                # HDF5 data under another name (a dataset, not a Keras model): recorded, and
                # the unrecognised-model rule speaks for model-named files
                yield Skipped(self.name, f"HDF5 content not readable: {exc}", loc)
            return
        seen: set[str] = set()
        for where, config in configs:
            for finding in self._walk(config, entry, loc, where, "", 0):
                if finding.fingerprint not in seen:
                    seen.add(finding.fingerprint)
                    yield finding

    def _walk(
        self, node: Any, entry: FileEntry, loc: Location, where: str, path: str, depth: int
    ) -> Iterator[Any]:
        if depth > 200:
            raise RecursionError("Keras config nested too deeply")
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from self._walk(item, entry, loc, where, f"{path}[{i}]", depth + 1)
            return
        if not isinstance(node, dict):
            return
        cls = node.get("class_name")
        config = node.get("config")
        layer = (config.get("name") if isinstance(config, dict) else None) or path or "model"
        if cls == "Lambda" and isinstance(config, dict):
            yield from self._lambda(config, entry, loc, where, str(layer))
        if cls == "__lambda__":
            yield self._lambda_code(entry, loc, where, str(layer))
        module = node.get("module")
        if isinstance(module, str) and isinstance(cls, str) and not _is_keras_module(module):
            name = config if cls == "function" and isinstance(config, str) else cls
            yield from self._module_ref(module, str(name), entry, loc, where, str(layer))
        registered = node.get("registered_name")
        if isinstance(registered, str) and ">" in registered and not isinstance(module, str):
            yield self._custom(registered, entry, loc, where, str(layer))
        for key, value in node.items():
            if isinstance(value, dict | list):
                yield from self._walk(value, entry, loc, where, f"{path}/{key}", depth + 1)

    def _lambda(
        self, config: dict[str, Any], entry: FileEntry, loc: Location, where: str, layer: str
    ) -> Iterator[Any]:
        fn = config.get("function")
        ftype = config.get("function_type")
        if isinstance(fn, list | str) and ftype in ("lambda", None) and fn:
            # Legacy Keras: [base64 marshal bytes, defaults, closure] or the bare string.
            yield self._lambda_code(entry, loc, where, layer)
        elif isinstance(fn, dict) and fn.get("class_name") == "__lambda__":
            yield self._lambda_code(entry, loc, where, layer)
        elif fn is not None:
            module = config.get("module") or (fn.get("module") if isinstance(fn, dict) else "")
            fname = (
                fn if isinstance(fn, str) else (fn.get("config") if isinstance(fn, dict) else "")
            )
            critical = isinstance(module, str) and self._policy.is_critical(module, str(fname))
            yield model_finding(
                self.name,
                "code-execution" if critical else "lambda-function",
                Severity.CRITICAL if critical else Severity.HIGH,
                f"Lambda layer {layer!r} in {entry.path} ({where}) calls Python function "
                f"{module}.{fname}, imported when the model loads.",
                loc,
                f"{where}:{layer}:{module}.{fname}",
                cwe=94,
                properties={"layer": layer, "function": f"{module}.{fname}", "config": where},
            )

    def _lambda_code(self, entry: FileEntry, loc: Location, where: str, layer: str) -> Any:
        return model_finding(
            self.name,
            "lambda-code",
            Severity.CRITICAL,
            f"Lambda layer {layer!r} in {entry.path} ({where}) carries marshalled Python "
            "bytecode that runs when the model is loaded or called.",
            loc,
            f"{where}:{layer}:lambda",
            cwe=94,
            properties={"layer": layer, "config": where},
        )

    def _module_ref(
        self, module: str, name: str, entry: FileEntry, loc: Location, where: str, layer: str
    ) -> Iterator[Any]:
        critical = self._policy.is_critical(module, name)
        yield model_finding(
            self.name,
            "code-execution" if critical else "custom-object",
            Severity.CRITICAL if critical else Severity.HIGH,
            f"{entry.path} ({where}, {layer!r}) deserializes {module}.{name}, imported from "
            "outside Keras when the model loads.",
            loc,
            f"{where}:{module}.{name}",
            cwe=502,
            properties={"layer": layer, "object": f"{module}.{name}", "config": where},
        )

    def _custom(
        self, registered: str, entry: FileEntry, loc: Location, where: str, layer: str
    ) -> Any:
        return model_finding(
            self.name,
            "custom-object",
            Severity.HIGH,
            f"{entry.path} ({where}, {layer!r}) needs custom object {registered!r}, whose code "
            "must be supplied when loading.",
            loc,
            f"{where}:{registered}",
            cwe=502,
            properties={"layer": layer, "object": registered, "config": where},
        )
