"""The symbolic pickle machine and the allow-list, tested directly."""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.analyzers.ml._globals import GlobalPolicy, GlobalVerdict
from scanner.analyzers.ml._pickle_sniff import looks_like_pickle
from scanner.analyzers.ml._pickle_vm import PickleError, scan_pickle
from tests.helpers.model_corpus import P

_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    st.binary(max_size=40),
)  # fmt: skip
_values = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=5),
        st.frozensets(st.integers(), max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(value=_values, proto=st.integers(min_value=0, max_value=5))
def test_every_plain_pickle_walks_to_its_end(value: object, proto: int) -> None:
    data = pickle.dumps(value, protocol=proto)
    scan = scan_pickle(io.BytesIO(data))
    assert scan.end == len(data)
    # Plain containers need no global beyond the always-allowed ones.
    policy = GlobalPolicy()
    assert all(policy.classify(g.module, g.name) is GlobalVerdict.ALLOWED for g in scan.globals), (
        scan.globals
    )


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_never_crash_the_walker(data: bytes) -> None:
    try:
        scan_pickle(io.BytesIO(data), max_ops=10_000)
    except PickleError:
        pass


def test_globals_carry_offsets_and_opcodes() -> None:
    data = pickle.dumps(OrderedDict(a=1), protocol=4)
    scan = scan_pickle(io.BytesIO(data))
    (g,) = scan.globals
    assert (g.module, g.name, g.how) == ("collections", "OrderedDict", "STACK_GLOBAL")
    assert data[g.offset] == 0x93


def test_computed_names_are_unresolved() -> None:
    data = (
        P(4).glob("builtins", "str").ustr("os").tuple1().reduce().ustr("system").stack_global()
        .stop()
    )  # fmt: skip
    scan = scan_pickle(io.BytesIO(data))
    last = scan.globals[-1]
    assert not last.resolved
    assert "builtins.str" in last.module


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x02K\x01", "no STOP"),
        (b"\x80\x09.", "protocol 9"),
        (b"\x80\x02h\x05.", "memo key 5"),
        (b"\x80\x02R.", "underflow"),
        (b"\x80\x02t.", "MARK missing"),
        (b"\x80\x02\x8e\xff\xff\xff\xff\xff\xff\x00\x00.", "truncated"),
    ],
    ids=["no-stop", "bad-proto", "memo-miss", "underflow", "no-mark", "huge-length"],
)
def test_malformed_pickles_raise(data: bytes, message: str) -> None:
    with pytest.raises(PickleError, match=message):
        scan_pickle(io.BytesIO(data))


def test_opcode_cap() -> None:
    data = b"\x80\x02" + b"N0" * 1000 + b"N."
    with pytest.raises(PickleError, match="opcodes"):
        scan_pickle(io.BytesIO(data), max_ops=100)


def test_sniff() -> None:
    assert looks_like_pickle(pickle.dumps(1, protocol=2))
    assert looks_like_pickle(pickle.dumps([1], protocol=0))
    assert not looks_like_pickle(b"\x00\x01\x02\x03")
    assert not looks_like_pickle(b"PK\x03\x04")


@pytest.mark.parametrize(
    ("module", "name", "verdict"),
    [
        ("os", "system", GlobalVerdict.CRITICAL),
        ("posix", "system", GlobalVerdict.CRITICAL),
        ("__builtin__", "eval", GlobalVerdict.CRITICAL),
        ("builtins", "getattr", GlobalVerdict.CRITICAL),
        ("subprocess", "Popen.__init__", GlobalVerdict.CRITICAL),
        ("numpy", "os.system", GlobalVerdict.CRITICAL),
        ("builtins", "object.__subclasses__", GlobalVerdict.CRITICAL),
        ("torch._inductor.codecache", "compile_file", GlobalVerdict.CRITICAL),
        ("collections", "OrderedDict", GlobalVerdict.ALLOWED),
        ("torch._utils", "_rebuild_tensor_v2", GlobalVerdict.ALLOWED),
        ("torch", "BFloat16Storage", GlobalVerdict.ALLOWED),
        ("torch", "float16", GlobalVerdict.ALLOWED),
        ("numpy.core.multiarray", "_reconstruct", GlobalVerdict.ALLOWED),
        ("torch.nn.modules.conv", "Conv2d", GlobalVerdict.ALLOWED),
        ("__torch__", "Net", GlobalVerdict.UNKNOWN),
        ("sklearn.linear_model", "LogisticRegression", GlobalVerdict.UNKNOWN),
    ],
)
def test_builtin_allow_list(module: str, name: str, verdict: GlobalVerdict) -> None:
    assert GlobalPolicy().classify(module, name) is verdict


def test_policy_extends_but_cannot_allow_critical() -> None:
    policy = GlobalPolicy.from_options(
        {
            "allow_globals": ["sklearn.linear_model.LogisticRegression", "os.system", "torch.nn"],
            "deny_globals": ["collections.deque"],
        }
    )
    assert policy.classify("sklearn.linear_model", "LogisticRegression") is GlobalVerdict.ALLOWED
    assert policy.classify("sklearn.linear_model", "LinearRegression") is GlobalVerdict.UNKNOWN
    assert policy.classify("os", "system") is GlobalVerdict.CRITICAL
    assert policy.classify("torch", "nn") is GlobalVerdict.MODULE
    assert policy.classify("collections", "deque") is GlobalVerdict.CRITICAL
    assert policy.with_torchscript().classify("__torch__.m", "Net") is GlobalVerdict.ALLOWED
    with pytest.raises(ValueError, match="allow_globals"):
        GlobalPolicy.from_options({"allow_globals": "sklearn.*"})
    with pytest.raises(ValueError, match="exact names only"):
        GlobalPolicy.from_options({"allow_globals": ["sklearn.*"]})


@pytest.mark.parametrize(
    "store",
    [b"\x94", b"q\x0a", b"r\x0a\x00\x00\x00", b"p10\n"],
    ids=["MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"],
)
def test_memo_cap(store: bytes) -> None:
    # Overwriting one key never grows the memo; a new key (10) past the cap stops the walk.
    same_key = b"\x80\x04K\x01" + store * 50 + b"."
    if store != b"\x94":  # MEMOIZE always takes a new key
        assert scan_pickle(io.BytesIO(same_key), max_memo=10).globals == []
    new_keys = b"\x80\x04K\x01" + b"\x94" * 10 + store + b"."
    with pytest.raises(PickleError, match="more than 10 memo entries"):
        scan_pickle(io.BytesIO(new_keys), max_memo=10)
    assert scan_pickle(io.BytesIO(new_keys), max_memo=11).globals == []
