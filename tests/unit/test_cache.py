"""The result cache: keyed by content, analyzer versions, config and analyzer cache tokens."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import FileAnalyzer, Output
from scanner.cache import ResultCache, cache_key
from scanner.config import ScanConfig
from scanner.models import Category, Finding, Severity
from scanner.pipeline import scan
from tests.helpers.archives import M, tar_bytes

names = st.text(alphabet="abcdefgh-", min_size=1, max_size=8)


@given(
    st.dictionaries(names, st.integers(0, 99), min_size=1),
    names,
    st.text(max_size=8),
    st.text(max_size=8),
)
def test_key_changes_with_every_input(
    versions: dict[str, int], bump: str, content: str, config: str
) -> None:
    base = cache_key(content, versions, config)
    assert cache_key(content, dict(versions), config) == base  # deterministic, order-free
    changed = {**versions, bump: versions.get(bump, -1) + 1}
    assert cache_key(content, changed, config) != base
    assert cache_key(content + "x", versions, config) != base
    assert cache_key(content, versions, config + "x") != base


class Counting(FileAnalyzer):
    name = "counting"
    patterns = ("**",)
    token = "db-v1"

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def cache_token(self) -> str:
        return self.token

    def analyze(self, entry: FileEntry) -> Iterable[Output]:
        self.calls += 1
        yield Finding.create(
            rule_id="counting.seen",
            category=Category.CODE,
            severity=Severity.LOW,
            message="seen",
            location=entry.location(),
        )


def test_cache_hits_and_misses_when_a_token_changes(tmp_path: Path) -> None:
    target = tmp_path / "m.tar"
    target.write_bytes(tar_bytes([M("model/a.bin", b"x"), M("model/b.bin", b"y")]))
    config = ScanConfig(cache_dir=tmp_path / "cache", work_dir=tmp_path / "w")
    first = Counting()
    r1 = scan(target, config, analyzers=[first])
    assert first.calls == 2
    again = Counting()
    r2 = scan(target, config, analyzers=[again])
    assert again.calls == 0  # served from the cache
    assert r2.findings == r1.findings
    newer = Counting()
    newer.token = "db-v2"
    scan(target, config, analyzers=[newer])
    assert newer.calls == 2  # a new database content must not reuse old results


def test_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    key = cache_key("c", {"a": 1}, "cfg")
    assert cache.put(key, [])
    entry = next((tmp_path / "results").rglob("*.json"))
    entry.write_text("{not json")
    assert cache.get(key) is None
