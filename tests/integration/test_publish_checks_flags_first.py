"""publish checks every flag before any work, --dry-run included, and takes the release version
from the project when --app-version is not given."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.cli import main
from tests.helpers.project_builder import ProjectSpec, build_project

FAST = ["--no-profile", "--offline", "--analyzers=-vulns,-sandbox", "--no-cache"]


def _publish(tmp_path: Path, target: Path, *extra: str) -> int:
    report = tmp_path / "report.json"
    return main(
        ["-q", "publish", str(target), "--to", f"file://{tmp_path / 'rel'}", *FAST]
        + ["--format", "json", "-o", str(report), *extra]
    )


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real"])
def test_a_missing_version_fails_before_the_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dry_run: bool
) -> None:
    # Packages of two versions: the project does not say which release this is.
    root = build_project(tmp_path / "app", ProjectSpec(model_version="2.0")).root
    code = _publish(tmp_path, root, *(["--dry-run"] if dry_run else []))
    assert code == 2
    assert "pass --app-version" in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()  # no scan ran


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--app-version", "1/0"], "--app-version '1/0'"),
        (["--app-version", "1.0", "--app", "a b"], "--app 'a b'"),
        (["--app-version", "1.0", "--kms-key", "alias/x"], "use the key's full ARN"),
        (["--app-version", "1.0", "--key", "absent.key"], "cannot read private key"),
        (["--app-version", "1.0", "--endpoint-url", "http://example.com"], "https://"),
    ],
    ids=["version", "app", "kms-key", "signing-key", "endpoint"],
)
def test_bad_flags_fail_before_the_scan(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("PANORAMA_GATE_KEY_PASSWORD", "pw")
    root = build_project(tmp_path / "app").root
    code = _publish(tmp_path, root, "--dry-run", *flags)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()


def test_the_version_comes_from_the_project_when_not_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = build_project(
        tmp_path / "app", ProjectSpec(code_version="2.3", model_version="2.3")
    ).root
    assert _publish(tmp_path, root, "--dry-run") == 0
    assert "/shelf_app/2.3" in capsys.readouterr().out
    pkg = next(root.glob("packages/*-shelf_code-2.3"))
    assert _publish(tmp_path, pkg, "--dry-run") == 0
    assert "would publish " in (out := capsys.readouterr().out)
    assert out.splitlines()[0].endswith("/shelf_code/2.3")
