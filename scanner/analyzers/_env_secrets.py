"""Whether an environment variable (image ``ENV``, Dockerfile ``ARG``/``ENV``) sets a secret.

Shared by the image-config check and the Dockerfile rules, which must not import each other.
"""

from __future__ import annotations

import re

from scanner.analyzers._secret_rules import find_secrets, is_placeholder
from scanner.models import Severity
from scanner.redact import redact

__all__ = ["SECRET_NAME", "env_secret"]

SECRET_NAME = re.compile(
    r"(?i)(?:secret|token|passw(?:or)?d|pwd|api_?key|access_?key|private_?key|credential|"
    r"auth(?:_?token|_?key)?$)"
)
# Names that contain a secret-ish word but hold configuration, not a secret.
_BENIGN_NAME = re.compile(r"(?i)(?:_file|_path|_dir|_url|_uri|_id|_type|_region|_endpoint)$")


def env_secret(name: str, value: str) -> tuple[str, Severity, str] | None:
    """(description, severity, redacted) when ``name=value`` sets a secret, else ``None``."""
    for m in find_secrets(f'{name} = "{value}"'):
        return m.title, m.severity, m.redacted
    if (
        SECRET_NAME.search(name)
        and not _BENIGN_NAME.search(name)
        and len(value) >= 6
        and not is_placeholder(value)
        and not value.startswith(("/", "$"))
    ):
        return f"secret-named variable {name}", Severity.HIGH, redact(value)
    return None
