"""Checks bandit does not make, for patterns found in real Panorama application code.

- ``log-environment``: the whole process environment written to a log or to stdout
  (``logger.info(dict(os.environ))``). Panorama ships an application's logs to CloudWatch;
  the environment of a container holds whatever credentials and tokens its runtime put there.
- ``B104`` for the empty host: a server bound to ``("", port)`` listens on every interface
  exactly as ``"0.0.0.0"`` does, which bandit's B104 reports; the empty-string spelling it
  misses is reported under the same rule, so one defect keeps one rule id.

Each check is a plain AST walk over one file; a file that does not parse yields nothing here
(bandit reports it).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

__all__ = ["CodeIssue", "check_source"]

CWE_LOG_SENSITIVE = 532
CWE_BIND_ALL = 605
_LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print"}
)
_SERVER_CALLS = frozenset(
    {
        "HTTPServer",
        "ThreadingHTTPServer",
        "TCPServer",
        "ThreadingTCPServer",
        "UDPServer",
        "ThreadingUDPServer",
        "WSGIServer",
        "make_server",
        "bind",
        "create_server",
    }
)


@dataclass(frozen=True, slots=True)
class CodeIssue:
    """One finding of an own check: rule, line, what was seen, severity word, CWE."""

    rule: str
    line: int
    text: str
    severity: str
    cwe: int
    source_line: str


def _is_environ(node: ast.AST) -> bool:
    """``os.environ`` itself (or ``environ`` imported from os), not one variable of it."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id == "environ"


def _whole_environment(node: ast.AST) -> bool:
    """An expression that carries every variable: ``os.environ``, ``dict(os.environ)``,
    ``dict(**os.environ)``, ``os.environ.copy()``/``.items()``, ``str(os.environ)``, or a
    format/f-string/concatenation that embeds one of those."""
    if _is_environ(node):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and _is_environ(func.value):
            return func.attr in ("copy", "items", "keys", "values", "__repr__", "__str__")
        if isinstance(func, ast.Name) and func.id in ("dict", "str", "repr", "list", "sorted"):
            parts = [*node.args, *(k.value for k in node.keywords)]
            return any(_whole_environment(p) for p in parts)
        if isinstance(func, ast.Attribute) and func.attr == "format":
            parts = [*node.args, *(k.value for k in node.keywords)]
            return any(_whole_environment(p) for p in parts)
        if isinstance(func, ast.Name) and func.id in ("json", "dumps"):
            return any(_whole_environment(p) for p in node.args)
        if isinstance(func, ast.Attribute) and func.attr == "dumps":
            return any(_whole_environment(p) for p in node.args)
    if isinstance(node, ast.JoinedStr):
        return any(
            isinstance(v, ast.FormattedValue) and _whole_environment(v.value) for v in node.values
        )
    if isinstance(node, ast.BinOp):
        return _whole_environment(node.left) or _whole_environment(node.right)
    return False


def _call_name(func: ast.AST) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _binds_all_interfaces(node: ast.Call) -> bool:
    """A server or socket bound to ``("", port)``; ``"0.0.0.0"`` is bandit's own B104."""
    if _call_name(node.func) not in _SERVER_CALLS:
        return False
    for arg in [*node.args[:1], *(k.value for k in node.keywords if k.arg in ("address",))]:
        if (
            isinstance(arg, ast.Tuple)
            and arg.elts
            and isinstance(arg.elts[0], ast.Constant)
            and arg.elts[0].value == ""
        ):
            return True
    return any(
        k.arg == "host" and isinstance(k.value, ast.Constant) and k.value.value == ""
        for k in node.keywords
    )


def check_source(source: bytes) -> list[CodeIssue]:
    """The own checks' issues in one Python file, sorted by line."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    lines = source.decode("utf-8", "replace").splitlines()

    def text_of(line: int) -> str:
        return lines[line - 1].strip() if 0 < line <= len(lines) else ""

    issues: list[CodeIssue] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node.func)
        args = [*node.args, *(k.value for k in node.keywords)]
        if name in _LOG_METHODS and any(_whole_environment(a) for a in args):
            issues.append(
                CodeIssue(
                    "log-environment",
                    node.lineno,
                    "the whole process environment is written to the log; Panorama ships "
                    "application logs to CloudWatch, and the environment holds whatever "
                    "credentials and tokens the runtime put there. Log the variables you need",
                    "MEDIUM",
                    CWE_LOG_SENSITIVE,
                    text_of(node.lineno),
                )
            )
        elif _binds_all_interfaces(node):
            issues.append(
                CodeIssue(
                    "B104",
                    node.lineno,
                    'Possible binding to all interfaces (host ""): the server answers on every '
                    "network the device is on once the graph routes its port; make sure it "
                    "authenticates requests",
                    "MEDIUM",
                    CWE_BIND_ALL,
                    text_of(node.lineno),
                )
            )
    return sorted(issues, key=lambda i: (i.line, i.rule))
