"""The policy model: what rejects, which analyzers are required, and analyzer settings.

A policy with no rules is an error, never an approval.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from scanner.errors import PolicyError
from scanner.models import Category, Severity, frozen_mapping

__all__ = ["Policy", "bundled_policy_path", "load_policy"]


@dataclass(frozen=True, slots=True)
class Policy:
    """A loaded, validated policy plus the SHA-256 of the exact bytes it came from."""

    name: str
    sha256: str
    severity_threshold: Severity
    categories: Mapping[Category, Severity] = field(default_factory=lambda: frozen_mapping({}))
    raw: Mapping[str, Any] = field(default_factory=lambda: frozen_mapping({}))

    def threshold(self, category: Category) -> Severity:
        """The severity at and above which a finding of ``category`` rejects."""
        return self.categories.get(category, self.severity_threshold)

    def analyzer_options(self) -> dict[str, dict[str, Any]]:
        """Policy sections that analyzers read, keyed by analyzer name."""
        out: dict[str, dict[str, Any]] = {}
        for section, analyzer in (
            ("licenses", "licenses"),
            ("resources", "sandbox"),
            ("archive", "archive"),
            ("vulnerabilities", "vulns"),
            ("models", "models"),
        ):
            value = self.raw.get(section)
            if isinstance(value, Mapping):
                out[analyzer] = dict(value)
        return out


def bundled_policy_path(name: str = "default") -> Path:
    """Path of a policy shipped inside the package (``default`` or ``strict``)."""
    ref = resources.files("scanner").joinpath("policies", f"{name}.yaml")
    return Path(str(ref))


def load_policy(path: Path | None = None) -> Policy:
    """Load and validate a policy file (the bundled default when ``path`` is ``None``)."""
    path = path or bundled_policy_path("default")
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file") from exc
    try:
        data = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML") from exc
    if not isinstance(data, dict) or not data:
        raise PolicyError(f"{path}: a policy with no rules cannot approve anything")
    if "severity_threshold" not in data:
        raise PolicyError(f"{path}: key 'severity_threshold' is required")
    try:
        threshold = Severity.parse(str(data["severity_threshold"]))
        categories = {
            Category(str(k)): Severity.parse(str(v))
            for k, v in (data.get("categories") or {}).items()
        }
    except ValueError as exc:
        raise PolicyError(f"{path}: {exc}") from exc
    return Policy(
        name=str(data.get("name") or path.stem),
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        severity_threshold=threshold,
        categories=frozen_mapping(categories),
        raw=frozen_mapping(data),
    )
