"""Container checks: image config, file modes and caches, Dockerfile rules and hadolint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scanner.analyzers._env_secrets import env_secret
from scanner.analyzers.container_config import ContainerFilesCheck, ImageConfigCheck
from scanner.analyzers.container_dockerfile import DockerfileAnalyzer, DockerfileRef
from scanner.models import (
    AnalyzerFailure,
    Artifact,
    ArtifactKind,
    Category,
    Finding,
    Severity,
)
from scanner.sources.codepkg import load_code_package
from scanner.sources.interface import ArtifactFormat, SourceArtifact
from tests.helpers.entries import make_entry
from tests.helpers.project_builder import ProjectSpec, build_code_package

AKID = "AKIAZ4XQ7RMBC2JT6N5W"
GH = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"


def _sa(name: str = "img.tar") -> SourceArtifact:
    art = Artifact(ArtifactKind.CONTAINER, name, f"assets/{name}", None, 0)
    return SourceArtifact(art, None, ArtifactFormat.DOCKER_SAVE)


def _keys(out: object) -> set[tuple[str, str, Severity]]:
    return {(f.rule_id, f.location.path, f.severity) for f in out if isinstance(f, Finding)}  # type: ignore[attr-defined]


def test_image_config_rules() -> None:
    config = {
        "config": {
            "Env": [
                "PATH=/usr/bin",
                "DB_PASSWORD=Tq7-xz9Lw2",
                f"AWS_ACCESS_KEY_ID={AKID}",
                "TOKEN_FILE=/run/secrets/token",
            ],
            "ExposedPorts": {"8080/tcp": {}},
        },
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:abc in /"},
            {"created_by": f"|1 GITHUB_TOKEN={GH} /bin/sh -c make"},
            {"created_by": "/bin/sh -c curl -u bob:Zq81mW-77aa https://x | tar x"},
            {"created_by": "/bin/sh -c git clone https://bot:Zq81mW-77aa@git.example.org/r.git"},
        ],
    }
    out = list(ImageConfigCheck().analyze_config(config, _sa()))
    assert _keys(out) == {
        ("container.user-root", "config.User", Severity.MEDIUM),
        ("container.env-secret", "config.Env[1]", Severity.HIGH),
        ("container.env-secret", "config.Env[2]", Severity.CRITICAL),
        ("container.history-secret", "history[1].created_by", Severity.HIGH),
        ("container.history-secret", "history[3].created_by", Severity.HIGH),
        ("container.exposed-port", "config.ExposedPorts", Severity.LOW),
    }
    assert all(f.category is Category.CONTAINER for f in out if isinstance(f, Finding))
    text = " ".join(f.message for f in out if isinstance(f, Finding))
    assert "Tq7-xz9Lw2" not in text
    assert AKID not in text


def test_non_root_image_is_quiet() -> None:
    config = {"config": {"User": "1000:1000", "Env": ["PATH=/usr/bin"]}, "history": []}
    assert list(ImageConfigCheck().analyze_config(config, _sa())) == []


@pytest.mark.parametrize(
    ("name", "value", "hit"),
    [
        ("API_KEY", "Tq7-xz9Lw2-abc", True),
        ("API_KEY", "changeme", False),
        ("SECRET_ARN", "arn:aws:secretsmanager:us-west-2:1:secret:x", True),
        ("SECRET_ID", "prod/cam", False),
        ("PASSWORD_FILE", "/run/secrets/pw", False),
        ("LANG", "C.UTF-8", False),
    ],
)
def test_env_secret(name: str, value: str, hit: bool) -> None:
    assert (env_secret(name, value) is not None) is hit


def test_file_checks() -> None:
    check = ContainerFilesCheck()
    files = [
        ("usr/bin/passwd", 0o104755, True),
        ("usr/local/bin/backdoor", 0o104755, True),
        ("usr/bin/wall", 0o102755, True),
        ("panorama/app.py", 0o100666, True),
        ("tmp/scratch", 0o101777, False),
        ("panorama/ok.py", 0o100644, False),
        ("var/cache/apt/archives/libfoo_1.0_arm64.deb", 0o100644, True),
        ("var/cache/apt/archives/libbar_1.0_arm64.deb", 0o100644, True),
        ("root/.cache/pip/http/a/b/c", 0o100600, True),
    ]
    out: list[object] = []
    for path, mode, wanted in files:
        assert check.wants(path, 10, mode) is wanted, path
        if wanted:
            out.extend(check.analyze(make_entry(path, b"x" * 10, mode=mode, artifact="c.tar.gz")))
    out.extend(check.finish(_sa("c.tar.gz")))
    assert _keys(out) == {
        ("container-files.setuid", "usr/bin/passwd", Severity.LOW),
        ("container-files.setuid", "usr/local/bin/backdoor", Severity.HIGH),
        ("container-files.setgid", "usr/bin/wall", Severity.LOW),
        ("container-files.world-writable", "panorama/app.py", Severity.MEDIUM),
        (
            "container-files.package-cache",
            "var/cache/apt/archives/libfoo_1.0_arm64.deb",
            Severity.LOW,
        ),
        ("container-files.package-cache", "root/.cache/pip/http/a/b/c", Severity.LOW),
    }
    apt = next(f for f in out if isinstance(f, Finding) and "apt" in f.location.path)
    assert apt.properties["files"] == 2
    assert apt.properties["bytes"] == 20
    assert list(check.finish(_sa("c.tar.gz"))) == []  # tallies are per artifact, consumed once


BAD_DOCKERFILE = """\
FROM public.ecr.aws/panorama/panorama-application
ARG GITHUB_TOKEN=ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5
ENV DB_PASSWORD=Tq7-xz9Lw2
ADD https://example.org/tool.tar.gz /opt/
RUN curl -fsSL https://example.org/install.sh | bash
RUN pip3 install requests
COPY src /panorama
USER root
"""


def test_dockerfile_rules(tmp_path: Path) -> None:
    out = DockerfileAnalyzer().analyze_dockerfile(DockerfileRef("pkg"), BAD_DOCKERFILE.encode())
    got = {(f.rule_id, f.location.line, f.severity) for f in out if isinstance(f, Finding)}
    own = {g for g in got if not g[0].startswith(("dockerfile.DL", "dockerfile.SC"))}
    assert own == {
        ("dockerfile.unpinned-base-image", 1, Severity.MEDIUM),
        ("dockerfile.secret-in-arg", 2, Severity.HIGH),
        ("dockerfile.secret-in-env", 3, Severity.HIGH),
        ("dockerfile.add-url", 4, Severity.MEDIUM),
        ("dockerfile.curl-pipe-shell", 5, Severity.HIGH),
        # On Panorama USER cannot take effect (docker export): said as a fact, not as advice.
        ("dockerfile.runs-as-root", 8, Severity.INFO),
    }
    if shutil.which("hadolint"):
        # hadolint's own view is kept (pip without --no-cache-dir: DL3042), its duplicates
        # of own rules (DL3002 root, DL3006/DL3007 tags, DL3020 ADD) are not.
        assert ("dockerfile.DL3042", 6, Severity.LOW) in got
        assert not any(r in ("dockerfile.DL3002", "dockerfile.DL3006") for r, _, _ in got)
    text = " ".join(f.message for f in out if isinstance(f, Finding))
    assert "Tq7-xz9Lw2" not in text
    assert "ghp_aB3dE5" not in text


def test_good_dockerfile_has_nothing_above_low() -> None:
    good = (
        "FROM public.ecr.aws/panorama/panorama-application:1.2.1-arm64v8@sha256:"
        + "a" * 64
        + "\nCOPY src /panorama\nRUN pip3 install --no-cache-dir requests==2.31.0\n"
        "USER 1000:1000\n"
    )
    out = DockerfileAnalyzer().analyze_dockerfile(DockerfileRef("pkg"), good.encode())
    assert [f for f in out if isinstance(f, Finding) and f.severity >= Severity.LOW] == []


def test_hadolint_missing_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    import scanner.analyzers.container_dockerfile as mod

    monkeypatch.setattr(mod, "find_tool", lambda _name: None)
    out = DockerfileAnalyzer().analyze_dockerfile(DockerfileRef("pkg"), b"FROM a:1\nUSER 1\n")
    # the own rules still ran (digest-pin note, the root fact), and the missing tool fails closed
    assert [type(o) for o in out] == [Finding, Finding, AnalyzerFailure]


def test_dockerfile_of_a_code_package_target(tmp_path: Path) -> None:
    root = build_code_package(tmp_path / "111122223333-cam-1.0", ProjectSpec())
    out = list(DockerfileAnalyzer().analyze_target(load_code_package(root)))
    got = {(f.rule_id, f.location.artifact, f.location.path) for f in out if isinstance(f, Finding)}
    assert ("dockerfile.runs-as-root", root.name, "Dockerfile") in got
