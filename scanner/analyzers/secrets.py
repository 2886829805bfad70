"""``secrets``: key material and credentials anywhere in an artifact (category ``secret``).

Every regular file is searched: binaries only for key material (PEM/OpenSSH private keys, AWS
access key ids), text for every rule in ``_secret_rules``. File-name rules add what content
alone cannot say: the Panorama appliance's provisioning archive (``certificates-omni_*.zip``)
and device certificates, ``.aws/credentials``, ``.netrc``, ``.env``, docker ``config.json``
auths, PKCS#12 bundles and keystores.

Third-party code is full of test keys and documentation values. Those are never dropped
silently: documented AWS sample keys become ``info`` findings, key material in third-party
tests and credential URLs in third-party files are lowered to ``low`` (each such finding says
why in ``properties["reason"]``), and the context/entropy rules, which there find only
documentation values, are not run on installed third-party/OS files: one ``Skipped`` entry per
artifact says so and how many files it concerns.

Only redacted values (first 4 characters and the length) leave this module.

Example::

    from scanner.analyzers.secrets import SecretsAnalyzer
    for finding in SecretsAnalyzer().analyze(entry):
        print(finding.rule_id, finding.message)
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import threading
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from scanner.analyzers._secret_rules import (
    CWE_HARDCODED_CREDENTIALS,
    CWE_PRIVATE_KEY,
    SecretMatch,
    is_placeholder,
    looks_binary,
    scan_bytes,
)
from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import FileAnalyzer, Output
from scanner.models import AnalyzerFailure, Category, Finding, Location, Severity, Skipped
from scanner.redact import redact
from scanner.sources.interface import SourceArtifact

__all__ = ["SecretsAnalyzer", "is_test_path", "is_third_party"]

# Content that is already compressed or media: a literal search is meaningless there.
_SKIP_SUFFIXES = (
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".bmp",
    ".webp",
    ".ico",
    ".mp4",
    ".avi",
    ".mkv",
    ".mov",
    ".mp3",
    ".wav",
    ".ogg",
    ".flac",
    ".gz",
    ".tgz",
    ".xz",
    ".bz2",
    ".zst",
    ".lz4",
    ".7z",
    ".woff",
    ".woff2",
    ".ttf",
    ".otf",
)

# Where installed packages and the OS live. Deliberately narrow and anchored: a ``vendor/``
# folder anywhere (``panorama/src/vendor/``) is the app's own code and keeps the strict rules;
# only package managers' install trees and the OS's own folders count.
_THIRD_PARTY = re.compile(
    r"(?:^|/)(?:site-packages|dist-packages|node_modules)/"
    r"|^(?:usr/(?:lib|lib64|share|include|src)|lib|lib64|opt/conda/(?:lib|pkgs)|var/lib/dpkg)/"
)
# Configuration files, where an unquoted ``password: value`` is the literal value.
_CONFIG_SUFFIXES = (".yaml", ".yml", ".ini", ".cfg", ".conf", ".properties")
_TEST_PATH = re.compile(
    r"(?:^|/)(?:tests?|testing|testdata|test_data|fixtures?|examples?|docs?|samples?|demo)/"
    r"|(?:^|/)test_[^/]*$|_test\.py$|(?:^|/)ssl-cert-snakeoil\.key$"
)
_DOTENV = re.compile(r"(?:^|/)(?:\.env(?:\.[\w.-]+)?|[\w.-]+\.env)$")
_ENV_LINE = re.compile(
    rb"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$", re.MULTILINE
)
_ENV_SECRET_NAME = re.compile(
    rb"(?i)(?:secret|token|passw(?:or)?d|pwd|api_?key|access_?key|private_?key|credential|auth)"
)
_NETRC_PASSWORD = re.compile(rb"(?:^|\s)password\s+(\S+)")


def is_third_party(path: str) -> bool:
    """Whether ``path`` belongs to an installed third-party package or the OS, not the app.

    The seam for package ownership: once the walk attributes files to the dpkg package or
    Python distribution that installed them (and verifies their digests), "distribution
    content" replaces this path rule, and an unowned file anywhere gets the app's strict
    rules. Until then the rule is narrow: install trees only, never a ``vendor/`` name.
    """
    return _THIRD_PARTY.search(path) is not None


def is_test_path(path: str) -> bool:
    """Whether ``path`` is a test fixture, sample or document (where sample keys live)."""
    return _TEST_PATH.search(path) is not None


class SecretsAnalyzer(FileAnalyzer):
    """Credentials and key material in every file of every artifact."""

    name: ClassVar[str] = "secrets"
    parallel: ClassVar[bool] = True  # heavy: runs in a worker beside the walk
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"secret", "code", "container"})
    patterns: ClassVar[tuple[str, ...]] = ("**",)
    max_size: ClassVar[int] = 64 * 1024**2

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._not_heuristic: dict[str, int] = {}

    def wants(self, path: str, size: int, mode: int = 0o644) -> bool:
        """Every regular file up to ``max_size``, except media and compressed streams."""
        if size > self.max_size or size == 0:
            return False
        low = path.lower()
        return not low.endswith(_SKIP_SUFFIXES) or low.rsplit("/", 1)[-1].startswith(
            "certificates-omni_"
        )

    def analyze(self, entry: FileEntry) -> Iterable[Output]:
        """Findings for one file (path rules first, then content rules)."""
        data = entry.read()
        out: list[Output] = list(self._path_rules(entry, data))
        binary = looks_binary(data)
        if data[:4] == b"PK\x03\x04" and entry.path.lower().endswith(".zip"):
            out.extend(self._zip_members(entry, data))
        # Context and entropy rules only find documentation and test values inside installed
        # packages and the OS tree; they run on the app and its configuration. Key material,
        # AWS key ids and credential URLs are searched everywhere.
        heuristics = not is_third_party(entry.path)
        if not heuristics and not binary:
            with self._lock:
                self._not_heuristic[entry.artifact] = self._not_heuristic.get(entry.artifact, 0) + 1
        config = entry.path.lower().endswith(_CONFIG_SUFFIXES)
        matches = scan_bytes(data, binary=binary, heuristics=heuristics, config=config)
        out.extend(self._finding(entry, m) for m in matches)
        return out

    def finish(self, artifact: SourceArtifact) -> Iterable[Output]:
        """Say, once per artifact, which files the context and entropy rules left out."""
        with self._lock:
            count = self._not_heuristic.pop(artifact.artifact.name, 0)
        if not count:
            return ()
        return (
            Skipped(
                self.name,
                f"context and entropy rules (passwords, generic secrets, AWS secret keys by "
                f"name, service tokens) not applied to {count} text file(s) of installed "
                "third-party/OS packages; key material, AWS access key ids and credential URLs "
                "were searched in every file",
                Location(artifact.artifact.name, ""),
            ),
        )

    # --- building findings ------------------------------------------------------------------

    def _finding(self, entry: FileEntry, m: SecretMatch, *, inner: str = "") -> Finding:
        severity = m.severity
        reason = m.reason
        third = is_third_party(entry.path)
        props: dict[str, Any] = dict(m.properties)
        if not m.sample and third:
            if m.kind != "key":
                severity, reason = (
                    Severity.LOW,
                    (
                        "heuristic match inside a third-party/OS package; usually documentation "
                        "or a test value"
                    ),
                )
            elif is_test_path(entry.path):
                severity, reason = (
                    Severity.LOW,
                    (
                        "key material in a third-party package's tests/samples; a known fixture, "
                        "still shipped in the image"
                    ),
                )
            elif severity > Severity.MEDIUM:
                severity, reason = (
                    Severity.MEDIUM,
                    ("key material inside a third-party/OS package rather than the app"),
                )
        props["redacted"] = m.redacted
        if third:
            props["third_party"] = True
        if m.sample:
            props["sample"] = True
        if reason:
            props["reason"] = reason
        if inner:
            props["member"] = inner
        where = f"{entry.path}!{inner}" if inner else entry.path
        if m.rule == "credential-url":
            message = (
                f"{m.properties.get('scheme', '')} URL to {m.properties.get('host', '?')} embeds "
                f"a password ({m.redacted}) in {where}; keep credentials (camera credentials "
                "above all) in AWS Secrets Manager"
            )
        else:
            message = f"{m.title} {m.redacted} in {where}; remove it and rotate the credential"
        if reason:
            message += f" ({reason})"
        return Finding.create(
            rule_id=f"secrets.{m.rule}",
            category=Category.SECRET,
            severity=severity,
            message=message,
            location=entry.location(m.line),
            evidence=m.evidence + (f"@{inner}" if inner else ""),
            title=m.title,
            cwe=m.cwe,
            properties=props,
        )

    def _path_finding(
        self,
        entry: FileEntry,
        rule: str,
        title: str,
        severity: Severity,
        message: str,
        *,
        line: int | None = None,
        redacted: str = "",
        cwe: int = CWE_HARDCODED_CREDENTIALS,
    ) -> Finding:
        props: dict[str, Any] = {}
        if redacted:
            props["redacted"] = redacted
        if is_third_party(entry.path) and severity > Severity.LOW and is_test_path(entry.path):
            severity = Severity.LOW
            props["reason"] = "inside a third-party package's tests/samples"
            props["third_party"] = True
        return Finding.create(
            rule_id=f"secrets.{rule}",
            category=Category.SECRET,
            severity=severity,
            message=message,
            location=entry.location(line),
            evidence=f"{rule}:{redacted}",
            title=title,
            cwe=cwe,
            properties=props,
        )

    # --- file-name rules ----------------------------------------------------------------------

    def _path_rules(self, entry: FileEntry, data: bytes) -> Iterator[Output]:
        path = entry.path
        base = path.rsplit("/", 1)[-1]
        low = base.lower()
        if low.startswith("certificates-omni_") and low.endswith(".zip"):
            yield self._path_finding(
                entry,
                "panorama-provisioning-archive",
                "Panorama provisioning archive",
                Severity.CRITICAL,
                f"Panorama appliance provisioning archive {path} is inside the application; it "
                "holds the device's provisioning certificate and must never travel in an app",
                cwe=CWE_PRIVATE_KEY,
            )
        elif low.endswith((".pem.crt", "-certificate.pem", ".cert.pem")) or low in (
            "certificate.pem",
            "device.crt",
            "device-certificate.pem",
        ):
            yield self._path_finding(
                entry,
                "device-certificate",
                "Device certificate file",
                Severity.HIGH,
                f"device certificate file {path} (Panorama/IoT naming) is inside the "
                "application; device credentials must stay on the device",
                cwe=CWE_PRIVATE_KEY,
            )
        if low.endswith((".p12", ".pfx", ".jks", ".keystore", ".pkcs12")):
            yield self._path_finding(
                entry,
                "keystore",
                "Key store file",
                Severity.HIGH,
                f"key store {path} (PKCS#12/JKS) usually holds a private key; remove it from "
                "the image and fetch it at run time",
                cwe=CWE_PRIVATE_KEY,
            )
        if path.endswith(".aws/credentials") or (path == "credentials" and b"aws_" in data):
            yield self._path_finding(
                entry,
                "aws-credentials-file",
                "AWS credentials file",
                Severity.HIGH,
                f"AWS shared credentials file {path} is in the artifact; the app should use "
                "its runtime role instead",
            )
        if low in (".netrc", "_netrc"):
            yield from self._netrc(entry, data)
        if _DOTENV.search(path) and not looks_binary(data):
            yield from self._dotenv(entry, data)
        if low == "config.json" and b'"auths"' in data:
            yield from self._docker_config(entry, data)

    def _netrc(self, entry: FileEntry, data: bytes) -> Iterator[Output]:
        for m in _NETRC_PASSWORD.finditer(data):
            value = m.group(1)
            if is_placeholder(value.decode("utf-8", "replace")):
                continue
            yield self._path_finding(
                entry,
                "netrc-password",
                "Password in .netrc",
                Severity.HIGH,
                f".netrc file {entry.path} holds a password ({redact(value)})",
                line=data.count(b"\n", 0, m.start(1)) + 1,
                redacted=redact(value),
            )

    def _dotenv(self, entry: FileEntry, data: bytes) -> Iterator[Output]:
        for m in _ENV_LINE.finditer(data):
            name, value = m.group(1), m.group(2).strip(b"\"'")
            if not _ENV_SECRET_NAME.search(name) or len(value) < 6:
                continue
            if is_placeholder(value.decode("utf-8", "replace")):
                continue
            yield self._path_finding(
                entry,
                "dotenv-secret",
                "Secret in a .env file",
                Severity.HIGH,
                f".env file {entry.path} sets {name.decode('utf-8', 'replace')} to a literal "
                f"secret ({redact(value)}); inject it at run time instead",
                line=data.count(b"\n", 0, m.start()) + 1,
                redacted=redact(value),
            )

    def _docker_config(self, entry: FileEntry, data: bytes) -> Iterator[Output]:
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return  # not JSON: the content rules still run on it
        auths = doc.get("auths") if isinstance(doc, dict) else None
        if not isinstance(auths, dict):
            return
        for registry, entry_data in sorted(auths.items()):
            if not isinstance(entry_data, dict):
                continue
            for key in ("auth", "identitytoken", "password", "registrytoken"):
                value = entry_data.get(key)
                if not isinstance(value, str) or not value:
                    continue
                if key == "auth":
                    try:
                        decoded = base64.b64decode(value, validate=True)
                    except (binascii.Error, ValueError):
                        decoded = b""
                    if b":" not in decoded:
                        continue
                raw = value.encode()
                pos = data.find(raw)
                line = data.count(b"\n", 0, pos) + 1 if pos >= 0 else None
                yield self._path_finding(
                    entry,
                    "docker-auth",
                    "Docker registry credentials",
                    Severity.CRITICAL,
                    f"docker config {entry.path} holds {key} credentials for registry "
                    f"{str(registry)[:100]} ({redact(value)})",
                    line=line,
                    redacted=redact(value),
                )

    def _zip_members(self, entry: FileEntry, data: bytes) -> Iterator[Output]:
        """Search small members of a zip (provisioning archives, key bundles) for key material."""
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                infos = [i for i in zf.infolist() if not i.is_dir()]
                names = [i.filename.lower() for i in infos]
                has_key = any(n.endswith((".key", ".pem.key")) or "private" in n for n in names)
                has_cert = any(n.endswith((".crt", ".pem.crt", ".cer")) for n in names)
                if (
                    has_key
                    and has_cert
                    and not entry.path.lower().rsplit("/", 1)[-1].startswith("certificates-omni_")
                ):
                    yield self._path_finding(
                        entry,
                        "certificate-archive",
                        "Archive of certificates and keys",
                        Severity.HIGH,
                        f"zip {entry.path} bundles certificates with private keys (like a "
                        "Panorama provisioning archive); it must not ship in an application",
                        cwe=CWE_PRIVATE_KEY,
                    )
                for info in infos[:1000]:
                    if info.file_size > 4 * 1024**2:
                        continue
                    inner = zf.read(info)
                    for m in scan_bytes(inner):
                        if m.kind == "key":
                            yield self._finding(entry, m, inner=info.filename)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
            # Encrypted or damaged members cannot be searched: say so rather than pass them.
            # In the app that blocks approval; inside a third-party package it is recorded.
            reason = f"cannot read zip members: {type(exc).__name__}: {exc}"
            if is_third_party(entry.path):
                yield Skipped(self.name, reason, entry.location())
            else:
                yield AnalyzerFailure(self.name, reason, entry.location())
