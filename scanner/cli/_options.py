"""Flags shared by several commands, and turning them into a ScanConfig and a Policy."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO, cast

from scanner.cli._source_root import find_source_root
from scanner.cli._types import positive_int
from scanner.config import ArchiveLimits, ScanConfig, default_cache_dir
from scanner.errors import UsageError
from scanner.fsutil import atomic_open
from scanner.models import Report
from scanner.policy import Policy, resolve_policy
from scanner.report import FORMATS, get_writer, needs_source_root

__all__ = [
    "config_for_outputs",
    "add_output_flags",
    "add_scan_flags",
    "config_from_args",
    "policy_from_args",
    "write_outputs",
]


def add_scan_flags(p: argparse.ArgumentParser) -> None:
    """Flags for commands that scan a target."""
    p.add_argument(
        "target",
        type=Path,
        metavar="TARGET",
        help="project folder, code package, container asset or model",
    )
    p.add_argument(
        "--policy",
        type=Path,
        help="policy YAML, or 'default'/'strict' for a bundled one (default: [tool.panorama-gate] "
        "in the target's or current folder's pyproject.toml, else the bundled default.yaml)",
    )
    p.add_argument("--waivers", type=Path, help="waivers YAML file")
    p.add_argument(
        "--analyzers", default="", help="selection, e.g. 'tag:model,-secrets' (default: all)"
    )
    p.add_argument("--vuln-db", type=Path, help="offline OSV database folder or zip")
    p.add_argument("--offline", action="store_true", help="no network at all")
    p.add_argument("--no-profile", action="store_true", help="do not run the sandbox profile")
    p.add_argument(
        "--cache-dir", type=Path, help="cache folder (default: $XDG_CACHE_HOME/panorama-gate)"
    )
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument(
        "--work-dir", type=Path, help="scratch folder (default: a fresh temporary folder)"
    )
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        metavar="N",
        help="worker processes, at least 1 (default: one per core)",
    )
    p.add_argument(
        "--code-scope",
        choices=("app", "all"),
        default="app",
        help="'all' also scans third-party site-packages with bandit",
    )


class _FormatAction(argparse._AppendAction):
    """``--format FMT``: starts a new (format, file) pair, in command-line order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        super().__call__(parser, namespace, values, option_string)
        pairs = list(getattr(namespace, "output_order", None) or [])
        pairs.append([values, None])
        namespace.output_order = pairs


class _OutputAction(argparse._AppendAction):
    """``-o FILE``: binds to the ``--format`` just before it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        super().__call__(parser, namespace, values, option_string)
        pairs = list(getattr(namespace, "output_order", None) or [])
        if pairs and pairs[-1][1] is None:
            pairs[-1][1] = values
        else:
            pairs.append([None, values])
        namespace.output_order = pairs


def add_output_flags(
    p: argparse.ArgumentParser,
    default: str = "terminal",
    *,
    choices: Mapping[str, str] | None = None,
    what: str = "report format",
) -> None:
    """Repeatable ``--format FMT -o FILE`` pairs; each -o goes with the --format before it.

    ``choices`` maps the names this command accepts to writer names in ``FORMATS`` (default:
    every writer under its own name).
    """
    names = sorted(choices) if choices is not None else sorted(FORMATS)
    p.add_argument(
        "--format",
        dest="formats",
        action=_FormatAction,
        default=[],
        metavar="FMT",
        help=f"{what} (repeatable; one of: {', '.join(names)}; default {default})",
    )
    p.add_argument(
        "-o",
        "--output",
        dest="outputs",
        action=_OutputAction,
        default=[],
        type=Path,
        help="file for the --format before it ('-' for stdout; repeatable)",
    )
    p.set_defaults(default_format=default, output_order=None, format_choices=choices)


def policy_from_args(args: argparse.Namespace) -> Policy:
    """The policy: ``--policy``, else ``[tool.panorama-gate]`` in the target's or the current
    folder's ``pyproject.toml``, else the bundled default."""
    target = getattr(args, "target", None)
    search = [target] if isinstance(target, Path) and target.is_dir() else []
    return resolve_policy(getattr(args, "policy", None), *search, Path.cwd())


def config_from_args(args: argparse.Namespace, policy: Policy) -> ScanConfig:
    """One frozen ScanConfig from flags, environment (already applied) and the policy."""
    options: dict[str, dict[str, Any]] = policy.analyzer_options()
    if getattr(args, "vuln_db", None):
        options.setdefault("vulns", {})["vuln_db"] = str(args.vuln_db)
    options.setdefault("code", {})["scope"] = getattr(args, "code_scope", "app")
    cache_dir: Path | None = None
    if not getattr(args, "no_cache", False):
        cache_dir = getattr(args, "cache_dir", None) or default_cache_dir()
    selection = tuple(s for s in str(getattr(args, "analyzers", "") or "").split(",") if s.strip())
    try:
        limits = ArchiveLimits.from_mapping(options.get("archive", {}))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"policy archive limits: {exc}") from exc
    return ScanConfig(
        analyzers=selection,
        offline=bool(getattr(args, "offline", False)),
        cache_dir=cache_dir,
        work_dir=getattr(args, "work_dir", None),
        jobs=int(getattr(args, "jobs", 0) or 0),
        limits=limits,
        profile=not getattr(args, "no_profile", True),
        options=options,
        progress=sys.stderr.isatty() and not getattr(args, "quiet", False),
    )


# Writers that need more from the scan than the findings: writer name -> (analyzer, option).
_WRITER_NEEDS = {"notice": ("packages", "license_texts")}


def config_for_outputs(config: ScanConfig, pairs: list[tuple[str, Path | None]]) -> ScanConfig:
    """``config`` with what the requested writers need turned on (the notice file's license
    texts), so ``scan --format notice`` writes what ``licenses --format notice`` writes."""
    wanted = [_WRITER_NEEDS[fmt] for fmt, _ in pairs if fmt in _WRITER_NEEDS]
    if not wanted:
        return config
    options = {k: dict(v) for k, v in config.options.items()}
    for analyzer, option in wanted:
        options.setdefault(analyzer, {})[option] = True
    return dataclasses.replace(config, options=options)


def output_pairs(args: argparse.Namespace) -> list[tuple[str, Path | None]]:
    """(writer name, file) pairs as given; a format without a file goes to stdout.

    A lone ``-o FILE`` with no ``--format`` writes the command's default format (JSON for
    ``scan``). Formats that come only from the environment (``PANORAMA_GATE_FORMAT`` /
    ``PANORAMA_GATE_OUTPUT``) pair up by position.
    """
    choices: Mapping[str, str] = getattr(args, "format_choices", None) or {
        name: name for name in FORMATS
    }
    lone_default = "json" if args.default_format == "terminal" else args.default_format
    order = getattr(args, "output_order", None)
    if order is None:
        formats: list[str] = list(args.formats)
        outputs: list[Path] = list(args.outputs)
        order = [[f, outputs[i] if i < len(outputs) else None] for i, f in enumerate(formats)]
        order += [[None, o] for o in outputs[len(formats) :]]
    if not order:
        order = [[args.default_format, None]]
    pairs: list[tuple[str, Path | None]] = []
    for i, (fmt, out) in enumerate(order):
        if fmt is None:
            if i > 0 or len(order) > 1:
                raise UsageError("each -o FILE needs a --format before it")
            fmt = lone_default
        if fmt not in choices:
            raise UsageError(f"unknown format {fmt!r} (known: {', '.join(sorted(choices))})")
        pairs.append((choices[fmt], None if out is None or str(out) == "-" else Path(out)))
    return pairs


def write_outputs(
    report: Report,
    pairs: list[tuple[str, Path | None]],
    quiet: bool,
    source_root: Path | None = None,
) -> None:
    """Write every requested report; files are written atomically.

    Reports that link to repository files (SARIF, Code Quality) place the target in its
    repository: ``source_root`` when given, else the git work tree holding the target.
    """
    root = None
    if any(needs_source_root(fmt) for fmt, _ in pairs) and report.target.path:
        root = find_source_root(Path(report.target.path), source_root)
    for fmt, path in pairs:
        writer = get_writer(fmt, root)
        if path is None:
            if quiet and fmt == "terminal":
                continue
            writer.write(report, sys.stdout)
            sys.stdout.flush()
        else:
            try:
                with atomic_open(path, "w") as fp:
                    writer.write(report, cast(TextIO, fp))
            except OSError as exc:
                raise UsageError(f"{path}: cannot write report: {exc.strerror or exc}") from exc


def add_keyless_flags(p: argparse.ArgumentParser) -> None:
    """``--certificate-identity``, ``--certificate-oidc-issuer`` and ``--trusted-root``."""
    p.add_argument(
        "--certificate-identity",
        metavar="ID",
        help="keyless: the signer's identity (certificate SAN), exactly",
    )
    p.add_argument(
        "--certificate-oidc-issuer",
        metavar="URL",
        help="keyless: the OIDC issuer of that identity, exactly",
    )
    p.add_argument(
        "--trusted-root",
        type=Path,
        metavar="FILE",
        help="keyless: verify against this Sigstore trusted_root.json (default: the "
        "production root shipped with sigstore-python)",
    )


def keyless_identity(args: argparse.Namespace, command: str) -> Any:
    """The :class:`signing.keyless.KeylessIdentity` the flags ask for, or ``None`` (keys).

    Exactly one of ``--key`` and the keyless pair must be given.
    """
    from signing.keyless import KeylessIdentity

    keyless = args.certificate_identity or args.certificate_oidc_issuer
    if keyless and not (args.certificate_identity and args.certificate_oidc_issuer):
        raise UsageError(
            f"keyless {command} needs both --certificate-identity and --certificate-oidc-issuer"
        )
    if bool(args.key) == bool(keyless):
        raise UsageError("give --key PUB, or --certificate-identity and --certificate-oidc-issuer")
    if args.trusted_root is not None and not keyless:
        raise UsageError("--trusted-root is for keyless verification (with --certificate-identity)")
    if not keyless:
        return None
    return KeylessIdentity(
        args.certificate_identity, args.certificate_oidc_issuer, args.trusted_root
    )
