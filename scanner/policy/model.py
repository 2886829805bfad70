"""The policy: what rejects, which analyzers are required, analyzer settings and waivers.

A policy comes from a YAML file (``--policy``), from ``[tool.panorama-gate]`` in a project's
``pyproject.toml``, or from the bundled ``policies/default.yaml``. It is validated against
``scanner.policy.schema.PolicySpec``; every error names the file, the line and the key. A
policy with no rules is an error, never an approval.

Example::

    policy = load_policy(Path("policies/strict.yaml"))
    policy.threshold(Category.CODE)      # Severity.MEDIUM
    policy.analyzer_options()["sandbox"]  # {"max_memory_mb": 1024, ...}
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from scanner.errors import PolicyError
from scanner.models import Category, Severity, frozen_mapping
from scanner.policy._yaml import YamlDocument, dotted, load_yaml
from scanner.policy.errors import validation_error
from scanner.policy.schema import PolicySpec, WaiversFile
from scanner.policy.waivers import Waiver, load_waivers, waivers_from_specs

__all__ = [
    "BUNDLED_POLICIES",
    "PYPROJECT_TABLE",
    "Policy",
    "bundled_policy_path",
    "find_project_config",
    "is_bundled_name",
    "load_policy",
    "parse_policy",
    "resolve_policy",
]

PYPROJECT_TABLE = "panorama-gate"

log = logging.getLogger(__name__)

# Policy sections that analyzers read, and the analyzer (options key) that reads each.
_ANALYZER_SECTIONS = (
    ("licenses", "licenses"),
    ("resources", "sandbox"),
    ("archive", "archive"),
    ("vulnerabilities", "vulns"),
    ("models", "models"),
)


def _empty() -> Mapping[Any, Any]:
    return frozen_mapping({})


@dataclass(frozen=True, slots=True)
class Policy:
    """A loaded, validated policy plus the SHA-256 of the exact bytes it came from."""

    name: str
    sha256: str
    severity_threshold: Severity
    categories: Mapping[Category, Severity] = field(default_factory=_empty)
    raw: Mapping[str, Any] = field(default_factory=_empty)
    source: str = ""
    required_analyzers: str | tuple[str, ...] = "all"
    waivers: tuple[Waiver, ...] = ()
    warnings: tuple[str, ...] = ()

    def threshold(self, category: Category) -> Severity:
        """The severity at and above which a finding of ``category`` rejects."""
        return self.categories.get(category, self.severity_threshold)

    def is_required(self, analyzer: str) -> bool:
        """Whether a failure of ``analyzer`` makes the verdict incomplete."""
        return self.required_analyzers == "all" or analyzer in self.required_analyzers

    def analyzer_options(self) -> dict[str, dict[str, Any]]:
        """Policy sections that analyzers read, keyed by analyzer name."""
        out: dict[str, dict[str, Any]] = {}
        for section, analyzer in _ANALYZER_SECTIONS:
            value = self.raw.get(section)
            if isinstance(value, Mapping):
                out[analyzer] = dict(value)
        return out

    def effective(self) -> dict[str, Any]:
        """The effective policy as plain data (defaults filled in), for ``policy show``."""
        data = dict(self.raw)
        data["waivers"] = [
            {
                k: v
                for k, v in {
                    "id": w.id,
                    "fingerprint": w.fingerprint,
                    "rule": w.rule,
                    "package": w.package,
                    "vulnerability": w.vulnerability,
                    "path": w.path,
                    "reason": w.reason,
                    "owner": w.owner,
                    "expires": w.expires.isoformat(),
                    "source": w.source,
                }.items()
                if v is not None
            }
            for w in self.waivers
        ]
        return data


def bundled_policy_path(name: str = "default") -> Path:
    """Path of a policy shipped inside the package (``default`` or ``strict``)."""
    ref = resources.files("scanner").joinpath("data", "policies", f"{name}.yaml")
    return Path(str(ref))


def _unknown_key_warnings(spec: PolicySpec) -> tuple[str, ...]:
    out: list[str] = []
    for section in ("resources", "vulnerabilities", "models"):
        extra = getattr(spec, section).model_extra or {}
        out.extend(
            f"{section}.{key}: not a key panorama-gate knows; passed to the analyzer as is"
            for key in sorted(extra)
        )
    return tuple(out)


def _from_data(
    data: Any,
    doc: YamlDocument,
    sha256: str,
    base_dir: Path | None,
    default_name: str,
) -> Policy:
    source = doc.source
    if data is None or (isinstance(data, dict) and not data):
        raise PolicyError(
            f"{source}: the policy has no rules; an empty policy cannot approve anything"
        )
    if not isinstance(data, dict):
        raise PolicyError(f"{source}:1: a policy is a mapping of keys (severity_threshold, ...)")
    if "severity_threshold" not in data:
        raise PolicyError(
            f"{source}:1: severity_threshold: required key is missing (a policy with no "
            "threshold has no rules and cannot approve anything)"
        )
    body = {k: v for k, v in data.items() if k != "waivers"}
    try:
        spec = PolicySpec.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc, doc) from None
    waivers: tuple[Waiver, ...] = ()
    raw_waivers = data.get("waivers")
    if isinstance(raw_waivers, str):
        if base_dir is None:
            raise PolicyError(
                f"{source}: waivers: a file name needs a policy file to be relative to"
            )
        waivers = load_waivers((base_dir / raw_waivers).resolve())
    elif isinstance(raw_waivers, list):
        try:
            specs = WaiversFile.model_validate({"waivers": raw_waivers}).waivers
        except ValidationError as exc:
            # The loc ("waivers", i, key) indexes the policy document itself.
            raise validation_error(exc, doc) from None
        waivers = waivers_from_specs(specs, doc, ("waivers",))
    elif raw_waivers is not None:
        line = doc.line(("waivers",))
        raise PolicyError(
            f"{source}:{line}: waivers: a file name or a list of waivers, not "
            f"{type(raw_waivers).__name__}"
        )
    raw = spec.model_dump(mode="json", exclude_none=True, exclude={"waivers"})
    categories = {Category(k): Severity.parse(v) for k, v in spec.categories.items()}
    required = spec.required_analyzers
    return Policy(
        name=spec.name or default_name,
        sha256=sha256,
        severity_threshold=Severity.parse(spec.severity_threshold),
        categories=MappingProxyType(categories),
        raw=frozen_mapping(raw),
        source=source,
        required_analyzers=required if isinstance(required, str) else tuple(sorted(required)),
        waivers=waivers,
        warnings=_unknown_key_warnings(spec),
    )


def parse_policy(raw: bytes, source: str, *, base_dir: Path | None = None) -> Policy:
    """Validate a policy from its bytes; ``source`` names it in errors."""
    doc = load_yaml(raw, source)
    return _from_data(
        doc.data, doc, hashlib.sha256(raw).hexdigest(), base_dir, Path(source).stem or "policy"
    )


BUNDLED_POLICIES = ("default", "strict")
"""Names ``--policy`` accepts for the policies shipped in the package (when no such file exists)."""


def is_bundled_name(path: Path) -> bool:
    """``default`` or ``strict`` naming no file: the bundled policy of that name."""
    return str(path) in BUNDLED_POLICIES and not path.exists()


def load_policy(path: Path | None = None) -> Policy:
    """Load and validate a policy file (the bundled default when ``path`` is ``None``).

    A bare ``default`` or ``strict`` that names no file is the bundled policy of that name, so
    CI can pin the bundled policy without knowing where the package is installed.
    """
    if path is not None and is_bundled_name(path):
        path = bundled_policy_path(str(path))
    path = path or bundled_policy_path("default")
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror or exc}") from exc
    return parse_policy(raw_bytes, str(path), base_dir=path.parent)


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """``[tool.panorama-gate]`` from a project's ``pyproject.toml``."""

    pyproject: Path
    table: Mapping[str, Any]
    lines: Mapping[tuple[str | int, ...], int] = field(default_factory=_empty)


def find_project_config(*folders: Path) -> ProjectConfig | None:
    """The first ``pyproject.toml`` among ``folders`` that has a ``[tool.panorama-gate]`` table."""
    for folder in folders:
        candidate = folder / "pyproject.toml"
        if not candidate.is_file():
            continue
        try:
            text = candidate.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
            raise PolicyError(f"{candidate}: cannot read pyproject.toml: {exc}") from exc
        table = data.get("tool", {}).get(PYPROJECT_TABLE)
        if table is None:
            continue
        if not isinstance(table, dict):
            raise PolicyError(f"{candidate}: [tool.{PYPROJECT_TABLE}] must be a table")
        return ProjectConfig(candidate, frozen_mapping(table), _toml_key_lines(text))
    return None


_TOML_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_TOML_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


def _toml_key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Lines of the keys under ``[tool.panorama-gate]`` (tomllib keeps no positions).

    A line-oriented reading that covers what policies use: tables, arrays of tables and
    ``key = value`` lines (dotted keys split). Multi-line values only record their first line.
    """
    prefix = f"tool.{PYPROJECT_TABLE}"
    out: dict[tuple[str | int, ...], int] = {}
    current: tuple[str | int, ...] | None = None
    arrays: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TOML_HEADER.match(line)
        if header:
            name = header.group(2).replace('"', "").replace("'", "")
            if name != prefix and not name.startswith(prefix + "."):
                current = None
                continue
            parts: tuple[str | int, ...] = (
                tuple(name[len(prefix) + 1 :].split(".")) if name != prefix else ()
            )
            if header.group(1) == "[[":
                index = arrays.get(name, -1) + 1
                arrays[name] = index
                parts = (*parts, index)
            current = parts
            out.setdefault(current, number)
            continue
        if current is None:
            continue
        key = _TOML_KEY.match(line)
        if key:
            path = tuple(k.strip("\"'") for k in key.group(1).split("."))
            out.setdefault((*current, *path), number)
    return out


def _policy_from_pyproject(cfg: ProjectConfig) -> Policy:
    table = dict(cfg.table)
    base = cfg.pyproject.parent
    source = f"{cfg.pyproject} [tool.{PYPROJECT_TABLE}]"
    policy_file = table.pop("policy", None)
    if policy_file is not None:
        if not isinstance(policy_file, str):
            raise PolicyError(f"{source}: policy: a policy file name")
        if set(table) - {"waivers"}:
            extra = ", ".join(sorted(set(table) - {"waivers"}))
            raise PolicyError(
                f"{source}: give either 'policy = FILE' or inline keys, not both ({extra})"
            )
        policy = load_policy((base / policy_file).resolve())
        waivers = table.get("waivers")
        if waivers is None:
            return policy
        if not isinstance(waivers, str):
            raise PolicyError(f"{source}: waivers: with 'policy = FILE', waivers is a file name")
        extra_w = load_waivers((base / waivers).resolve())
        return Policy(
            **{
                **{f: getattr(policy, f) for f in Policy.__dataclass_fields__},
                "waivers": policy.waivers + extra_w,
            }
        )
    canonical = json.dumps(table, sort_keys=True, default=str).encode()
    doc = YamlDocument(table, f"{cfg.pyproject}", dict(cfg.lines))
    policy = _from_data(table, doc, hashlib.sha256(canonical).hexdigest(), base, "pyproject")
    return dataclasses.replace(policy, source=source)


def resolve_policy(explicit: Path | None, *search: Path) -> Policy:
    """The policy a run uses: ``--policy`` first, then ``[tool.panorama-gate]``, then the default.

    ``search`` lists folders whose ``pyproject.toml`` may hold ``[tool.panorama-gate]``
    (the target folder, then the current folder).
    """
    if explicit is not None:
        return load_policy(explicit)
    cfg = find_project_config(*search)
    if cfg is not None:
        policy = _policy_from_pyproject(cfg)
        # A scanned project choosing its own policy is convenient for developers and a way to
        # weaken the gate in CI: say so every time (CI should pass --policy).
        log.warning(
            "using policy %r from %s; pass --policy to enforce another", policy.name, cfg.pyproject
        )
        return policy
    return load_policy(None)


def describe_key(path: tuple[str | int, ...]) -> str:
    """A key path as written in messages (``licenses.deny[2]``)."""
    return dotted(path)
