"""The sniffer says what a file is from its head: every model format, archives and compressed
streams whatever the name; prose, binaries and random bytes are never taken for models."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import json
import lzma
import os
import pickle
import pickletools
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.sources.safe_archive import ArchiveMember, MemberType
from scanner.sources.sniff import (
    SNIFF_BYTES,
    ContentKind,
    has_model_name,
    is_model_member_name,
    sniff,
    sniff_head,
    zip_kind,
)
from scanner.walk.peek import PeekedMember
from tests.helpers.archives import files_tar, zip_bytes


def _pb(no: int, data: bytes) -> bytes:
    return bytes([no << 3 | 2, len(data)]) + data


def _npy() -> bytes:
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
    header += b" " * (63 - len(header)) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 8


def _safetensors() -> bytes:
    h = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    return struct.pack("<Q", len(h)) + h + b"\0" * 4


ONNX = b"\x08\x08" + _pb(2, b"pytorch") + _pb(3, b"2.1") + _pb(7, _pb(1, b"node"))
SAVED_MODEL = b"\x08\x01" + _pb(2, _pb(1, _pb(4, b"serve")))
GRAPHDEF = _pb(1, _pb(1, b"x") + _pb(2, b"Placeholder"))

CASES = {
    "pickle protocol 4": (pickle.dumps({"a": 1}, protocol=4), ContentKind.PICKLE),
    "pickle protocol 0": (pickle.dumps({"a": [1, 2]}, protocol=0), ContentKind.PICKLE),
    "pickle protocol 1": (pickle.dumps([None, 1.5], protocol=1), ContentKind.PICKLE),
    "torch zip": (
        zip_bytes({"archive/data.pkl": b"\x80\x02}.", "archive/version": b"3"}),
        ContentKind.TORCH_ZIP,
    ),  # fmt: skip
    "torchscript zip": (
        zip_bytes({"archive/data/0": b"\0" * 8, "archive/constants.pkl": b"."}),
        ContentKind.TORCH_ZIP,
    ),  # fmt: skip
    "npz": (zip_bytes({"a.npy": _npy()}), ContentKind.NPZ),
    "plain zip": (zip_bytes({"README.md": b"hi"}), ContentKind.ZIP),
    "tar": (files_tar({"model/saved_model.pb": SAVED_MODEL}), ContentKind.TAR),
    "legacy torch tar": (
        files_tar({"sys_info": b"x", "pickle": b"."}),
        ContentKind.TORCH_LEGACY_TAR,
    ),
    "npy": (_npy(), ContentKind.NUMPY),
    "hdf5": (b"\x89HDF\r\n\x1a\n" + b"\0" * 64, ContentKind.HDF5),
    "safetensors": (_safetensors(), ContentKind.SAFETENSORS),
    "onnx": (ONNX, ContentKind.ONNX),
    "saved model": (SAVED_MODEL, ContentKind.TF_SAVED_MODEL),
    "graphdef": (GRAPHDEF, ContentKind.TF_GRAPHDEF),
    "text saved model": (
        b"saved_model_schema_version: 1\nmeta_graphs {\n",
        ContentKind.PROTOBUF_TEXT,
    ),  # fmt: skip
    "tflite": (b"\x18\0\0\0TFL3" + b"\0" * 32, ContentKind.TFLITE),
    "gguf": (b"GGUF\x03\0\0\0" + b"\0" * 16, ContentKind.GGUF),
    "mxnet params": (b"\x12\x01\0\0\0\0\0\0" + b"\0" * 16, ContentKind.MXNET_PARAMS),
    "mxnet symbol": (b'{"nodes": [], "arg_nodes": [], "heads": []}', ContentKind.MXNET_SYMBOL),
    "elf": (b"\x7fELF\x02\x01\x01" + b"\0" * 64, ContentKind.OTHER),
    "png": (b"\x89PNG\r\n\x1a\n" + os.urandom(64), ContentKind.OTHER),
    "prose": (b"The quick brown fox.\nLicensed under MIT.\n", ContentKind.TEXT),
    "changelog": (b"0.20.4\n\n  proxy: support proxy urls\n", ContentKind.TEXT),
    "release notes": (b"Git v1.7.0.6 Release Notes\n==========\n", ContentKind.TEXT),
    "empty": (b"", ContentKind.EMPTY),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_format_is_recognised_from_its_head(case: str) -> None:
    data, kind = CASES[case]
    assert sniff_head(data[:SNIFF_BYTES], "no-name").kind is kind


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, bz2.compress, lzma.compress, zlib.compress,
     lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE)],
    ids=["gzip", "bzip2", "xz", "zlib", "lzma"],
)  # fmt: skip
def test_compressed_streams_are_sniffed_inside(compress: object) -> None:
    data = compress(pickle.dumps(list(range(50)), protocol=4))  # type: ignore[operator]
    got = sniff(lambda n: data[:n], "weights")
    assert got.kind is ContentKind.PICKLE
    assert got.compression


def test_a_zstd_bomb_head_is_read_bounded() -> None:
    zstandard = pytest.importorskip("zstandard")
    bomb = zstandard.ZstdCompressor(level=19).compress(b"\0" * (256 << 20))
    got = sniff(lambda n: bomb[:n], "x")
    assert got.compression == "zstd"


def test_the_central_directory_refines_a_zip() -> None:
    assert zip_kind(["notes.txt", "archive/data.pkl"]) is ContentKind.TORCH_ZIP
    assert zip_kind(["metadata.json", "config.json", "model.weights.h5"]) is ContentKind.KERAS_ZIP
    assert zip_kind(["config.json", "model.onnx"]) is ContentKind.ZIP


def test_names_refine_only_what_bytes_leave_open() -> None:
    assert has_model_name("models/MODEL.PTH")
    assert has_model_name("x/scaler.pkl.xz")
    assert not has_model_name("usr/lib/firmware/blob.bin")
    assert has_model_name("usr/lib/firmware/blob.bin", generic=True)
    assert is_model_member_name("yolo/saved_model.pb")
    assert not is_model_member_name("META-INF/MANIFEST.MF")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096), st.text(max_size=40))
def test_any_bytes_get_an_answer_never_an_exception(data: bytes, name: str) -> None:
    got = sniff(lambda n: data[:n], name)
    assert got.kind in ContentKind


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=20))
def test_printable_prose_is_not_a_pickle(text: str) -> None:
    # a pickle needs quoted strings, numbers or identifiers where prose has words
    data = (text + "\n").encode()
    got = sniff_head(data)
    if got.kind is ContentKind.PICKLE:
        # then it really is one: the standard library's disassembler (which checks the stack
        # and runs nothing) walks it to STOP, or it imports something before it breaks
        try:
            pickletools.dis(data, out=io.StringIO())
        except ValueError:
            names: list[str] = []
            with contextlib.suppress(ValueError):
                names.extend(op.name for op, _, _ in pickletools.genops(data))
            assert {"GLOBAL", "INST"} & set(names), text


def test_a_peeked_member_replays_its_head_in_front_of_the_rest() -> None:
    data = os.urandom(200_000)
    reads: list[int] = []

    class Once(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            reads.append(-1 if n is None else n)
            return super().read(n)

    opened: list[int] = []

    def opener() -> io.BytesIO:
        opened.append(1)
        return Once(data)

    member = ArchiveMember("w.bin", "w.bin", MemberType.FILE, len(data), 0o644, _opener=opener)
    peek = PeekedMember(member)
    assert peek.head(16) == data[:16]
    assert peek.sniff("w.bin").kind is ContentKind.UNKNOWN
    with peek.open() as f:
        assert f.read() == data
    assert opened == [1]  # one open: a streamed tar member cannot be opened twice
