"""``panorama-gate policy validate FILE`` and ``panorama-gate policy show``.

``validate`` checks a policy file (and optionally a waivers file): exit 0 when valid, exit 2 with
one ``file:line: key: problem`` line per problem otherwise. ``show`` prints the effective policy
(defaults filled in, waivers resolved) that ``scan`` would use here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from scanner.errors import PolicyError
from scanner.policy import Policy, load_policy, load_waivers, resolve_policy
from scanner.policy._yaml import load_yaml
from scanner.policy.waivers import Waiver

__all__ = ["register"]

EXAMPLES = """\
examples:
  panorama-gate policy validate policies/strict.yaml
  panorama-gate policy validate my-policy.yaml --waivers waivers.yaml
  panorama-gate policy show --policy policies/strict.yaml --format json
  panorama-gate policy show path/to/project      # what scan would use for that project
"""


def register(sub: Any) -> None:
    """Add the ``policy`` command with its ``validate`` and ``show`` subcommands."""
    p = sub.add_parser(
        "policy",
        help="check a policy file; print the effective policy",
        description="Check a policy file, or print the effective policy.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inner = p.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", parser_class=type(p))
    v = inner.add_parser(
        "validate", help="check a policy (or waivers) file (exit 0 valid, 2 invalid)"
    )
    v.add_argument("file", type=Path, metavar="FILE", help="policy YAML file, or a waivers file")
    v.add_argument("--waivers", type=Path, help="also check this waivers file")
    v.set_defaults(func=_validate)
    s = inner.add_parser("show", help="print the effective policy")
    s.add_argument(
        "--policy",
        type=Path,
        help=(
            "policy YAML (default: [tool.panorama-gate] in ./pyproject.toml, "
            "else the bundled default)"
        ),
    )
    s.add_argument("--format", dest="show_format", choices=("yaml", "json"), default="yaml")
    s.add_argument(
        "target",
        nargs="?",
        type=Path,
        metavar="TARGET",
        help="a project folder whose pyproject.toml may hold [tool.panorama-gate]",
    )
    s.set_defaults(func=_show)
    p.set_defaults(func=_usage(p))


def _usage(parser: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return run


def _waiver_notes(waivers: tuple[Waiver, ...], today: dt.date) -> list[str]:
    return [
        f"  warning: waiver {w.id} ({w.source}) expired on {w.expires.isoformat()}"
        for w in waivers
        if w.is_expired(today)
    ]


def _is_waivers_file(path: Path) -> bool:
    """A bare list, or a mapping with only ``waivers:``: a waivers file, not a policy."""
    try:
        data = load_yaml(path.read_bytes(), str(path)).data
    except (OSError, PolicyError):
        return False  # load_policy reports the problem properly
    return isinstance(data, list) or (isinstance(data, dict) and set(data) == {"waivers"})


def _validate(args: argparse.Namespace) -> int:
    today = dt.datetime.now(dt.UTC).date()
    if _is_waivers_file(args.file):
        waivers = load_waivers(args.file)
        print(f"{args.file}: {len(waivers)} valid waiver(s)")
        for note in _waiver_notes(waivers, today):
            print(note)
        return 0
    policy = load_policy(args.file)
    print(
        f"{args.file}: valid policy {policy.name!r} (sha256 {policy.sha256}, "
        f"{len(policy.waivers)} inline or referenced waiver(s))"
    )
    for note in policy.warnings:
        print(f"  warning: {note}")
    for note in _waiver_notes(policy.waivers, today):
        print(note)
    if args.waivers is not None:
        waivers = load_waivers(args.waivers)
        print(f"{args.waivers}: {len(waivers)} valid waiver(s)")
        for note in _waiver_notes(waivers, today):
            print(note)
    return 0


def _effective(policy: Policy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "source": policy.source,
        "sha256": policy.sha256,
        "policy": policy.effective(),
    }


def _show(args: argparse.Namespace) -> int:
    # Nested subcommands are beyond the generic PANORAMA_GATE_<FLAG> handling in main().
    explicit = args.policy
    if explicit is None and os.environ.get("PANORAMA_GATE_POLICY"):
        explicit = Path(os.environ["PANORAMA_GATE_POLICY"])
    search = [args.target] if args.target is not None and args.target.is_dir() else []
    policy = resolve_policy(explicit, *search, Path.cwd())
    data = _effective(policy)
    if args.show_format == "json":
        json.dump(data, sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(f"# effective policy {policy.name!r} from {policy.source}\n")
        sys.stdout.write(f"# sha256 {policy.sha256}\n")
        yaml.safe_dump(data["policy"], sys.stdout, sort_keys=False, default_flow_style=False)
    return 0
