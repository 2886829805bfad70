"""A bounded YAML reader that remembers where every key came from.

Policies and waivers are small, hand-written files, but they may come from an untrusted merge
request. ``load_yaml`` therefore:

* uses PyYAML's *safe* composer (no Python object tags);
* refuses files larger than ``MAX_BYTES``;
* limits alias use and the total number of nodes after aliases are expanded, so a
  "billion laughs" document fails fast instead of eating memory;
* rejects duplicate mapping keys (PyYAML silently keeps the last one, which would let a
  reviewer read one value while the gate applies another);
* records the 1-based line of every key, so validation errors can name file, line and key.

Example::

    doc = load_yaml(b"a:\\n  b: 1\\n", "p.yaml")
    doc.data == {"a": {"b": 1}}; doc.line(("a", "b")) == 2
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from scanner.errors import PolicyError

__all__ = ["MAX_ALIASES", "MAX_BYTES", "MAX_NODES", "YamlDocument", "load_yaml"]

MAX_BYTES = 1024 * 1024
MAX_ALIASES = 64
MAX_NODES = 100_000
MAX_DEPTH = 32

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """Plain data from a YAML file plus the line of each key path."""

    data: Any
    source: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        key = tuple(path)
        while True:
            if key in self.lines:
                return self.lines[key]
            if not key:
                return None
            key = key[:-1]


class _CountingLoader(yaml.SafeLoader):
    """SafeLoader that counts alias events while composing."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.alias_count = 0
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """Compose one node, refusing alias floods and deep nesting."""
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise PolicyError(
                    f"{self.name}:{mark.line + 1}: more than {MAX_ALIASES} YAML aliases "
                    "(refusing a possible alias bomb)"
                )
        # The composer recurses per nesting level: stop long before Python's recursion limit.
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise PolicyError(
                    f"{self.name}:{mark.line + 1}: nested deeper than {MAX_DEPTH} levels"
                )
            node: Node | None = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        return node


class _Builder:
    """Turns a composed node graph into plain data, counting expanded nodes."""

    def __init__(self, source: str, loader: yaml.SafeLoader) -> None:
        self.source = source
        self.loader = loader
        self.nodes = 0
        self.lines: dict[Path_, int] = {}

    def _check_tag(self, node: Node, expected: str) -> None:
        # Collections are built here, not by a constructor, so an explicit tag such as
        # "!!python/object" would otherwise be silently ignored; refuse it instead.
        if node.tag != expected:
            raise PolicyError(
                f"{self.source}:{node.start_mark.line + 1}: YAML tag {node.tag!r} is not allowed"
            )

    def build(self, node: Node, path: Path_, depth: int) -> Any:
        """Plain data for ``node``, recording the line of every key under ``path``."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise PolicyError(
                f"{self.source}:{node.start_mark.line + 1}: more than {MAX_NODES} YAML nodes "
                "after expanding aliases (refusing a possible alias bomb)"
            )
        if depth > MAX_DEPTH:
            raise PolicyError(
                f"{self.source}:{node.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels"
            )
        if isinstance(node, ScalarNode):
            # The safe constructor resolves the scalar's tag (int, bool, date, ...).
            return self.loader.construct_object(node, deep=True)
        if isinstance(node, SequenceNode):
            self._check_tag(node, "tag:yaml.org,2002:seq")
            out_list: list[Any] = []
            for i, item in enumerate(node.value):
                self.lines.setdefault((*path, i), item.start_mark.line + 1)
                out_list.append(self.build(item, (*path, i), depth + 1))
            return out_list
        if isinstance(node, MappingNode):
            self._check_tag(node, "tag:yaml.org,2002:map")
            if node.tag == "tag:yaml.org,2002:map" and any(
                k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value
            ):
                raise PolicyError(
                    f"{self.source}:{node.start_mark.line + 1}: YAML merge keys ('<<') are "
                    "not supported in policy files; write the keys out"
                )
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, path, depth + 1)
                line = key_node.start_mark.line + 1
                if not isinstance(key, str | int | bool) or isinstance(key, bool):
                    raise PolicyError(f"{self.source}:{line}: mapping keys must be strings")
                skey = str(key)
                if skey in out:
                    first = self.lines.get((*path, skey))
                    raise PolicyError(
                        f"{self.source}:{line}: {_dotted((*path, skey))}: duplicate key "
                        f"(first defined on line {first})"
                    )
                self.lines[(*path, skey)] = line
                out[skey] = self.build(value_node, (*path, skey), depth + 1)
            return out
        raise PolicyError(f"{self.source}:{node.start_mark.line + 1}: unsupported YAML node")


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text or "(top level)"


def dotted(path: Sequence[str | int]) -> str:
    """A key path written as ``licenses.deny[2]``."""
    return _dotted(path)


def load_yaml(raw: bytes, source: str) -> YamlDocument:
    """Parse one YAML document from ``raw``; every error is a ``PolicyError`` naming ``source``."""
    if len(raw) > MAX_BYTES:
        raise PolicyError(f"{source}: larger than {MAX_BYTES // 1024} KiB; not a policy file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{source}: not UTF-8 text (byte {exc.start})") from exc
    try:
        # The reader checks characters as soon as it is built: that is inside the try too.
        loader = _CountingLoader(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from exc
    loader.name = source
    try:
        root = loader.get_single_node()
        if root is None:
            return YamlDocument(None, source, {})
        builder = _Builder(source, loader)
        data = builder.build(root, (), 0)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise PolicyError(f"{where}: not valid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from exc
    except (ValueError, OverflowError) as exc:
        # a scalar that looks typed but is not a valid value, e.g. the date 2030-02-31
        raise PolicyError(f"{source}: invalid value: {exc}") from exc
    finally:
        loader.dispose()
    return YamlDocument(data, source, builder.lines)
