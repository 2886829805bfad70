"""``packages``: the third-party inventory of every artifact, as Components with purl.

Finds Python distributions from ``*.dist-info``/``*.egg-info`` anywhere in a root filesystem
(any Python version's site-packages or dist-packages, vendored copies), dependencies declared in
requirements/pyproject/lock files of code packages, and OS packages from the dpkg status
database. Each Component records where it was found and its SPDX-normalised licenses (see
``_licensing`` for the detection order). The component stage (``scanner.walk.components``)
builds them once per artifact; this analyzer puts them in the report.

Options (``ScanConfig.options["packages"]``):

- ``license_texts`` (bool, default false): keep each component's license texts as found in the
  artifact in ``properties["license_texts"]`` (the ``licenses --format notice`` export sets it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from scanner.analyzers.interface import ComponentAnalyzer, Output

if TYPE_CHECKING:
    from scanner.analyzers._inventory import ComponentSet
    from scanner.sources.interface import SourceArtifact

__all__ = ["PackagesAnalyzer"]


class PackagesAnalyzer(ComponentAnalyzer):
    """Inventory of Python distributions, declared requirements and dpkg packages."""

    name = "packages"
    version = 2
    tags = frozenset({"deps", "license"})

    def needs_license_texts(self) -> bool:
        """True when the ``license_texts`` option asks for them (the notice export)."""
        return bool(self.ctx.options.get("license_texts", False))

    def analyze_components(
        self, components: ComponentSet, artifact: SourceArtifact
    ) -> Iterable[Output]:
        """The artifact's Components, as the component stage built them."""
        return components.components
