"""panorama-gate: a supply-chain security gate for AWS Panorama applications.

Example::

    from pathlib import Path
    from scanner import scan
    from scanner.config import ScanConfig

    report = scan(Path("examples/shelf-monitor"), ScanConfig())
    print(len(report.findings))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
TOOL_NAME = "panorama-gate"

if TYPE_CHECKING:
    from pathlib import Path

    from scanner.config import ScanConfig
    from scanner.models import Report

__all__ = ["TOOL_NAME", "__version__", "scan"]


def scan(target: Path, config: ScanConfig, **kwargs: Any) -> Report:
    """Scan a target and return its Report (no verdict: see ``scanner.policy``)."""
    from scanner.pipeline import scan as _scan

    return _scan(target, config, **kwargs)
