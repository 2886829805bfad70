"""Everyday comfort: ``doctor``, shell completion, and examples in every ``--help``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.cli import COMMANDS, build_parser
from scanner.cli.completion import render
from scanner.cli.doctor import (
    FAIL,
    OK,
    WARN,
    check_arm64,
    check_aws,
    check_bwrap,
    check_video,
    run_checks,
)

REPO = Path(__file__).resolve().parents[2]
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example secret
KEY_ID = "AKIAIOSFODNN7EXAMPLE"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanner", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        check=False,
    )


# -- doctor ------------------------------------------------------------------------------------


def test_doctor_reports_every_check_and_never_prints_secrets(tmp_path: Path) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLETOKEN" * 4,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    proc = cli("doctor", "--format", "json", env=env)
    assert proc.returncode in (0, 1), proc.stderr
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    assert set(checks) >= {
        "python",
        "docker",
        "bubblewrap",
        "arm64",
        "video",
        "vuln-db",
        "aws",
        "cache",
    }
    for c in checks.values():
        assert c["status"] in (OK, WARN, FAIL)
        if c["status"] != OK:
            assert c["fix"], f"{c['name']} has a gap but no fix"
    assert checks["aws"]["status"] == OK
    assert "AKIA…(20)" in checks["aws"]["detail"]
    text = proc.stdout + proc.stderr + cli("doctor", env=env).stdout
    assert SECRET not in text
    assert KEY_ID not in text
    assert "FwoGZXIv" not in text
    # No database in the fresh cache: a warning that says how to get one.
    assert checks["vuln-db"]["status"] == WARN
    assert "vulndb update" in checks["vuln-db"]["fix"]
    assert proc.returncode == (1 if any(c["status"] == FAIL for c in checks.values()) else 0)


def test_doctor_video_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.setitem(sys.modules, "cv2", None)  # import fails, as without OpenCV
    real = {name: shutil.which(name) for name in ("ffmpeg", "ffprobe")}
    if all(real.values()):
        found = check_video()
        assert (found.status, found.detail) == (OK, f"ffmpeg {real['ffmpeg']}")
    only_ffmpeg = check_video(lambda name: "/usr/bin/ffmpeg" if name == "ffmpeg" else None)
    assert only_ffmpeg.status == WARN  # ffprobe reads the size: both are needed
    missing = check_video(lambda name: None)
    assert missing.status == WARN
    assert "apt-get install ffmpeg" in missing.fix
    assert "image folders" in missing.detail


def test_doctor_without_docker_fails_with_a_fix(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no.sock", "XDG_CACHE_HOME": str(tmp_path)}
    proc = cli("doctor", env=env)
    assert proc.returncode == 1
    line = next(ln for ln in proc.stdout.splitlines() if " docker " in ln)
    assert line.strip().startswith("FAIL")
    assert "fix: install Docker Engine" in proc.stdout


def test_doctor_vuln_db_age(tmp_path: Path) -> None:
    args = argparse.Namespace(
        vuln_db=REPO / "examples" / "osv-db", cache_dir=tmp_path, max_db_age=7.0
    )
    db = next(c for c in run_checks(args, environ={"HOME": str(tmp_path)}) if c.name == "vuln-db")
    assert db.status == WARN  # the bundled example database is years old
    assert "days old" in db.detail
    args.max_db_age = 1e9
    db = next(c for c in run_checks(args, environ={"HOME": str(tmp_path)}) if c.name == "vuln-db")
    assert db.status == OK


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (None, WARN),
        ("enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: OCF\n", OK),
        ("enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: OC\n", WARN),
        ("disabled\ninterpreter /usr/bin/qemu-aarch64\nflags: F\n", WARN),
    ],
    ids=["absent", "with-F", "without-F", "disabled"],
)
def test_doctor_arm64_emulation(tmp_path: Path, content: str | None, status: str) -> None:
    if content is not None:
        (tmp_path / "qemu-aarch64").write_text(content)
    result = check_arm64("x86_64", tmp_path)
    assert result.status == status
    if status != OK:
        assert "binfmt" in result.fix
    assert check_arm64("aarch64", tmp_path).status == OK


def test_doctor_bwrap_without_user_namespaces() -> None:
    def failing(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            cmd, 1, "", "bwrap: No permissions to creating new namespace"
        )

    result = check_bwrap(failing)
    if result.detail.startswith("bwrap is not installed"):
        assert "apt-get install bubblewrap" in result.fix
    else:
        assert result.status == WARN
        assert "unprivileged_userns" in result.fix


def test_doctor_aws_sources(tmp_path: Path) -> None:
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(f"[default]\naws_secret_access_key = {SECRET}\n")
    (aws / "config").write_text("[profile deploy]\nrole_arn = arn:aws:iam::1:role/x\n")
    ok = check_aws({"HOME": str(tmp_path)}, tmp_path)
    assert ok.status == OK
    assert "profile 'default'" in ok.detail
    assert SECRET not in ok.detail
    assert check_aws({"AWS_PROFILE": "deploy"}, tmp_path).status == OK
    missing = check_aws({"AWS_PROFILE": "nope"}, tmp_path)
    assert missing.status == WARN
    assert "names no profile" in missing.detail
    assert check_aws({}, tmp_path / "empty").status == WARN
    half = check_aws({"AWS_ACCESS_KEY_ID": KEY_ID}, tmp_path / "empty")
    assert half.status == WARN
    assert KEY_ID not in half.detail


# -- completion --------------------------------------------------------------------------------


def complete(script: Path, *words: str) -> list[str]:
    """What bash completes for ``words`` (the last one being typed)."""
    quoted = " ".join(f"'{w}'" for w in words)
    prog = (
        f"source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
        'COMPREPLY=(); _panorama_gate; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_bash_completion(tmp_path: Path) -> None:
    proc = cli("completion", "bash")
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "pg.bash"
    script.write_text(proc.stdout)
    assert "complete -o filenames -F _panorama_gate panorama-gate" in proc.stdout
    top = complete(script, "panorama-gate", "")
    commands = {m.rsplit(".", 1)[1] for m in COMMANDS}
    assert commands <= set(top)
    assert complete(script, "panorama-gate", "sc") == ["scan"]
    assert complete(script, "panorama-gate", "hook", "") == ["install", "run", "uninstall"]
    assert "--no-profile" in complete(script, "panorama-gate", "scan", "--no")
    formats = complete(script, "panorama-gate", "scan", "x", "--format", "")
    assert {"json", "sarif", "junit", "codequality"} <= set(formats)
    assert complete(script, "panorama-gate", "doctor", "--format", "") == ["text", "json"]
    assert complete(script, "panorama-gate", "completion", "") == ["bash", "zsh"]
    (tmp_path / "target.tar.gz").write_bytes(b"")
    files = complete(script, "panorama-gate", "scan", str(tmp_path / "targ"))
    assert files == [str(tmp_path / "target.tar.gz")]


def test_zsh_completion_is_generated_from_the_same_parser() -> None:
    text = render("zsh", build_parser())
    assert text.startswith("#compdef panorama-gate")
    assert "compdef _panorama_gate panorama-gate" in text
    assert "['_ scan|--format']=" in text
    assert "local path" not in text  # zsh's $path is PATH: never shadow it


# -- help ------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", COMMANDS)
def test_every_command_help_has_examples(module: str) -> None:
    name = module.rsplit(".", 1)[1]
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[
        name
    ]
    text = sub.format_help()
    assert "examples:" in text
    assert f"panorama-gate {name}" in text.split("examples:", 1)[1]
