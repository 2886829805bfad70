"""``python -m scanner.cli.hook run ...``: the installed hook's entry, without the full CLI.

The full CLI (``scanner.cli.main``) imports every command and report writer; a pre-push hook
on a push that changes nothing relevant must answer in well under a second, so the hook script
calls this light parser for ``run`` alone. Errors end the same way as in the full CLI: one
line and the contract's exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from scanner import TOOL_NAME
from scanner.cli.hook import add_run_flags
from scanner.errors import ScannerError


def main(argv: Sequence[str]) -> int:
    """``python -m scanner.cli.hook run ...``: the hook's entry, without the full CLI."""
    from scanner.cli import _Parser, apply_environment

    parser = _Parser(prog=f"{TOOL_NAME} hook")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = sub.add_parser("run")
    add_run_flags(run)
    run.add_argument("-v", "--verbose", action="count", default=0)
    run.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(list(argv))
    if args.command != "run":
        parser.error("only 'run' is available here; use panorama-gate hook ...")
    apply_environment(parser, args, list(argv))
    try:
        code: int = args.func(args)
        return code
    except ScannerError as exc:
        print(f"{TOOL_NAME}: error: {exc.diagnostics()}", file=sys.stderr)
        print(
            f"{TOOL_NAME}: push blocked: the hook could not run; fix it or skip once with "
            "`git push --no-verify`",
            file=sys.stderr,
        )
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort, as in scanner.cli.main: a message, exit 3
        print(
            f"{TOOL_NAME}: internal error: {type(exc).__name__}: {exc} (push blocked; "
            "`git push --no-verify` skips the hook; run `panorama-gate -v hook run` to debug)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
