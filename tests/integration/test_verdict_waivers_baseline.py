"""Verdicts, waivers and baselines, end to end through the CLI on a planted-issue Panorama project.

Rejected (exit 1, reasons naming the findings) -> every finding waived (exit 0) -> the same
waivers expired (exit 1 again, expiry reported) -> an analyzer crash (exit 3, incomplete).
Also: every report format written in one run agrees with the JSON one; baseline; the project's
own ``[tool.panorama-gate]``; ``policy validate``/``policy show``; bad inputs exit 2.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import scanner.gate
from scanner.cli import main
from tests.helpers.planted_apps import LICENSE_ROOTFS_FILES as PLANTED
from tests.helpers.project_builder import ProjectSpec, build_project
from tests.helpers.report_agree import FORMATS_CHECKED, assert_outputs_agree

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "scanner/report/schema/report.schema.json").read_text())

SUFFIX = {
    "json": "json",
    "sarif": "sarif",
    "junit": "xml",
    "markdown": "md",
    "html": "html",
    "terminal": "txt",
}
# Only the analyzers this scenario is about: the test stays fast and does not change meaning
# when more analyzers are registered.
ANALYZERS = "--analyzers=packages,licenses"
DAY = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verdicts") / "planted"
    return build_project(root, ProjectSpec(with_model=False, rootfs_files=dict(PLANTED))).root


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanner.gate, "_today", lambda: DAY)


def _scan(
    target: Path, out: Path, *extra: str, formats: tuple[str, ...] = ("json",)
) -> tuple[int, dict[str, Any]]:
    out.mkdir(parents=True, exist_ok=True)
    argv = ["scan", str(target), "--no-profile", "--no-cache", "--offline", ANALYZERS, "-q", *extra]
    for fmt in formats:
        argv += ["--format", fmt, "-o", str(out / f"report.{SUFFIX[fmt]}")]
    code = main(argv)
    data = json.loads((out / "report.json").read_text())
    jsonschema.validate(data, SCHEMA)
    return code, data


def _waivers(path: Path, data: dict[str, Any], expires: str) -> Path:
    lines = ["waivers:"]
    for i, f in enumerate(data["findings"]):
        # One waiver by fingerprint, the next by rule and package: both scopes end to end.
        if i % 2 == 0:
            scope = f"    fingerprint: {f['fingerprint']}"
        else:
            scope = f"    rule: {f['rule_id']}\n    package: {f['properties']['package']}"
        lines.append(
            f"  - id: W-{i}\n{scope}\n    reason: accepted for the pilot by legal\n"
            f"    owner: team@example.com\n    expires: {expires}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reject_waive_expire_crash(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1. Rejected, with reasons that name the findings.
    code, data = _scan(project, tmp_path / "1", formats=FORMATS_CHECKED)
    assert code == 1
    verdict = data["verdict"]
    assert verdict["decision"] == "rejected"
    denied = next(f for f in data["findings"] if f["rule_id"] == "licenses.denied")
    rejects = [r for r in verdict["reasons"] if r["level"] == "reject"]
    assert rejects
    assert rejects[0]["fingerprints"] == [denied["fingerprint"]]
    assert "licenses.denied" in rejects[0]["message"]
    assert verdict["policy"]["name"] == "default"
    assert len(verdict["policy"]["sha256"]) == 64
    # Every format written in that one run says the same as the JSON.
    outputs = {
        fmt: (tmp_path / "1" / f"report.{SUFFIX[fmt]}").read_text() for fmt in FORMATS_CHECKED
    }
    assert_outputs_agree(outputs)

    # 2. Each finding waived with a valid waiver: approved, findings kept and marked waived.
    waivers = _waivers(tmp_path / "waivers.yaml", data, "2026-06-30")
    code, data2 = _scan(project, tmp_path / "2", "--waivers", str(waivers), formats=FORMATS_CHECKED)
    assert code == 0
    assert data2["verdict"]["decision"] == "approved"
    assert len(data2["findings"]) == len(data["findings"])
    assert all(f["waived"] for f in data2["findings"])
    assert {w["status"] for w in data2["verdict"]["waivers"]} == {"applied"}
    assert_outputs_agree(
        {fmt: (tmp_path / "2" / f"report.{SUFFIX[fmt]}").read_text() for fmt in FORMATS_CHECKED}
    )

    # 3. The same waivers after they expire: rejected again, and the expiry is reported.
    monkeypatch.setattr(scanner.gate, "_today", lambda: dt.date(2026, 7, 1))
    code, data3 = _scan(project, tmp_path / "3", "--waivers", str(waivers))
    assert code == 1
    assert data3["verdict"]["decision"] == "rejected"
    assert not any(f["waived"] for f in data3["findings"])
    expired = [r for r in data3["verdict"]["reasons"] if r["code"] == "waiver-expired"]
    assert len(expired) == len(data["findings"])
    assert all("expired on 2026-06-30" in r["message"] for r in expired)

    # 4. An analyzer crash: incomplete, exit 3, the failure in the report and the reason.
    from scanner.analyzers import licenses

    def boom(self: object, components: object, artifact: object) -> Iterator[object]:
        # A generator, as analyzers are: the crash happens while the pipeline drains it.
        raise RuntimeError("planted crash")
        yield  # pragma: no cover

    monkeypatch.setattr(licenses.LicensesAnalyzer, "analyze_components", boom)
    code, data4 = _scan(project, tmp_path / "4", "--waivers", str(waivers))
    assert code == 3
    assert data4["verdict"]["decision"] == "incomplete"
    assert any(f["analyzer"] == "licenses" for f in data4["failures"])
    first = data4["verdict"]["reasons"][0]
    assert first["level"] == "incomplete"
    assert first["failures"]
    assert all(data4["failures"][i]["analyzer"] == "licenses" for i in first["failures"])


def test_baseline_accepts_only_findings_already_reported(project: Path, tmp_path: Path) -> None:
    code, before = _scan(project, tmp_path / "before")
    assert code == 1
    code, same = _scan(
        project, tmp_path / "same", "--baseline", str(tmp_path / "before" / "report.json")
    )
    assert code == 0
    assert same["verdict"]["decision"] == "approved"
    # A new denied package appears: only it counts.
    grown = build_project(
        tmp_path / "grown",
        ProjectSpec(
            with_model=False,
            rootfs_files={
                **PLANTED,
                "usr/lib/python3/dist-packages/newcomer-3.0.dist-info/METADATA": (
                    b"Metadata-Version: 2.4\nName: newcomer\nVersion: 3.0\n"
                    b"License-Expression: AGPL-3.0-only\n"
                ),
            },
        ),
    ).root
    code, after = _scan(
        grown, tmp_path / "after", "--baseline", str(tmp_path / "before" / "report.json")
    )
    assert code == 1
    blocking = {
        fp
        for r in after["verdict"]["reasons"]
        if r["level"] == "reject"
        for fp in r["fingerprints"]
    }
    new = {f["fingerprint"] for f in after["findings"]} - {
        f["fingerprint"] for f in before["findings"]
    }
    assert blocking == {
        f["fingerprint"]
        for f in after["findings"]
        if f["fingerprint"] in new and f["severity"] == "high"
    }
    assert blocking


def test_project_pyproject_policy_is_used(tmp_path: Path) -> None:
    root = build_project(
        tmp_path / "p", ProjectSpec(with_model=False, rootfs_files=dict(PLANTED))
    ).root
    (root / "pyproject.toml").write_text(
        '[tool.panorama-gate]\nname = "team"\nseverity_threshold = "critical"\n'
    )
    code, data = _scan(root, tmp_path / "out")
    assert code == 0
    assert data["verdict"]["policy"]["name"] == "team"
    # An explicit --policy still wins.
    code, data = _scan(root, tmp_path / "out2", "--policy", str(REPO / "policies" / "default.yaml"))
    assert code == 1
    assert data["verdict"]["policy"]["name"] == "default"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "waivers:\n  - rule: licenses.denied\n    owner: o\n    expires: 2030-01-01\n",
            "waivers.yaml:2: waivers[0].reason",
        ),
        ("waivers: [\n", "waivers.yaml:2: not valid YAML"),
    ],
    ids=["missing-reason", "broken-yaml"],
)
def test_bad_waivers_file_is_exit_2_naming_file_and_line(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(content)
    code = main(
        [
            "scan",
            str(project),
            "--no-profile",
            "--no-cache",
            ANALYZERS,
            "--waivers",
            str(path),
            "-q",
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err


def test_policy_validate_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "validate", str(REPO / "policies" / "strict.yaml")]) == 0
    out = capsys.readouterr().out
    assert "valid policy 'strict'" in out

    bad = tmp_path / "bad.yaml"
    bad.write_text("severity_threshold: high\nlicenses:\n  deny: [GPL-3.0-only]\n  unknwn: warn\n")
    assert main(["policy", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: licenses.unknwn: unknown key" in err

    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    assert main(["policy", "validate", str(empty)]) == 2
    assert "no rules" in capsys.readouterr().err

    waivers = tmp_path / "w.yaml"
    waivers.write_text("- rule: a.b\n  reason: r\n  owner: o\n  expires: 2001-01-01\n")
    assert (
        main(
            [
                "policy",
                "validate",
                str(REPO / "policies" / "default.yaml"),
                "--waivers",
                str(waivers),
            ]
        )
        == 0
    )
    assert "expired on 2001-01-01" in capsys.readouterr().out
    # A waivers file on its own is recognised and checked as one.
    assert main(["policy", "validate", str(waivers)]) == 0
    assert "1 valid waiver(s)" in capsys.readouterr().out
    waivers.write_text("waivers:\n  - rule: a.b\n    owner: o\n    expires: 2001-01-01\n")
    assert main(["policy", "validate", str(waivers)]) == 2
    assert f"{waivers}:2: waivers[0].reason: required key is missing" in capsys.readouterr().err

    assert (
        main(
            [
                "policy",
                "show",
                "--policy",
                str(REPO / "policies" / "strict.yaml"),
                "--format",
                "json",
            ]
        )
        == 0
    )
    shown = json.loads(capsys.readouterr().out)
    assert shown["name"] == "strict"
    assert shown["policy"]["licenses"]["unknown"] == "reject"
    assert shown["policy"]["archive"]["max_depth"] == 2

    assert main(["policy", "show"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# effective policy 'default'")
    assert "severity_threshold: high" in text

    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.panorama-gate]\nname = "team"\nseverity_threshold = "low"\n'
    )
    assert main(["policy", "show", str(project), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "team"
