"""Real PyPI advisories as OSV publishes them, for the packages real Panorama apps declare.

Each record keeps the fields matching uses (id, aliases, summary, severity, affected ranges and
a sample of the enumerated affected versions); write them with
``tests.helpers.inventory_fixtures.write_osv_db(root, ecosystems={"PyPI": PANORAMA_PYPI})``.
"""

from __future__ import annotations

__all__ = ["synthetic_record"]


def synthetic_record(
    rid: str, eco: str, name: str, fixed: str, introduced: str = "0"
) -> dict[str, object]:
    """A made-up advisory (``CVE-2099-…``) for the benchmarks' large databases: the fields and
    layout OSV publishes, one affected range."""
    return {
        "schema_version": "1.6.0",
        "id": rid,
        "modified": "2026-01-01T00:00:00Z",
        "aliases": [f"CVE-2099-{rid[-5:]}"],
        "summary": f"synthetic advisory for {name}",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
        "affected": [
            {
                "package": {"ecosystem": eco, "name": name},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]}
                ],
            }
        ],
    }


OPENCV_PACKAGES = (
    "opencv-python",
    "opencv-python-headless",
    "opencv-contrib-python",
    "opencv-contrib-python-headless",
)
# Releases of the opencv-python family before the libwebp fix (a sample, as OSV lists them).
OPENCV_AFFECTED = (
    "4.5.4.58",
    "4.5.4.60",
    "4.5.5.62",
    "4.5.5.64",
    "4.6.0.66",
    "4.7.0.68",
    "4.7.0.72",
    "4.8.0.74",
    "4.8.0.76",
)


def _record(
    vid: str,
    aliases: list[str],
    summary: str,
    packages: tuple[str, ...],
    events: list[dict[str, str]],
    *,
    vector: str | None,
    severity: str,
    versions: tuple[str, ...] = (),
) -> dict[str, object]:
    return {
        "schema_version": "1.6.0",
        "id": vid,
        "modified": "2024-09-20T12:00:00Z",
        "published": "2023-09-28T00:00:00Z",
        "aliases": aliases,
        "summary": summary,
        "details": summary,
        "severity": [{"type": "CVSS_V3", "score": vector}] if vector else [],
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "versions": list(versions),
            }
            for name in packages
        ],
        "references": [{"type": "ADVISORY", "url": f"https://github.com/advisories/{vid}"}],
        "database_specific": {"github_reviewed": True, "severity": severity},
    }


# opencv-python wheels before 4.8.1.78 bundle a libwebp vulnerable to CVE-2023-4863.
OPENCV_LIBWEBP = _record(
    "GHSA-qr4w-53vh-m672",
    [],
    "opencv-python bundled libwebp binaries in wheels that are vulnerable to CVE-2023-4863",
    OPENCV_PACKAGES,
    [{"introduced": "0"}, {"fixed": "4.8.1.78"}],
    vector=None,
    severity="HIGH",
    versions=OPENCV_AFFECTED,
)

REQUESTS_PROXY_AUTH = _record(
    "GHSA-j8r2-6x86-q33q",
    ["CVE-2023-32681", "PYSEC-2023-74"],
    "Unintended leak of Proxy-Authorization header in requests",
    ("requests",),
    [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}],
    vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N",
    severity="MODERATE",
    versions=("2.3.0", "2.28.2", "2.30.0"),
)

REQUESTS_VERIFY_FALSE = _record(
    "GHSA-9wx4-h78v-vm56",
    ["CVE-2024-35195"],
    "Requests Session object does not verify requests after making first request with verify=False",
    ("requests",),
    [{"introduced": "0"}, {"fixed": "2.32.0"}],
    vector="CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N",
    severity="MODERATE",
    versions=("2.28.2", "2.31.0"),
)

PANORAMA_PYPI: list[dict[str, object]] = [
    OPENCV_LIBWEBP,
    REQUESTS_PROXY_AUTH,
    REQUESTS_VERIFY_FALSE,
]
