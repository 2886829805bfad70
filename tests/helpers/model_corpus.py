"""The malicious-model corpus, built in code (nothing hostile is committed).

Each ``Case`` is one technique: a file name, its bytes, and what panorama-gate must report
(rule id and the offending global/op/member). ``build_corpus()`` returns them all; the unit
tests assert each one, and the comparison test runs picklescan, modelscan and fickling over the
same files.

Pickles are assembled opcode by opcode (``P``), so techniques that ``pickle.dumps`` would never
produce (computed ``STACK_GLOBAL`` names, memo shuffles, ``INST``/``OBJ``, extension codes,
joblib inline arrays) are exact.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

from tests.helpers.archives import files_tar, zip_bytes

__all__ = ["Case", "P", "build_corpus", "pickle_family_cases"]


class P:
    """A tiny pickle assembler."""

    def __init__(self, proto: int = 2) -> None:
        self.b = bytearray()
        if proto >= 2:
            self.b += bytes([0x80, proto])

    def raw(self, data: bytes) -> P:
        self.b += data
        return self

    def glob(self, module: str, name: str) -> P:
        return self.raw(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def ustr(self, s: str) -> P:
        data = s.encode()
        return self.raw(b"\x8c" + bytes([len(data)]) + data)

    def binunicode(self, s: str) -> P:
        data = s.encode()
        return self.raw(b"X" + struct.pack("<I", len(data)) + data)

    def bytes_(self, data: bytes) -> P:
        return self.raw(b"B" + struct.pack("<I", len(data)) + data)

    def stack_global(self) -> P:
        return self.raw(b"\x93")

    def tuple1(self) -> P:
        return self.raw(b"\x85")

    def reduce(self) -> P:
        return self.raw(b"R")

    def mark(self) -> P:
        return self.raw(b"(")

    def put(self, i: int) -> P:
        return self.raw(b"q" + bytes([i]))

    def get(self, i: int) -> P:
        return self.raw(b"h" + bytes([i]))

    def memoize(self) -> P:
        return self.raw(b"\x94")

    def stop(self) -> bytes:
        return bytes(self.b + b".")


@dataclass(frozen=True)
class Case:
    """One corpus file and what must be found in it."""

    key: str
    filename: str
    data: bytes
    rule: str  # expected rule id ("failure" when an AnalyzerFailure is the right outcome)
    detail: str = ""  # global/op/member that the finding's properties or message must name
    technique: str = ""
    pickle_family: bool = True
    also: tuple[str, ...] = field(default=())  # further rule ids that must be present
    blocks: bool = True  # whether the default policy (reject at high) must refuse it


class _Evil:
    def __init__(self, func: object, args: tuple[object, ...]) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.func, self.args


def _dumps(func: object, args: tuple[object, ...], proto: int) -> bytes:
    return pickle.dumps(_Evil(func, args), protocol=proto)


def _os_system(proto: int) -> bytes:
    return P(proto).glob("os", "system").ustr("id").tuple1().reduce().stop()


def _bad_crc(zip_bytes: bytes) -> bytes:
    """Corrupt the CRC of data.pkl in both the local header and the central directory."""
    data = bytearray(zip_bytes)
    crc = struct.pack("<I", zipfile.ZipFile(io.BytesIO(zip_bytes)).getinfo("archive/data.pkl").CRC)
    bad = struct.pack("<I", zlib.crc32(b"x"))
    start = 0
    while (i := data.find(crc, start)) != -1:
        data[i : i + 4] = bad
        start = i + 4
    return bytes(data)


def _npy_object(payload: bytes) -> bytes:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def _torch_zip(data_pkl: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    members = {
        "archive/data.pkl": data_pkl,
        "archive/byteorder": b"little",
        "archive/data/0": struct.pack("<4f", 1, 2, 3, 4),
        "archive/version": b"3\n",
    }
    members.update(extra or {})
    return zip_bytes(members)


def _joblib_evil() -> bytes:
    """joblib layout: NumpyArrayWrapper, then raw array bytes inline, then the rest of the pickle.

    A walker that does not know joblib stops at the raw bytes and never sees the global after.
    """
    p = P(2)
    p.glob("joblib.numpy_pickle", "NumpyArrayWrapper").put(0)
    p.raw(b")\x81")  # EMPTY_TUPLE NEWOBJ
    p.raw(b"}")  # state dict
    p.mark()
    p.ustr("subclass").glob("numpy", "ndarray")
    p.ustr("shape").raw(b"K\x04").tuple1()
    p.ustr("order").ustr("C")
    p.ustr("dtype").glob("numpy", "dtype").ustr("f8").raw(b"\x89\x88").raw(b"\x87").reduce()
    p.raw(b"(K\x03\x8c\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")  # dtype BUILD state
    p.ustr("allow_mmap").raw(b"\x88")
    p.ustr("numpy_array_alignment_bytes").raw(b"K\x10")
    p.raw(b"u")  # SETITEMS
    p.raw(b"b")  # BUILD -> joblib reads the array here
    p.raw(b"\x07" + b"\x00" * 7)  # padding length byte + padding
    p.raw(struct.pack("<4d", 1.0, 2.0, 3.0, 4.0))  # the array bytes, inline
    p.raw(b"0")  # POP the wrapper
    p.glob("subprocess", "check_output").ustr("id").tuple1().reduce()
    return p.stop()


def _ext_opcode() -> bytes:
    return P(2).raw(b"\x82\x01").ustr("id").tuple1().reduce().stop()


def _legacy_stream() -> bytes:
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    version = pickle.dumps(1001, protocol=2)
    sys_info = pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2)
    evil = _os_system(2)
    keys = pickle.dumps([], protocol=2)
    return magic + version + sys_info + evil + keys + b"\x00" * 64


def pickle_family_cases() -> list[Case]:
    """Every pickle-family technique, one file each."""
    sys_ = "posix.system"  # what pickle.dumps(os.system) writes on Linux
    cases = [
        Case("proto0", "p0.pkl", _dumps(__import__("os").system, ("id",), 0),
             "pickle.code-execution", sys_, "protocol 0 GLOBAL"),
        Case("proto1", "p1.pkl", _dumps(__import__("os").system, ("id",), 1),
             "pickle.code-execution", sys_, "protocol 1"),
        Case("proto2", "p2.pkl", _dumps(__import__("os").system, ("id",), 2),
             "pickle.code-execution", sys_, "protocol 2"),
        Case("proto4", "p4.pkl", _dumps(__import__("os").system, ("id",), 4),
             "pickle.code-execution", sys_, "protocol 4 STACK_GLOBAL + FRAME"),
        Case("proto5", "p5.pkl", _dumps(__import__("os").system, ("id",), 5),
             "pickle.code-execution", sys_, "protocol 5"),
        Case("builtins-eval", "eval.pkl",
             P(2).glob("builtins", "eval").ustr("print(1)").tuple1().reduce().stop(),
             "pickle.code-execution", "builtins.eval", "builtins eval"),
        Case("py2-alias", "alias.pkl",
             P(2).glob("__builtin__", "exec").ustr("x=1").tuple1().reduce().stop(),
             "pickle.code-execution", "__builtin__.exec", "Python 2 alias __builtin__"),
        Case("nt-alias", "nt.pkl", P(2).glob("nt", "system").ustr("id").tuple1().reduce().stop(),
             "pickle.code-execution", "nt.system", "os alias nt"),
        Case("subprocess-inst", "inst.pkl",
             P(0).mark().raw(b"S'id'\n").raw(b"isubprocess\nPopen\n").stop(),
             "pickle.code-execution", "subprocess.Popen", "protocol 0 INST"),
        Case("obj-opcode", "obj.pkl",
             P(2).mark().glob("os", "system").ustr("id").raw(b"o").stop(),
             "pickle.code-execution", "os.system", "OBJ opcode"),
        Case("memo-stack-global", "memo.pkl",
             P(4).ustr("os").memoize().ustr("system").memoize().raw(b"0" * 2)
             .get(0).get(1).stack_global().ustr("id").tuple1().reduce().stop(),
             "pickle.code-execution", "os.system",
             "STACK_GLOBAL names fetched from the memo (picklescan bypass)"),
        Case("computed-stack-global", "computed.pkl",
             P(4).glob("builtins", "str").ustr("os").tuple1().reduce()
             .ustr("system").stack_global().ustr("id").tuple1().reduce().stop(),
             "pickle.computed-global", "", "STACK_GLOBAL module computed by a call"),
        Case("dup-memo-call", "dup.pkl",
             P(2).glob("posix", "system").put(7).raw(b"0").get(7).raw(b"2")
             .ustr("id").tuple1().reduce().stop(),
             "pickle.code-execution", "posix.system", "memo PUT/GET + DUP shuffle"),
        Case("getattr-gadget", "getattr.pkl",
             P(2).glob("builtins", "getattr").glob("collections", "OrderedDict").ustr("fromkeys")
             .raw(b"\x86").reduce().stop(),
             "pickle.code-execution", "builtins.getattr", "getattr gadget on an allowed class"),
        Case("runpy", "runpy.pkl",
             P(2).glob("runpy", "_run_code").ustr("x").tuple1().reduce().stop(),
             "pickle.code-execution", "runpy._run_code", "runpy"),
        Case("pip", "pip.pkl", P(2).glob("pip", "main").mark().ustr("install").raw(b"l").tuple1()
             .reduce().stop(), "pickle.code-execution", "pip.main", "pip install"),
        Case("webbrowser", "web.pkl",
             P(2).glob("webbrowser", "open").ustr("http://x").tuple1().reduce().stop(),
             "pickle.code-execution", "webbrowser.open", "webbrowser"),
        Case("socket", "socket.pkl",
             P(2).glob("socket", "create_connection").ustr("h").raw(b"M\x50\x00\x86")
             .tuple1().reduce().stop(),
             "pickle.code-execution", "socket.create_connection", "socket"),
        Case("ctypes", "ctypes.pkl", P(2).glob("ctypes", "CDLL").ustr("libc.so.6").tuple1()
             .reduce().stop(), "pickle.code-execution", "ctypes.CDLL", "ctypes"),
        Case("numpy-runstring", "runstring.pkl",
             P(2).glob("numpy.testing._private.utils", "runstring").ustr("import os")
             .raw(b"}").raw(b"\x86").reduce().stop(),
             "pickle.code-execution", "numpy.testing._private.utils.runstring",
             "numpy runstring (reported picklescan bypass)"),
        Case("pydoc-pipepager", "pydoc.pkl",
             P(2).glob("pydoc", "pipepager").ustr("x").ustr("id").raw(b"\x86").reduce().stop(),
             "pickle.code-execution", "pydoc.pipepager", "pydoc.pipepager shell (bypass)"),
        Case("asyncio-submodule", "asyncio.pkl",
             P(2).glob("asyncio.unix_events", "_UnixSubprocessTransport._start").ustr("x")
             .tuple1().reduce().stop(), "pickle.code-execution",
             "asyncio.unix_events._UnixSubprocessTransport._start",
             "dangerous submodule (CVE-2025-10157 style bypass)"),
        Case("methodcaller", "methodcaller.pkl",
             P(2).glob("operator", "methodcaller").ustr("system").ustr("id").raw(b"\x86")
             .reduce().stop(), "pickle.code-execution", "operator.methodcaller",
             "operator.methodcaller gadget"),
        Case("torch-load-nested", "nested_load.pkl",
             P(2).glob("torch.serialization", "load").bytes_(_os_system(2)).tuple1().reduce()
             .stop(), "pickle.code-execution", "torch.serialization.load",
             "nested torch.load", also=("pickle.nested-pickle",)),
        Case("pickle-loads-nested", "loads.pkl",
             P(2).glob("_pickle", "loads").bytes_(_os_system(2)).tuple1().reduce().stop(),
             "pickle.code-execution", "_pickle.loads", "nested pickle.loads",
             also=("pickle.nested-pickle",)),
        Case("nested-bytes-only", "nested_bytes.pkl",
             P(2).glob("collections", "OrderedDict").raw(b")").reduce()
             .bytes_(_os_system(2)).raw(b"0").stop(),
             "pickle.nested-pickle", "os.system",
             "pickle serialized inside a bytes constant", also=("pickle.code-execution",)),
        Case("unknown-global", "custom.pkl",
             P(2).glob("__main__", "Evil").raw(b")\x81").stop(),
             "pickle.unknown-global", "__main__.Evil", "class outside the allow-list"),
        Case("ext-opcode", "ext.pkl", _ext_opcode(), "pickle.extension-opcode", "",
             "EXT1 copyreg extension code"),
        Case("torch-zip", "model.pt", _torch_zip(_os_system(2)), "pickle.code-execution",
             "os.system", "PyTorch zip checkpoint data.pkl"),
        Case("torch-zip-bin", "pytorch_model.bin", _torch_zip(_os_system(2)),
             "pickle.code-execution", "os.system",
             "checkpoint with a .bin extension (CVE-2025-10155 style)"),
        Case("zip-misleading-member", "weights.pt",
             _torch_zip(pickle.dumps({"w": 1}, protocol=2),
                        {"archive/data/1": _os_system(2)}),
             "pickle.hidden-pickle", "archive/data/1",
             "pickle in a zip member with a misleading name", also=("pickle.code-execution",)),
        Case("zip-bad-crc", "crc.pt", _bad_crc(_torch_zip(_os_system(2))),
             "pickle.code-execution", "os.system",
             "zip member with a wrong CRC (CVE-2025-10156 style bypass)"),
        Case("polyglot", "poly.pt", zip_bytes({"archive/data.pkl": pickle.dumps({}, protocol=2)},
                                           prefix=_os_system(2)),
             "pickle.polyglot", "", "pickle prepended to a zip checkpoint",
             also=("pickle.code-execution",)),
        Case("torchscript-constants", "scripted.pt",
             zip_bytes({"m/data.pkl": P(2).glob("__torch__", "Net").raw(b")\x81").stop(),
                   "m/constants.pkl": _os_system(2),
                   "m/code/__torch__.py": b"def forward(self, x):\n    return x\n"}),
             "pickle.code-execution", "os.system", "TorchScript constants.pkl"),
        Case("torchscript-code", "scripted_code.pt",
             zip_bytes({"m/data.pkl": P(2).glob("__torch__", "Net").raw(b")\x81").stop(),
                   "m/constants.pkl": P(2).raw(b")").stop(),
                   "m/code/__torch__.py":
                   b"def forward(self):\n  return torch.from_file('/etc/shadow')\n"}),
             "pickle.torchscript-file-access", "from_file", "TorchScript code reads a file"),
        Case("legacy-tar", "legacy_tar.pth",
             files_tar({"sys_info": pickle.dumps({"little_endian": True}, protocol=2),
                   "pickle": _os_system(2),
                   "storages": pickle.dumps(0, protocol=2),
                   "tensors": pickle.dumps(0, protocol=2)}),
             "pickle.code-execution", "os.system", "PyTorch legacy tar format"),
        Case("legacy-stream", "legacy.pth", _legacy_stream(), "pickle.code-execution",
             "os.system", "PyTorch legacy stream (magic number) format"),
        Case("joblib-inline-array", "model.joblib", _joblib_evil(), "pickle.code-execution",
             "subprocess.check_output", "global after a joblib inline array"),
        Case("joblib-zlib", "model_z.joblib", zlib.compress(_joblib_evil()),
             "pickle.code-execution", "subprocess.check_output", "zlib-compressed joblib"),
        Case("npy-object", "arr.npy", _npy_object(_os_system(2)), "pickle.numpy-object-array",
             "", "NumPy object array", also=("pickle.code-execution",)),
        Case("npz-object", "arrs.npz", zip_bytes({"x.npy": _npy_object(_os_system(3))}),
             "pickle.code-execution", "os.system", "object array inside .npz"),
        Case("odd-start-bin", "pytorch_model.bin",
             P(0).raw(b"N0").glob("os", "system").raw(b"(S'id'\ntR").stop(),
             "pickle.code-execution", "os.system",
             "raw pickle opening with NONE POP under a .bin name (torch.load reads it)"),
        Case("truncated", "broken.pkl", _os_system(2)[:-3], "failure", "",
             "truncated pickle must fail closed"),
        Case("bad-opcode", "badop.pkl", b"\x80\x02\xff.", "failure", "",
             "unknown opcode must fail closed"),
    ]  # fmt: skip
    return cases


# --- other formats -------------------------------------------------------------------------


def _onnx_traversal(location: str) -> bytes:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.zeros((4, 4), np.float32), "W")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value=location)
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])
    g = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"])], "g", [x], [y], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _onnx_model(nodes: list[object], opsets: list[tuple[str, int]], props: dict[str, str]) -> bytes:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])
    g = helper.make_graph(nodes, "g", [x], [y])  # type: ignore[arg-type]
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    if props:
        helper.set_model_props(m, props)
    return m.SerializeToString()


def _pb_field(no: int, data: bytes) -> bytes:
    def varint(v: int) -> bytes:
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            out.append(b | (0x80 if v else 0))
            if not v:
                return bytes(out)

    return varint(no << 3 | 2) + varint(len(data)) + data


def tf_graphdef(ops: list[tuple[str, str]], const_bytes: int = 0) -> bytes:
    """A GraphDef with the given (name, op) nodes; a Const with ``const_bytes`` of content."""
    out = b""
    for name, op in ops:
        out += _pb_field(1, _pb_field(1, name.encode()) + _pb_field(2, op.encode()))
    if const_bytes:
        tensor = _pb_field(4, b"\x00" * const_bytes)  # TensorProto.tensor_content
        attr = _pb_field(1, b"value") + _pb_field(2, _pb_field(8, tensor))
        out += _pb_field(1, _pb_field(1, b"w") + _pb_field(2, b"Const") + _pb_field(5, attr))
    return out


def tf_saved_model(ops: list[tuple[str, str]]) -> bytes:
    return b"\x08\x01" + _pb_field(2, _pb_field(2, tf_graphdef(ops)))


def keras_h5(config: dict[str, object]) -> bytes:
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        h5.attrs["model_config"] = json.dumps(config)
        h5.attrs["keras_version"] = "2.11.0"
        h5.attrs["backend"] = "tensorflow"
    return buf.getvalue()


def keras_zip(config: dict[str, object]) -> bytes:
    return zip_bytes({"config.json": json.dumps(config).encode(),
                 "metadata.json": b'{"keras_version": "3.3.3"}'})  # fmt: skip


def _lambda_h5() -> bytes:
    import base64
    import marshal

    code = base64.b64encode(marshal.dumps(compile("lambda x: x", "<l>", "eval"))).decode()
    return keras_h5({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Lambda", "config": {"name": "evil_lambda", "function": [code, None, None],
                                            "function_type": "lambda"}}]}})  # fmt: skip


def _keras3_module_ref() -> bytes:
    return keras_zip({"module": "keras", "class_name": "Sequential", "config": {"name": "s",
        "layers": [{"module": "keras.layers", "class_name": "Dense", "config": {
            "name": "d", "units": 2, "activation": {"module": "os", "class_name": "function",
                                                     "config": "system",
                                                     "registered_name": "function",
                                                     }}}]}})  # fmt: skip


def mxnet_params(arrays: list[tuple[str, tuple[int, ...]]], corrupt: bool = False) -> bytes:
    out = struct.pack("<QQQ", 0x112, 0, len(arrays))
    for _, shape in arrays:
        out += struct.pack("<Iii", 0xF993FAC9, 0, len(shape))
        out += struct.pack(f"<{len(shape)}q", *shape)
        out += struct.pack("<iii", 1, 0, 0)
        n = 1
        for d in shape:
            n *= d
        out += b"\x00" * (4 * n if not corrupt else 2 * n)
    out += struct.pack("<Q", len(arrays))
    for name, _ in arrays:
        out += struct.pack("<Q", len(name)) + name.encode()
    return out


def mxnet_symbol(ops: list[tuple[str, str, dict[str, str]]]) -> bytes:
    nodes = [{"op": "null", "name": "data", "inputs": []}]
    for name, op, attrs in ops:
        nodes.append({"op": op, "name": name, "attrs": attrs, "inputs": [[0, 0, 0]]})
    return json.dumps({"nodes": nodes, "arg_nodes": [0], "heads": [[len(nodes) - 1, 0, 0]],
                       "attrs": {"mxnet_version": ["int", 10900]}}).encode()  # fmt: skip


def safetensors_file(header: dict[str, object], data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


AWS_KEY = "AKIAQYLPMN5HHHFPZAM2"


def other_format_cases() -> list[Case]:
    """ONNX, TensorFlow, Keras, MXNet and safetensors techniques."""
    from onnx import helper

    relu = helper.make_node("Relu", ["X"], ["Y"])
    return [
        Case("onnx-traversal", "trav.onnx", _onnx_traversal("../../../etc/passwd"),
             "onnx.external-data-traversal", "../../../etc/passwd",
             "external data escaping the model folder", pickle_family=False),
        Case("onnx-absolute", "abs.onnx", _onnx_traversal("/etc/shadow"),
             "onnx.external-data-traversal", "/etc/shadow", "absolute external data path",
             pickle_family=False),
        Case("onnx-custom-op", "custom.onnx",
             _onnx_model([helper.make_node("Backdoor", ["X"], ["Y"], domain="evil.ops")],
                         [("", 17), ("evil.ops", 1)], {}),
             "onnx.custom-domain", "evil.ops", "custom operator domain",
             pickle_family=False, blocks=False),
        Case("onnx-unknown-op", "unknown.onnx",
             _onnx_model([helper.make_node("NotAnOp", ["X"], ["Y"])], [("", 17)], {}),
             "onnx.unknown-op", "NotAnOp", "unknown standard-domain op",
             pickle_family=False, blocks=False),
        Case("onnx-opset", "opset.onnx", _onnx_model([relu], [("", 3)], {}),
             "onnx.opset-range", "3", "opset below the allowed range",
             pickle_family=False, blocks=False),
        Case("onnx-secret", "secret.onnx",
             _onnx_model([relu], [("", 17)], {"deploy_key": AWS_KEY}),
             "onnx.metadata-secret", "deploy_key", "AWS key in metadata_props",
             pickle_family=False),
        Case("tf-frozen-fileops", "frozen.pb",
             tf_graphdef([("r", "ReadFile"), ("w", "WriteFile"), ("x", "Identity")],
                         const_bytes=100_000),
             "tensorflow.file-access", "ReadFile", "frozen graph with ReadFile/WriteFile",
             pickle_family=False),
        Case("tf-saved-pyfunc", "saved_model.pb",
             tf_saved_model([("p", "PyFunc"), ("m", "MatMul")]),
             "tensorflow.code-execution", "PyFunc", "SavedModel with PyFunc",
             pickle_family=False),
        Case("keras-lambda-h5", "lambda.h5", _lambda_h5(), "keras.lambda-code", "evil_lambda",
             "Keras Lambda with marshalled bytecode", pickle_family=False),
        Case("keras3-module", "model.keras", _keras3_module_ref(), "keras.code-execution",
             "os.system", "Keras 3 config importing os.system", pickle_family=False),
        Case("mxnet-custom", "net-symbol.json",
             mxnet_symbol([("c", "Custom", {"op_type": "evil"})]), "mxnet.custom-op", "evil",
             "MXNet Custom operator", pickle_family=False),
        Case("mxnet-bad-params", "net-0000.params",
             mxnet_params([("arg:w", (4, 4))], corrupt=True), "mxnet.malformed-params", "",
             "truncated MXNet params", pickle_family=False),
        Case("safetensors-oob", "bad.safetensors",
             safetensors_file({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 4096]}},
                              b"\x00" * 16),
             "safetensors.malformed-header", "", "offsets beyond the data",
             pickle_family=False),
        Case("safetensors-secret", "meta.safetensors",
             safetensors_file({"__metadata__": {"token": AWS_KEY},
                               "w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}},
                              b"\x00" * 16),
             "safetensors.metadata-secret", "token", "secret in __metadata__",
             pickle_family=False),
    ]  # fmt: skip


def build_corpus() -> list[Case]:
    """The whole corpus."""
    return pickle_family_cases() + other_format_cases()


def clean_cases() -> list[Case]:
    """Benign files for the false-alarm column of the comparison (torch-made when available)."""
    import numpy as np

    out = [
        Case("clean-pickle", "labels.pkl", pickle.dumps({"labels": ["cat", "dog"]}, protocol=4),
             "", technique="plain dict pickle", blocks=False),
        Case("clean-npy", "a.npy", _npy_bytes(np.arange(6.0)), "", technique="float array",
             blocks=False),
        Case("clean-onnx", "relu.onnx", _onnx_model(
            [__import__("onnx").helper.make_node("Relu", ["X"], ["Y"])], [("", 17)], {}),
             "", technique="onnx.helper model", pickle_family=False, blocks=False),
        Case("clean-safetensors", "w.safetensors", safetensors_file(
            {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\x00" * 16),
             "", technique="safetensors", pickle_family=False, blocks=False),
    ]  # fmt: skip
    try:
        import torch
    except ImportError:
        return out
    lin = torch.nn.Linear(4, 2)
    buf = io.BytesIO()
    torch.save(lin.state_dict(), buf)
    out.append(Case("clean-state-dict", "sd.pt", buf.getvalue(), "",
                    technique="torch.save(state_dict)", blocks=False))  # fmt: skip
    buf = io.BytesIO()
    torch.save(lin.state_dict(), buf, _use_new_zipfile_serialization=False)
    out.append(Case("clean-legacy", "legacy.pth", buf.getvalue(), "",
                    technique="legacy torch.save(state_dict)", blocks=False))  # fmt: skip
    buf = io.BytesIO()
    torch.jit.save(torch.jit.trace(lin, torch.rand(1, 4)), buf)
    out.append(Case("clean-torchscript", "traced.pt", buf.getvalue(), "",
                    technique="torch.jit.trace", blocks=False))  # fmt: skip
    return out


def _npy_bytes(arr: object) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()
