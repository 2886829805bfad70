"""``privacy``: personal data and credentials in Panorama manifests.

Names, descriptions, decorator titles and texts, parameter values, defaults, package names and
descriptor arguments/environment of ``graph.json``, ``package.json``, descriptors and override
manifests (beside the graph and in ``deployment_overrides/``) end up in git, in AWS billing and
diagnostic logs, and in the packages uploaded to AWS. This analyzer reports, per field:

- credentials (category ``secret``): a value or ``default`` whose field, port, parameter or
  variable is named as a credential (a camera package's ``password`` input above all; an
  override node replacing a graph parameter answers to that parameter's name), key-shaped
  secrets in any string, and credentials inside URLs;
- personal data (category ``privacy``): email addresses, phone numbers, personal names next to
  contact words, IP addresses (of cameras, typically).

Stand-ins to fill in (``{CameraPassword}``, ``MY_PASSWORD``, ``<password>``) are not credentials.

Locations follow the manifest convention: ``artifact`` is the manifest's path in the project,
``path`` the JSON path (``nodeGraph.nodes[2].decorator.title``), ``line`` its line. Values are
shown redacted.

Example::

    for out in PrivacyAnalyzer().analyze_target(scan_target):
        print(out)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from scanner.analyzers._secret_rules import find_secrets
from scanner.analyzers.interface import Output, TargetAnalyzer
from scanner.models import AnalyzerFailure, Category, Finding, Location, Severity
from scanner.redact import redact
from scanner.sources.interface import ManifestDoc, ScanTarget
from scanner.sources.manifests import format_path, jget, jobjects, jstr, line_index, line_of

__all__ = ["PrivacyAnalyzer", "field_issues", "is_credential_name", "is_stand_in"]

# Credentials found in a manifest are secrets (they reject from medium under the default
# policy); the other rules are about personal data.
_CATEGORY = {
    "secret": Category.SECRET,
    "credential-url": Category.SECRET,
}

JsonPath = tuple[str | int, ...]

# Keys whose values are free text a person typed (and AWS logs).
FREE_FORM = frozenset(
    {
        "name",
        "description",
        "title",
        "constraintText",
        "value",
        "default",
        "arguments",
        "tags",
        "Tags",
    }
)

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b"
)
_PHONE = re.compile(
    r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,5}\)[\s.-]?|\d{2,5}[\s.-])\d{2,4}[\s.-]?\d{3,4}(?![\w.])"
    r"|(?<![\w.])\+\d{8,15}(?![\w.])"
)
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}(?![\w:])")
_CONTACT = re.compile(
    r"(?i:\b(?:contact|owner|owned by|maintainer|maintained by|author|written by|call|ask|reach|"
    r"manager|responsible|on-call|oncall|support)\b)[\s:=\-,]*(?:is\s+|person\s+)?"
    r"([A-Z][a-z]{1,20}(?:\s[A-Z]\.)?\s[A-Z][a-z]{1,25}(?:-[A-Z][a-z]{1,25})?)\b"
)
# Capitalised word pairs that are things, not people ("Aisle Camera", "Loading Dock").
_NOT_NAMES = frozenset(
    [
        "camera",
        "cameras",
        "model",
        "models",
        "node",
        "nodes",
        "aisle",
        "dock",
        "door",
        "gate",
        "stream",
        "video",
        "frame",
        "frames",
        "floor",
        "store",
        "shop",
        "zone",
        "area",
        "line",
        "entrance",
        "exit",
        "team",
        "group",
        "panorama",
        "app",
        "application",
        "package",
        "service",
        "desk",
        "center",
        "centre",
        "support",
        "ops",
        "operations",
        "security",
        "detector",
        "tracker",
        "monitor",
        "counter",
        "output",
        "input",
        "data",
        "parameter",
        "the",
        "this",
        "that",
        "default",
        "north",
        "south",
        "east",
        "west",
        "main",
        "front",
        "back",
        "left",
        "right",
        "upper",
        "lower",
        "loading",
        "parking",
        "lot",
        "hall",
        "room",
        "office",
    ]
)
_VERSION_WORD = re.compile(r"(?i)\b(?:v|ver|version|release|build|sdk|ota)[\s:=]*$")


def _is_reportable_ip(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (ip.is_unspecified or ip.is_loopback or ip.is_multicast or str(ip).endswith(".255"))


def field_issues(text: str, *, free_form: bool) -> Iterator[tuple[str, str, Severity, str]]:
    """(rule, description, severity, redacted value) for one string field.

    Secrets and credential URLs are looked for in every field; personal data only in
    free-form ones (``free_form``).
    """
    for m in find_secrets(text):
        if m.rule == "credential-url":
            yield (
                "credential-url",
                f"credentials inside a {m.properties.get('scheme', '')} URL",
                (m.severity),
                m.redacted,
            )
        else:
            yield "secret", m.title.lower(), m.severity, m.redacted
    if not free_form:
        return
    url_free = re.sub(r"[A-Za-z][A-Za-z0-9+.-]*://\S+", " ", text)
    for em in _EMAIL.finditer(url_free):
        yield "email", "email address", Severity.MEDIUM, redact(em.group())
    for ph in _PHONE.finditer(url_free):
        digits = re.sub(r"\D", "", ph.group())
        if 8 <= len(digits) <= 15 and not _IPV4.fullmatch(ph.group().strip()):
            yield "phone-number", "phone number", Severity.MEDIUM, redact(ph.group())
    for ipm in _IPV4.finditer(text):
        octets = [int(o) for o in ipm.group().split(".")]
        if max(octets) < 10 or _VERSION_WORD.search(text, 0, ipm.start()):
            continue  # "1.2.0.1", "version 4.1.0.2": versions, not addresses
        if _is_reportable_ip(ipm.group()):
            yield (
                "ip-address",
                "IP address (a camera's, typically)",
                Severity.MEDIUM,
                redact(ipm.group()),
            )
    for ipm in _IPV6.finditer(text):
        if _is_reportable_ip(ipm.group()):
            yield "ip-address", "IP address", Severity.MEDIUM, redact(ipm.group())
    for cm in _CONTACT.finditer(text):
        words = cm.group(1).replace("-", " ").split()
        if not any(w.lower().rstrip(".") in _NOT_NAMES for w in words):
            yield (
                "personal-name",
                "personal name next to a contact word",
                Severity.MEDIUM,
                redact(cm.group(1)),
            )


def _strings(data: Any, parts: JsonPath = ()) -> Iterator[tuple[JsonPath, str, str]]:
    """(JSON path, field key, text) of every string, with name/value pairs joined for context."""
    stack: list[tuple[JsonPath, Any]] = [(parts, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, Mapping):
            name = value.get("name")
            for key in ("value", "default"):
                val = value.get(key)
                if isinstance(name, str) and isinstance(val, str):
                    # An environment entry {"name": "DB_PASSWORD", "value": "..."}, a camera
                    # input {"name": "password", "default": "..."}: the name is what makes the
                    # value a secret, so check them together.
                    yield (*path, key), "pair", f'{name} = "{val}"'
            stack.extend(((*path, str(k)), value[k]) for k in sorted(value, key=str, reverse=True))
        elif isinstance(value, list):
            stack.extend(((*path, i), value[i]) for i in range(len(value) - 1, -1, -1))
        elif isinstance(value, str):
            key = next((p for p in reversed(path) if isinstance(p, str)), "")
            yield path, key, value


# Names of fields that hold a credential (a camera's password above all), and names that only
# look like one (a path to a key file, a token's URL).
_CREDENTIAL_NAME = re.compile(
    r"(?i)passw(?:or)?d|passwd|(?:^|[_\-.])(?:pwd|pass|passphrase)(?:$|[_\-.])|secret|token|"
    r"api_?key|access_?key|private_?key|credential"
)
_NOT_CREDENTIAL_NAME = re.compile(
    r"(?i)(?:_file|_path|_dir|_url|_uri|_arn|_name|_id|_type|_region|_endpoint|_length|_len)$"
)
_PLACEHOLDER_WORDS = (
    "your",
    "example",
    "changeme",
    "change_me",
    "placeholder",
    "xxx",
    "***",
    "replace",
    "insert",
    "dummy",
    "sample",
    "fake",
    "redacted",
    "todo",
    "tbd",
)
_TEMPLATE_CHARS = re.compile(r"[{}<>$%]")
_CAPS_STAND_IN = re.compile(r"[A-Z][A-Z0-9_]*(?:PASS|SECRET|TOKEN|KEY|PWD)[A-Z0-9_]*")


def is_credential_name(name: str) -> bool:
    """A field, port, parameter or variable name that says its value is a credential."""
    return bool(_CREDENTIAL_NAME.search(name)) and not _NOT_CREDENTIAL_NAME.search(name)


def is_stand_in(name: str, value: str) -> bool:
    """A value that stands in for a credential to fill in, rather than being one."""
    v = value.strip()
    low = v.lower()
    return (
        not v
        or low == name.lower()
        or low in ("password", "passwd", "secret", "token", "none", "null", "string", "default")
        or bool(_TEMPLATE_CHARS.search(v))
        or any(w in low for w in _PLACEHOLDER_WORDS)
        or bool(_CAPS_STAND_IN.fullmatch(v))
        or len(set(low)) == 1
    )


def _named_values(data: Any, kind: str) -> Iterator[tuple[JsonPath, str, str]]:
    """(JSON path, name, value) of each ``{name, value|default}`` string pair in a manifest.

    In an override, a node that replaces a graph parameter also answers to that parameter's
    name (``{"replace": "camera_password", "with": [{"name": "pw_2"}]}``).
    """
    aliases: dict[str, list[str]] = {}
    if kind == "override":
        body = jget(data, "nodeGraphOverrides")
        for _, ov in jobjects(jget(body, "nodeOverrides")):
            replaced = jstr(ov.get("replace"))
            for _, w in jobjects(ov.get("with")):
                if replaced and (with_name := jstr(w.get("name"))):
                    aliases.setdefault(with_name, []).append(replaced)
    stack: list[tuple[JsonPath, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, Mapping):
            name = jstr(value.get("name"))
            for key in ("value", "default"):
                val = jstr(value.get(key))
                if name is not None and val is not None:
                    for alias in (name, *aliases.get(name, ())):
                        yield (*path, key), alias, val
            stack.extend(((*path, str(k)), value[k]) for k in sorted(value, key=str, reverse=True))
        elif isinstance(value, list):
            stack.extend(((*path, i), value[i]) for i in range(len(value) - 1, -1, -1))


class PrivacyAnalyzer(TargetAnalyzer):
    """Personal data, camera addresses and credentials in manifest fields."""

    name: ClassVar[str] = "privacy"
    version: ClassVar[int] = 2
    tags: ClassVar[frozenset[str]] = frozenset({"privacy", "manifest"})

    def analyze_target(self, target: ScanTarget) -> Iterable[Output]:
        """Findings for every manifest of the target."""
        out: list[Output] = []
        for doc in sorted(target.manifests, key=lambda d: d.path):
            if doc.data is None:
                continue  # unparsable: the manifest analyzer reports it
            try:
                out.extend(self._document(target, doc))
            except (OSError, RecursionError, ValueError) as exc:
                out.append(
                    AnalyzerFailure(
                        self.name, f"cannot check {doc.path}: {exc}", Location(doc.path)
                    )
                )
        return out

    def _document(self, target: ScanTarget, doc: ManifestDoc) -> Iterator[Finding]:
        index: Mapping[JsonPath, int] = {}
        try:
            text = (target.root / doc.path).read_text("utf-8", "replace")
            index = line_index(text)
        except OSError:
            index = {}  # location without a line rather than no finding
        credentials: set[str] = set()
        for parts, name, value in _named_values(doc.data, doc.kind):
            where = format_path(parts)
            if where in credentials or not is_credential_name(name) or is_stand_in(name, value):
                continue
            credentials.add(where)
            yield self._credential(doc, parts, name, value, line_of(index, parts))
        seen: set[tuple[str, str, str]] = set()
        for parts, key, value in _strings(doc.data):
            free = key in FREE_FORM or key == "pair"
            for rule, what, severity, redacted in field_issues(value, free_form=free):
                where = format_path(parts)
                if (rule, where, redacted) in seen or (rule == "secret" and where in credentials):
                    continue  # one finding per field: the credential rule already named it
                seen.add((rule, where, redacted))
                yield Finding.create(
                    rule_id=f"privacy.{rule}",
                    category=_CATEGORY.get(rule, Category.PRIVACY),
                    severity=severity,
                    message=(
                        f"{what} {redacted} in {doc.kind} field {where} of {doc.path}; these "
                        "fields end up in AWS billing and diagnostic logs, keep them free of "
                        "personal data and credentials"
                    ),
                    location=Location(doc.path, where, line_of(index, parts)),
                    evidence=f"{rule}:{redacted}",
                    title=what,
                    cwe=359 if rule not in ("secret", "credential-url") else 798,
                    properties={"manifest": doc.kind, "field": where, "redacted": redacted},
                )

    def _credential(
        self, doc: ManifestDoc, parts: JsonPath, name: str, value: str, line: int | None
    ) -> Finding:
        where = format_path(parts)
        redacted = redact(value)
        field = "default of input" if parts[-1:] == ("default",) else "value of"
        return Finding.create(
            rule_id="privacy.credential",
            category=Category.SECRET,
            severity=Severity.HIGH,
            message=(
                f"credential {redacted} as the {field} {name!r} in {doc.kind} field {where} of "
                f"{doc.path}: a manifest is kept in git and uploaded to AWS with the package, so "
                "anyone who can read either has it. Leave it empty and set it at deploy time "
                "(camera credentials belong to the camera's node, kept in AWS Secrets Manager)"
            ),
            location=Location(doc.path, where, line),
            evidence=f"credential:{name}:{redacted}",
            title="credential in a manifest",
            cwe=798,
            properties={"manifest": doc.kind, "field": where, "name": name, "redacted": redacted},
        )
