"""Read a single code-package folder before ``build-container``.

A code package is ``packages/<account>-<name>-<version>/`` as the developer edits it:
``package.json``, ``descriptor.json``, a ``Dockerfile`` and the sources (``src/`` or the
whole folder, which the Dockerfile copies into ``/panorama``). It has no built assets yet, so
the folder itself is the one artifact (kind ``code``, walked as a directory), and an empty
``assets`` list is expected ("not built", low).

Example::

    target = load_code_package(Path("packages/123456789012-shelf_code-1.0"))
    target.project.packages[0].folder_name    # "shelf_code"
"""

from __future__ import annotations

from pathlib import Path

from scanner.models import (
    AnalyzerFailure,
    Category,
    Finding,
    Location,
    Severity,
    Target,
    TargetKind,
)
from scanner.sources._coverage import check_code_sources
from scanner.sources._package_folder import empty_assets
from scanner.sources.interface import ScanTarget
from scanner.sources.manifests import Project
from scanner.sources.panorama import (
    ProjectReader,
    code_folder_artifact,
    entry_point,
    load_package_folder,
    one_line,
)

__all__ = ["load_code_package"]


def load_code_package(root: Path) -> ScanTarget:
    """Read a code-package folder into a ``ScanTarget`` with one ``code`` artifact.

    Manifest problems become findings (the ``manifest`` analyzer checks the rest); only a path
    that is not a readable folder raises ``SourceError``.
    """
    reader = ProjectReader(Path(root))
    top = reader.root
    folder = load_package_folder(reader, top, None)
    # Downstream keys and reports use the folder name: the CLI's <account>-<name>-<version>.
    folder.dir = ""
    if folder.dockerfile_path is None:
        reader.findings.append(
            Finding.create(
                rule_id="integrity.manifest-missing",
                category=Category.INTEGRITY,
                severity=Severity.MEDIUM,
                message="the code package has no Dockerfile (or it is a symlink); "
                "panorama-cli build-container cannot build it",
                location=Location("Dockerfile"),
            )
        )
    failures: list[AnalyzerFailure] = []
    if folder.dockerfile_path is not None:
        check = check_code_sources(top, top / "Dockerfile", entry_point(folder))
        if not check.present:
            # The folder is the whole target: code it does not hold was not reviewed.
            reason = f"the code package's code is not in this folder: {check.reason}"
            failures.append(
                AnalyzerFailure("sources", one_line(reason), Location("Dockerfile", "", check.line))
            )
        else:
            folder.scanned_from = "source"
    if empty_assets(folder):
        reader.add(
            "integrity.not-built",
            Severity.LOW,
            f'package {folder.folder_name or top.name} is not built yet (empty "assets"): its '
            "code was scanned from this folder, but what the build adds (the base image, "
            "packages the Dockerfile installs) was not",
            reader.location(folder.package_path, ("nodePackage", "assets")),
            properties={"package": folder.folder_name or top.name, "scanned_from": "source"},
        )
    project = Project(root=top, packages=[folder], texts=dict(reader.texts))
    version = folder.folder_version or ""
    return ScanTarget(
        target=Target(str(root), TargetKind.CODE_PACKAGE, folder.folder_name or top.name, version),
        root=top,
        artifacts=[code_folder_artifact(top, ".", folder.folder_name or top.name)],
        manifests=reader.manifests,
        findings=reader.findings,
        failures=failures,
        project=project,
    )
