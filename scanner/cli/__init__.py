"""The command line: the only place that reads argv and the environment, prints, or exits.

Each command lives in its own module under ``scanner.cli`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function taking the
parsed ``argparse.Namespace`` and returning the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

from scanner import TOOL_NAME, __version__
from scanner.errors import InterruptedScan, ScannerError
from scanner.sources import prehash

__all__ = ["COMMANDS", "build_parser", "cancellable", "main", "start_ahead"]

# Command modules, in the order `--help` lists them.
COMMANDS: tuple[str, ...] = (
    "scanner.cli.scan",
    "scanner.cli.profile",
    "scanner.cli.policy",
    "scanner.cli.keygen",
    "scanner.cli.sign",
    "scanner.cli.verify",
    "scanner.cli.publish",
    "scanner.cli.pull",
    "scanner.cli.licenses",
    "scanner.cli.sbom",
    "scanner.cli.vulndb",
    "scanner.cli.hook",
    "scanner.cli.doctor",
    "scanner.cli.completion",
)

EXIT_CODES_HELP = """\
exit codes:
  0  approved (warnings allowed)
  1  rejected by the policy
  2  usage error, or unreadable/invalid input (a one-line message says which file and why)
  3  incomplete: an analyzer or the tool itself failed, so nothing can be approved

Every flag can also be set as PANORAMA_GATE_<FLAG> in the environment,
e.g. PANORAMA_GATE_CACHE_DIR=/tmp/cache or PANORAMA_GATE_OFFLINE=1.
"""

log = logging.getLogger("panorama_gate")


class _Parser(argparse.ArgumentParser):
    """argparse with the contract's exit code 2 and a one-line error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every registered command."""
    parser = _Parser(
        prog=TOOL_NAME,
        description=(
            "A supply-chain security gate for AWS Panorama applications: unpack safely, scan "
            "code, packages, licenses, secrets, manifests and models, profile resource use, "
            "decide with a policy, and sign, encrypt and publish what passed."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{TOOL_NAME} {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more output (-vv: debug)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors and the verdict")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    # -v/-q work before or after the command; SUPPRESS keeps a subcommand from resetting them.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="more output (-vv: debug)",
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="only errors and the verdict",
    )
    add_parser = sub.add_parser

    def add_with_common(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs["parents"] = [*kwargs.get("parents", []), common]
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        return add_parser(name, **kwargs)

    sub.add_parser = add_with_common  # type: ignore[method-assign, assignment]
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def apply_environment(
    parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str]
) -> None:
    """Fill flags not given on the command line from ``PANORAMA_GATE_<FLAG>``."""
    given = {a.split("=", 1)[0] for a in argv if a.startswith("-")}
    parsers = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = getattr(args, "command", None)
            if chosen and chosen in action.choices:
                parsers.append(action.choices[chosen])
    for p in parsers:
        for action in p._actions:
            if not action.option_strings or action.dest in ("help", "version"):
                continue
            if any(opt in given for opt in action.option_strings):
                continue
            long = next((o for o in action.option_strings if o.startswith("--")), None)
            if long is None:
                continue
            env_name = "PANORAMA_GATE_" + long[2:].upper().replace("-", "_")
            raw = os.environ.get(env_name)
            if raw is None:
                continue
            if isinstance(action, argparse._StoreTrueAction):
                value: object = _truthy(raw)
            elif isinstance(action, argparse._StoreFalseAction):
                value = not _truthy(raw)
            elif not raw.strip():
                # An empty variable (a CI template's blanked default) means "not given".
                continue
            elif isinstance(action, argparse._CountAction):
                value = int(raw)
            elif isinstance(action, argparse._AppendAction):
                conv = action.type or str
                value = [conv(v) for v in raw.split(",") if v]  # type: ignore[operator]
            else:
                conv = action.type or str
                try:
                    value = conv(raw)  # type: ignore[operator]
                except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
                    p.error(f"{env_name}: {exc}")
            setattr(args, action.dest, value)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (CI cancelling a job) takes the same clean-up path as Ctrl-C.
    raise KeyboardInterrupt


def _interrupted() -> int:
    err = InterruptedScan("interrupted; temporary files, containers and partial outputs removed")
    print(f"{TOOL_NAME}: {err.diagnostics()}", file=sys.stderr)
    return 130


def cancellable() -> None:
    """Unblock SIGINT and SIGTERM in this thread: a parent that started us while it had them
    blocked (a thread of a test runner, a supervisor) would otherwise leave a run that Ctrl-C
    and CI's cancellation cannot stop. Ignoring them stays the parent's choice (``nohup``)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _jobs_wanted(argv: Sequence[str]) -> int:
    """The ``--jobs`` a command line (or ``PANORAMA_GATE_JOBS``) asks for, else one per core;
    read before the command line is parsed (``start_ahead``), so only the plain spellings."""
    given = os.environ.get("PANORAMA_GATE_JOBS", "")
    for i, arg in enumerate(argv):
        if arg == "--jobs" and i + 1 < len(argv):
            given = argv[i + 1]
        elif arg.startswith("--jobs="):
            given = arg.partition("=")[2]
    if given.strip().isdigit():
        return int(given)
    from scanner.config import usable_cores  # noqa: PLC0415 - only when a big scan starts

    return usable_cores()


def start_ahead(argv: Sequence[str]) -> None:
    """What a scan of big assets needs first, started before the commands' modules import
    (half a second): their digests, taken by a child interpreter (``prehash``), and the
    analyzer workers' fork server, which imports the built-in hosted analyzers meanwhile.
    Each is used only if the scan turns out to want it: the digests only for the very same
    files, the server only for workers (it is the one the scan would start)."""
    if prehash.start_for_command(argv) and _jobs_wanted(argv) > 1:
        from scanner.analyzers import BUILTIN_HOSTED_MODULES  # noqa: PLC0415 - light, and only here
        from scanner.forkserver import start_forkserver  # noqa: PLC0415

        start_forkserver(["scanner.walk.worker_host", *BUILTIN_HOSTED_MODULES])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code from the contract."""
    argv = list(sys.argv[1:] if argv is None else argv)
    cancellable()
    start_ahead(argv)
    try:
        # the commands' modules take half a second to import: a Ctrl-C meanwhile is an
        # interruption like any other, not a traceback
        parser = build_parser()
        args = parser.parse_args(argv)
        apply_environment(parser, args, argv)
    except KeyboardInterrupt:
        return _interrupted()
    level = logging.WARNING
    if args.verbose >= 2:
        level = logging.DEBUG
    elif args.verbose == 1:
        level = logging.INFO
    elif args.quiet:
        level = logging.ERROR
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code: int = args.func(args)
        return code
    except ScannerError as exc:
        if args.verbose:
            log.exception("%s failed", args.command)
        print(f"{TOOL_NAME}: error: {exc.diagnostics()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 - last resort: fail closed with a message, not a traceback
        if args.verbose:
            log.exception("internal error")
        print(
            f"{TOOL_NAME}: internal error: {type(exc).__name__}: {exc} "
            "(nothing was approved; run with -v for the traceback)",
            file=sys.stderr,
        )
        return 3
    finally:
        signal.signal(signal.SIGTERM, previous)
