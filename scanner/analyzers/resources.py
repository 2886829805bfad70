"""``sandbox``: run the application in the sandbox and hold its resource use against the budgets.

A ``TargetAnalyzer``: it needs the whole target (the container asset, descriptor.json's entry
point, the graph's ports, parameters and models). It runs only when profiling is on (``scan``
without ``--no-profile``) and the target has a container asset. Its outputs are the
``ResourceProfile`` (the report's ``resources``) and ``resource`` findings. A profile that
cannot run (no Docker engine and no bubblewrap, an arm64 image without qemu) is a ``Skipped``
plus a low finding, or, with ``resources.when_unavailable: incomplete``, an ``AnalyzerFailure``
that makes the verdict incomplete.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from scanner.analyzers.interface import AnalyzerContext, Output, TargetAnalyzer
from scanner.models import AnalyzerFailure, ArtifactKind, Location, Skipped
from scanner.sandbox import Budgets, open_sandbox
from scanner.sandbox._graph import build_request, entry_of
from scanner.sandbox.budgets import budget_findings
from scanner.sources.interface import ArtifactFormat, ScanTarget, SourceArtifact

__all__ = ["SandboxAnalyzer"]

_RUNNABLE = (ArtifactFormat.ROOTFS, ArtifactFormat.DOCKER_SAVE, ArtifactFormat.OCI_ARCHIVE)


class SandboxAnalyzer(TargetAnalyzer):
    """Profiles the application's real entry point with the emulated panoramasdk."""

    name = "sandbox"
    version = 1
    tags = frozenset({"sandbox"})

    def configure(self, ctx: AnalyzerContext) -> None:
        """Validate the policy's ``resources:`` section now, so a bad key fails early."""
        super().configure(ctx)
        self.budgets = Budgets.from_options(ctx.options)

    def analyze_target(self, target: ScanTarget) -> Iterable[Output]:
        """The profile and its findings for the target's container asset(s)."""
        config = self.ctx.config
        if config is None or not config.profile:
            return
        containers = [
            sa
            for sa in target.artifacts
            if sa.artifact.kind is ArtifactKind.CONTAINER
            and sa.file is not None
            and sa.format in _RUNNABLE
        ]
        if not containers:
            return
        yield from self._profile_all(target, containers)

    def _profile_all(
        self, target: ScanTarget, containers: list[SourceArtifact]
    ) -> Iterator[Output]:
        options = dict(self.ctx.options)
        budgets = Budgets.from_options(options)
        base = self.ctx.work_dir
        work = Path(tempfile.mkdtemp(prefix="sandbox-", dir=base))
        try:
            with open_sandbox(str(options.get("sandbox") or "auto")) as sandbox:
                for i, sa in enumerate(containers):
                    request = build_request(target, sa, options, work / str(i))
                    profile = sandbox.profile(request, work)
                    _, entry = entry_of(sa)
                    loc = Location(sa.artifact.name, entry.lstrip("/"))
                    if not profile.ran:
                        if budgets.when_unavailable == "incomplete":
                            yield AnalyzerFailure(
                                self.name, f"resource profile did not run: {profile.reason}", loc
                            )
                        else:
                            yield Skipped(self.name, profile.reason, loc)
                    if i == 0:
                        yield profile  # the report has one resources section: the first app
                    findings = budget_findings(profile, budgets, sa.artifact.name, entry)
                    if not profile.ran and budgets.when_unavailable == "incomplete":
                        continue  # the failure says it; a finding would say it twice
                    yield from findings
        finally:
            shutil.rmtree(work, ignore_errors=True)
