"""What a secret match is, and which values are not secrets: shared by the secret rules.

``SecretMatch`` carries only a redacted form; ``is_placeholder`` and the documented AWS sample
keys say which credential-looking values are stand-ins; ``entropy`` and ``looks_binary`` are
the two measures the rules use. Private: import ``scanner.analyzers._secret_rules``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from scanner.models import Severity

__all__ = [
    "CWE_CLEARTEXT_CREDENTIALS",
    "CWE_HARDCODED_CREDENTIALS",
    "CWE_PRIVATE_KEY",
    "KNOWN_SAMPLES",
    "SAMPLE_REASON",
    "SecretMatch",
    "entropy",
    "is_placeholder",
    "looks_binary",
]

# Values published in AWS documentation and SDK examples (boto, botocore, awscli, moto). They
# grant nothing, but appear in many third-party packages; they are reported at info level with
# this reason instead of flooding the report.
KNOWN_SAMPLES: frozenset[str] = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "AKIAI44QH8DHBEXAMPLE",
        "AKIDEXAMPLE",
        "ASIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    }
)
SAMPLE_REASON = "documented example key from AWS documentation/SDK samples; grants no access"

CWE_HARDCODED_CREDENTIALS = 798
CWE_PRIVATE_KEY = 321  # use of hard-coded cryptographic key
CWE_CLEARTEXT_CREDENTIALS = 522


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """One secret found in some bytes: never holds the value, only its redacted form.

    ``start``/``end`` are byte offsets into the scanned data; ``line`` is 1-based. ``kind``
    says how much the match can be trusted: ``key`` (key material or a fixed-format
    credential), ``context`` (a value next to a credential-like name), or ``url``.
    """

    rule: str
    title: str
    severity: Severity
    line: int
    start: int
    end: int
    redacted: str
    kind: str = "key"
    cwe: int = CWE_HARDCODED_CREDENTIALS
    sample: bool = False
    reason: str = ""
    properties: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def evidence(self) -> str:
        """What the fingerprint is computed from: rule and redacted form, never the value."""
        return f"{self.rule}:{self.redacted}"


def entropy(value: str | bytes) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


_PLACEHOLDER_WORDS = (
    "example",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "your",
    "dummy",
    "redacted",
    "xxxx",
    "****",
    "...",
    "sample",
    "fake",
    "secret_here",
    "insert",
    "todo",
    "replace",
)
_PLACEHOLDER_EXACT = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "token",
        "none",
        "null",
        "true",
        "false",
        "user",
        "username",
        "test",
        "admin",
        "string",
        "empty",
        "default",
        "required",
        "optional",
        "value",
        "foo",
        "bar",
        "baz",
    }
)
_TEMPLATE_RX = re.compile(r"[${}<>%]|^\*+$|^\.+$|^_+$|^-+$")


def is_placeholder(value: str) -> bool:
    """Whether a credential-looking value is a template, variable or documentation stand-in."""
    v = value.strip().strip("\"'")
    if len(v) < 4:
        return True
    low = v.lower()
    if low in _PLACEHOLDER_EXACT or _TEMPLATE_RX.search(v):
        return True
    if any(w in low for w in _PLACEHOLDER_WORDS):
        return True
    # One repeated character ("aaaaaaaa") or an obvious sequence is not a real secret.
    if len(set(low)) <= 2:
        return True
    return low in ("12345678", "123456789", "1234567890", "abcdefgh", "qwertyui")


def looks_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KiB marks binary content (the heuristic git and grep use)."""
    return b"\x00" in data[:8192]
