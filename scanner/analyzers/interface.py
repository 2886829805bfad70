"""The analyzer plug-in contract.

Five kinds of analyzer, all declared the same way (``name``, ``version``, ``tags``,
``patterns``) and all returning the same outputs (``Finding``, ``Component``,
``AnalyzerFailure``, ``Skipped``):

- ``FileAnalyzer``: sees each file it declared interest in, once, during the single pass.
- ``TreeAnalyzer``: gets a temporary folder holding only the files it wanted, after the pass
  (bandit wants real paths; package auditing wants all components at once).
- ``ImageConfigAnalyzer``: gets the parsed image config of docker-save/OCI images.
- ``ComponentAnalyzer``: gets each artifact's package inventory once, after its pass (the
  component stage builds it once and shares it: packages, licenses, vulnerabilities).
- ``TargetAnalyzer``: gets the whole detected target once (manifests, project model, asset
  files): manifest checks, privacy checks, the sandbox profile.

Example::

    class TodoAnalyzer(FileAnalyzer):
        name = "todo"
        version = 1
        tags = frozenset({"code"})
        patterns = ("**/*.py",)

        def analyze(self, entry, ctx):
            if b"TODO" in entry.read():
                yield Finding.create(...)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from scanner.analyzers._globs import GlobSet
from scanner.models import (
    AnalyzerFailure,
    ArtifactFacts,
    Component,
    Finding,
    ResourceProfile,
    Skipped,
    frozen_mapping,
)
from scanner.sources.sniff import Sniffed

if TYPE_CHECKING:
    from scanner.analyzers._inventory import ComponentSet
    from scanner.analyzers.entry import FileEntry
    from scanner.config import ScanConfig
    from scanner.sources.interface import ScanTarget, SourceArtifact

__all__ = [
    "Analyzer",
    "AnalyzerContext",
    "ComponentAnalyzer",
    "FileAnalyzer",
    "ImageConfigAnalyzer",
    "Output",
    "TargetAnalyzer",
    "TreeAnalyzer",
    "compile_globs",
]

Output = Finding | Component | AnalyzerFailure | Skipped | ResourceProfile | ArtifactFacts


def compile_globs(globs: Iterable[str]) -> GlobSet | None:
    """One matcher for a set of globs (``None`` for an empty set), case-insensitive: file
    names on the systems that write models do not agree on case (``MODEL.PTH``)."""
    globs = list(globs)
    return GlobSet(globs) if globs else None


@dataclass(frozen=True, slots=True)
class AnalyzerContext:
    """What an analyzer is given when configured: its own options and the run's settings."""

    name: str
    options: Mapping[str, Any] = field(default_factory=lambda: frozen_mapping({}))
    config: ScanConfig | None = None
    work_dir: Path | None = None


class Analyzer(ABC):  # noqa: B024 - a shared base for the declarations, not an interface itself
    """Shared declarations of every analyzer kind.

    ``version`` must be bumped whenever output could change: it feeds the cache key.
    ``required`` analyzers make the verdict incomplete when they fail (the policy can change
    which ones are required).
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset()
    patterns: ClassVar[tuple[str, ...]] = ()
    # Content kinds (``scanner.sources.sniff.ContentKind`` values) this analyzer reads whatever
    # the file is named: the walker sniffs each file's head and offers it by content.
    content_kinds: ClassVar[frozenset[str]] = frozenset()
    max_size: ClassVar[int] = 64 * 1024**2
    required: ClassVar[bool] = True
    _compiled: ClassVar[GlobSet | None]

    def __init__(self) -> None:
        self.ctx = AnalyzerContext(self.name)
        cls = type(self)
        if "_compiled" not in cls.__dict__:
            cls._compiled = compile_globs(cls.patterns)

    def configure(self, ctx: AnalyzerContext) -> None:
        """Receive options before the walk; override to validate them (raise ``ConfigError``)."""
        self.ctx = ctx

    def cache_token(self) -> str:
        """Extra input to the result cache key, for state that options do not show.

        Override when output depends on something outside the artifact and the options, such
        as the content of a database the options only name by path. Called after configure().
        """
        return ""

    def wants(self, path: str, size: int, mode: int = 0o644) -> bool:
        """Whether this file should be handed over by its name: cheap, content-free logic only.

        Names match case-insensitively (``model.PTH`` is a ``*.pth``).
        """
        rx = type(self)._compiled
        return rx is not None and size <= self.max_size and rx.match(path)

    def wants_content(self, path: str, size: int, sniffed: Sniffed) -> bool:
        """Whether this file should be handed over for what its head says it is."""
        return sniffed.kind.value in self.content_kinds and size <= self.max_size


class FileAnalyzer(Analyzer):
    """Sees each wanted file during the single streaming pass.

    ``parallel`` analyzers may run in a worker process beside the walk (scanner.walk.workers):
    there ``analyze`` gets the entry with its bytes already read, and ``finish`` runs in the
    same process, so state kept for ``finish`` must be kept per artifact (keyed by
    ``entry.artifact``) and nothing may be shared with the rest of the scan. Set it on
    analyzers whose work is worth a process (the cost of handing the bytes over is about a
    copy). ``worker_imports`` names the heavy modules such an analyzer imports lazily.
    """

    parallel: ClassVar[bool] = False
    # Modules a parallel analyzer imports lazily on its first file (a heavy library): a worker
    # imports them on a thread as it starts, so that it does not stop to import mid-walk.
    worker_imports: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def analyze(self, entry: FileEntry) -> Iterable[Output]:
        """Findings, components and failures for one file; read through ``entry.open()``."""

    def finish(self, artifact: SourceArtifact) -> Iterable[Output]:
        """Called once per artifact after its pass, for analyzers that aggregate."""
        return ()


class TreeAnalyzer(Analyzer):
    """Runs after the pass on a read-only folder holding only the files it wanted."""

    @abstractmethod
    def analyze_tree(self, root: Path, artifact: SourceArtifact) -> Iterable[Output]:
        """Findings for the collected tree; paths are reported relative to ``root``."""


class ImageConfigAnalyzer(Analyzer):
    """Receives the image config (the OCI/Docker config JSON) of each image artifact."""

    @abstractmethod
    def analyze_config(
        self, config: Mapping[str, Any], artifact: SourceArtifact
    ) -> Iterable[Output]:
        """Findings for one image config."""


class ComponentAnalyzer(Analyzer):
    """Runs once per artifact on its package inventory, built once by the component stage.

    It declares no file patterns: the stage gathers the files that describe packages (dist-info,
    dpkg's database, requirements, license files) during the single pass, parses each once and
    builds the Components; every ComponentAnalyzer then sees the same ``ComponentSet``.
    """

    def needs_license_texts(self) -> bool:
        """Whether Components must carry their license texts (the notice export)."""
        return False

    @abstractmethod
    def analyze_components(
        self, components: ComponentSet, artifact: SourceArtifact
    ) -> Iterable[Output]:
        """Findings (and components, for the inventory itself) for one artifact."""


class TargetAnalyzer(Analyzer):
    """Sees the whole detected target once (manifests, project model, asset files)."""

    @abstractmethod
    def analyze_target(self, target: ScanTarget) -> Iterable[Output]:
        """Findings for the target as a whole."""
