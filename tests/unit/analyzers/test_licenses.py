"""The ``licenses`` analyzer: expressions evaluated against the policy's allow/deny/unknown."""

from __future__ import annotations

import pytest

from scanner.analyzers.licenses import LicensePolicy, LicensesAnalyzer, Outcome
from scanner.errors import ConfigError
from scanner.models import Category, Finding, Severity, Skipped
from tests.helpers.inventory_fixtures import run_file_analyzer, ubuntu_rootfs_files

DENY = ["GPL-3.0-only", "GPL-3.0-or-later", "AGPL-3.0-only"]


@pytest.mark.parametrize(
    ("licenses", "deny", "allow", "expected"),
    [
        (["MIT OR GPL-3.0-only"], DENY, [], Outcome.ALLOWED),
        (["MIT AND GPL-3.0-only"], DENY, [], Outcome.DENIED),
        (["GPL-3.0-or-later"], DENY, [], Outcome.DENIED),
        (["MIT", "GPL-3.0-only"], DENY, [], Outcome.DENIED),  # several licenses all apply
        ([], DENY, [], Outcome.UNKNOWN),
        (["LicenseRef-public-domain"], DENY, [], Outcome.UNKNOWN),
        (["LicenseRef-public-domain"], DENY, ["LicenseRef-public-domain"], Outcome.ALLOWED),
        (["(MIT OR GPL-3.0-only) AND Apache-2.0"], DENY, [], Outcome.ALLOWED),
        (["GPL-2.0-only WITH Classpath-exception-2.0"], ["GPL-2.0-only"], [], Outcome.DENIED),
        (["BSD-3-Clause"], [], ["MIT", "Apache-2.0"], Outcome.NOT_ALLOWED),
        (["BSD-3-Clause OR MIT"], [], ["MIT", "Apache-2.0"], Outcome.ALLOWED),
        (["mit"], [], ["MIT"], Outcome.ALLOWED),  # ids compare case-insensitively
        (["GPL-3.0"], DENY, [], Outcome.DENIED),  # deprecated id = GPL-3.0-only
    ],
)
def test_expression_evaluation(
    licenses: list[str], deny: list[str], allow: list[str], expected: Outcome
) -> None:
    assert LicensePolicy(deny=deny, allow=allow).evaluate(licenses) is expected


def test_bad_policy_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="warn, reject"):
        LicensePolicy.from_options({"unknown": "maybe"})
    with pytest.raises(ConfigError, match="list"):
        LicensePolicy.from_options({"deny": "GPL-3.0-only"})


@pytest.mark.parametrize(
    ("unknown", "severity"), [("warn", Severity.LOW), ("reject", Severity.HIGH)]
)
def test_findings_from_a_rootfs(unknown: str, severity: Severity) -> None:
    files = {
        **ubuntu_rootfs_files(),
        "panorama/requirements.txt": b"flask==3.0.0\n",
    }
    out = run_file_analyzer(
        LicensesAnalyzer(),
        files,
        options={"deny": DENY, "unknown": unknown, "scopes": ["app", "os"]},
        artifact="c.tar",
    )
    findings = {f.properties["package"]: f for f in out if isinstance(f, Finding)}
    assert set(findings) == {"bash", "tzdata"}
    bash = findings["bash"]
    assert bash.rule_id == "licenses.denied"
    assert bash.category is Category.LICENSE
    assert bash.severity is Severity.HIGH
    assert bash.location.artifact == "c.tar"
    assert bash.properties["licenses"] == ["GPL-3.0-only"]
    assert "GPL-3.0-only" in bash.message
    tz = findings["tzdata"]
    assert tz.rule_id == "licenses.unknown"
    assert tz.severity is severity
    # declared but not installed: its license cannot be known, and the report says so
    assert any(isinstance(o, Skipped) and "declared" in o.reason for o in out)


def test_allow_list_mode() -> None:
    out = run_file_analyzer(
        LicensesAnalyzer(),
        ubuntu_rootfs_files(),
        options={
            "allow": ["Apache-2.0", "Zlib", "PSF-2.0", "BSD-2-Clause"],
            "unknown": "warn",
            "scopes": ["app", "os"],
        },
    )
    rules = {f.properties["package"]: f.rule_id for f in out if isinstance(f, Finding)}
    assert rules == {
        "bash": "licenses.not-allowed",
        "libc6": "licenses.not-allowed",
        "tzdata": "licenses.unknown",
    }


def test_os_packages_are_reported_not_judged_by_default() -> None:
    files = {
        **ubuntu_rootfs_files(),
        "usr/local/lib/python3.10/dist-packages/gplthing-1.0.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: gplthing\nVersion: 1.0\n"
            b"License-Expression: GPL-3.0-only\n"
        ),
    }
    out = run_file_analyzer(LicensesAnalyzer(), files, options={"deny": DENY})
    rules = {f.properties["package"]: f.rule_id for f in out if isinstance(f, Finding)}
    # bash (dpkg, GPL-3.0-only) is the base image's: reported in the components, not judged;
    # a GPL package the application installs with pip is denied
    assert rules == {"gplthing": "licenses.denied"}


def test_scopes_must_name_app_or_os() -> None:
    with pytest.raises(ConfigError, match="app and/or os"):
        LicensePolicy.from_options({"scopes": ["everything"]})
    with pytest.raises(ConfigError, match="list"):
        LicensePolicy.from_options({"scopes": "app"})
