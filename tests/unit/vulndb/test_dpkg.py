"""dpkg version ordering: a table of known cases and a property test against dpkg itself."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.vulndb.dpkg import DpkgVersion, InvalidDpkgVersionError, compare_versions

CASES = [
    ("1.0", "1.0", 0),
    ("1.0", "1.0-0", 0),
    ("0:1.0", "1.0", 0),
    ("1.00", "1.0", 0),
    ("1.0~rc1", "1.0", -1),
    ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~~", "1.0~", -1),
    ("1.0", "1.0+b1", -1),
    ("1.0a", "1.0+", -1),  # letters sort before other characters
    ("1.0", "1.0a", -1),
    ("1:0.1", "2.0", 1),  # the epoch wins
    ("2.35-0ubuntu3.1", "2.35-0ubuntu3", 1),
    ("1:1.2.11.dfsg-2+deb11u2", "1:1.2.11.dfsg-2+deb11u1", 1),
    ("1:1.2.11.dfsg-2ubuntu9", "1:1.2.11.dfsg-2ubuntu9.1", -1),
    ("3.0.2-0ubuntu1.10", "3.0.2-0ubuntu1.7", 1),  # numeric, not lexical
    ("10", "9", 1),
    ("1.2.3-1~22.04.3", "1.2.3-1", -1),
]


@pytest.mark.parametrize(("a", "b", "expected"), CASES, ids=[f"{a}|{b}" for a, b, _ in CASES])
def test_known_orderings(a: str, b: str, expected: int) -> None:
    got = compare_versions(a, b)
    assert (got > 0) - (got < 0) == expected
    assert (DpkgVersion(a) == DpkgVersion(b)) is (expected == 0)
    back = compare_versions(b, a)
    assert (back > 0) - (back < 0) == -expected


@pytest.mark.parametrize("bad", ["", "a1.0", "1:", "x:1.0", "1.0 2", "1.0_2"])
def test_invalid_versions_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidDpkgVersionError):
        DpkgVersion(bad)


_part = st.text(alphabet="0123456789.+~abz", min_size=1, max_size=6)
_version = st.builds(
    lambda e, u, r: (f"{e}:" if e else "") + "1" + u + (f"-{r}" if r else ""),
    st.sampled_from(["", "0", "1", "2"]),
    _part,
    st.one_of(st.just(""), st.text(alphabet="0123456789.+~abz", min_size=1, max_size=5)),
)


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
@settings(max_examples=150, deadline=None)
@given(_version, _version)
def test_agrees_with_dpkg(a: str, b: str) -> None:
    ours = compare_versions(a, b)
    lt = subprocess.run(["dpkg", "--compare-versions", a, "lt", b], capture_output=True)
    eq = subprocess.run(["dpkg", "--compare-versions", a, "eq", b], capture_output=True)
    assert lt.returncode in (0, 1), lt.stderr
    assert eq.returncode in (0, 1), eq.stderr
    if eq.returncode == 0:
        assert ours == 0
    elif lt.returncode == 0:
        assert ours < 0
    else:
        assert ours > 0
