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
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from scanner.analyzers.models._torch_layers import TORCH_LAYERS
from scanner.errors import ConfigError

__all__ = ["GlobalPolicy", "GlobalVerdict", "PolicyPatternError"]


class GlobalVerdict(Enum):
    """How a global is judged."""

    ALLOWED = "allowed"
    UNKNOWN = "unknown"  # outside the allow-list: high
    CRITICAL = "critical"  # code execution, file/network access, nested loading
    MODULE = "module"  # a module object: every attribute of it is reachable (critical)


# Globals that PyTorch, NumPy, joblib and the standard library need to rebuild weights and
# plain containers. Exact ``module.name`` entries.
_ALLOWED_EXACT: frozenset[str] = frozenset(
    {
        # containers and scalars
        "collections.OrderedDict",
        "collections.defaultdict",
        "collections.Counter",
        "collections.deque",
        "builtins.set",
        "builtins.frozenset",
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.int",
        "builtins.float",
        "builtins.complex",
        "builtins.bool",
        "builtins.str",
        "builtins.bytes",
        "builtins.bytearray",
        "builtins.slice",
        "builtins.range",
        "builtins.object",
        "builtins.NoneType",
        "__builtin__.set",
        "__builtin__.frozenset",
        "__builtin__.object",
        "__builtin__.long",
        "__builtin__.unicode",
        "__builtin__.xrange",
        "builtins.xrange",
        "copyreg._reconstructor",
        "copy_reg._reconstructor",
        "_codecs.encode",  # protocol 2 writes bytes as _codecs.encode(str, "latin1")
        "datetime.datetime",
        "datetime.date",
        "datetime.time",
        "datetime.timedelta",
        "datetime.timezone",
        "decimal.Decimal",
        "fractions.Fraction",
        "uuid.UUID",
        "pathlib.PosixPath",
        "argparse.Namespace",
        "pathlib.PurePosixPath",
        # PyTorch tensor and storage rebuilding
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch._utils._rebuild_sparse_tensor",
        "torch._utils._rebuild_sparse_csr_tensor",
        "torch._utils._rebuild_nested_tensor",
        "torch._utils._rebuild_device_tensor_from_numpy",
        "torch._utils._rebuild_qtensor",
        "torch._utils._rebuild_meta_tensor_no_storage",
        "torch._utils._rebuild_wrapper_subclass",
        "torch._utils._rebuild_xla_tensor",
        "torch._tensor._rebuild_from_type",
        "torch._tensor._rebuild_from_type_v2",
        "torch.serialization._get_layout",
        "torch.nn.parameter.Parameter",
        "torch.nn.parameter.Buffer",
        "torch.Tensor",
        "torch.Size",
        "torch.device",
        "torch.dtype",
        "torch.layout",
        "torch.memory_format",
        "torch.strided",
        "torch.sparse_coo",
        "torch.sparse_csr",
        "torch.contiguous_format",
        "torch.channels_last",
        "torch.preserve_format",
        "torch.per_tensor_affine",
        "torch.per_channel_affine",
        "torch.storage.UntypedStorage",
        "torch.storage.TypedStorage",
        "torch.jit._pickle.build_intlist",
        "torch.jit._pickle.build_tensorlist",
        "torch.jit._pickle.build_doublelist",
        "torch.jit._pickle.build_boollist",
        "torch.jit._pickle.restore_type_tag",
        "torch.ao.quantization.qconfig.QConfig",
        # NumPy arrays and scalars
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.core.numeric._frombuffer",
        "numpy.core._internal._reconstruct",
        "numpy._core.numeric._frombuffer",
        "numpy.core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__generator_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random.mtrand.RandomState",
        "numpy.random.bit_generator.SeedSequence",
        # joblib containers for arrays written inline
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "joblib.numpy_pickle_compat.NDArrayWrapper",
        "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    }
)

# PyTorch layers (full-model pickles): one exact name per class, generated from torch.
_ALLOWED_EXACT |= frozenset(f"{m}.{n}" for m, names in TORCH_LAYERS.items() for n in names)
# Functions layers keep as attributes (``activation=F.relu``): pure tensor math.
_ALLOWED_EXACT |= frozenset(
    f"torch.nn.functional.{n}"
    for n in ("relu", "relu6", "gelu", "silu", "elu", "selu", "celu", "leaky_relu", "sigmoid",
              "tanh", "softmax", "log_softmax", "hardswish", "hardsigmoid", "mish", "softplus",
              "glu", "logsigmoid")
)  # fmt: skip

# Dotted paths that are modules, as far as the allow-list shows (``torch.nn.modules.conv``).
_KNOWN_MODULES: frozenset[str] = frozenset(
    ".".join(parts[:i])
    for dotted in _ALLOWED_EXACT
    for parts in [dotted.split(".")]
    for i in range(1, len(parts))
)
# Top-level module names: the standard library's and the ML stack's.
_MODULE_NAMES: frozenset[str] = frozenset(sys.stdlib_module_names) | frozenset(
    {"torch", "numpy", "np", "joblib", "sklearn", "scipy", "pandas", "pd", "keras", "tensorflow",
     "tf", "onnx", "onnxruntime", "mxnet", "mx", "cv2", "PIL", "yaml", "requests", "boto3",
     "botocore", "dill", "cloudpickle", "torchvision", "transformers", "nn", "F", "functional"}
)  # fmt: skip

# torch dtypes appear as GLOBAL torch <dtype>.
_TORCH_DTYPES = frozenset(
    {
        "float32",
        "float",
        "float64",
        "double",
        "float16",
        "half",
        "bfloat16",
        "complex32",
        "complex64",
        "complex128",
        "cfloat",
        "cdouble",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "int8",
        "int16",
        "short",
        "int32",
        "int",
        "int64",
        "long",
        "bool",
        "qint8",
        "quint8",
        "qint32",
        "quint4x2",
        "quint2x4",
        "float8_e4m3fn",
        "float8_e5m2",
        "float8_e4m3fnuz",
        "float8_e5m2fnuz",
    }
)
_TORCH_STORAGES = frozenset(
    f"{p}Storage"
    for p in (
        "Float",
        "Double",
        "Half",
        "BFloat16",
        "Long",
        "Int",
        "Short",
        "Char",
        "Byte",
        "Bool",
        "ComplexFloat",
        "ComplexDouble",
        "QUInt8",
        "QInt8",
        "QInt32",
        "QUInt4x2",
        "QUInt2x4",
        "Untyped",
    )
)

# Modules where *every* name runs code, touches the system or loads more pickles. Aliases
# (posix/nt for os, _posixsubprocess, __builtin__, _pickle/cPickle) are listed on purpose.
_CRITICAL_MODULES: frozenset[str] = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "_posixsubprocess",
        "pty",
        "commands",
        "popen2",
        "runpy",
        "pip",
        "ensurepip",
        "webbrowser",
        "socket",
        "_socket",
        "ssl",
        "ctypes",
        "_ctypes",
        "sys",
        "shutil",
        "importlib",
        "imp",
        "zipimport",
        "pkgutil",
        "code",
        "codeop",
        "cProfile",
        "profile",
        "pdb",
        "bdb",
        "timeit",
        "trace",
        "marshal",
        "pickle",
        "_pickle",
        "cPickle",
        "pickletools",
        "dill",
        "cloudpickle",
        "shelve",
        "multiprocessing",
        "_multiprocessing",
        "asyncio",
        "signal",
        "urllib",
        "urllib2",
        "urllib3",
        "http",
        "httplib",
        "requests",
        "ftplib",
        "smtplib",
        "telnetlib",
        "xmlrpc",
        "paramiko",
        "pydoc",
        "distutils",
        "setuptools",
        "venv",
        "idlelib",
        "lib2to3",
        "sqlite3",
        "_sqlite3",
        "tempfile",
        "glob",
        "io",
        "_io",
        "fcntl",
        "resource",
        "mmap",
        "gc",
        "inspect",
        "types",
        "linecache",
        "threading",
        "_thread",
        "concurrent",
        "platform",
        "sysconfig",
        "site",
        "nturl2path",
        "zipfile",
        "tarfile",
        "logging",
        "torch.hub",
        "torch._inductor",
        "torch.utils.cpp_extension",
        "torch.package",
        "torch.distributed",
        "torch._dynamo",
        "torch.cuda",
        "torch.ops",
        "torch._C",
        "torch.backends",
        "torch.testing",
        "numpy.f2py",
        "numpy.distutils",
        "numpy.ctypeslib",
        "numpy.testing",
        "keras",
        "tensorflow",
        "tf",
        "jinja2",
        "yaml",
        "ruamel",
    }
)

# Single names that run code even though their module is otherwise harmless.
_CRITICAL_EXACT: frozenset[str] = frozenset(
    {
        "builtins.eval",
        "builtins.exec",
        "builtins.execfile",
        "builtins.compile",
        "builtins.open",
        "builtins.__import__",
        "builtins.getattr",
        "builtins.setattr",
        "builtins.delattr",
        "builtins.globals",
        "builtins.locals",
        "builtins.vars",
        "builtins.input",
        "builtins.breakpoint",
        "builtins.help",
        "builtins.apply",
        "builtins.reload",
        "builtins.file",
        "builtins.memoryview",
        "builtins.exit",
        "builtins.quit",
        "builtins.type",
        "operator.attrgetter",
        "operator.methodcaller",
        "operator.itemgetter",
        "operator.getitem",
        "operator.setitem",
        "operator.call",
        "_operator.attrgetter",
        "_operator.methodcaller",
        "_operator.itemgetter",
        "_operator.getitem",
        "_operator.call",
        "functools.partial",
        "functools.reduce",
        "_functools.partial",
        "_functools.reduce",
        "codecs.open",
        "_codecs.open",
        "copyreg.__newobj__ex_",
        "torch.load",
        "torch.serialization.load",
        "torch.jit.load",
        "torch.jit._load",
        "torch.storage._load_from_bytes",
        "torch.load_library",
        "torch.compile",
        "torch.jit.script",
        "torch.jit.trace",
        "torch.save",
        "torch.serialization.save",
        "numpy.load",
        "numpy.lib.npyio.load",
        "numpy.save",
        "numpy.lib.npyio.save",
        "numpy.fromfile",
        "numpy.memmap",
        "numpy.loadtxt",
        "numpy.genfromtxt",
        "numpy.tofile",
        "joblib.load",
        "joblib.dump",
        "joblib.numpy_pickle.load",
        "sklearn.externals.joblib.load",
        "pandas.read_pickle",
        "pandas.io.pickle.read_pickle",
        "collections.namedtuple",
        "string.Formatter",
        "string.Template",
        "ast.literal_eval",
    }
)


_SAFE_DUNDERS = frozenset({"__init__", "__new__", "__setstate__", "__reduce_ex__"})

# Callable names that run code, spawn processes, load data or touch files wherever they live:
# the same function re-exported by another module (``torch.nn.modules.conv.partial`` is
# ``functools.partial``) is still that function.
_CRITICAL_NAMES: frozenset[str] = frozenset(
    {"eval", "exec", "execfile", "compile", "system", "popen", "Popen", "spawn", "spawnv",
     "spawnve", "spawnl", "spawnlp", "execv", "execve", "execvp", "execl", "fork", "forkpty",
     "check_output", "check_call", "getoutput", "getstatusoutput", "run_path", "run_module",
     "__import__", "import_module", "getattr", "setattr", "delattr", "methodcaller",
     "attrgetter", "itemgetter", "partial", "partialmethod", "load", "loads", "load_library",
     "runcode", "runsource", "runctx", "runcall", "run_code", "urlopen", "urlretrieve",
     "create_connection", "rmtree", "remove", "unlink", "removedirs", "rename", "chmod",
     "chown", "symlink", "write_text", "write_bytes", "CDLL", "PyDLL", "LoadLibrary",
     "dlopen", "pipepager", "tempfilepager", "locate", "breakpoint", "set_trace", "input",
     "interact", "call_tracing", "settrace", "setprofile", "call", "run"}
)  # fmt: skip


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
        if dotted in _ALLOWED_EXACT:
            return GlobalVerdict.ALLOWED
        if module == "torch" and (name in _TORCH_DTYPES or name in _TORCH_STORAGES):
            return GlobalVerdict.ALLOWED
        if self.is_module_object(module, name):
            return GlobalVerdict.MODULE
        if self.allow_torchscript and (module == "__torch__" or module.startswith("__torch__.")):
            # TorchScript's own namespace: classes compiled from the archive's code/, resolved by
            # the TorchScript type system, never imported as Python.
            return GlobalVerdict.ALLOWED
        if name.rsplit(".", 1)[-1] in _CRITICAL_NAMES:
            return GlobalVerdict.CRITICAL  # before the policy's additions: never allowed
        if dotted in self.allow_patterns:
            return GlobalVerdict.ALLOWED
        return GlobalVerdict.UNKNOWN

    @staticmethod
    def is_module_object(module: str, name: str) -> bool:
        """Whether ``module.name`` names a module rather than a class or function."""
        dotted = f"{module}.{name}"
        if dotted in _KNOWN_MODULES:
            return True
        first = name.split(".", 1)[0]
        return first in _MODULE_NAMES and first != module.rsplit(".", 1)[-1]

    def is_critical(self, module: str, name: str) -> bool:
        """Whether a global is known to run code, touch files or network, or load more data."""
        module = _normalise_module(module.strip())
        name = name.strip()
        dotted = f"{module}.{name}"
        # A qualified name reaches attributes: "Popen.__init__", "system" via "os.path.os".
        first = name.split(".", 1)[0]
        if dotted in _CRITICAL_EXACT or f"{module}.{first}" in _CRITICAL_EXACT:
            return True
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            if ".".join(parts[:i]) in _CRITICAL_MODULES:
                return True
        # Attribute chains through a harmless module into a dangerous one (``numpy.os.system``).
        for i in range(len(name.split("."))):
            chain = ".".join(name.split(".")[: i + 1])
            if (
                chain in _CRITICAL_MODULES
                or f"{module}.{chain}" in _CRITICAL_MODULES
                or f"builtins.{chain}" in _CRITICAL_EXACT
            ):
                return True
        # An attribute chain that passes through a dangerous module (``torch.nn.modules.conv.os``).
        if any(part in _CRITICAL_MODULES for part in name.split(".")[:-1]):
            return True
        # Dunder attributes (``__globals__``, ``__builtins__``, ``__subclasses__``) are the
        # classic sandbox-escape path; only constructors are harmless.
        for part in name.split("."):
            if part.startswith("__") and part.endswith("__") and part not in _SAFE_DUNDERS:
                return True
        return any(fnmatch.fnmatchcase(dotted, p) for p in self.deny_patterns)
