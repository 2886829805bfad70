"""The patterns the secret rules match with: anchors, regular expressions, known formats.

Data only; the matching (where each pattern runs, and what a match means) is in
``_secret_rules``. Every pattern works on bytes.
"""

from __future__ import annotations

import re

from scanner.models import Severity

__all__ = [
    "AWS_KEY_ID",
    "AWS_SECRET",
    "AWS_SESSION",
    "B64_BODY",
    "BENIGN_NAME",
    "GENERIC",
    "GENERIC_KEYWORDS",
    "NOT_SECRET_VALUE",
    "PASSWORD_NAME",
    "PEM_CERT",
    "PEM_KEY",
    "SCHEME",
    "TOKEN_FORMATS",
    "URL_TAIL",
]

AWS_KEY_ID = re.compile(rb"(A[KS]IA[A-Z2-7]{16})(?![A-Za-z0-9])")
AWS_SECRET = re.compile(
    rb"(?i)(?:aws_?secret_?(?:access_?)?key(?:_?id)?|secret_?access_?key|aws_?secret)"
    rb"[\"']?\s*(?:[:=]|=>|:=)\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
)
AWS_SESSION = re.compile(
    rb"(?i)(?:aws_?session_?token|aws_?security_?token|session_?token|security_?token)"
    rb"[\"']?\s*(?:[:=]|=>|:=)\s*[\"']?([A-Za-z0-9/+=]{100,})"
)
PEM_KEY = re.compile(
    rb"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |ED25519 |PGP |SSH2 ENCRYPTED )?"
    rb"PRIVATE KEY(?: BLOCK)?)-----(.{64,65536}?)-----END \1-----",
    re.DOTALL,
)
PEM_CERT = b"-----BEGIN CERTIFICATE-----"
B64_BODY = re.compile(rb"[^A-Za-z0-9+/=]")

# Fixed-format tokens from well-known services: the format itself is the evidence.
TOKEN_FORMATS: tuple[tuple[bytes, re.Pattern[bytes], str, str, Severity], ...] = (
    (
        b"gh",
        re.compile(rb"(gh[pousr]_[A-Za-z0-9]{36,255})"),
        "github-token",
        "GitHub token",
        Severity.HIGH,
    ),
    (
        b"github_pat_",
        re.compile(rb"(github_pat_[A-Za-z0-9_]{60,255})"),
        "github-token",
        "GitHub token",
        Severity.HIGH,
    ),
    (
        b"xox",
        re.compile(rb"(xox[abposr]-[A-Za-z0-9-]{10,250})"),
        "slack-token",
        "Slack token",
        Severity.HIGH,
    ),
    (
        b"sk_live_",
        re.compile(rb"(sk_live_[0-9a-zA-Z]{24,99})"),
        "stripe-key",
        "Stripe secret key",
        Severity.HIGH,
    ),
    (
        b"AIza",
        re.compile(rb"(AIza[0-9A-Za-z_\-]{35})(?![0-9A-Za-z_\-])"),
        "google-api-key",
        "Google API key",
        Severity.HIGH,
    ),
    (
        # Whoever has the URL can post into the channel: the URL is the credential.
        b"https://hooks.slack.com/",
        re.compile(
            rb"(https://hooks\.slack\.com/(?:services|workflows|triggers)/"
            rb"[A-Za-z0-9_]{6,32}/[A-Za-z0-9_]{6,32}/[A-Za-z0-9_/]{8,80})(?![A-Za-z0-9_/])"
        ),
        "slack-webhook",
        "Slack incoming-webhook URL",
        Severity.HIGH,
    ),
)

# A credential-like name, an assignment, and a literal value. The keyword list is what the
# anchor search looks for (lower-cased), the regex then runs on that line only.
GENERIC_KEYWORDS = (
    b"secret",
    b"token",
    b"passw",
    b"pwd",
    b"api_key",
    b"apikey",
    b"api-key",
    b"access_key",
    b"auth",
    b"credential",
    b"private_key",
)
GENERIC = re.compile(
    rb"(?i)([A-Za-z0-9_.\-]*(?:secret|token|passw(?:or)?d|pwd|api[_\-]?key|access[_\-]?key|"
    rb"auth[_\-]?(?:key|token)|credentials?|private[_\-]?key))[\"']?\s*(?:[:=]|=>|:=)\s*"
    rb"(?:[\"']([^\"'\s]{4,256})[\"']|([^\"'\s,;#]{4,256}))"
)
PASSWORD_NAME = re.compile(rb"(?i)passw(?:or)?d|pwd")
# Names that look credential-like but hold no secret (counts, paths, flags, file names).
BENIGN_NAME = re.compile(
    rb"(?i)(?:_?(?:len|length|size|count|max|min|file|path|dir|url|uri|name|type|id|field|"
    rb"prompt|label|pattern|regex|policy|mode|expir\w*|timeout|ttl|header|param|env|var|key_id|"
    rb"endpoint|format|class|enabled|required|hash|salt|rounds|type|kind|tokens?_?(?:type|url))$)"
    rb"|^(?:no|is|has|use|allow|enable|disable|tokenize\w*)_"
    # Pagination, idempotency and request tokens: identifiers, not credentials.
    rb"|(?:next|continuation|request|change|purchase|pagination|page|input|output|"
    rb"idempotency|lifecycle_?action|csrf|resume|marker|sync)_?token$"
)
# Values that are identifiers rather than secrets: UUIDs, dotted paths, CONSTANT_NAMES.
NOT_SECRET_VALUE = re.compile(
    rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    rb"|[A-Za-z_][\w\[\]\-]*(?:\.[A-Za-z_][\w\[\]\-]*)+"
    rb"|[A-Z][A-Z0-9_]+"
)

URL_TAIL = re.compile(
    rb"://([^\s:/?#@'\"<>\[\]{}\\]{1,128}):([^\s/?#@'\"<>\\]{1,256})@([^\s/?#'\"<>\\:]{1,253})"
)
SCHEME = re.compile(rb"(?<![A-Za-z0-9+.\-])([A-Za-z][A-Za-z0-9+.\-]{1,20})\Z")
