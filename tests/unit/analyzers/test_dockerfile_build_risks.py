"""How an image gets compromised at build time: each risk found at the exact line, once.

The fixtures are written here to reproduce the patterns found in real Panorama samples
(signing keys fetched over plain HTTP, ``wget --no-check-certificate`` of a wheel that is then
installed, ``chmod -R 777``); the negatives are what ordinary Dockerfiles do safely.
"""

from __future__ import annotations

import pytest

from scanner.analyzers._dockerfile_rules import world_writable
from scanner.analyzers.container_dockerfile import DockerfileAnalyzer, DockerfileRef
from scanner.models import Finding, Severity

OWN = ("dockerfile.DL", "dockerfile.SC")


def own_findings(text: str) -> list[Finding]:
    out = DockerfileAnalyzer().analyze_dockerfile(DockerfileRef("pkg"), text.encode())
    return [f for f in out if isinstance(f, Finding) and not f.rule_id.startswith(OWN)]


def risks(text: str) -> set[tuple[str, int | None]]:
    """(rule, line) of the findings above info, the base image's pinning left out."""
    return {
        (f.rule_id, f.location.line)
        for f in own_findings(text)
        if f.severity > Severity.INFO and "base-image" not in f.rule_id
    }


BASE = "FROM public.ecr.aws/panorama/panorama-application:1.2.1-arm64v8\n"

COMPROMISABLE = BASE + (
    "RUN apt-get update && \\\n"  # 2
    "    apt-key adv --fetch-keys http://repo.example.com/key.gpg && \\\n"  # 3
    "    apt-get install -y libfoo\n"  # 4
    "RUN wget --no-check-certificate https://files.example.com/tool-1.0-py3-none-any.whl \\\n"
    "        -O /tmp/tool-1.0-py3-none-any.whl && \\\n"  # 6
    "    pip3 install /tmp/tool-1.0-py3-none-any.whl\n"  # 7
    "RUN curl -fsSL http://get.example.com/setup.sh -o /tmp/setup.sh && sh /tmp/setup.sh\n"  # 8
    "RUN curl -sSL https://get.example.com/install | bash\n"  # 9
    "RUN pip install --index-url http://pypi.example.com/simple requests==2.31.0\n"  # 10
    "RUN pip install --trusted-host pypi.example.com numpy==1.24.4\n"  # 11
    "RUN chmod -R 777 /panorama\n"  # 12
    "RUN git -c http.sslVerify=false clone https://git.example.com/app.git\n"  # 13
    "ADD http://example.com/model.tar.gz /panorama/\n"  # 14
    "RUN curl -k https://example.com/data.bin -o /tmp/data.bin\n"  # 15
    "RUN apt-get install -y --allow-unauthenticated libbar\n"  # 16
    "ENV PIP_INDEX_URL=http://pypi.example.com/simple\n"  # 17
    "COPY src /panorama\n"  # 18
)


def test_each_build_time_risk_is_found_at_its_line() -> None:
    assert risks(COMPROMISABLE) == {
        ("dockerfile.plain-http-download", 3),
        ("dockerfile.tls-verification-disabled", 5),
        ("dockerfile.plain-http-download", 8),
        ("dockerfile.curl-pipe-shell", 9),
        ("dockerfile.plain-http-download", 10),
        ("dockerfile.tls-verification-disabled", 11),
        ("dockerfile.world-writable", 12),
        ("dockerfile.tls-verification-disabled", 13),
        ("dockerfile.plain-http-download", 14),
        ("dockerfile.tls-verification-disabled", 15),
        ("dockerfile.signature-check-disabled", 16),
        ("dockerfile.plain-http-download", 17),
    }


def test_severities_reject_under_the_default_policy() -> None:
    by_rule = {f.rule_id: f for f in own_findings(COMPROMISABLE)}
    for rule in (
        "plain-http-download",
        "tls-verification-disabled",
        "signature-check-disabled",
        "curl-pipe-shell",
    ):
        assert by_rule[f"dockerfile.{rule}"].severity is Severity.HIGH, rule
    assert by_rule["dockerfile.world-writable"].severity is Severity.MEDIUM
    assert by_rule["dockerfile.world-writable"].properties["recursive"] is True


def test_messages_name_what_was_fetched_and_never_a_query_string() -> None:
    text = BASE + "RUN curl -o /tmp/x http://example.com/a.whl?token=s3cr3tvalue\n"
    (f,) = [f for f in own_findings(text) if f.rule_id == "dockerfile.plain-http-download"]
    assert "http://example.com/a.whl" in f.message
    assert "s3cr3t" not in f.message
    assert "s3cr3t" not in str(f.properties)


def test_ordinary_dockerfiles_raise_no_build_risk() -> None:
    safe = BASE + (
        "RUN apt-get update && apt-get install -y --no-install-recommends curl\n"
        "RUN curl -fsSL https://example.com/key.gpg | gpg --dearmor -o /usr/share/keyrings/x.gpg\n"
        'RUN echo "deb http://deb.debian.org/debian bookworm main" > /etc/apt/sources.list\n'
        "RUN apt-key adv --keyserver hkp://keyserver.ubuntu.com:80 --recv-keys ABCDEF0123456789\n"
        "RUN curl -fsSL https://example.com/tool.tar.gz | tar xz -C /opt\n"
        "RUN wget -q https://example.com/model.onnx -O /panorama/model.onnx\n"
        "RUN pip install --index-url https://pypi.example.com/simple requests==2.31.0\n"
        "RUN curl http://localhost:8080/health || true\n"
        "RUN chmod 1777 /tmp && chmod 755 /panorama && chmod -R u+w,go-w /opt/aws\n"
        "RUN mkdir -m 0755 /panorama/cache\n"
        "ENV PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH\n"
        "COPY src /panorama\n"
    )
    assert risks(safe) == set()


@pytest.mark.parametrize(
    ("mode", "writable"),
    [
        ("777", True),
        ("0666", True),
        ("a+w", True),
        ("o+rw", True),
        ("u+w,o+w", True),
        ("a=rwx", True),
        ("1777", False),  # sticky, as /tmp
        ("755", False),
        ("u+w", False),
        ("+x", False),
        ("go-w", False),
    ],
)
def test_world_writable_modes(mode: str, writable: bool) -> None:
    assert world_writable(mode) is writable


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("RUN mkdir -m 777 /data", "dockerfile.world-writable"),
        ("RUN install -m 0666 a /b", "dockerfile.world-writable"),
        ("COPY --chmod=777 src /panorama", "dockerfile.world-writable"),
        ('RUN sh -c "$(curl -fsSL https://x/install.sh)"', "dockerfile.curl-pipe-shell"),
        ("RUN wget -qO- https://x/i.py | python3", "dockerfile.curl-pipe-shell"),
        ("RUN git clone http://git.example.com/a.git", "dockerfile.plain-http-download"),
        ("RUN pip install --find-links http://m/wheels a==1", "dockerfile.plain-http-download"),
        ("RUN conda config --set ssl_verify false", "dockerfile.tls-verification-disabled"),
        ("ENV GIT_SSL_NO_VERIFY=1", "dockerfile.tls-verification-disabled"),
        ("ENV PYTHONHTTPSVERIFY=0", "dockerfile.tls-verification-disabled"),
        ("ARG PIP_TRUSTED_HOST=m.example.com", "dockerfile.tls-verification-disabled"),
        (
            'RUN echo "deb [trusted=yes] https://r.example.com/ ./" > /etc/apt/sources.list',
            "dockerfile.signature-check-disabled",
        ),
        ("RUN yum install -y --nogpgcheck foo", "dockerfile.signature-check-disabled"),
    ],
)
def test_more_forms_of_the_same_risks(line: str, rule: str) -> None:
    assert risks(BASE + line + "\n") == {(rule, 2)}


def test_secrets_in_arg_and_env_are_redacted() -> None:
    token = "ghp_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"
    text = BASE + f"ARG GITHUB_TOKEN={token}\nENV CAMERA_PASSWORD=Tq7-xz9Lw2\n"
    found = {(f.rule_id, f.location.line): f for f in own_findings(text)}
    assert set(found) >= {("dockerfile.secret-in-arg", 2), ("dockerfile.secret-in-env", 3)}
    shown = " ".join(f.message + str(f.properties) for f in found.values())
    assert token not in shown
    assert "Tq7-xz9Lw2" not in shown
    assert found[("dockerfile.secret-in-env", 3)].properties["redacted"].startswith("Tq7-")


@pytest.mark.parametrize(
    ("text", "rule", "severity"),
    [
        ("FROM public.ecr.aws/panorama/panorama-application\n", "unpinned-base-image", "medium"),
        ("FROM ubuntu:LATEST AS b\nFROM b\n", "unpinned-base-image", "medium"),
        ("FROM localhost:5000/app\n", "unpinned-base-image", "medium"),
        ("FROM \\\n  ubuntu\n", "unpinned-base-image", "medium"),
        ("FROM localhost:5000/app:1.2\n", "base-image-not-digest-pinned", "low"),
        ("FROM ubuntu@sha256:" + "a" * 64 + "\n", "", ""),
        ("ARG BASE=x\nFROM ${BASE}\n", "", ""),
        (
            "FROM ubuntu:20.04 AS base\nFROM base\nFROM scratch\n",
            "base-image-not-digest-pinned",
            "low",
        ),
    ],
)
def test_base_image_is_judged_once_per_from_line(text: str, rule: str, severity: str) -> None:
    found = [f for f in own_findings(text) if "base-image" in f.rule_id]
    if not rule:
        assert found == []
        return
    (f,) = found
    assert (f.rule_id, f.severity.label, f.location.line) == (f"dockerfile.{rule}", severity, 1)


def test_an_image_without_a_registry_says_where_it_would_come_from() -> None:
    (f,) = [f for f in own_findings("FROM pt37:latest\n") if "base-image" in f.rule_id]
    assert "no registry host" in f.message


@pytest.mark.parametrize(
    ("user", "says"),
    [
        ("", "runs as root on the appliance"),
        ("USER root\n", "runs as root on the appliance"),
        ("USER 1000:1000\n", "USER 1000 has no effect on the appliance"),
    ],
)
def test_the_user_the_app_runs_as_is_stated_not_advised(user: str, says: str) -> None:
    (f,) = [f for f in own_findings(BASE + user) if f.rule_id == "dockerfile.runs-as-root"]
    assert f.severity is Severity.INFO
    assert says in f.message
