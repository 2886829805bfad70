"""Advisories against the versions an unpinned requirement allows: some, or all of them."""

from __future__ import annotations

import pytest

from scanner.analyzers._requirement_ranges import parse_range, range_exposures
from scanner.vulndb.osv import AffectedEntry, parse_record
from tests.helpers.osv_records import OPENCV_LIBWEBP, REQUESTS_PROXY_AUTH


def entries(record: dict[str, object], name: str) -> list[AffectedEntry]:
    return [e for e in parse_record(record) if e.name == name]


OPENCV = entries(OPENCV_LIBWEBP, "opencv-python")
REQUESTS = entries(REQUESTS_PROXY_AUTH, "requests")


@pytest.mark.parametrize(
    ("spec", "whole", "in_range"),
    [
        ("==4.6.*", True, ("4.6.0.66",)),  # every 4.6 release predates the fix
        (
            ">=4.5,<4.8",
            True,
            ("4.5.4.58", "4.5.4.60", "4.5.5.62", "4.5.5.64", "4.6.0.66", "4.7.0.68", "4.7.0.72"),
        ),
        ("~=4.5.4", True, ("4.5.4.58", "4.5.4.60", "4.5.5.62", "4.5.5.64")),
        ("", False, None),  # unbounded: today's release is fixed, older ones are not
        (">=4.5", False, None),
        ("==4.8.*", False, ("4.8.0.74", "4.8.0.76")),  # 4.8.1.78 is in range and fixed
        ("<4.7", True, None),
    ],
)
def test_opencv_ranges(spec: str, whole: bool, in_range: tuple[str, ...] | None) -> None:
    parsed = parse_range(spec)
    assert parsed is not None
    (e,) = range_exposures(parsed, OPENCV)
    assert e.whole_range is whole
    assert e.fixed_versions == ("4.8.1.78",)
    if in_range is not None:
        assert e.affected_in_range == in_range


@pytest.mark.parametrize("spec", ["==4.8.1.78", ">=4.8.1.78", ">4.8.0.76,!=4.8.0.77"])
def test_ranges_past_the_fix_are_clear(spec: str) -> None:
    parsed = parse_range(spec)
    assert parsed is not None
    assert range_exposures(parsed, OPENCV) == []


@pytest.mark.parametrize(
    ("spec", "whole", "exposed"),
    [
        ("<2.3", False, False),  # before the advisory's introduced version
        (">=2.3,<2.31", True, True),
        (">=2.0,<2.31", False, True),  # 2.0-2.2 allowed and unaffected
        ("==2.31.*", False, False),
    ],
)
def test_introduced_bounds_count(spec: str, whole: bool, exposed: bool) -> None:
    parsed = parse_range(spec)
    assert parsed is not None
    found = range_exposures(parsed, REQUESTS)
    assert bool(found) is exposed
    if found:
        assert found[0].whole_range is whole


def test_an_advisory_without_a_fix_affects_the_whole_range() -> None:
    record = {
        "id": "GHSA-test-nofix",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "x"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            }
        ],
    }
    parsed = parse_range("")
    assert parsed is not None
    (e,) = range_exposures(parsed, list(parse_record(record)))
    assert e.whole_range


def test_last_affected_leaves_later_versions_clear() -> None:
    record = {
        "id": "GHSA-test-last",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "x"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "1.0"}, {"last_affected": "1.4"}],
                    }
                ],
            }
        ],
    }
    found = list(parse_record(record))
    whole = parse_range(">=1.0,<=1.4")
    some = parse_range(">=1.0,<3")
    assert whole is not None
    assert some is not None
    assert range_exposures(whole, found)[0].whole_range is True
    assert range_exposures(some, found)[0].whole_range is False


def test_a_specifier_that_is_not_pep440_is_refused() -> None:
    assert parse_range("== 1.0 latest") is None
    assert parse_range("==1.24.* (constrained to ==1.24.3 in constraints.txt)") is not None
