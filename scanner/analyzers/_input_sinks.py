"""Code-execution sinks fed by input: ``eval(input())``, ``pickle.loads(sock.recv(n))``.

Bandit reports each use of ``eval``, ``pickle`` or ``yaml.load`` on its own, at medium, because
it cannot tell a constant from an attacker's bytes. This pass follows values inside a module
(assignments, ``with ... as``, ``for``, ``+=``, calls that transform data, and functions of the
same module that return input) from a source of outside data to a sink that runs or
deserializes what it is given:

- sources: ``input()``, ``sys.stdin``, socket ``recv*``, HTTP responses (``requests``,
  ``urlopen``, ``http.client``), web request bodies (``request.data``/``json``/``form``...),
  message payloads (``.payload``), S3 object bodies;
- execution sinks: ``eval``, ``exec``, ``compile``, ``os.system``, ``os.popen``,
  ``subprocess.*`` with ``shell=True``;
- deserialization sinks: ``pickle``/``cPickle``/``dill``/``marshal`` ``load(s)``, ``joblib.load``,
  ``torch.load``, ``numpy.load(allow_pickle=True)``, ``yaml.load`` without a safe loader,
  ``yaml.unsafe_load``.

It is an intra-module analysis: precise where it speaks (both ends are in view), silent about
flows across modules (bandit's per-call findings still cover those sinks).

Example::

    for sink in input_fed_sinks(b"import pickle, socket\\n...pickle.loads(s.recv(4096))"):
        print(sink.line, sink.sink, sink.source)      # 3 pickle.loads socket data
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from scanner.models import Category, Finding, Location, Severity

__all__ = ["InputSink", "input_fed_sinks", "input_sink_findings"]

_EXEC = frozenset({"eval", "exec", "compile", "os.system", "os.popen", "posix.system"})
_SHELL = frozenset(
    {"subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output",
     "subprocess.Popen", "subprocess.getoutput", "subprocess.getstatusoutput"}
)  # fmt: skip
_DESERIALIZE = frozenset(
    {"pickle.loads", "pickle.load", "pickle.Unpickler", "_pickle.loads", "cPickle.loads",
     "cPickle.load", "dill.loads", "dill.load", "marshal.loads", "marshal.load", "joblib.load",
     "torch.load", "shelve.open", "jsonpickle.decode", "yaml.unsafe_load", "yaml.full_load",
     "yaml.load_all", "pandas.read_pickle"}
)  # fmt: skip
_SAFE_LOADERS = frozenset({"SafeLoader", "CSafeLoader", "BaseLoader"})
_SOURCE_CALLS = {
    "input": "input()",
    "raw_input": "input()",
    "sys.stdin.read": "standard input",
    "sys.stdin.readline": "standard input",
    "sys.stdin.buffer.read": "standard input",
    "urllib.request.urlopen": "an HTTP response",
    "urlopen": "an HTTP response",
}
_SOURCE_METHODS = {
    "recv": "socket data",
    "recvfrom": "socket data",
    "recvmsg": "socket data",
    "recv_into": "socket data",
    "getresponse": "an HTTP response",
    "get_data": "a web request body",
    "get_json": "a web request body",
}
_HTTP_CLIENTS = ("requests.", "httpx.", "urllib3.", "aiohttp.")
_SOURCE_ATTRS = {"payload": "a message payload", "Body": "an S3 object body"}
_REQUEST_ATTRS = frozenset({"data", "json", "form", "args", "values", "files", "body"})


@dataclass(frozen=True, slots=True)
class InputSink:
    """Outside data reaching a sink: where, which sink, what kind of sink, from which source."""

    line: int
    col: int
    sink: str
    kind: str  # "execution" or "deserialization"
    source: str


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(aliases.get(node.id, node.id))
    elif isinstance(node, ast.Call):
        parts.append(_dotted(node.func, aliases) + "()")
    else:
        return ""
    return ".".join(reversed(parts))


def _aliases(tree: ast.Module) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


class _Flow:
    """Which names hold outside data, scope by scope."""

    def __init__(self, aliases: dict[str, str], returning: dict[str, str]) -> None:
        self.aliases = aliases
        self.returning = returning  # functions of this module that return outside data
        self.found: list[InputSink] = []

    def source_of(self, node: ast.AST | None, tainted: dict[str, str]) -> str | None:
        """The outside data an expression carries, if any (searched through its subtree)."""
        if node is None:
            return None
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in tainted:
                return tainted[sub.id]
            if isinstance(sub, ast.Attribute):
                if sub.attr in _SOURCE_ATTRS:
                    return _SOURCE_ATTRS[sub.attr]
                base = _dotted(sub.value, self.aliases)
                if sub.attr in _REQUEST_ATTRS and base.split(".")[-1] == "request":
                    return "a web request body"
            if isinstance(sub, ast.Call):
                name = _dotted(sub.func, self.aliases)
                last = name.rsplit(".", 1)[-1]
                if name in _SOURCE_CALLS:
                    return _SOURCE_CALLS[name]
                if last in _SOURCE_METHODS and isinstance(sub.func, ast.Attribute):
                    return _SOURCE_METHODS[last]
                if name.startswith(_HTTP_CLIENTS):
                    return "an HTTP response"
                if name in self.returning:
                    return self.returning[name]
        return None

    def scope(self, body: list[ast.stmt], tainted: dict[str, str]) -> str | None:
        """Walk statements in order; returns the source a ``return`` hands back, if any."""
        returned: str | None = None
        for stmt in body:
            returned = self.statement(stmt, tainted) or returned
        return returned

    def statement(self, stmt: ast.stmt, tainted: dict[str, str]) -> str | None:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return None  # their own scopes, walked separately
        self.check_sinks(stmt, tainted)
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            src = self.source_of(stmt.value, tainted)
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name) and src:
                        tainted[n.id] = src
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                src = self.source_of(item.context_expr, tainted)
                if src and isinstance(item.optional_vars, ast.Name):
                    tainted[item.optional_vars.id] = src
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            src = self.source_of(stmt.iter, tainted)
            if src and isinstance(stmt.target, ast.Name):
                tainted[stmt.target.id] = src
        elif isinstance(stmt, ast.Return):
            return self.source_of(stmt.value, tainted)
        returned: str | None = None
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                for s in inner:
                    if isinstance(s, ast.ExceptHandler):
                        returned = self.scope(s.body, tainted) or returned
                    elif isinstance(s, ast.stmt):
                        returned = self.statement(s, tainted) or returned
        return returned

    def check_sinks(self, stmt: ast.stmt, tainted: dict[str, str]) -> None:
        for node in _own_nodes(stmt):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func, self.aliases)
            kind = _sink_kind(name, node)
            if kind is None:
                continue
            args: list[ast.AST] = [*node.args, *(k.value for k in node.keywords)]
            for arg in args:
                src = self.source_of(arg, tainted)
                if src:
                    self.found.append(InputSink(node.lineno, node.col_offset, name, kind, src))
                    break


def _own_nodes(stmt: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of a statement, not descending into nested statements (walked on their own)."""
    todo: list[ast.AST] = [stmt]
    while todo:
        node = todo.pop()
        yield node
        todo.extend(c for c in ast.iter_child_nodes(node) if not isinstance(c, ast.stmt))


def _sink_kind(name: str, call: ast.Call) -> str | None:
    if name in _EXEC:
        return "execution"
    if name in _SHELL and any(
        k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    ):
        return "execution"
    if name in _DESERIALIZE:
        return "deserialization"
    if name == "yaml.load":
        loader = next((k.value for k in call.keywords if k.arg == "Loader"), None)
        if loader is None and len(call.args) > 1:
            loader = call.args[1]
        loader_name = ast.unparse(loader).rsplit(".", 1)[-1] if loader is not None else ""
        return None if loader_name in _SAFE_LOADERS else "deserialization"
    if name in ("numpy.load", "np.load") and any(
        k.arg == "allow_pickle" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    ):
        return "deserialization"
    return None


def input_fed_sinks(source: bytes) -> list[InputSink]:
    """Every sink in ``source`` that outside data reaches inside the module (unparsable: none)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return []  # bandit reports files it cannot parse
    aliases = _aliases(tree)
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    # Functions that return outside data, to a fixed point (a helper calling a helper).
    returning: dict[str, str] = {}
    for _ in range(4):
        probe = _Flow(aliases, returning)
        grew = False
        for fn in functions:
            src = probe.scope(fn.body, {})
            if src and fn.name not in returning:
                returning[fn.name] = src
                grew = True
        if not grew:
            break
    flow = _Flow(aliases, returning)
    flow.scope(tree.body, {})
    for fn in functions:
        flow.scope(fn.body, {})
    unique = {(s.line, s.col, s.sink): s for s in flow.found}
    return sorted(unique.values(), key=lambda s: (s.line, s.col, s.sink))


# Bandit's ids for the same calls: ``# nosec B307`` on an eval line covers this rule too.
_BANDIT_IDS = {
    "eval": "B307", "exec": "B102", "compile": "B102", "os.system": "B605", "os.popen": "B605",
    "posix.system": "B605", "yaml.load": "B506", "marshal.loads": "B302", "marshal.load": "B302",
}  # fmt: skip
_NOSEC = re.compile(r"#\s*nosec\b:?\s*([A-Za-z0-9_,\s-]*)")


def _silenced(line: str, sink: str, rule: str) -> bool:
    """``# nosec`` on the line, bare or naming this rule or bandit's id for the call."""
    m = _NOSEC.search(line)
    if m is None:
        return False
    ids = {i.strip() for i in re.split(r"[,\s]+", m.group(1)) if i.strip()}
    if not ids:
        return True
    expected = _BANDIT_IDS.get(sink) or ("B301" if "pickle" in sink else "B6")
    return rule in ids or any(i.startswith(expected) for i in ids)


_RULES = {
    "execution": ("untrusted-input-executed", 95, "runs it as code or a shell command"),
    "deserialization": ("untrusted-input-deserialized", 502, "deserializes it into objects"),
}


def input_sink_findings(root: Path, files: Iterable[str], artifact: str) -> list[Finding]:
    """``code.untrusted-input-*`` findings (high) for the app files under ``root``."""
    out: list[Finding] = []
    for rel in files:
        try:
            source = (root / rel).read_bytes()
        except OSError:
            continue  # bandit reports files it cannot read
        lines = source.decode("utf-8", "replace").splitlines()
        for s in input_fed_sinks(source):
            rule, cwe, what = _RULES[s.kind]
            if 0 < s.line <= len(lines) and _silenced(lines[s.line - 1], s.sink, rule):
                continue
            out.append(
                Finding.create(
                    rule_id=f"code.{rule}",
                    category=Category.CODE,
                    severity=Severity.HIGH,
                    message=(
                        f"{s.sink}() at line {s.line} receives {s.source} and {what}: whoever "
                        "controls that input controls the device; validate or parse it with a "
                        "safe loader (json, yaml.safe_load, ast.literal_eval) instead"
                    ),
                    location=Location(artifact, rel, s.line),
                    evidence=f"{rule}:{s.sink}:{s.source}:{s.line}",
                    title=f"Outside data reaches {s.sink}",
                    cwe=cwe,
                    properties={"sink": s.sink, "source": s.source, "column": s.col},
                )
            )
    return out
