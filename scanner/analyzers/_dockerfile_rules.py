"""The ``dockerfile`` analyzer's own rules: how a Panorama image gets compromised at build time.

Each rule reads the instructions ``scanner.sources.dockerfile`` parsed and reports at the
physical line that holds the offending word:

- ``plain-http-download``: code, keys or packages fetched over ``http://`` (``curl``,
  ``wget``, ``git clone``, ``ADD``, ``apt-key adv --fetch-keys``, pip ``--index-url``,
  ``--extra-index-url``, ``--find-links``, ``PIP_INDEX_URL``): anyone on the path can swap them;
- ``tls-verification-disabled``: ``wget --no-check-certificate``, ``curl -k``, pip
  ``--trusted-host``, ``sslVerify=false`` and its cousins;
- ``signature-check-disabled``: apt or rpm told to install unsigned packages;
- ``curl-pipe-shell``: a download piped straight into a shell or interpreter;
- ``world-writable``: ``chmod 777``/``o+w`` (and ``mkdir -m``, ``install -m``, ``COPY --chmod``);
- ``secret-in-arg``/``secret-in-env``/``secret``: credentials kept in the image history;
- ``unpinned-base-image`` / ``base-image-not-digest-pinned``: the ``FROM`` line, once;
- ``add-url``: ``ADD https://...`` without ``--checksum``;
- ``runs-as-root`` (info): what is true on Panorama, where ``build-container`` keeps only the
  root filesystem (``docker export``), so ``USER`` never takes effect.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scanner.analyzers._env_secrets import env_secret
from scanner.analyzers._secret_rules import find_secrets
from scanner.models import Category, Finding, Location, Severity
from scanner.sources.dockerfile import (
    Command,
    Instruction,
    base_images,
    copy_spec,
    pip_install,
    run_commands,
)

__all__ = ["DockerfileRef", "own_rules"]

CWE_DOWNLOAD_WITHOUT_INTEGRITY = 494
CWE_CLEARTEXT = 319
CWE_CERT_VALIDATION = 295
CWE_SIGNATURE = 347
CWE_PERMISSIONS = 732
CWE_ROOT = 250
CWE_CREDENTIALS = 798
CWE_UNPINNED = 1357


@dataclass(frozen=True, slots=True)
class DockerfileRef:
    """Where a Dockerfile is reported: the package (artifact) and the file's path in it."""

    artifact: str
    path: str = "Dockerfile"

    def location(self, line: int | None = None) -> Location:
        """A Location in this Dockerfile."""
        return Location(self.artifact, self.path, line)


Emit = Callable[..., Finding]


def _finder(ref: DockerfileRef) -> Emit:
    def emit(
        rule: str,
        severity: Severity,
        message: str,
        line: int | None,
        evidence: str,
        *,
        cwe: int | None = None,
        properties: dict[str, Any] | None = None,
    ) -> Finding:
        return Finding.create(
            rule_id=f"dockerfile.{rule}",
            category=Category.CONTAINER,
            severity=severity,
            message=message,
            location=ref.location(line),
            evidence=evidence,
            cwe=cwe,
            properties=properties,
        )

    return emit


def own_rules(ref: DockerfileRef, instructions: list[Instruction]) -> Iterator[Finding]:
    """Every own-rule finding for one parsed Dockerfile."""
    emit = _finder(ref)
    yield from _base_image_rules(emit, instructions)
    for ins in instructions:
        if ins.keyword == "RUN":
            commands = run_commands(ins)
            for cmd in commands:
                yield from _command_rules(emit, ins, cmd)
            yield from _pipe_to_shell(emit, ins, commands)
        elif ins.keyword in ("ADD", "COPY"):
            yield from _copy_rules(emit, ins)
        if ins.keyword in ("ARG", "ENV"):
            yield from _variable_rules(emit, ins)
        elif ins.keyword != "FROM":
            yield from _secrets_in(emit, ins)
    yield from _root_user(emit, instructions)


# -- FROM -----------------------------------------------------------------------------------


def _base_image_rules(emit: Emit, instructions: list[Instruction]) -> Iterator[Finding]:
    for ins, image in base_images(instructions):
        if "$" in image or "@sha256:" in image:
            continue  # a build argument is not guessed at; a digest is pinned
        first, slash, _ = image.partition("/")
        registry = bool(slash) and ("." in first or ":" in first or first == "localhost")
        name_part = image.rsplit("/", 1)[-1]
        tag = name_part.split(":", 1)[1] if ":" in name_part else ""
        where = (
            ""
            if registry
            else (
                " (no registry host: Docker Hub, or an image built by hand on the build machine;"
                " either way its content is not part of this package)"
            )
        )
        props = {"image": image}
        if not tag or tag.lower() == "latest":
            yield emit(
                "unpinned-base-image",
                Severity.MEDIUM,
                f"base image {image} is {'latest' if tag else 'untagged (latest)'}{where}: every "
                "build can get different code. Pin a version tag and digest "
                "(image:tag@sha256:...)",
                ins.line,
                f"from:{image}",
                cwe=CWE_UNPINNED,
                properties=props,
            )
        else:
            yield emit(
                "base-image-not-digest-pinned",
                Severity.LOW,
                f"base image {image} is pinned by tag only{where}; tags can move. Add "
                "@sha256:<digest>",
                ins.line,
                f"from:{image}",
                cwe=CWE_UNPINNED,
                properties=props,
            )


def _root_user(emit: Emit, instructions: list[Instruction]) -> Iterator[Finding]:
    last_from: Instruction | None = None
    last_user: Instruction | None = None
    for ins in instructions:
        if ins.keyword == "FROM":
            last_from, last_user = ins, None  # USER does not carry into a new stage
        elif ins.keyword == "USER":
            last_user = ins
    if last_from is None:
        return
    user = last_user.args.split(":", 1)[0].strip() if last_user else ""
    if last_user is not None and user not in ("root", "0"):
        message = (
            f"USER {user} has no effect on the appliance: panorama-cli build-container keeps "
            "only the image's files (docker export), so the application runs as root"
        )
    else:
        message = (
            "the application runs as root on the appliance, as every Panorama application "
            "does: build-container keeps only the image's files (docker export), so a USER "
            "line could not change it"
        )
    yield emit(
        "runs-as-root",
        Severity.INFO,
        message,
        (last_user or last_from).line,
        f"user:{user}",
        cwe=CWE_ROOT,
        properties={"user": user or "root"},
    )


# -- downloads and verification ---------------------------------------------------------------

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _plain_http(url: str) -> bool:
    """An ``http://`` URL to anything but this machine."""
    text = url.strip("\"'")
    if not text.lower().startswith("http://"):
        return False
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        return True
    return host not in _LOOPBACK


def _shown(url: str) -> str:
    """A URL as a message shows it: no query string (it may hold a token), clipped."""
    return url.strip("\"'").split("?", 1)[0][:160]


def _http(emit: Emit, ins: Instruction, url: str, what: str) -> Finding:
    return emit(
        "plain-http-download",
        Severity.HIGH,
        f"{what} {_shown(url)} over plain HTTP: anyone on the network path can replace it with "
        "code that runs in the image. Use https:// (and a pinned checksum or signature)",
        ins.line_of(url),
        f"http:{_shown(url)}",
        cwe=CWE_CLEARTEXT,
        properties={"url": _shown(url)},
    )


def _tls_off(emit: Emit, ins: Instruction, word: str, what: str) -> Finding:
    return emit(
        "tls-verification-disabled",
        Severity.HIGH,
        f"{what} ({word}): the download is not checked against a trusted certificate, so "
        "a man in the middle can serve anything. Remove it and fix the certificate instead",
        ins.line_of(word.split("=", 1)[0]),
        f"tls:{word}",
        cwe=CWE_CERT_VALIDATION,
        properties={"option": word},
    )


def _unsigned(emit: Emit, ins: Instruction, word: str) -> Finding:
    return emit(
        "signature-check-disabled",
        Severity.HIGH,
        f"the package manager is told to accept unsigned packages ({word}): a tampered "
        "mirror or man in the middle can install anything. Remove it and add the "
        "repository's signing key",
        ins.line_of(word),
        f"unsigned:{word}",
        cwe=CWE_SIGNATURE,
        properties={"option": word},
    )


_URL_RX = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SSL_VERIFY_OFF = re.compile(
    r"(?i)\b(?:http\.)?ssl_?verify\b\s*[=\s]\s*[\"']?(?:false|0|no|off)\b"
    r"|Verify-Peer\s*=\s*[\"']?false|Verify-Host\s*=\s*[\"']?false"
)
_APT_UNSIGNED = re.compile(
    r"--allow-unauthenticated|--allow-insecure-repositories|--force-yes|"
    r"AllowInsecureRepositories\s*=\s*[\"']?(?:true|1)|\[[^\]]*trusted=yes[^\]]*\]|"
    r"--nogpgcheck|--nosignature|--no-gpg-checks|gpgcheck\s*=\s*0"
)


def _command_rules(emit: Emit, ins: Instruction, cmd: Command) -> Iterator[Finding]:
    prog, args = cmd.program, cmd.args
    if prog in ("curl", "wget"):
        for a in args:
            if _plain_http(a):
                yield _http(emit, ins, a, f"{prog} downloads")
        insecure = {"curl": ("-k", "--insecure", "--proxy-insecure"), "wget": ()}[prog]
        for a in args:
            if (
                a in insecure
                or a == "--no-check-certificate"
                or (prog == "curl" and re.fullmatch(r"-[a-zA-Z]*k[a-zA-Z]*", a))
            ):
                yield _tls_off(emit, ins, a, f"{prog} skips certificate verification")
    elif prog == "git" and "clone" in args:
        for a in args:
            if _plain_http(a):
                yield _http(emit, ins, a, "git clones")
    elif prog == "apt-key":
        for i, a in enumerate(args):
            url = args[i + 1] if a in ("--fetch-keys", "--fetch-key") and i + 1 < len(args) else ""
            if a.startswith("--fetch-key") and "=" in a:
                url = a.split("=", 1)[1]
            if _plain_http(url):
                yield _http(emit, ins, url, "apt-key fetches the APT signing key")
    pip = pip_install(cmd)
    if pip is not None:
        for url in (*pip.index_urls, *pip.find_links, *pip.requirements):
            if _plain_http(url):
                yield _http(emit, ins, url, "pip installs from")
        for host in pip.trusted_hosts:
            yield _tls_off(
                emit, ins, f"--trusted-host {host}", f"pip trusts {host} without TLS checks"
            )
    text = " ".join(cmd.words)
    if m := _SSL_VERIFY_OFF.search(text):
        yield _tls_off(emit, ins, m.group(0), "TLS verification is turned off")
    if prog in ("apt-get", "apt", "yum", "dnf", "rpm", "zypper", "echo", "printf", "tee") and (
        m := _APT_UNSIGNED.search(text)
    ):
        yield _unsigned(emit, ins, m.group(0))
    yield from _chmod(emit, ins, prog, args)


_FETCHERS = frozenset({"curl", "wget"})
_RUNNERS = re.compile(r"(?:ba|da|z|k|a)?sh|python[0-9.]*|perl|ruby|node|php")
_SUBSTITUTION = re.compile(
    r"\b(?:ba|z|da|k)?sh\s+(?:-c\s+)?[\"']?\$\(\s*(?:curl|wget)\b"
    r"|\b(?:ba|z|da|k)?sh\s+<\(\s*(?:curl|wget)\b"
)


def _pipe_to_shell(emit: Emit, ins: Instruction, commands: list[Command]) -> Iterator[Finding]:
    found = any(
        a.program in _FETCHERS and a.pipes_to_next and _RUNNERS.fullmatch(b.program)
        for a, b in zip(commands, commands[1:], strict=False)
    )
    text = ins.args + "\n" + ins.script
    if found or _SUBSTITUTION.search(text):
        fetch = next((c for c in commands if c.program in _FETCHERS), None)
        yield emit(
            "curl-pipe-shell",
            Severity.HIGH,
            "RUN pipes a download straight into a shell or interpreter; nothing checks what "
            "runs. Download, verify a checksum or signature, then run",
            ins.line_of(fetch.program if fetch else "curl"),
            "curl-pipe-shell",
            cwe=CWE_DOWNLOAD_WITHOUT_INTEGRITY,
        )


# -- permissions ----------------------------------------------------------------------------

_SYMBOLIC = re.compile(r"^[ugoa]*[-+=][rwxXst]*$")


def world_writable(mode: str) -> bool:
    """Whether a chmod mode (octal or symbolic) makes files writable by everyone.

    Octal modes with the sticky bit (``1777``, as for ``/tmp``) are not counted: only the
    owner may delete or rename there.
    """
    m = mode.strip("\"'")
    if re.fullmatch(r"[0-7]{3,4}", m):
        if len(m) == 4 and int(m[0]) & 1:
            return False
        return bool(int(m[-1]) & 2)
    for clause in m.split(","):
        if not _SYMBOLIC.match(clause):
            continue
        who, op, perms = re.match(r"([ugoa]*)([-+=])(.*)", clause).groups()  # type: ignore[union-attr]
        if op in "+=" and "w" in perms and ("o" in who or "a" in who):
            return True
    return False


def _chmod(emit: Emit, ins: Instruction, prog: str, args: tuple[str, ...]) -> Iterable[Finding]:
    mode = ""
    recursive = False
    if prog == "chmod":
        rest = [a for a in args if not a.startswith("-") or re.fullmatch(r"-[rwxXst]+", a)]
        recursive = any(a in ("-R", "--recursive") or re.fullmatch(r"-[a-zA-Z]*R", a) for a in args)
        mode = rest[0] if rest else ""
    elif prog in ("mkdir", "install"):
        for i, a in enumerate(args):
            if a in ("-m", "--mode") and i + 1 < len(args):
                mode = args[i + 1]
            elif a.startswith("--mode="):
                mode = a.split("=", 1)[1]
    if mode and world_writable(mode):
        yield _writable(emit, ins, mode, recursive)


def _writable(emit: Emit, ins: Instruction, mode: str, recursive: bool) -> Finding:
    return emit(
        "world-writable",
        Severity.MEDIUM,
        f"mode {mode} makes files writable by every user{' (recursively)' if recursive else ''}; "
        "any process in the container can then change code or models it did not ship. Grant "
        "write access only where the app writes (/opt/aws/panorama/storage)",
        ins.line_of(mode),
        f"mode:{mode}:{recursive}",
        cwe=CWE_PERMISSIONS,
        properties={"mode": mode, "recursive": recursive},
    )


def _copy_rules(emit: Emit, ins: Instruction) -> Iterator[Finding]:
    spec = copy_spec(ins)
    if spec is None:
        return
    for flag in spec.flags:
        if flag.startswith("--chmod=") and world_writable(flag.split("=", 1)[1]):
            yield _writable(emit, ins, flag.split("=", 1)[1], False)
    if ins.keyword != "ADD":
        return
    checked = any(f.startswith("--checksum") for f in spec.flags)
    for src in spec.sources:
        if _plain_http(src):
            yield _http(emit, ins, src, "ADD downloads")
        elif _URL_RX.match(src) and not checked:
            yield emit(
                "add-url",
                Severity.MEDIUM,
                f"ADD downloads {_shown(src)} at build time without --checksum; fetch with a "
                "pinned checksum or COPY a vetted file",
                ins.line_of(src),
                f"add:{_shown(src)}",
                cwe=CWE_DOWNLOAD_WITHOUT_INTEGRITY,
            )


# -- variables and secrets --------------------------------------------------------------------


def kv_pairs(args: str) -> list[tuple[str, str]]:
    """``ENV``/``ARG`` arguments as (name, value); legacy ``ENV NAME value`` included."""
    pairs = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S*)", args)
    if pairs:
        return [(k, v.strip("\"'")) for k, v in pairs]
    name, _, value = args.partition(" ")
    return [(name, value.strip().strip("\"'"))] if name else []


# Environment variables that switch a tool's certificate checks off, and their "off" values.
_TLS_ENV = {
    "PYTHONHTTPSVERIFY": ("0",),
    "GIT_SSL_NO_VERIFY": ("1", "true", "yes"),
    "NODE_TLS_REJECT_UNAUTHORIZED": ("0",),
    "CURL_CA_BUNDLE": ("",),
    "REQUESTS_CA_BUNDLE": ("",),
}
_PIP_URL_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS")


def _variable_rules(emit: Emit, ins: Instruction) -> Iterator[Finding]:
    for key, value in kv_pairs(ins.args):
        if key in _PIP_URL_ENV:
            for url in value.split():
                if _plain_http(url):
                    yield _http(emit, ins, url, f"{key} points pip at")
        elif key == "PIP_TRUSTED_HOST" and value:
            yield _tls_off(emit, ins, f"{key}={value}", f"pip trusts {value} without TLS checks")
        elif key in _TLS_ENV and value.lower() in _TLS_ENV[key] and ins.keyword == "ENV":
            yield _tls_off(emit, ins, f"{key}={value}", "TLS verification is turned off")
        hit = env_secret(key, value) if value else None
        if hit:
            what, severity, redacted = hit
            yield emit(
                "secret-in-" + ins.keyword.lower(),
                severity,
                f"{ins.keyword} {key} holds a secret ({what}, {redacted}); it stays in the image "
                "and its history. Use a build secret (RUN --mount=type=secret) or fetch it at "
                "run time",
                ins.line_of(key),
                f"{ins.keyword}:{key}:{redacted}",
                cwe=CWE_CREDENTIALS,
                properties={"variable": key, "redacted": redacted},
            )


def _secrets_in(emit: Emit, ins: Instruction) -> Iterator[Finding]:
    for m in find_secrets(f"{ins.args}\n{ins.script}"):
        yield emit(
            "secret",
            m.severity,
            f"{ins.keyword} instruction contains {m.title.lower()} {m.redacted}; it is kept in "
            "the image history",
            ins.line,
            f"{ins.keyword}:{m.rule}:{m.redacted}",
            cwe=m.cwe,
            properties={"redacted": m.redacted, "secret_rule": m.rule},
        )
