"""What a test does when a tool it needs is missing: skip here, fail in CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["missing_requirement"]


def missing_requirement(what: str, hint: str) -> NoReturn:
    """Skip a test whose tool is missing, or fail it where CI demands every tool.

    ``PANORAMA_GATE_REQUIRE_DOCKER=1`` (set by ``.ci/run``, which installs Docker, ffmpeg and
    OpenCV) turns the skip into a failure, so CI cannot go green by skipping.
    """
    if os.environ.get("PANORAMA_GATE_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{what} is required (PANORAMA_GATE_REQUIRE_DOCKER=1) but missing: {hint}")
    pytest.skip(f"{what} is missing: {hint}")
