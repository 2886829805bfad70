"""Container configuration checks (category ``container``), in three analyzers.

- ``container`` (ImageConfigAnalyzer): the image config of docker-save and OCI images: runs as
  root (``User`` unset or root), ``Env`` values that are secrets, secrets in ``history``
  commands and build args, exposed ports.
- ``container-files`` (FileAnalyzer): for every container, setuid/setgid files (the base image's
  usual ones are reported low, anything else high), world-writable files in the app tree, and
  package-manager caches left behind (one finding per cache, with its size).
- ``dockerfile`` (TargetAnalyzer, in ``container_dockerfile``): each code package's Dockerfile.

A docker-export root filesystem (Panorama's own container form) has no image config, so only
the file checks apply to it.

Example::

    for out in ImageConfigCheck().analyze_config(config_json, source_artifact):
        print(out)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from scanner.analyzers._env_secrets import env_secret
from scanner.analyzers._secret_rules import find_secrets
from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import FileAnalyzer, ImageConfigAnalyzer, Output
from scanner.models import Category, Finding, Location, Severity
from scanner.sources.interface import SourceArtifact

__all__ = ["ContainerFilesCheck", "ImageConfigCheck", "standard_setuid"]


def _finding(
    rule: str,
    severity: Severity,
    message: str,
    location: Location,
    evidence: str,
    *,
    cwe: int | None = None,
    properties: Mapping[str, Any] | None = None,
) -> Finding:
    return Finding.create(
        rule_id=rule,
        category=Category.CONTAINER,
        severity=severity,
        message=message,
        location=location,
        evidence=evidence,
        cwe=cwe,
        properties=properties,
    )


_BUILD_ARGS = re.compile(r"^\|\d+\s+((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)+)")


class ImageConfigCheck(ImageConfigAnalyzer):
    """USER, ENV, history and exposed ports of a docker-save/OCI image config."""

    name: ClassVar[str] = "container"
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"container"})

    def analyze_config(
        self, config: Mapping[str, Any], artifact: SourceArtifact
    ) -> Iterable[Output]:
        """Findings for one image config (the JSON the image's manifest points at)."""
        name = artifact.artifact.name
        cfg = config.get("config") or config.get("container_config") or {}
        if not isinstance(cfg, Mapping):
            cfg = {}
        out: list[Output] = []
        user = str(cfg.get("User") or "").strip()
        if user.split(":", 1)[0] in ("", "root", "0"):
            out.append(
                _finding(
                    "container.user-root",
                    Severity.MEDIUM,
                    f"image {name} runs as root (User is {user or 'unset'}); set a non-root "
                    "USER so a compromised app cannot change its own files",
                    Location(name, "config.User"),
                    f"user:{user}",
                    cwe=250,
                    properties={"user": user},
                )
            )
        for i, item in enumerate(cfg.get("Env") or []):
            if not isinstance(item, str) or "=" not in item:
                continue
            key, value = item.split("=", 1)
            hit = env_secret(key, value)
            if hit:
                what, sev, red = hit
                out.append(
                    _finding(
                        "container.env-secret",
                        sev,
                        f"image {name} sets {key} to a secret ({what}, {red}) in its ENV; "
                        "anyone with the image can read it: use AWS Secrets Manager",
                        Location(name, f"config.Env[{i}]"),
                        f"env:{key}:{red}",
                        cwe=798,
                        properties={"variable": key, "redacted": red},
                    )
                )
        for i, step in enumerate(config.get("history") or []):
            if isinstance(step, Mapping):
                out.extend(self._history(name, i, str(step.get("created_by") or "")))
        ports = cfg.get("ExposedPorts") or {}
        if isinstance(ports, Mapping):
            out.extend(
                _finding(
                    "container.exposed-port",
                    Severity.LOW,
                    f"image {name} exposes port {port}; Panorama only opens ports declared "
                    "in the package's inboundPorts and routed in the graph, so check it is "
                    "meant to be reachable",
                    Location(name, "config.ExposedPorts"),
                    f"port:{port}",
                    properties={"port": str(port)},
                )
                for port in sorted(ports)
            )
        return out

    def _history(self, name: str, index: int, command: str) -> Iterator[Finding]:
        loc = Location(name, f"history[{index}].created_by")
        seen: set[str] = set()
        args = _BUILD_ARGS.match(command)
        if args:
            for pair in args.group(1).split():
                key, _, value = pair.partition("=")
                hit = env_secret(key, value)
                if hit and hit[2] not in seen:
                    seen.add(hit[2])
                    yield _finding(
                        "container.history-secret",
                        hit[1],
                        f"build argument {key} of image {name} holds a secret ({hit[0]}, "
                        f"{hit[2]}); build args are kept in the image history",
                        loc,
                        f"arg:{key}:{hit[2]}",
                        cwe=798,
                        properties={"variable": key, "redacted": hit[2]},
                    )
        for m in find_secrets(command):
            if m.redacted in seen:
                continue
            seen.add(m.redacted)
            yield _finding(
                "container.history-secret",
                m.severity,
                f"a build step of image {name} contains {m.title.lower()} {m.redacted}; the "
                "command line is kept in the image history",
                loc,
                f"history:{m.rule}:{m.redacted}",
                cwe=m.cwe,
                properties={"redacted": m.redacted, "secret_rule": m.rule},
            )


# Setuid/setgid programs that Debian/Ubuntu base images ship on purpose (login, su, mount,
# password changes). They are still attack surface, so reported, but low.
_STANDARD_SETUID = frozenset(
    {
        "su",
        "sudo",
        "sudoedit",
        "passwd",
        "chsh",
        "chfn",
        "newgrp",
        "gpasswd",
        "mount",
        "umount",
        "pkexec",
        "chage",
        "expiry",
        "wall",
        "write",
        "bsd-write",
        "ssh-agent",
        "ssh-keysign",
        "crontab",
        "at",
        "fusermount",
        "fusermount3",
        "unix_chkpwd",
        "pam_extrausers_chkpwd",
        "dbus-daemon-launch-helper",
        "polkit-agent-helper-1",
        "ping",
        "ping6",
        "traceroute6.iputils",
        "mtr-packet",
        "newuidmap",
        "newgidmap",
        "Xorg.wrap",
        "dotlockfile",
        "mail-lock",
        "mail-unlock",
        "mail-touchlock",
        "utempter",
        "chromium-sandbox",
    }
)
_SYSTEM_DIRS = re.compile(r"^(?:usr/)?(?:s?bin|lib|libexec|lib64)/")


def standard_setuid(path: str) -> bool:
    """Whether ``path`` is one of the setuid/setgid programs base images ship on purpose."""
    return bool(_SYSTEM_DIRS.match(path)) and path.rsplit("/", 1)[-1] in _STANDARD_SETUID


# Package-manager caches and indexes that a clean image removes in the same layer.
_CACHES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^var/cache/apt/archives/[^/]+\.deb$"), "var/cache/apt/archives"),
    (re.compile(r"^var/cache/apt/[^/]+\.bin$"), "var/cache/apt"),
    (
        re.compile(r"^var/lib/apt/lists/[^/]+_(?:Packages|Sources|InRelease|Release)[^/]*$"),
        "var/lib/apt/lists",
    ),
    (re.compile(r"^(?:root|home/[^/]+)/\.cache/pip/"), "~/.cache/pip"),
    (re.compile(r"^var/cache/apk/"), "var/cache/apk"),
    (re.compile(r"^var/cache/(?:yum|dnf)/"), "var/cache/yum|dnf"),
    (re.compile(r"^(?:root|home/[^/]+)/\.npm/_cacache/"), "~/.npm/_cacache"),
    (re.compile(r"^(?:root|home/[^/]+)/\.cache/(?:pypoetry|uv)/"), "~/.cache (poetry/uv)"),
    (re.compile(r"^opt/conda/pkgs/[^/]+\.(?:tar\.bz2|conda)$"), "opt/conda/pkgs"),
)
# every file's path is asked whether it is a cache: one regex for all of them
_ANY_CACHE = re.compile("|".join(f"(?:{rx.pattern})" for rx, _ in _CACHES))
_APP_TREE = re.compile(r"^(?:panorama|src)/")


@dataclass(slots=True)
class _CacheTally:
    files: int = 0
    size: int = 0
    first: str = ""


class ContainerFilesCheck(FileAnalyzer):
    """setuid/setgid files, world-writable app files, package-manager caches."""

    name: ClassVar[str] = "container-files"
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"container"})
    patterns: ClassVar[tuple[str, ...]] = ()
    max_size: ClassVar[int] = 2**63

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._caches: dict[str, dict[str, _CacheTally]] = {}

    def wants(self, path: str, size: int, mode: int = 0o644) -> bool:
        """Decided on the path and mode alone; the content is never read."""
        if mode & 0o6000:
            return True
        if mode & 0o002 and _APP_TREE.match(path):
            return True
        return _ANY_CACHE.match(path) is not None

    def analyze(self, entry: FileEntry) -> Iterable[Output]:
        """Findings for one file's metadata; cache files are tallied for ``finish``."""
        out: list[Output] = []
        mode = entry.mode
        if mode & 0o6000:
            out.append(self._setid(entry))
        if mode & 0o002 and not mode & 0o1000 and _APP_TREE.match(entry.path):
            out.append(
                _finding(
                    "container-files.world-writable",
                    Severity.MEDIUM,
                    f"{entry.path} is world-writable (mode {mode & 0o7777:04o}); any process in "
                    "the container can change the app's code or data",
                    entry.location(),
                    f"mode:{mode & 0o7777:o}",
                    cwe=732,
                    properties={"mode": f"{mode & 0o7777:04o}"},
                )
            )
        for rx, label in _CACHES:
            if rx.match(entry.path):
                with self._lock:
                    tally = self._caches.setdefault(entry.artifact, {}).setdefault(
                        label, _CacheTally(first=entry.path)
                    )
                    tally.files += 1
                    tally.size += entry.size
                break
        return out

    def _setid(self, entry: FileEntry) -> Finding:
        mode = entry.mode
        kind = "setuid" if mode & 0o4000 else "setgid"
        if mode & 0o4000 and mode & 0o2000:
            kind = "setuid+setgid"
        usual = standard_setuid(entry.path) and not _APP_TREE.match(entry.path)
        sev = Severity.LOW if usual else Severity.HIGH
        note = (
            "a standard base-image program; remove the bit (chmod u-s,g-s) if the app does not "
            "need it"
            if usual
            else "not a standard base-image program: find out why it is privileged"
        )
        return _finding(
            "container-files.setuid" if mode & 0o4000 else "container-files.setgid",
            sev,
            f"{entry.path} is {kind} (mode {mode & 0o7777:04o}, owner uid {entry.uid}); {note}",
            entry.location(),
            f"{kind}:{mode & 0o7777:o}",
            cwe=250,
            properties={"mode": f"{mode & 0o7777:04o}", "uid": entry.uid, "standard": usual},
        )

    def finish(self, artifact: SourceArtifact) -> Iterable[Output]:
        """One finding per package-manager cache found in this artifact."""
        with self._lock:
            tallies = self._caches.pop(artifact.artifact.name, {})
        out: list[Output] = []
        for label, t in sorted(tallies.items()):
            out.append(
                _finding(
                    "container-files.package-cache",
                    Severity.LOW,
                    f"package-manager cache {label} left in the image ({t.files} files, "
                    f"{t.size / 1024**2:.1f} MiB): stale indexes and downloads bloat the asset; "
                    "clean it in the same build step",
                    Location(artifact.artifact.name, t.first),
                    f"cache:{label}",
                    properties={"cache": label, "files": t.files, "bytes": t.size},
                )
            )
        return out
