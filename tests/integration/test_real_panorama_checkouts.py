"""Real, public Panorama applications as their git checkouts are: verdicts and findings a reviewer
would assert, written from reading each app (see the development set in ``../shared/real-apps``).

A checkout has no ``assets/`` content (git does not keep it): the gate scans the code from the
source folders, reports what the scan could not cover at low severity, and raises no alarm on
what panorama-cli itself produces. The expectations below are a reviewer's, app by app:

- ``devguide-aws-panorama-sample``: logs the whole environment to CloudWatch (medium);
  ``opencv-python==4.6.*`` is vulnerable in every version it allows (CVE-2023-4863 in the
  bundled libwebp), so with the vulnerability database the app is rejected;
- ``devguide-debug-server``: the same environment logging, an unauthenticated HTTP server bound
  to every interface (medium), an untagged base image (medium); requirements unpinned;
- ``immersion-lab2``: nothing at medium but the untagged base image; the model is not added yet;
- ``immersion-lab3``: its code (``COPY src``) is not in the checkout and the container is not
  built: not reviewed, so the verdict is incomplete;
- ``immersion-lab4``: ``chmod -R 777`` (medium), a base image built by hand (medium), and a
  pinned ``opencv-python-headless==4.5.4.60`` that the vulnerability database rejects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import main
from tests.helpers.cli_scan import STATIC, scan_json
from tests.helpers.inventory_fixtures import write_osv_db
from tests.helpers.osv_records import PANORAMA_PYPI

REAL_APPS = Path(__file__).resolve().parents[2].parent / "shared" / "real-apps"
APPS = (
    "devguide-aws-panorama-sample",
    "devguide-debug-server",
    "immersion-lab2",
    "immersion-lab3",
    "immersion-lab4",
)
MEDIUM_UP = ("medium", "high", "critical")


@pytest.fixture(scope="module")
def real_apps() -> Path:
    if not all((REAL_APPS / app).is_dir() for app in APPS):
        pytest.skip(f"{REAL_APPS} is absent (the development set lives beside the repository)")
    return REAL_APPS


@pytest.fixture(scope="module")
def vuln_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("osv")
    return write_osv_db(root, fetched_at=datetime.now(UTC), ecosystems={"PyPI": PANORAMA_PYPI})


@pytest.fixture(scope="module")
def scans(real_apps: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each app scanned once without the vulnerability audit: (exit code, report)."""
    out = tmp_path_factory.mktemp("scans")
    got: dict[str, Any] = {}
    for app in APPS:
        got[app] = scan_json(real_apps / app, out / f"{app}.json", *STATIC, "--analyzers=-vulns")
    return got


def findings(report: dict[str, Any], *, at_least: tuple[str, ...] = ()) -> set[tuple[Any, ...]]:
    """(rule, artifact, path, line) of the findings, optionally only the severe ones."""
    return {
        (f["rule_id"], f["location"]["artifact"], f["location"]["path"], f["location"]["line"])
        for f in report["findings"]
        if not at_least or f["severity"] in at_least
    }


def rules(report: dict[str, Any]) -> set[str]:
    return {f["rule_id"] for f in report["findings"]}


# -- what panorama-cli accepts is never an integrity or manifest error --------------------------


@pytest.mark.parametrize("app", APPS)
def test_no_integrity_or_manifest_error_on_what_panorama_cli_accepts(
    scans: dict[str, Any], app: str
) -> None:
    _, report = scans[app]
    severe = [
        f
        for f in report["findings"]
        if f["category"] in ("integrity", "manifest") and f["severity"] in MEDIUM_UP
    ]
    assert severe == []
    # no root-user advice that cannot take effect, no base image reported twice
    assert not rules(report) & {"dockerfile.root-user", "manifest.latest-base-image"}
    assert not [r for r in rules(report) if r.startswith("dockerfile.DL3013")]


@pytest.mark.parametrize(
    ("app", "package"),
    [
        ("devguide-aws-panorama-sample", "123456789012-SAMPLE_CODE-1.0"),
        ("devguide-debug-server", "123456789012-DEBUG_SERVER-1.0"),
        ("immersion-lab2", "123456789012-lab2_code-1.0"),
        ("immersion-lab4", "284028416021-lab4-1.0"),
    ],
)
def test_every_code_package_is_scanned_from_its_source_folder(
    scans: dict[str, Any], app: str, package: str
) -> None:
    _, report = scans[app]
    code = [a for a in report["artifacts"] if a["kind"] == "code"]
    assert [a["path"] for a in code] == [f"packages/{package}"]
    (not_built,) = [
        f
        for f in report["findings"]
        if f["rule_id"] == "integrity.not-built"
        and f["location"]["artifact"].startswith(f"packages/{package}/")
    ]
    assert not_built["severity"] == "low"
    assert "scanned from the source folder" in not_built["message"]
    assert not_built["properties"]["scanned_from"] == "source"


# -- per app -----------------------------------------------------------------------------------


def test_aws_panorama_sample(scans: dict[str, Any]) -> None:
    code, report = scans["devguide-aws-panorama-sample"]
    assert (code, report["verdict"]["decision"]) == (0, "approved")
    pkg = "123456789012-SAMPLE_CODE-1.0"
    assert findings(report, at_least=MEDIUM_UP) == {
        ("code.log-environment", pkg, "application.py", 29),
    }
    # The model archive is downloaded by a script, not kept in git: not scanned, said so.
    model = [
        f
        for f in report["findings"]
        if f["rule_id"] == "integrity.not-built" and "SQUEEZENET_PYTORCH" in f["message"]
    ]
    assert len(model) == 1
    assert "the model was not scanned" in model[0]["message"]
    # The descriptor copy that is in git is verified by its digest and matches.
    names = {a["name"] for a in report["artifacts"]}
    assert "82b31405c50044128c67380afc768ec84c507394b9f9dfac031aad15ad9ad71d.json" in names
    # Overrides are read as overrides (placeholders like MY_REGION are plain strings).
    assert {"graphs/my-app/override.json", "graphs/my-app/override-multicam.json"} <= names
    declared = {(c["name"], c["properties"]["specifier"]) for c in report["components"]}
    assert {("boto3", "==1.24.*"), ("opencv-python", "==4.6.*")} <= declared


def test_debug_server(scans: dict[str, Any]) -> None:
    code, report = scans["devguide-debug-server"]
    assert (code, report["verdict"]["decision"]) == (0, "approved")
    pkg = "123456789012-DEBUG_SERVER-1.0"
    assert findings(report, at_least=MEDIUM_UP) == {
        ("code.log-environment", pkg, "application.py", 38),
        ("code.B104", pkg, "application.py", 270),  # HTTPServer(("", 80)): every interface
        ("dockerfile.unpinned-base-image", f"packages/{pkg}", "Dockerfile", 1),
    }
    timeouts = {f[3] for f in findings(report) if f[0] == "code.B113"}
    assert timeouts == {281, 286}
    declared = {c["name"]: c["version"] for c in report["components"]}
    assert {"boto3": "", "opencv-python": "", "requests": ""}.items() <= declared.items()


def test_immersion_lab2(scans: dict[str, Any]) -> None:
    code, report = scans["immersion-lab2"]
    assert (code, report["verdict"]["decision"]) == (0, "approved")
    pkg = "packages/123456789012-lab2_code-1.0"
    assert findings(report, at_least=MEDIUM_UP) == {
        ("dockerfile.unpinned-base-image", pkg, "Dockerfile", 4),
    }
    asserts = {f[3] for f in findings(report) if f[0] == "code.B101" and f[2] == "src/app.py"}
    assert asserts == {87, 88, 89}
    model = [f for f in report["findings"] if "lab2_model" in f["message"]]
    assert [f["rule_id"] for f in model] == ["integrity.not-built"]
    assert "no model was scanned" in model[0]["message"]


def test_immersion_lab3_code_not_in_the_checkout_is_incomplete(scans: dict[str, Any]) -> None:
    code, report = scans["immersion-lab3"]
    assert (code, report["verdict"]["decision"]) == (3, "incomplete")
    (failure,) = report["failures"]
    assert failure["analyzer"] == "sources"
    assert failure["location"] == {
        "artifact": "packages/123456789123-lab3-1.0/Dockerfile",
        "path": "",
        "line": 5,
    }
    assert "comes from src (Dockerfile line 5)" in failure["reason"]
    assert "not reviewed" in failure["reason"]
    assert (
        "3c748b8349bc4f52d8eabea26ac940d4b7b2a2261cfb1b8d4108c9eecddad1a2.tar.gz"
        in (failure["reason"])
    )
    assert findings(report, at_least=MEDIUM_UP) == {
        ("dockerfile.unpinned-base-image", "packages/123456789123-lab3-1.0", "Dockerfile", 2),
    }
    # what is there is still inventoried: the Dockerfile's pip install
    (boto3,) = [c for c in report["components"] if c["name"] == "boto3"]
    assert boto3["location"]["path"] == "Dockerfile"


def test_immersion_lab4(scans: dict[str, Any]) -> None:
    code, report = scans["immersion-lab4"]
    assert (code, report["verdict"]["decision"]) == (0, "approved")
    pkg = "packages/284028416021-lab4-1.0"
    assert findings(report, at_least=MEDIUM_UP) == {
        ("dockerfile.world-writable", pkg, "Dockerfile", 14),  # chmod -R 777 /root/
        ("dockerfile.unpinned-base-image", pkg, "Dockerfile", 3),  # pt37:latest, built by hand
    }
    pinned = {c["name"]: c["version"] for c in report["components"] if c["version"]}
    assert pinned == {"opencv-python-headless": "4.5.4.60", "scikit-image": "0.17.2"}
    (not_built,) = [f for f in report["findings"] if f["rule_id"] == "integrity.not-built"]
    assert (
        "00cd365a4e7f417638bf2182346c8fee3e4cfcaa779c0c78392963c2ed16c728.tar.gz"
        in (not_built["message"])
    )
    assert (
        "bdabbfe61350567c6e83c0298d8900d96a8eb38b7a99adc99bb13c4256a9b937.json"
        in (not_built["message"])
    )


# -- with the vulnerability database -----------------------------------------------------------


@pytest.mark.parametrize(
    ("app", "code", "vulnerable"),
    [
        (
            "devguide-aws-panorama-sample",
            1,
            {("opencv-python", "GHSA-qr4w-53vh-m672", "requirements.txt", 2)},
        ),
        ("devguide-debug-server", 0, set()),
        ("immersion-lab2", 0, set()),
        (
            "immersion-lab4",
            1,
            {("opencv-python-headless", "GHSA-qr4w-53vh-m672", "Dockerfile", 10)},
        ),
    ],
)
def test_declared_requirements_are_audited(
    real_apps: Path, vuln_db: Path, tmp_path: Path, app: str, code: int, vulnerable: set[Any]
) -> None:
    got, report = scan_json(
        real_apps / app, tmp_path / "r.json", *STATIC, "--vuln-db", str(vuln_db)
    )
    assert got == code
    assert report["failures"] == []
    known = {
        (
            f["properties"]["package"],
            f["properties"]["vulnerability_id"],
            f["location"]["path"],
            f["location"]["line"],
        )
        for f in report["findings"]
        if f["rule_id"] == "vulns.known-vulnerability"
    }
    assert known == vulnerable
    # Every requirement not pinned to one version is shown as such, once.
    unpinned = [f for f in report["findings"] if f["rule_id"] == "vulns.unpinned-requirement"]
    assert all(f["severity"] == "low" for f in unpinned)
    assert len({(f["properties"]["package"], f["location"]["path"]) for f in unpinned}) == len(
        unpinned
    )


@pytest.mark.parametrize(
    ("app", "code"),
    [("devguide-aws-panorama-sample", 0), ("immersion-lab4", 0), ("immersion-lab3", 3)],
)
def test_licenses_judges_licenses_only(
    real_apps: Path, tmp_path: Path, app: str, code: int
) -> None:
    out = tmp_path / "l.csv"
    got = main(
        [
            "-q",
            "licenses",
            str(real_apps / app),
            "--offline",
            "--no-cache",
            "--format",
            "csv",
            "-o",
            str(out),
        ]
    )
    assert got == code  # a model asset not in the checkout is not a license problem
    assert out.read_text().startswith("name,version,ecosystem,licenses")
