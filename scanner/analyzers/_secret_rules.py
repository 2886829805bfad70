"""Secret-matching rules shared by the secrets, privacy, container and model analyzers.

One entry point for text (``find_secrets``) and one for file bytes (``scan_bytes``); both return
``SecretMatch`` values that carry only a redacted form of what was found. The matching is
anchor-driven: each rule has a cheap literal anchor (``AKIA``, ``-----BEGIN ``, ``://``, a
keyword) found with ``bytes.find``, and the regular expression only runs on the short window
around an anchor. That keeps a full root-filesystem pass close to the speed of reading it.

Example::

    from scanner.analyzers._secret_rules import find_secrets
    for m in find_secrets('url = "rtsp://admin:s3cr3t-pw@10.0.0.7/stream"'):
        print(m.rule, m.redacted)   # credential-url …(9)
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import replace

from scanner.analyzers._secret_patterns import (
    AWS_KEY_ID,
    AWS_SECRET,
    AWS_SESSION,
    B64_BODY,
    BENIGN_NAME,
    GENERIC,
    GENERIC_KEYWORDS,
    NOT_SECRET_VALUE,
    PASSWORD_NAME,
    PEM_CERT,
    PEM_KEY,
    SCHEME,
    TOKEN_FORMATS,
    URL_TAIL,
)
from scanner.analyzers._secret_values import (
    CWE_CLEARTEXT_CREDENTIALS,
    CWE_HARDCODED_CREDENTIALS,
    CWE_PRIVATE_KEY,
    KNOWN_SAMPLES,
    SAMPLE_REASON,
    SecretMatch,
    entropy,
    is_placeholder,
    looks_binary,
)
from scanner.models import Severity
from scanner.redact import redact

__all__ = [
    "CWE_CLEARTEXT_CREDENTIALS",
    "CWE_HARDCODED_CREDENTIALS",
    "CWE_PRIVATE_KEY",
    "KNOWN_SAMPLES",
    "SAMPLE_REASON",
    "SecretMatch",
    "entropy",
    "find_secrets",
    "is_placeholder",
    "looks_binary",
    "scan_bytes",
]


def _with_lines(data: bytes, matches: list[SecretMatch]) -> list[SecretMatch]:
    """Set each match's line, counting newlines once across the data (matches are sorted)."""
    out: list[SecretMatch] = []
    pos, line = 0, 1
    for m in matches:
        if m.start >= pos:
            line += data.count(b"\n", pos, m.start)
            pos = m.start
        else:  # overlapping matches can step back
            line = data.count(b"\n", 0, m.start) + 1
            pos = m.start
        out.append(replace(m, line=line))
    return out


def _text(b: bytes) -> str:
    return b.decode("utf-8", "replace")


# --- rules -----------------------------------------------------------------------------------


def _mk(
    rule: str,
    title: str,
    severity: Severity,
    data: bytes,
    start: int,
    end: int,
    value: bytes,
    *,
    kind: str = "key",
    cwe: int = CWE_HARDCODED_CREDENTIALS,
    sample: bool = False,
    reason: str = "",
    properties: dict[str, str] | None = None,
) -> SecretMatch:
    return SecretMatch(
        rule=rule,
        title=title,
        severity=severity,
        line=0,  # filled in by _with_lines, in one pass over the data
        start=start,
        end=end,
        redacted=redact(value),
        kind=kind,
        cwe=cwe,
        sample=sample,
        reason=reason,
        properties=properties or {},
    )


def _find_all(data: bytes, needle: bytes) -> Iterator[int]:
    i = data.find(needle)
    while i != -1:
        yield i
        i = data.find(needle, i + 1)


def _line_bounds(data: bytes, pos: int) -> tuple[int, int]:
    s = data.rfind(b"\n", 0, pos) + 1
    e = data.find(b"\n", pos)
    return s, (len(data) if e == -1 else e)


def _aws_key_ids(data: bytes) -> Iterator[SecretMatch]:
    # One regex pass: its literal "A" prefix makes it faster than two substring searches.
    for m in AWS_KEY_ID.finditer(data):
        pos = m.start(1)
        if pos and data[pos - 1 : pos].isalnum():
            continue
        value = m.group(1).decode()
        sample = value in KNOWN_SAMPLES or value.endswith("EXAMPLE")
        temporary = value.startswith("ASIA")
        yield _mk(
            "aws-access-key-id",
            "AWS temporary access key id" if temporary else "AWS access key id",
            Severity.INFO if sample else (Severity.HIGH if temporary else Severity.CRITICAL),
            data,
            m.start(1),
            m.end(1),
            m.group(1),
            sample=sample,
            reason=SAMPLE_REASON if sample else "",
            properties={"key_type": "temporary" if temporary else "long-term"},
        )


def _context_rule(
    data: bytes,
    lower: bytes,
    anchor: bytes,
    rx: re.Pattern[bytes],
    rule: str,
    title: str,
    severity: Severity,
    min_entropy: float,
) -> Iterator[SecretMatch]:
    seen: set[int] = set()
    for pos in _find_all(lower, anchor):
        s, e = _line_bounds(data, pos)
        if s in seen:
            continue
        seen.add(s)
        for m in rx.finditer(data, s, e):
            raw = m.group(1)
            value = raw.decode("latin-1")
            sample = value in KNOWN_SAMPLES or "EXAMPLE" in value
            if not sample and (is_placeholder(value) or entropy(raw) < min_entropy):
                continue
            yield _mk(
                rule,
                title,
                Severity.INFO if sample else severity,
                data,
                m.start(1),
                m.end(1),
                raw,
                kind="context",
                sample=sample,
                reason=SAMPLE_REASON if sample else "",
            )


def _openssh_encrypted(body: bytes) -> bool | None:
    """Whether an OpenSSH private key body names a cipher other than ``none``."""
    try:
        raw = base64.b64decode(B64_BODY.sub(b"", body) + b"==", validate=False)
    except (binascii.Error, ValueError):
        return None
    magic = b"openssh-key-v1\x00"
    if not raw.startswith(magic) or len(raw) < len(magic) + 4:
        return None
    n = int.from_bytes(raw[len(magic) : len(magic) + 4], "big")
    cipher = raw[len(magic) + 4 : len(magic) + 4 + n]
    return cipher != b"none"


def _private_keys(data: bytes) -> Iterator[SecretMatch]:
    has_cert = PEM_CERT in data
    for pos in _find_all(data, b"-----BEGIN "):
        m = PEM_KEY.match(data, pos)
        if not m:
            continue
        label = m.group(1).decode()
        body = m.group(2)
        b64 = B64_BODY.sub(b"", body.split(b"\n\n", 1)[-1] if b"Proc-Type" in body else body)
        if len(b64) < 64:
            continue  # a format string or documentation stub, not a key
        encrypted: bool
        if label == "OPENSSH PRIVATE KEY":
            encrypted = bool(_openssh_encrypted(body))
            fmt = "openssh"
        elif label.startswith("ENCRYPTED") or label.startswith("SSH2 ENCRYPTED"):
            encrypted, fmt = True, "pkcs8"
        elif label == "PRIVATE KEY":
            encrypted, fmt = False, "pkcs8"
        elif label == "PGP PRIVATE KEY BLOCK":
            encrypted, fmt = False, "pgp"
        else:
            encrypted = b"Proc-Type: 4,ENCRYPTED" in body
            fmt = "pem-" + label.split()[0].lower()
        props = {"format": fmt, "encrypted": str(encrypted).lower()}
        if encrypted:
            yield _mk(
                "encrypted-private-key",
                f"Encrypted private key ({fmt})",
                Severity.HIGH,
                data,
                m.start(),
                m.end(),
                b64,
                cwe=CWE_PRIVATE_KEY,
                properties=props,
            )
        else:
            yield _mk(
                "private-key",
                f"Private key ({fmt})",
                Severity.CRITICAL,
                data,
                m.start(),
                m.end(),
                b64,
                cwe=CWE_PRIVATE_KEY,
                properties=props,
            )
        if has_cert:
            yield _mk(
                "certificate-with-key",
                "Certificate shipped with its private key",
                Severity.CRITICAL,
                data,
                m.start(),
                m.end(),
                b64,
                cwe=CWE_PRIVATE_KEY,
                properties=props,
            )


def _token_formats(data: bytes) -> Iterator[SecretMatch]:
    for anchor, rx, rule, title, sev in TOKEN_FORMATS:
        for pos in _find_all(data, anchor):
            if pos and (data[pos - 1 : pos].isalnum() or data[pos - 1 : pos] == b"_"):
                continue
            m = rx.match(data, pos)
            if m and entropy(m.group(1)) >= 3.0 and not is_placeholder(m.group(1).decode()):
                yield _mk(rule, title, sev, data, m.start(1), m.end(1), m.group(1))


def _generic(data: bytes, lower: bytes, config: bool = False) -> Iterator[SecretMatch]:
    # The regex runs on a window around each keyword: the keyword's line, cut to 128 bytes
    # before it and 600 after, so a one-line JSON config is searched as well as a source file.
    hits: list[tuple[int, int]] = []
    for kw in GENERIC_KEYWORDS:
        for pos in _find_all(lower, kw):
            ls, le = _line_bounds(data, pos)
            hits.append((max(ls, pos - 128), min(le, pos + 600)))
    windows: list[tuple[int, int]] = []
    for s, e in sorted(hits):
        if windows and s <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], e))
        else:
            windows.append((s, e))
    seen: set[int] = set()
    for s, e in windows:
        for m in GENERIC.finditer(data, s, e):
            if m.start() in seen:
                continue
            seen.add(m.start())
            name = m.group(1)
            raw = m.group(2) if m.group(2) is not None else m.group(3)
            quoted = m.group(2) is not None
            if BENIGN_NAME.search(name) or NOT_SECRET_VALUE.fullmatch(raw):
                continue
            if m.start() and data[m.start() - 1 : m.start()] == b":":
                continue  # "...:secret:Name" inside an ARN names a secret, it is not one
            value = raw.decode("utf-8", "replace")
            if is_placeholder(value) or value.startswith(("http://", "https://", "/")):
                continue
            is_password = bool(PASSWORD_NAME.search(name))
            # In code, unquoted values are expressions as often as literals; only accept what
            # looks like a literal secret (no call, attribute or identifier). In configuration
            # (YAML, INI, properties) an unquoted value *is* the literal.
            if not quoted and (_not_a_config_literal(raw) if config else _code_expression(raw)):
                continue
            ent = entropy(raw)
            if is_password:
                if len(raw) < 6:
                    continue
            elif len(raw) < 16 or ent < 3.5:
                continue
            yield _mk(
                "hardcoded-password" if is_password else "generic-secret",
                "Hard-coded password" if is_password else "Credential-like value",
                Severity.HIGH,
                data,
                m.start(),
                m.end(),
                raw,
                kind="context",
                properties={"name": name.decode("utf-8", "replace")[:64], "entropy": f"{ent:.2f}"},
            )


def _code_expression(raw: bytes) -> bool:
    """An unquoted value in code: a call, an attribute, an index or a bare identifier."""
    return bool(re.search(rb"[().\[\]]", raw) or re.fullmatch(rb"[A-Za-z_][A-Za-z0-9_]*", raw))


def _not_a_config_literal(raw: bytes) -> bool:
    """An unquoted YAML value that is no literal: a tag, anchor, alias or block scalar."""
    return raw[:1] in (b"!", b"&", b"*", b"|", b">")


def _url_credentials(data: bytes) -> Iterator[SecretMatch]:
    # Anchored on the literal "://", so the regex engine skips ahead with a fast search; the
    # scheme is read backwards from there.
    for m in URL_TAIL.finditer(data):
        pos = m.start()
        head = SCHEME.search(data, max(0, pos - 21), pos)
        if head is None:
            continue
        scheme = head.group(1).decode("latin-1").lower()
        user = m.group(1).decode("utf-8", "replace")
        password = m.group(2).decode("utf-8", "replace")
        host = m.group(3).decode("utf-8", "replace")
        if is_placeholder(password) or user.startswith("%") or password.startswith("%"):
            continue
        camera = scheme in ("rtsp", "rtsps", "rtmp", "rtmps", "rtp", "srt")
        yield SecretMatch(
            rule="credential-url",
            title=f"Credentials inside a {scheme}:// URL",
            severity=Severity.CRITICAL if camera else Severity.HIGH,
            line=0,  # filled in by _with_lines, in one pass over the data
            start=head.start(1),
            end=m.end(),
            redacted=redact(password),
            kind="url",
            cwe=CWE_CLEARTEXT_CREDENTIALS,
            properties={
                "scheme": scheme,
                "host": host[:128],
                "user": redact(user),
                "camera": str(camera).lower(),
            },
        )


def scan_bytes(
    data: bytes, *, binary: bool | None = None, heuristics: bool = True, config: bool = False
) -> list[SecretMatch]:
    """Every secret in ``data``, sorted by position, de-duplicated, with line numbers.

    Key material (private keys, AWS access key ids) is searched in every file; credential URLs
    in every text file; the context and entropy rules (AWS secret keys and session tokens by
    name, service tokens, passwords, generic secrets) only in text files and only with
    ``heuristics`` (the caller turns it off for installed third-party/OS files, where these
    rules find documentation and test values, and says so). ``config`` says the text is a
    configuration file (YAML, INI, properties), where unquoted values are literals. A
    credential URL inside an assignment is reported once, as a URL.
    """
    if binary is None:
        binary = looks_binary(data)
    out: list[SecretMatch] = list(_aws_key_ids(data))
    if b"-----BEGIN " in data:
        out.extend(_private_keys(data))
    if binary:
        return _with_lines(data, _dedupe(out))
    if b"://" in data:
        out.extend(_url_credentials(data))
    if heuristics:
        lower = data.lower()
        if b"secret" in lower:
            out.extend(
                _context_rule(
                    data,
                    lower,
                    b"secret",
                    AWS_SECRET,
                    "aws-secret-access-key",
                    "AWS secret access key",
                    Severity.CRITICAL,
                    3.0,
                )
            )
        if b"token" in lower:
            out.extend(
                _context_rule(
                    data,
                    lower,
                    b"token",
                    AWS_SESSION,
                    "aws-session-token",
                    "AWS session token",
                    Severity.HIGH,
                    3.0,
                )
            )
        out.extend(_token_formats(data))
        out.extend(_generic(data, lower, config))
    return _with_lines(data, _dedupe(out))


_PRIORITY = {"key": 0, "url": 1, "context": 2}


def _dedupe(matches: list[SecretMatch]) -> list[SecretMatch]:
    """Drop context matches that overlap a more specific match (a key, URL or AWS rule)."""
    specific = [m for m in matches if m.rule not in ("generic-secret", "hardcoded-password")]
    kept: list[SecretMatch] = list(specific)
    kept.extend(
        m
        for m in matches
        if m.rule in ("generic-secret", "hardcoded-password")
        and not any(k.start < m.end and m.start < k.end for k in specific)
    )
    seen: set[tuple[str, int, int]] = set()
    result: list[SecretMatch] = []
    for m in sorted(kept, key=lambda x: (x.start, _PRIORITY.get(x.kind, 9), x.rule)):
        key = (m.rule, m.start, m.end)
        if key not in seen:
            seen.add(key)
            result.append(m)
    return result


def find_secrets(text: str) -> list[SecretMatch]:
    """Every secret in a string (manifest fields, ONNX metadata, image config values)."""
    return scan_bytes(text.encode("utf-8", "surrogateescape"), binary=False)
