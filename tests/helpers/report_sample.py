"""A fixed, realistic Report for policy and writer tests (no scan needed).

It has findings in several categories and artifacts (a secret, a vulnerable package, a code
issue, an archive problem, a low-severity container note), components, a sandbox profile and,
on request, an analyzer failure. Text fields carry characters that every writer must escape.
"""

from __future__ import annotations

import datetime as dt

from scanner.models import (
    AnalyzerFailure,
    Artifact,
    ArtifactKind,
    Category,
    Component,
    Digest,
    Finding,
    Location,
    Report,
    ResourceProfile,
    Severity,
    Target,
    TargetKind,
)
from scanner.policy import Policy, Waiver, decide, parse_policy

TODAY = dt.date(2026, 6, 1)
CONTAINER = "assets/1111111111111111111111111111111111111111111111111111111111111111.tar.gz"
MODEL = "assets/2222222222222222222222222222222222222222222222222222222222222222.tar.gz"
ANALYZERS = {"archive": 1, "code": 1, "container": 1, "secrets": 1, "vulns": 1}


def findings() -> tuple[Finding, ...]:
    """The planted findings, in report order."""
    out = [
        Finding.create(
            rule_id="secrets.aws-access-key-id",
            category=Category.SECRET,
            severity=Severity.CRITICAL,
            message="AWS access key id AKIA…(20) in application code <script>alert(1)</script>",
            location=Location(CONTAINER, "panorama/app.py", 3),
            evidence="AKIA…(20)",
            title="AWS access key id",
            cwe=798,
        ),
        Finding.create(
            rule_id="vulns.osv",
            category=Category.VULNERABILITY,
            severity=Severity.HIGH,
            message="urllib3 1.24.1 has PYSEC-2019-133 (CVE-2019-11324); fixed in 1.24.2",
            location=Location(CONTAINER, "usr/lib/python3/dist-packages/urllib3-1.24.1.dist-info"),
            evidence="urllib3@1.24.1:PYSEC-2019-133",
            title="Known vulnerability in a package",
            properties={
                "package": "urllib3",
                "version": "1.24.1",
                "vulnerability_id": "PYSEC-2019-133",
                "aliases": ["CVE-2019-11324", "GHSA-mh33-7rrq-662w"],
                "fixed_versions": ["1.24.2"],
            },
        ),
        Finding.create(
            rule_id="code.B602",
            category=Category.CODE,
            severity=Severity.MEDIUM,
            message="subprocess call with shell=True | pipes and `ticks` in the message",
            location=Location(CONTAINER, "panorama/app.py", 41),
            evidence="B602",
            title="subprocess with shell=True",
            cwe=78,
        ),
        Finding.create(
            rule_id="archive.high-ratio",
            category=Category.ARCHIVE,
            severity=Severity.MEDIUM,
            message="member weights.bin expands 250x (limit 200x)",
            location=Location(MODEL, "weights.bin"),
            evidence="weights.bin",
            title="Compression ratio over the limit",
        ),
        Finding.create(
            rule_id="container.user-root",
            category=Category.CONTAINER,
            severity=Severity.LOW,
            message="the image runs as root",
            location=Location(CONTAINER, ""),
            evidence="root",
            title="Runs as root",
            cwe=250,
        ),
    ]
    return tuple(sorted(out, key=lambda f: f.sort_key()))


def report(*, failure: bool = False) -> Report:
    """The sample report without a verdict; ``failure`` adds a crash of the ``code`` analyzer."""
    failures = (
        (
            AnalyzerFailure(
                "code",
                "bandit crashed: RuntimeError('boom')",
                Location(CONTAINER, "panorama/app.py"),
            ),
        )
        if failure
        else ()
    )
    return Report(
        tool_name="panorama-gate",
        tool_version="0.1.0",
        created_at="2026-06-01T00:00:00Z",
        target=Target("examples/shelf-monitor", TargetKind.PROJECT, "shelf-monitor", "1.0"),
        artifacts=(
            Artifact(
                ArtifactKind.CONTAINER, CONTAINER, CONTAINER, Digest.from_hex("11" * 32), 2048
            ),
            Artifact(ArtifactKind.MODEL, MODEL, MODEL, Digest.from_hex("22" * 32), 1024),
        ),
        findings=findings(),
        components=(
            Component(
                "urllib3",
                "1.24.1",
                "pypi",
                "pkg:pypi/urllib3@1.24.1",
                Location(CONTAINER, "usr/lib/python3/dist-packages/urllib3-1.24.1.dist-info"),
                ("MIT",),
            ),
        ),
        failures=failures,
        resources=ResourceProfile(
            ran=True,
            sandbox="docker",
            cpu_seconds=1.5,
            peak_memory_bytes=104857600,
            disk_written_bytes=0,
            max_processes=3,
            network_attempts=0,
            exit_code=0,
            oom_killed=False,
            frames_processed=30,
            wall_seconds=4.0,
        ),
        analyzers=ANALYZERS,
    )


# A fixed policy (not the bundled default, whose bytes and so SHA-256 change as it evolves,
# which would churn every golden file). Same thresholds as the default.
SAMPLE_POLICY = """\
name: sample
severity_threshold: high
categories: {secret: medium, integrity: medium, archive: medium}
licenses: {deny: [GPL-3.0-only], unknown: warn}
"""


def default_policy() -> Policy:
    """The fixed sample policy."""
    return parse_policy(SAMPLE_POLICY.encode(), "sample.yaml")


def waiver(**kw: object) -> Waiver:
    """A waiver with sensible defaults for tests."""
    base: dict[str, object] = {
        "id": "W-1",
        "reason": "accepted for the pilot",
        "owner": "sec@example.com",
        "expires": dt.date(2026, 12, 31),
        "source": "waivers.yaml:1",
    }
    base.update(kw)
    return Waiver(**base)  # type: ignore[arg-type]


def decided(*, failure: bool = False, with_waivers: bool = True) -> Report:
    """The sample report decided by the default policy with a mix of waivers.

    One waiver applies (the archive finding), one has expired (the code finding) and one
    matches nothing (stale), so every writer shows every state.
    """
    ws = (
        (
            waiver(id="W-archive", rule="archive.*", path="weights.bin"),
            waiver(id="W-code-old", rule="code.B602", expires=dt.date(2026, 1, 1)),
            waiver(id="W-stale", vulnerability="CVE-2000-0001"),
        )
        if with_waivers
        else ()
    )
    return decide(report(failure=failure), default_policy(), today=TODAY, waivers=ws)


def policy_from(text: str, name: str = "test.yaml") -> Policy:
    """A policy from YAML text."""
    return parse_policy(text.encode(), name)
