"""Coverage-guided fuzzing of one target with atheris (libFuzzer).

    python -m tests.fuzz.run_atheris TARGET [libFuzzer flags, e.g. -runs=2000 -max_total_time=60]

Seeds come from the target's own generator; crashes are written by libFuzzer as
``crash-<sha1>`` files into ``-artifact_prefix`` (default: the current folder). Exit status 0
means no crash other than the target's declared errors.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import scanner.analyzers.ml  # noqa: F401 - instrumented for coverage
    import scanner.policy  # noqa: F401
    import scanner.sources  # noqa: F401
    import signing  # noqa: F401
    from tests.fuzz.targets import TARGETS, run_one, write_seeds


def main() -> None:
    """Pick the target from argv[1] and hand the rest to libFuzzer."""
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: run_atheris TARGET [libFuzzer flags]; targets: {', '.join(TARGETS)}")
    target = TARGETS[sys.argv[1]]
    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{target.name}-"))
    write_seeds(target, corpus)

    def one_input(data: bytes) -> None:
        run_one(target, data)

    atheris.Setup([sys.argv[0], *sys.argv[2:], str(corpus)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
