"""The ``packages`` analyzer: inventory with purl and location, and license detection order."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.analyzers._debian_copyright import debian_copyright_licenses
from scanner.analyzers._inventory import parse_dpkg_status, parse_requirements
from scanner.analyzers._licensing import (
    classifier_to_spdx,
    normalize_expression,
    python_dist_licenses,
)
from scanner.analyzers.packages import PackagesAnalyzer
from scanner.models import AnalyzerFailure, Component
from tests.helpers.inventory_fixtures import (
    DEB_PACKAGES,
    SITE,
    install_wheels,
    run_file_analyzer,
    tree_files,
    ubuntu_rootfs_files,
)

MIT_TEXT = (
    b"MIT License\n\nCopyright (c) 2020 Example Org\n\n"
    b"Permission is hereby granted, free of charge, to any person obtaining a copy\n"
    b'of this software and associated documentation files (the "Software"), to deal\n'
    b"in the Software without restriction, including without limitation the rights\n"
    b"to use, copy, modify, merge, publish, distribute, sublicense, and/or sell\n"
    b"copies of the Software, and to permit persons to whom the Software is\n"
    b"furnished to do so, subject to the following conditions:\n\n"
    b"The above copyright notice and this permission notice shall be included in all\n"
    b"copies or substantial portions of the Software.\n\n"
    b'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\n'
    b"IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\n"
    b"FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\n"
    b"AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\n"
    b"LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\n"
    b"OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE\n"
    b"SOFTWARE.\n"
)


def _meta(name: str, version: str, *headers: str) -> bytes:
    lines = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}", *headers]
    return ("\n".join(lines) + "\n\nLong description\nLicense: not a header\n").encode()


def _components(out: list[object]) -> dict[str, Component]:
    return {c.name: c for c in out if isinstance(c, Component)}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_wheels(tmp_path_factory.mktemp("site"))


def test_real_wheels_and_dpkg_inventory(site: Path) -> None:
    files = {**ubuntu_rootfs_files(), **tree_files(site)}
    out = run_file_analyzer(PackagesAnalyzer(), files, artifact="app.tar")
    assert not [o for o in out if isinstance(o, AnalyzerFailure)]
    comps = _components(out)
    urllib3 = comps["urllib3"]
    assert urllib3.version == "1.24.1"
    assert urllib3.purl == "pkg:pypi/urllib3@1.24.1"
    assert urllib3.location.artifact == "app.tar"
    assert urllib3.location.path == f"{SITE}/urllib3-1.24.1.dist-info/METADATA"
    assert urllib3.licenses == ("MIT",)
    assert comps["Jinja2"].purl == "pkg:pypi/jinja2@2.10"
    assert comps["requests"].licenses == ("Apache-2.0",)
    zlib = comps["zlib1g"]
    assert zlib.ecosystem == "deb"
    assert zlib.purl == (
        "pkg:deb/ubuntu/zlib1g@1:1.2.11.dfsg-2ubuntu9?arch=arm64&distro=ubuntu-22.04&upstream=zlib"
    )
    assert zlib.location.path == "var/lib/dpkg/status"
    assert zlib.properties["source_package"] == "zlib"
    for name, _v, _s, _c, expected in DEB_PACKAGES:
        assert comps[name].licenses == expected, name
    assert "oldpkg" not in comps  # removed, only config files left


def test_license_texts_are_kept_only_when_asked(site: Path) -> None:
    files = tree_files(site)
    plain = _components(run_file_analyzer(PackagesAnalyzer(), files))
    assert "license_texts" not in plain["urllib3"].properties
    kept = _components(
        run_file_analyzer(PackagesAnalyzer(), files, options={"license_texts": True})
    )
    texts = kept["urllib3"].properties["license_texts"]
    assert texts[0]["path"].endswith("urllib3-1.24.1.dist-info/LICENSE.txt")
    assert "Permission is hereby granted" in texts[0]["text"]


def test_egg_info_vendored_and_declared_requirements() -> None:
    files = {
        # single-file egg-info as Debian's python3-* packages ship them
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info": _meta("six", "1.16.0", "License: MIT"),
        "opt/app/vendor/foo_bar-2.0.dist-info/METADATA": _meta("Foo_Bar", "2.0"),
        "panorama/requirements.txt": b"# pinned\nrequests==2.19.1 --hash=sha256:abc\n"
        b"six==1.16.0\nnumpy>=1.2 ; python_version > '3'\n-r other.txt\n",
        "panorama/pyproject.toml": b'[project]\nname = "app"\ndependencies = ["boto3==1.34.0"]\n',
        # requirement files of third-party code are not the app's declarations
        "usr/lib/python3/dist-packages/foo/requirements.txt": b"evil==1.0\n",
    }
    comps = _components(run_file_analyzer(PackagesAnalyzer(), files))
    assert comps["six"].version == "1.16.0"
    assert comps["six"].properties["found_by"] == "python-metadata"  # installed wins
    assert comps["Foo_Bar"].purl == "pkg:pypi/foo-bar@2.0"
    assert comps["Foo_Bar"].licenses == ()
    assert comps["requests"].properties["declared"] is True
    assert comps["requests"].location.line == 2
    assert comps["numpy"].version == ""
    assert comps["boto3"].version == "1.34.0"
    assert "evil" not in comps


def test_unreadable_metadata_is_a_failure() -> None:
    out = run_file_analyzer(
        PackagesAnalyzer(), {"x/broken-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\n"}
    )
    fails = [o for o in out if isinstance(o, AnalyzerFailure)]
    assert len(fails) == 1
    assert fails[0].location is not None
    assert fails[0].location.path == "x/broken-1.0.dist-info/METADATA"


@pytest.mark.parametrize(
    ("expression", "classifiers", "field", "files", "expected", "source"),
    [
        (
            "MIT OR Apache-2.0",
            ["License :: OSI Approved :: BSD License"],
            "BSD",
            [],
            ("MIT OR Apache-2.0",),
            "license-expression",
        ),
        (
            "",
            [
                "License :: OSI Approved :: MIT License",
                "License :: OSI Approved :: Apache Software License",
            ],
            "whatever",
            [],
            ("MIT OR Apache-2.0",),
            "classifier",
        ),
        ("", ["License :: OSI Approved"], "Apache 2.0", [], ("Apache-2.0",), "license-field"),
        ("", [], "GPLv3+", [], ("GPL-3.0-or-later",), "license-field"),
        ("", [], "UNKNOWN", [("x.dist-info/LICENSE", MIT_TEXT)], ("MIT",), "license-text"),
        ("", [], "", [("x.dist-info/COPYING", b"just some words")], (), ""),
        ("", [], "Custom license, see file", [], (), ""),
    ],
    ids=[
        "pep639-first",
        "classifiers",
        "license-field",
        "field-alias",
        "file-text",
        "unknown",
        "unparseable-field",
    ],
)
def test_license_detection_order(
    expression: str,
    classifiers: list[str],
    field: str,
    files: list[tuple[str, bytes]],
    expected: tuple[str, ...],
    source: str,
) -> None:
    got = python_dist_licenses(expression, classifiers, field, files)
    assert got.licenses == expected
    assert got.source == source


def test_normalisation_and_classifiers() -> None:
    assert normalize_expression("mit or gpl-3.0-only") == "MIT OR GPL-3.0-only"
    assert normalize_expression("LicenseRef-Proprietary") == "LicenseRef-Proprietary"
    assert normalize_expression("Some Corp EULA") is None
    assert normalize_expression("GPL-2+ or Artistic", debian=True) == (
        "GPL-2.0-or-later OR Artistic-1.0-Perl"
    )
    assert classifier_to_spdx(["License :: OSI Approved :: BSD License"]) == "BSD-3-Clause"
    assert classifier_to_spdx(["Topic :: Utilities"]) is None


def test_debian_copyright_formats() -> None:
    dep5 = (
        b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        b"Files: *\nCopyright: x\nLicense: GPL-2+\n\nFiles: lib/*\nLicense: LGPL-2.1+ or MIT\n\n"
        b"License: GPL-2+\n full text here\n"
    )
    assert debian_copyright_licenses(dep5) == (
        ("GPL-2.0-or-later", "LGPL-2.1-or-later OR MIT"),
        "dep5",
    )
    legacy = b"see /usr/share/common-licenses/GPL-2 and /usr/share/common-licenses/BSD.\n"
    assert debian_copyright_licenses(legacy) == (
        ("GPL-2.0-only", "BSD-3-Clause"),
        "common-licenses",
    )


def test_dpkg_status_and_requirement_parsers() -> None:
    status = (
        b"Package: a\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\n"
        b"Source: srca (1.0-0)\nDescription: x\n continued\n\n"
        b"Package: b\nStatus: deinstall ok config-files\nVersion: 2\n\n"
        b"Package: c\nVersion: 3\n"
    )
    pkgs = parse_dpkg_status(status, "var/lib/dpkg/status")
    assert [(p.name, p.source, p.source_version) for p in pkgs] == [
        ("a", "srca", "1.0-0"),
        ("c", "c", "3"),
    ]
    lock = b'[[package]]\nname = "urllib3"\nversion = "1.24.1"\n'
    assert [(r.name, r.version) for r in parse_requirements(lock, "poetry.lock")] == [
        ("urllib3", "1.24.1")
    ]
    with pytest.raises(ValueError, match="Invalid|Expected|Unexpected|invalid"):
        parse_requirements(b"[project\n", "pyproject.toml")
