"""Which pickle globals a legitimate checkpoint needs, and which ones run code.

The decision is an **exact allow-list**: fully qualified callables only, no module wildcards
(a wildcard over ``torch.nn.modules`` also allows every name those modules import:
``functools``, ``torch`` itself, re-exported helpers). A global not listed here (or added by the
policy's ``models.allow_globals``, also exact) is high; a global that is known to execute code,
open files, reach the network or load a further pickle is critical whatever the policy says, and
so is a *module object* (``torch``, ``operator``, ``torch.nn.modules.conv``): a pickle that holds
a module can read or rewrite any of its attributes. Block-lists alone keep being bypassed
(``numpy.testing._private.utils.runstring``, ``pydoc.pipepager``, ``operator.methodcaller``...),
so they only decide *how* bad an unknown global is.

Example::

    policy = GlobalPolicy.from_options({"allow_globals": ["mycompany.models.Detector"]})
    policy.classify("os", "system")          # Verdict.CRITICAL
    policy.classify("collections", "OrderedDict")  # Verdict.ALLOWED
    policy.classify("torch.nn.modules.conv", "functools")  # Verdict.MODULE
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from scanner.analyzers.ml._global_lists import (
    ALLOWED_EXACT,
    CRITICAL_EXACT,
    CRITICAL_MODULES,
    CRITICAL_NAMES,
    KNOWN_MODULES,
    MODULE_NAMES,
    SAFE_DUNDERS,
    TORCH_DTYPES,
    TORCH_STORAGES,
)
from scanner.errors import ConfigError

__all__ = ["GlobalPolicy", "GlobalVerdict", "PolicyPatternError"]


class GlobalVerdict(Enum):
    """How a global is judged."""

    ALLOWED = "allowed"
    UNKNOWN = "unknown"  # outside the allow-list: high
    CRITICAL = "critical"  # code execution, file/network access, nested loading
    MODULE = "module"  # a module object: every attribute of it is reachable (critical)


class PolicyPatternError(ConfigError, ValueError):
    """An ``allow_globals``/``deny_globals`` value the allow-list cannot take (exit 2)."""


def allow_entry_problem(entry: str) -> str:
    """Why an ``allow_globals`` entry is not acceptable (``""`` when it is)."""
    if any(c in entry for c in "*?[]"):
        return (
            "is a wildcard; the allow-list takes exact names only (a wildcard also allows "
            "whatever the module imports): list each class, e.g. 'sklearn.svm._classes.SVC'"
        )
    if "." not in entry:
        return "is not a fully qualified 'module.name'"
    return ""


def _normalise_module(module: str) -> str:
    # Python 2 names resolve to their Python 3 counterparts through pickle's compat map.
    return {"__builtin__": "builtins", "copy_reg": "copyreg", "exceptions": "builtins"}.get(
        module, module
    )


@dataclass(frozen=True, slots=True)
class GlobalPolicy:
    """The allow-list in force: built-ins plus the policy's ``allow_globals``/``deny_globals``.

    ``allow_globals`` entries are exact ``module.qualname`` names (no wildcards: see the
    module docstring); ``deny_globals`` entries may be fnmatch patterns (``mymodule.*``).
    """

    allow_patterns: tuple[str, ...] = ()
    deny_patterns: tuple[str, ...] = ()
    allow_torchscript: bool = False  # ``__torch__.*`` classes resolve to TorchScript types only

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> GlobalPolicy:
        """Read ``allow_globals``/``deny_globals`` from the policy's ``models`` section."""

        def strings(key: str) -> tuple[str, ...]:
            value = options.get(key) or ()
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise PolicyPatternError(f"models.{key} must be a list of 'module.name' names")
            return tuple(str(v).strip() for v in value)

        allow = strings("allow_globals")
        for entry in allow:
            problem = allow_entry_problem(entry)
            if problem:
                raise PolicyPatternError(f"models.allow_globals: {entry!r} {problem}")
        return cls(allow, strings("deny_globals"))

    def with_torchscript(self) -> GlobalPolicy:
        """The same policy inside a TorchScript archive."""
        return GlobalPolicy(self.allow_patterns, self.deny_patterns, True)

    def classify(self, module: str, name: str) -> GlobalVerdict:
        """Judge one global by its module and qualified name.

        In order: critical names, the built-in exact allow-list, module objects, names of
        dangerous callables re-exported elsewhere (critical), then the policy's exact additions;
        anything else is unknown. Nothing the tool rates critical can be allowed by a policy.
        """
        module = _normalise_module(module.strip())
        name = name.strip()
        dotted = f"{module}.{name}"
        if self.is_critical(module, name):
            return GlobalVerdict.CRITICAL
        if dotted in ALLOWED_EXACT:
            return GlobalVerdict.ALLOWED
        if module == "torch" and (name in TORCH_DTYPES or name in TORCH_STORAGES):
            return GlobalVerdict.ALLOWED
        if self.is_module_object(module, name):
            return GlobalVerdict.MODULE
        if self.allow_torchscript and (module == "__torch__" or module.startswith("__torch__.")):
            # TorchScript's own namespace: classes compiled from the archive's code/, resolved by
            # the TorchScript type system, never imported as Python.
            return GlobalVerdict.ALLOWED
        if name.rsplit(".", 1)[-1] in CRITICAL_NAMES:
            return GlobalVerdict.CRITICAL  # before the policy's additions: never allowed
        if dotted in self.allow_patterns:
            return GlobalVerdict.ALLOWED
        return GlobalVerdict.UNKNOWN

    @staticmethod
    def is_module_object(module: str, name: str) -> bool:
        """Whether ``module.name`` names a module rather than a class or function."""
        dotted = f"{module}.{name}"
        if dotted in KNOWN_MODULES:
            return True
        first = name.split(".", 1)[0]
        return first in MODULE_NAMES and first != module.rsplit(".", 1)[-1]

    def is_critical(self, module: str, name: str) -> bool:
        """Whether a global is known to run code, touch files or network, or load more data."""
        module = _normalise_module(module.strip())
        name = name.strip()
        dotted = f"{module}.{name}"
        # A qualified name reaches attributes: "Popen.__init__", "system" via "os.path.os".
        first = name.split(".", 1)[0]
        if dotted in CRITICAL_EXACT or f"{module}.{first}" in CRITICAL_EXACT:
            return True
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            if ".".join(parts[:i]) in CRITICAL_MODULES:
                return True
        # Attribute chains through a harmless module into a dangerous one (``numpy.os.system``).
        for i in range(len(name.split("."))):
            chain = ".".join(name.split(".")[: i + 1])
            if (
                chain in CRITICAL_MODULES
                or f"{module}.{chain}" in CRITICAL_MODULES
                or f"builtins.{chain}" in CRITICAL_EXACT
            ):
                return True
        # An attribute chain that passes through a dangerous module (``torch.nn.modules.conv.os``).
        if any(part in CRITICAL_MODULES for part in name.split(".")[:-1]):
            return True
        # Dunder attributes (``__globals__``, ``__builtins__``, ``__subclasses__``) are the
        # classic sandbox-escape path; only constructors are harmless.
        for part in name.split("."):
            if part.startswith("__") and part.endswith("__") and part not in SAFE_DUNDERS:
                return True
        return any(fnmatch.fnmatchcase(dotted, p) for p in self.deny_patterns)
