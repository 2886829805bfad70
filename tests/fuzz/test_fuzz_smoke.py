"""Fuzz smoke runs: every target under hypothesis and under atheris (briefly), and every crash
ever found replayed as a regression."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.targets import TARGETS, run_one

REGRESSIONS = Path(__file__).parent / "regressions"
REPO = Path(__file__).resolve().parents[2]


def _regression_cases() -> list[tuple[str, Path]]:
    return [
        (d.name, f)
        for d in sorted(REGRESSIONS.iterdir())
        if d.is_dir()
        for f in sorted(d.iterdir())
    ]


@pytest.mark.parametrize(
    ("target", "path"),
    _regression_cases(),
    ids=[f"{t}-{p.name[:12]}" for t, p in _regression_cases()],
)
def test_crash_regressions(target: str, path: Path) -> None:
    run_one(TARGETS[target], path.read_bytes())


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_run_clean(name: str) -> None:
    for seed in TARGETS[name].seeds():
        run_one(TARGETS[name], seed)


def _mutations(name: str) -> st.SearchStrategy[bytes]:
    seeds = TARGETS[name].seeds()

    def mutate(args: tuple[int, int, bytes, int]) -> bytes:
        which, pos, insert, cut = args
        seed = seeds[which % len(seeds)]
        pos %= len(seed) + 1
        return seed[:pos] + insert + seed[pos + cut :]

    return st.one_of(
        st.binary(max_size=512),
        st.tuples(
            st.integers(0, 9), st.integers(0, 1 << 20), st.binary(max_size=16), st.integers(0, 64)
        ).map(mutate),
    )


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_hypothesis_smoke(name: str) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_mutations(name))
    def run(data: bytes) -> None:
        run_one(TARGETS[name], data)

    run()


# A few coverage-guided runs prove the harness works in CI; benchmarks/fuzz.py runs them all long.
FAST_ATHERIS = ["tar", "pickle"]


@pytest.mark.slow
@pytest.mark.parametrize("name", FAST_ATHERIS)
def test_atheris_smoke(name: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.run_atheris",
            name,
            "-runs=800",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    crashes = list(tmp_path.glob("crash-*"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not crashes, proc.stderr[-3000:]
    assert "Done 800 runs" in proc.stderr
