"""The analyzer registry: built-ins listed explicitly, third parties through entry points.

Third-party analyzers register under the entry-point group ``panorama_gate.analyzers``; they
are loaded lazily by ``load_analyzers``, never at import time.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points

from scanner.analyzers.interface import Analyzer
from scanner.errors import ConfigError

__all__ = ["BUILTIN", "REGISTRY", "load_analyzers", "register", "select"]

ENTRY_POINT_GROUP = "panorama_gate.analyzers"

# module:class of every built-in analyzer. Imported lazily so that a heavy optional dependency
# (torch, onnx, docker) costs nothing unless that analyzer runs.
BUILTIN: tuple[str, ...] = (
    "scanner.analyzers.manifest:ManifestAnalyzer",
    "scanner.analyzers.packages:PackagesAnalyzer",
    "scanner.analyzers.licenses:LicensesAnalyzer",
    "scanner.analyzers.vulns:VulnsAnalyzer",
    "scanner.analyzers.ml.pickle_family:PickleAnalyzer",
    "scanner.analyzers.ml.onnx_model:OnnxAnalyzer",
    "scanner.analyzers.ml.tensorflow_model:TensorFlowAnalyzer",
    "scanner.analyzers.ml.keras_model:KerasAnalyzer",
    "scanner.analyzers.ml.mxnet_model:MxnetAnalyzer",
    "scanner.analyzers.ml.safetensors_model:SafetensorsAnalyzer",
    "scanner.analyzers.ml.descriptor:ModelDescriptorAnalyzer",
    "scanner.analyzers.ml.model_format:ModelFormatAnalyzer",
    "scanner.analyzers.resources:SandboxAnalyzer",
    "scanner.analyzers.code_bandit:CodeAnalyzer",
    "scanner.analyzers.secrets:SecretsAnalyzer",
    "scanner.analyzers.privacy:PrivacyAnalyzer",
    "scanner.analyzers.container_config:ImageConfigCheck",
    "scanner.analyzers.container_config:ContainerFilesCheck",
    "scanner.analyzers.container_dockerfile:DockerfileAnalyzer",
)

# The modules of the built-in analyzers that a worker process hosts (``worker_host.worker_modules``
# of BUILTIN, kept equal by a test): what the CLI's fork server, started before anything is
# imported, imports while the scan starts (``scanner.cli``).
BUILTIN_HOSTED_MODULES: tuple[str, ...] = (
    "scanner.analyzers.ml.keras_model",
    "scanner.analyzers.ml.mxnet_model",
    "scanner.analyzers.ml.onnx_model",
    "scanner.analyzers.ml.safetensors_model",
    "scanner.analyzers.ml.tensorflow_model",
    "scanner.analyzers.secrets",
)

REGISTRY: dict[str, type[Analyzer]] = {}


def register(cls: type[Analyzer]) -> type[Analyzer]:
    """Add an analyzer class; a duplicate name is an error, never a silent replacement."""
    existing = REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"analyzer {cls.name!r} registered twice ({existing!r} and {cls!r})")
    REGISTRY[cls.name] = cls
    return cls


def _load_builtins() -> None:
    for spec in BUILTIN:
        module, _, attr = spec.partition(":")
        register(getattr(importlib.import_module(module), attr))


def _load_entry_points() -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plug-in must be a clear error, not a skipped check
            raise ConfigError(f"analyzer plug-in {ep.name!r} failed to load: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, Analyzer)):
            raise ConfigError(f"analyzer plug-in {ep.name!r} is not an Analyzer subclass")
        register(cls)


def load_analyzers() -> dict[str, type[Analyzer]]:
    """All known analyzers, built-in and plug-in, by name."""
    if not REGISTRY:
        _load_builtins()
        _load_entry_points()
    return dict(REGISTRY)


def select(available: dict[str, type[Analyzer]], selection: Iterable[str]) -> list[type[Analyzer]]:
    """Apply a selection such as ``("tag:model", "-secrets")``; empty means every analyzer.

    Items are analyzer names or ``tag:NAME``; a leading ``-`` removes. When the first item is
    a removal, the selection starts from every analyzer.
    """
    items = [s.strip() for s in selection if s.strip()]
    chosen: dict[str, type[Analyzer]] = {}
    if not items or items[0].startswith("-"):
        chosen = dict(available)
    for item in items:
        remove = item.startswith("-")
        key = item[1:] if remove else item
        if key.startswith("tag:"):
            tag = key[4:]
            matched = {n: c for n, c in available.items() if tag in c.tags}
        elif key in available:
            matched = {key: available[key]}
        else:
            known = ", ".join(sorted(available))
            raise ConfigError(f"unknown analyzer {key!r} (known: {known})")
        if not matched:
            raise ConfigError(f"no analyzer has tag {key[4:]!r}")
        for n, c in matched.items():
            if remove:
                chosen.pop(n, None)
            else:
                chosen[n] = c
    return [chosen[n] for n in sorted(chosen)]
