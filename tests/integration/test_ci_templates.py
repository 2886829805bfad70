"""The CI templates, exercised as far as this machine allows.

Each template is parsed, its pinned actions checked, and its shell commands run for real
against the bundled example (or a clean built project) with ``panorama-gate`` on PATH: the
GitHub composite action's steps (with ``${{ }}`` expressions substituted as the runner would),
the GitLab job's script (its JUnit and Code Quality artifacts checked), and the CodeBuild build
commands publishing to a real S3/KMS API on loopback (moto's server mode).
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml

from scanner.models import (
    Category,
    Decision,
    Finding,
    Location,
    Reason,
    Report,
    Severity,
    Target,
    TargetKind,
    Verdict,
)
from scanner.report import FORMATS, get_writer
from scanner.report.codequality import report_to_codequality
from signing.keys import KeyType, write_keypair
from tests.helpers.moto_server import FAKE_ENV, MotoServer, start_moto
from tests.helpers.project_builder import ProjectSpec, build_project

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "shelf-monitor"
FAST = "--no-profile --offline --analyzers=-sandbox,-vulns"
PASSWORD = "ci template password"  # noqa: S105 - a throwaway test key's password


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bin folder whose ``panorama-gate`` runs this checkout (what pip install provides)."""
    bindir = tmp_path_factory.mktemp("bin")
    exe = bindir / "panorama-gate"
    exe.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m scanner "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return bindir


def base_env(shim: Path, tmp: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PANORAMA_GATE_", "AWS_", "PG_"))
    }
    env.update(
        PATH=f"{shim}:{env.get('PATH', '')}",
        PYTHONPATH=str(REPO),
        XDG_CACHE_HOME=str(tmp / "cache"),
        HOME=str(tmp),
    )
    return env


# -- GitHub Actions ----------------------------------------------------------------------------

ACTION = yaml.safe_load((REPO / "action.yml").read_text())
EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def test_action_pins_every_action_by_full_sha() -> None:
    steps = ACTION["runs"]["steps"]
    assert ACTION["runs"]["using"] == "composite"
    uses = [s["uses"] for s in steps if "uses" in s]
    assert uses, "the action uploads SARIF with codeql-action"
    for u in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u), u
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    # Inputs reach scripts only through env: no ${{ }} inside a run: block (no injection).
    for s in steps:
        if "run" in s:
            assert "${{" not in s["run"], s.get("name")
            assert s.get("shell") == "bash"


def evaluate(expr: str, inputs: Mapping[str, str], outputs: Mapping[str, str]) -> str:
    """The few expressions the action uses, as the runner evaluates them."""
    if expr.startswith("inputs."):
        return inputs[expr.removeprefix("inputs.")]
    if expr == "github.action_path":
        return str(REPO)
    m = re.fullmatch(r"steps\.scan\.outputs\.([\w-]+)", expr)
    if m:
        return outputs.get(m.group(1), "")
    raise AssertionError(f"unexpected expression {expr!r}")


def substitute(text: str, inputs: Mapping[str, str], outputs: Mapping[str, str]) -> str:
    return EXPR.sub(lambda m: evaluate(m.group(1), inputs, outputs), text)


def run_action(
    shim: Path, tmp: Path, given: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, subprocess.CompletedProcess[str]], Path]:
    """Run the action's shell steps (not setup-python, pip install or the upload)."""
    inputs = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    inputs.update(given)
    for name, spec in ACTION["inputs"].items():
        if spec.get("required"):
            assert inputs[name], f"required input {name} not given"
    outputs: dict[str, str] = {}
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    summary = tmp / "summary.md"
    out_file = tmp / "github_output"
    for step in ACTION["runs"]["steps"]:
        if "run" not in step or step.get("id") == "install":
            continue
        env = base_env(shim, tmp)
        env.update(GITHUB_OUTPUT=str(out_file), GITHUB_STEP_SUMMARY=str(summary))
        for k, v in step.get("env", {}).items():
            env[k] = substitute(str(v), inputs, outputs)
        out_file.write_text("")
        proc = subprocess.run(
            # How the runner runs `shell: bash` steps.
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        results[step["name"]] = proc
        for line in out_file.read_text().splitlines():
            key, _, value = line.partition("=")
            outputs[key] = value
    return outputs, results, summary


@pytest.mark.slow
def test_action_scans_writes_summary_and_fails_on_rejected(shim: Path, tmp_path: Path) -> None:
    outputs, results, summary = run_action(shim, tmp_path, {"target": str(EXAMPLE), "args": FAST})
    assert results["Scan"].returncode == 0, results["Scan"].stderr  # the step records, not fails
    assert outputs["verdict"] == "rejected"
    assert outputs["exit-code"] == "1"
    sarif = json.loads((tmp_path / outputs["sarif-file"]).read_text())
    assert sarif["version"] == "2.1.0"
    rules = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert "secrets.aws-access-key-id" in rules
    assert json.loads((tmp_path / outputs["json-file"]).read_text())["schema_version"] == 1
    text = summary.read_text()
    assert "rejected" in text.lower()
    assert "secrets.aws-access-key-id" in text
    assert results["Verdict"].returncode == 1  # the job fails with the gate's exit code
    assert "::error title=panorama-gate::verdict rejected" in results["Verdict"].stdout
    upload = next(s for s in ACTION["runs"]["steps"] if "upload-sarif" in s.get("uses", ""))
    inputs = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    assert substitute(upload["with"]["sarif_file"], inputs, outputs) == outputs["sarif-file"]


@pytest.mark.slow
def test_action_report_only_mode_and_clean_project(shim: Path, tmp_path: Path) -> None:
    project = build_project(tmp_path / "app")
    outputs, results, summary = run_action(
        shim, tmp_path, {"target": str(project.root), "args": FAST, "fail-on-verdict": "false"}
    )
    assert outputs["verdict"] == "approved", results["Scan"].stdout + results["Scan"].stderr
    assert results["Verdict"].returncode == 0
    assert "approved" in summary.read_text().lower()


# A project that tries to loosen its own gate, and a finding the default policy rejects.
LOOSENING = '[tool.panorama-gate]\nname = "team"\nseverity_threshold = "critical"\n'
GPL = {
    "usr/lib/python3/dist-packages/copyleft_lib-1.0.dist-info/METADATA": (
        b"Metadata-Version: 2.4\nName: copyleft-lib\nVersion: 1.0\n"
        b"License-Expression: GPL-3.0-only\n"
    )
}


def loosening_project(tmp: Path) -> Path:
    root = build_project(tmp / "app", ProjectSpec(with_model=False, rootfs_files=GPL)).root
    (root / "pyproject.toml").write_text(LOOSENING)
    return root


@pytest.mark.slow
@pytest.mark.parametrize(
    ("policy", "verdict", "name"),
    [(None, "rejected", "default"), ("", "approved", "team")],
    ids=["bundled-policy-pinned", "blank-lets-the-project-decide"],
)
def test_action_pins_the_bundled_policy_unless_blanked(
    shim: Path, tmp_path: Path, policy: str | None, verdict: str, name: str
) -> None:
    given = {"target": str(loosening_project(tmp_path)), "args": FAST}
    if policy is not None:
        given["policy"] = policy
    outputs, results, _ = run_action(shim, tmp_path, given)
    assert outputs["verdict"] == verdict, results["Scan"].stderr
    report = json.loads((tmp_path / outputs["json-file"]).read_text())
    assert report["verdict"]["policy"]["name"] == name


# -- GitLab CI ---------------------------------------------------------------------------------

GITLAB = yaml.safe_load((REPO / "ci" / "gitlab" / "panorama-gate.gitlab-ci.yml").read_text())


def run_gitlab_job(shim: Path, tmp: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run the template job's scripts as GitLab would, with ``variables`` set for the job."""
    job = GITLAB[".panorama-gate"]
    env = base_env(shim, tmp)
    env.update({k: str(v) for k, v in GITLAB["variables"].items()})
    env.update({k: str(v) for k, v in job["variables"].items() if "$" not in str(v)})
    env["PG_SOURCE"] = f"https://example.invalid/panorama-gate/archive/{'ab' * 20}.tar.gz"
    env.update(variables)
    # before_script's pip install is what the shim stands for; run the version check.
    lines = [c for c in job["before_script"] if "pip install" not in c] + job["script"]
    return subprocess.run(
        ["bash", "-c", "set -e\n" + "\n".join(lines)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "code"), [("example", 1), ("clean", 0)], ids=["example-rejected", "clean"]
)
def test_gitlab_job_writes_junit_and_codequality(
    shim: Path, tmp_path: Path, target: str, code: int
) -> None:
    job = GITLAB[".panorama-gate"]
    assert GITLAB["panorama-gate"]["extends"] == ".panorama-gate"
    path = EXAMPLE if target == "example" else build_project(tmp_path / "app").root
    proc = run_gitlab_job(shim, tmp_path, PG_TARGET=str(path), PG_EXTRA_ARGS=FAST)
    assert proc.returncode == code, proc.stderr
    reports = job["artifacts"]["reports"]
    junit = ET.parse(tmp_path / reports["junit"]).getroot()
    assert junit.tag == "testsuites"
    cq = json.loads((tmp_path / reports["codequality"]).read_text())
    assert isinstance(cq, list)
    for issue in cq:
        assert {"description", "check_name", "fingerprint", "severity", "location"} <= set(issue)
        assert issue["severity"] in ("info", "minor", "major", "critical", "blocker")
        assert isinstance(issue["location"]["lines"]["begin"], int)
    if target == "example":
        keys = [i for i in cq if i["check_name"] == "secrets.aws-access-key-id"]
        assert keys
        assert keys[0]["severity"] == "blocker"
        assert keys[0]["location"]["path"].endswith(".tar.gz")
        assert "AKIA…(20)" in keys[0]["description"]
    assert len({i["fingerprint"] for i in cq}) == len(cq)
    for p in job["artifacts"]["paths"]:
        assert (tmp_path / p).is_dir()
    assert (tmp_path / "panorama-gate-reports" / "panorama-gate.sarif").is_file()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("policy", "code", "name"),
    [(None, 1, "default"), ("", 0, "team")],
    ids=["bundled-policy-pinned", "blank-lets-the-project-decide"],
)
def test_gitlab_job_pins_the_bundled_policy_unless_blanked(
    shim: Path, tmp_path: Path, policy: str | None, code: int, name: str
) -> None:
    given = {"PG_TARGET": str(loosening_project(tmp_path)), "PG_EXTRA_ARGS": FAST}
    if policy is not None:
        given["PANORAMA_GATE_POLICY"] = policy
    proc = run_gitlab_job(shim, tmp_path, **given)
    assert proc.returncode == code, proc.stderr
    report = json.loads((tmp_path / "panorama-gate-reports" / "panorama-gate.json").read_text())
    assert report["verdict"]["policy"]["name"] == name


# -- AWS CodeBuild -----------------------------------------------------------------------------

BUILDSPEC = yaml.safe_load((REPO / "ci" / "codebuild" / "buildspec.yml").read_text())


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    yield from start_moto()


def test_buildspec_shape() -> None:
    assert str(BUILDSPEC["version"]) == "0.2"
    build = " ".join(BUILDSPEC["phases"]["build"]["commands"])
    assert "panorama-gate publish" in build
    assert "--kms-key" in build
    assert BUILDSPEC["env"]["variables"]["SIGNING_KEY"].startswith("awskms://")
    # No long-lived credentials anywhere: the role provides them.
    text = (REPO / "ci" / "codebuild" / "buildspec.yml").read_text()
    assert "AWS_SECRET_ACCESS_KEY" not in text
    assert "AWS_ACCESS_KEY_ID" not in text
    assert "credential_source EcsContainer" in text
    rep = BUILDSPEC["reports"]["panorama-gate"]
    assert rep["file-format"] == "JUNITXML"


@pytest.mark.slow
def test_buildspec_publishes_with_kms_to_s3(shim: Path, tmp_path: Path, moto: MotoServer) -> None:
    # One package of each name: signing refuses two artifacts both called descriptor.json.
    project = build_project(tmp_path / "app", ProjectSpec(with_model=False))
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="buildspec-releases")
    key_arn = moto.client("kms").create_key()["KeyMetadata"]["Arn"]
    priv, _ = write_keypair(tmp_path / "ci", KeyType.ECDSA_P256, PASSWORD.encode())
    env = base_env(shim, tmp_path)
    env.update({k: str(v) for k, v in BUILDSPEC["env"]["variables"].items()})
    env.update(FAKE_ENV)
    env.update(
        PG_TARGET=str(project.root),
        RELEASE_BUCKET="buildspec-releases",
        KMS_KEY_ARN=key_arn,
        SIGNING_KEY=str(priv),  # the test's stand-in for the KMS signing key
        PANORAMA_GATE_KEY_PASSWORD=PASSWORD,
        PANORAMA_GATE_ENDPOINT_URL=moto.url,
        PANORAMA_GATE_OFFLINE="1",
        CODEBUILD_BUILD_NUMBER="7",
        CODEBUILD_RESOLVED_SOURCE_VERSION="0123456789abcdef0123456789abcdef01234567",
    )
    phases = BUILDSPEC["phases"]
    commands = [*phases["pre_build"]["commands"], *phases["build"]["commands"]]
    proc = subprocess.run(
        ["bash", "-c", "set -e\n" + "\n".join(commands)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = s3.list_objects_v2(Bucket="buildspec-releases", Prefix="shelf-monitor/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert keys, "nothing was published"
    # the template names the release after the commit CodeBuild built
    assert all("/0123456789abcdef0123456789abcdef01234567/" in k for k in keys), keys
    heads = [s3.head_object(Bucket="buildspec-releases", Key=k) for k in keys]
    assert all(h.get("ServerSideEncryption") == "aws:kms" for h in heads)
    rep = BUILDSPEC["reports"]["panorama-gate"]
    for f in rep["files"]:
        assert ET.parse(tmp_path / rep["base-directory"] / f).getroot().tag == "testsuites"
    report = json.loads((tmp_path / "reports" / "panorama-gate.json").read_text())
    assert report["verdict"]["decision"] == "approved"


# -- the Code Quality writer -------------------------------------------------------------------


def _report(kind: TargetKind, path: str, findings: list[Finding], blocking: list[str]) -> Report:
    return Report(
        tool_name="panorama-gate",
        tool_version="0",
        created_at="2026-01-01T00:00:00Z",
        target=Target(path, kind),
        findings=tuple(findings),
        verdict=Verdict(
            Decision.REJECTED,
            (Reason("x", "y", tuple(blocking), level="reject"),),
            "default",
            "0" * 64,
        ),
    )


def test_codequality_writer_maps_paths_and_severities() -> None:
    assert "codequality" in FORMATS
    in_source = Finding.create(
        rule_id="secrets.aws-access-key-id",
        category=Category.SECRET,
        severity=Severity.CRITICAL,
        message="AWS access key id AKIA…(20) in src/app.py",
        location=Location("1-code-1.0", "src/app.py", 7),
    )
    in_graph = Finding.create(
        rule_id="privacy.email",
        category=Category.PRIVACY,
        severity=Severity.MEDIUM,
        message="email",
        location=Location("graphs/app/graph.json", "nodeGraph.description", 4),
    )
    report = _report(TargetKind.PROJECT, "app", [in_source, in_graph], [in_source.fingerprint])
    issues = {i["check_name"]: i for i in report_to_codequality(report)}
    src = issues["secrets.aws-access-key-id"]
    assert src["severity"] == "blocker"
    assert src["location"] == {"path": "app/1-code-1.0/src/app.py", "lines": {"begin": 7}}
    assert "blocks the gate" in src["description"]
    graph = issues["privacy.email"]
    assert graph["severity"] == "major"
    assert graph["location"]["path"] == "app/graphs/app/graph.json"
    assert "nodeGraph.description" in graph["description"]
    buf = io.StringIO()
    get_writer("codequality").write(report, buf)
    assert json.loads(buf.getvalue()) == report_to_codequality(report)


def test_codequality_writer_survives_hostile_text() -> None:
    nasty = "bad\udc80name\x1b[31m\n<x>&\u202e.py"
    f = Finding.create(
        rule_id="secrets.generic-secret",
        category=Category.SECRET,
        severity=Severity.HIGH,
        message=f"value in {nasty}",
        location=Location("1-code-1.0", f"src/{nasty}", None),
    )
    report = _report(TargetKind.CODE_PACKAGE, "pkg", [f], [])
    buf = io.StringIO()
    get_writer("codequality").write(report, buf)
    text = buf.getvalue()
    text.encode("utf-8")  # strict: the artifact GitLab reads must be valid UTF-8
    (issue,) = json.loads(text)
    assert issue["location"]["lines"]["begin"] == 1
    assert issue["severity"] == "critical"


# -- installing the tool in CI -----------------------------------------------------------------

TEMPLATES = [
    REPO / "ci" / "gitlab" / "panorama-gate.gitlab-ci.yml",
    REPO / "ci" / "codebuild" / "buildspec.yml",
    REPO / "action.yml",
    REPO / "Dockerfile",
]


def test_no_template_installs_the_tool_by_name_from_an_index() -> None:
    """Whoever registers the name on an index would run code in every user's pipeline."""
    by_name = re.compile(r"pip[0-9.]* install[^\n]*?(?<![/\w.-])panorama-gate(?![\w/.-])")
    for path in TEMPLATES:
        for line in path.read_text().splitlines():
            assert not by_name.search(line), f"{path.name}: {line.strip()}"


def _guard_lines(commands: list[str]) -> list[str]:
    return [c for c in commands if "PG_SOURCE" in c and "pip install" not in c]


@pytest.mark.parametrize("template", ["gitlab", "codebuild"])
@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("https://github.com/<org>/panorama-gate/archive/<full commit id>.tar.gz", 2),
        ("https://github.com/acme/panorama-gate/archive/main.tar.gz", 2),
        ("https://github.com/acme/panorama-gate/archive/v1.2.tar.gz", 2),
        (f"https://github.com/acme/panorama-gate/archive/{'c0ffee' * 6}c0ff.tar.gz", 0),
    ],
    ids=["placeholder", "branch", "tag", "commit"],
)
def test_templates_install_only_a_full_commit(template: str, source: str, code: int) -> None:
    if template == "gitlab":
        lines = _guard_lines(GITLAB[".panorama-gate"]["before_script"])
    else:
        lines = _guard_lines(BUILDSPEC["phases"]["install"]["commands"])
    assert lines
    proc = subprocess.run(
        ["bash", "-c", "set -e\n" + "\n".join(lines)],
        env={"PATH": os.environ["PATH"], "PG_SOURCE": source},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == code, proc.stderr
    if code:
        assert "full 40-hex commit id" in proc.stderr


@pytest.mark.slow
def test_the_install_line_installs_a_source_archive_of_this_repository(tmp_path: Path) -> None:
    """The templates' pip line, given an archive laid out as GitHub serves one."""
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    if len(commit) != 40:
        pytest.skip("not a git checkout")
    archive = tmp_path / f"{commit}.tar.gz"
    subprocess.run(
        ["git", "archive", "--format=tar.gz", f"--prefix=panorama-gate-{commit}/", "-o"]
        + [str(archive), commit],
        cwd=REPO,
        check=True,
    )
    (line,) = [c for c in GITLAB[".panorama-gate"]["before_script"] if "pip install" in c]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.update(
        PG_SOURCE=archive.as_uri(),
        PIP_NO_DEPS="1",  # the dependencies are this test run's own
        PIP_NO_BUILD_ISOLATION="0",  # pip's spelling of --no-build-isolation: no index needed
        PIP_TARGET=str(tmp_path / "site"),
        PIP_NO_INDEX="1",
        PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
    )
    proc = subprocess.run(
        ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "scanner" / "cli" / "hook" / "__main__.py").is_file()
