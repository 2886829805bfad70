"""GlobSet answers exactly as one combined regex of its globs does (the plain translation)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.analyzers import load_analyzers
from scanner.analyzers._globs import GlobSet, glob_to_regex
from scanner.analyzers.interface import compile_globs
from scanner.walk.components import ComponentStage


def _oracle(globs: list[str]) -> re.Pattern[str]:
    """The plain translation every analyzer's patterns had: one alternation over the path."""
    parts = "|".join(glob_to_regex(g) for g in globs)
    return re.compile("(?:" + parts + r")\Z", re.DOTALL | re.IGNORECASE)


_PIECES = ["*", "?", "**", "[CS]", "[!a]", "[a-c]", "[+-0]", "[/]", "[", "a", "B", ".", "-", "x"]
_segment = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=4).map("".join)
_glob = st.lists(_segment, min_size=1, max_size=4).map("/".join)
_globs = st.lists(st.one_of(_glob, _glob.map(lambda g: "**/" + g)), min_size=1, max_size=6)
_name = st.text(alphabet="aAbBcCsS.-x[]!/\n+0", max_size=6)
_path = st.lists(_name, min_size=1, max_size=6).map("/".join)


@settings(max_examples=600, deadline=None)
@given(_globs, st.lists(_path, min_size=1, max_size=10))
def test_same_answers_as_one_regex(globs: list[str], paths: list[str]) -> None:
    fast, plain = GlobSet(globs), _oracle(globs)
    for path in paths:
        assert fast.match(path) is (plain.match(path) is not None), (globs, path)


def _shipped_globs() -> list[list[str]]:
    sets = [list(cls.patterns) for cls in load_analyzers().values() if cls.patterns]
    return [*sets, [g for s in sets for g in s]]


@settings(max_examples=300, deadline=None)
@given(st.lists(_path, min_size=1, max_size=20))
def test_shipped_patterns_agree(paths: list[str]) -> None:
    for globs in _shipped_globs():
        fast, plain = GlobSet(globs), _oracle(globs)
        for path in paths:
            assert fast.match(path) is (plain.match(path) is not None), (globs, path)


def test_real_paths_agree_with_the_component_stage_patterns() -> None:
    stage = ComponentStage._rx
    assert stage is not None
    paths = [
        "usr/lib/python3/dist-packages/numpy-1.24.2.dist-info/METADATA",
        "usr/local/lib/python3.11/site-packages/torch-2.5.1.dist-info/LICENSE",
        "usr/local/lib/python3.11/site-packages/numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so",
        "usr/local/lib/python3.11/site-packages/pillow-11.0.0.dist-info/licenses/LICENSE",
        "usr/share/doc/bash/copyright",
        "usr/share/doc/bash/README",
        "var/lib/dpkg/status",
        "var/lib/dpkg/status.d/base",
        "app/requirements/dev.txt",
        "app/requirements-dev.txt",
        "app/src/main.py",
        "Dockerfile",
        "app/Dockerfile",
    ]
    want = {p: p.endswith(("METADATA", "LICENSE", ".so", "copyright", "status", "base", ".txt"))
            or p == "Dockerfile" for p in paths}  # fmt: skip
    assert {p: stage.match(p) for p in paths} == want


def test_names_match_whatever_their_case() -> None:
    globs = compile_globs(["**/*.pth", "saved_model.pb"])
    assert globs is not None
    assert globs.match("models/MODEL.PTH")
    assert globs.match("SAVED_MODEL.PB")
    assert not globs.match("models/saved_model.pb")  # anchored: only at the top
    assert compile_globs([]) is None
