"""License evidence ranking, text matching structure, vendored libraries and Debian following."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from scanner.analyzers._debian_copyright import debian_copyright_licenses, find_copyright
from scanner.analyzers._license_text import bundled_blocks, match_text, sections
from scanner.analyzers._licensing import python_dist_licenses
from scanner.analyzers._relations import deb_dependencies, python_requirements
from scanner.analyzers._vendored import (
    declared_license,
    is_vendored_library,
    parse_library_name,
    soname,
    vendored_library,
)

FIXTURES = Path(__file__).resolve().parents[2] / "assets" / "license_truth"
MIT = (FIXTURES / "six-1.16.0.dist-info" / "LICENSE").read_bytes()
APACHE = (FIXTURES / "packaging-23.2.dist-info" / "LICENSE.APACHE").read_bytes()
BSD2 = (FIXTURES / "packaging-23.2.dist-info" / "LICENSE.BSD").read_bytes()
LGPL21 = (FIXTURES / "chardet-5.2.0.dist-info" / "LICENSE").read_bytes()


def test_a_license_field_with_a_version_beats_a_generic_classifier() -> None:
    got = python_dist_licenses(
        "", ["License :: OSI Approved :: GNU General Public License (GPL)"], "GNU GPL v3", []
    )
    assert got.licenses == ("GPL-3.0-only",)
    assert got.source == "license-field"
    assert got.conflicts == ()  # the GPL family agrees with GPL-3.0-only
    assert [e.kind for e in got.evidence] == ["license-field", "generic"]


def test_a_family_only_field_gives_way_to_the_license_text() -> None:
    got = python_dist_licenses("", [], "BSD", [("w-1.dist-info/LICENSE", BSD2)])
    assert got.licenses == ("BSD-2-Clause",)
    assert got.source == "license-text"


def test_disjoint_evidence_is_a_conflict_shown_not_resolved() -> None:
    got = python_dist_licenses("", [], "MIT", [("x-1.dist-info/LICENSE", APACHE)])
    assert got.licenses == ("MIT",)
    assert [(c.kind, c.expression) for c in got.conflicts] == [("license-text", "Apache-2.0")]


def test_either_statement_makes_license_files_a_choice() -> None:
    files = [
        ("p-1.dist-info/LICENSE", b"Available under the terms of *either* of the licenses.\n"),
        ("p-1.dist-info/LICENSE.APACHE", APACHE),
        ("p-1.dist-info/LICENSE.BSD", BSD2),
        ("p-1.dist-info/LICENSE.zeromq.txt", MIT),  # another project's: not this one's license
    ]
    got = python_dist_licenses("", [], "", files)
    assert got.licenses == ("Apache-2.0 OR BSD-2-Clause",)


def test_a_text_is_only_until_other_evidence_grants_later_versions() -> None:
    files = [("c-1.dist-info/LICENSE", LGPL21)]
    assert python_dist_licenses("", [], "", files).licenses == ("LGPL-2.1-only",)
    later = ["License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)"]
    assert python_dist_licenses("", later, "LGPL", files).licenses == ("LGPL-2.1-or-later",)


def test_a_mention_of_a_license_is_no_grant() -> None:
    prose = b"Note that this license is compatible with the GNU General Public License version 3."
    assert match_text(prose).ids == ()
    grant = b"The overall license is the GNU Lesser General Public License, version 2.1 (or, at"
    grant += b" your option, any later version)."
    assert match_text(grant).ids == ("LGPL-2.1-or-later",)


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("libavcodec-9aae324f.so.59.37.100", ("libavcodec", "59.37.100")),
        ("libgfortran-040039e1-0352e75f.so.5.0.0", ("libgfortran", "5.0.0")),
        ("libscipy_openblas64_-ff651d7f.so", ("libscipy_openblas64_", "")),
        ("libopenblas-r0-f650aae0.3.3.so", ("libopenblas-r0", "3.3")),
        ("libsodium.26.dylib", ("libsodium", "26")),
    ],
)
def test_library_names_drop_auditwheels_hashes(file_name: str, expected: tuple[str, str]) -> None:
    assert parse_library_name(file_name) == expected


def test_vendored_folders_only() -> None:
    assert is_vendored_library("usr/lib/python3/site-packages/numpy.libs/libx-1a2b3c4d.so.1")
    assert is_vendored_library("site-packages/cv2/.dylibs/libavcodec.59.dylib")
    assert not is_vendored_library("usr/lib/x86_64-linux-gnu/libz.so.1")
    assert not is_vendored_library("site-packages/numpy.libs/README.txt")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x7fELF",
        b"\x7fELF\x02\x01" + b"\xff" * 100,  # program headers beyond the file
        b"\x7fELF\x01\x02" + os.urandom(4000),
        os.urandom(5000),
    ],
    ids=["empty", "magic-only", "bad-offsets", "random-big-endian", "random"],
)
def test_hostile_shared_objects_give_no_soname_and_no_exception(data: bytes) -> None:
    assert soname(data) == ""
    lib = vendored_library("x.libs/libfoo-1a2b3c4d.so.2", io.BytesIO(data))
    assert (lib.name, lib.version) == ("libfoo", "2")


def test_soname_of_a_real_shared_object() -> None:
    real = Path("/lib/x86_64-linux-gnu/libz.so.1")
    if not real.exists():
        pytest.skip("no libz.so.1 on this host")
    assert soname(real.read_bytes()).startswith("libz.so.1")


def test_vendored_library_license_from_the_wheels_declarations() -> None:
    numpy = FIXTURES / "numpy-2.1.3.dist-info"
    files = [("numpy-2.1.3.dist-info/LICENSE.txt", (numpy / "LICENSE.txt").read_bytes())]
    blocks = bundled_blocks(files[0][1].decode())
    assert "OpenBLAS" in [b.name for b in blocks]
    lib = vendored_library("site/numpy.libs/libgfortran-040039e1.so.5.0.0", io.BytesIO(b""))
    assert declared_license(lib, "site", files)[0] == "GPL-3.0-with-GCC-exception"
    opencv = FIXTURES / "opencv_python-4.10.0.84.dist-info" / "LICENSE-3RD-PARTY.txt"
    headings = [s.heading.split("\n")[0] for s in sections(opencv.read_text())]
    assert "FFmpeg is redistributed within all opencv-python packages." in headings
    files = [("o.dist-info/LICENSE-3RD-PARTY.txt", opencv.read_bytes())]
    qt = vendored_library("site/o.libs/libQt5Core-e6d3f451.so.5.15.13", io.BytesIO(b""))
    expr, where = declared_license(qt, "site", files)
    assert expr == "LGPL-3.0-only"
    assert "Qt 5 is redistributed" in where
    nothing = vendored_library("site/o.libs/libpq-e8a033dd.so.5.16", io.BytesIO(b""))
    assert declared_license(nothing, "site", files) == ("", "")


def test_debian_copyright_is_followed_to_a_same_source_dependency() -> None:
    copyrights = {
        "gcc-12-base": ("usr/share/doc/gcc-12-base/copyright", b"gcc"),
        "unrelated": ("usr/share/doc/unrelated/copyright", b"other"),
    }
    found = find_copyright(
        "libgcc-s1", "gcc-12", ["gcc-12-base", "libc6"], ["gcc-12-base", "libgcc-s1"], copyrights
    )
    assert found is not None
    assert (found.path, found.via) == ("usr/share/doc/gcc-12-base/copyright", "gcc-12-base")
    assert find_copyright("libfoo", "foo", ["unrelated"], ["libfoo"], copyrights) is None


def test_debian_free_text_copyright_is_matched() -> None:
    text = b"This package is free software; you can redistribute it under the terms of the GNU "
    text += b"General Public License as published by the Free Software Foundation; either "
    text += b"version 2 of the License, or (at your option) any later version.\n"
    text += b"See /usr/share/common-licenses/GPL-2.\n"
    assert debian_copyright_licenses(text) == (("GPL-2.0-or-later",), "copyright-text")


def test_dependency_resolution() -> None:
    assert python_requirements(
        ["six >=1.5", "pytest ; extra == 'test'", "Foo_Bar (>1)", "not a requirement !!"]
    ) == ["six", "foo-bar"]
    installed = {"libc6": "libc6", "libtinfo6": "libtinfo6", "libblas.so.3": "libblas3"}
    depends = (("libtinfo6",), ("missing", "libblas.so.3"), ("absent",))
    assert deb_dependencies(depends, installed) == ["libtinfo6", "libblas3"]
