"""Reading a Panorama project's files safely, and the integrity findings made while reading.

Every path is resolved and must stay inside the project root; only regular files are opened (a
FIFO or a device would block or lie); manifests are size- and depth-limited and parsed strictly.
Problems become ``integrity`` findings, never tracebacks.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import SourceError
from scanner.models import Category, Finding, Location, Severity
from scanner.sources.interface import ManifestDoc
from scanner.sources.manifests import (
    JsonPath,
    JsonTextError,
    ManifestKind,
    format_path,
    line_index,
    line_of,
    parse_json_text,
)

__all__ = [
    "MAX_MANIFEST_BYTES",
    "MISSING_REPORTED",
    "Checked",
    "ProjectReader",
    "clip",
    "is_dir",
    "one_line",
    "probe",
    "sorted_children",
    "template_placeholders",
]

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # real manifests are a few KiB
MAX_PACKAGES = 512
MAX_GRAPH_DIRS = 64
MAX_ASSET_FILES = 10_000
HEX64 = re.compile(r"[0-9a-f]{64}")


def probe(path: Path) -> tuple[os.stat_result | None, str | None]:
    """``lstat`` without raising: (result, None), (None, None) when absent, (None, reason)."""
    try:
        return os.lstat(path), None
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    except (OSError, ValueError) as exc:  # ENAMETOOLONG, EACCES, ELOOP; ValueError: NUL byte
        return None, (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str) -> str:
    """Escape control characters (names on disk and in manifests may hold newlines)."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def is_dir(path: Path) -> bool:
    """``Path.is_dir`` that treats every error (EACCES, ELOOP...) as "not a usable folder"."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def clip(text: str, limit: int = 120) -> str:
    """Shorten attacker-controlled names before they go into a message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Checked:
    """A path that is safe to open: a regular file inside the project."""

    path: Path
    size: int


class ProjectReader:
    """Reads files of one project safely and collects integrity findings.

    Every path is resolved and must stay inside ``root``; only regular files are opened (a FIFO
    or device would block or lie); manifests are size- and depth-limited.
    """

    def __init__(self, root: Path) -> None:
        try:
            self.root = root.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise SourceError(f"{root}: cannot open the project folder") from exc
        if not is_dir(self.root):
            raise SourceError(f"{root}: not a folder")
        self.findings: list[Finding] = []
        self.manifests: list[ManifestDoc] = []
        self.texts: dict[str, str] = {}
        self.raw: dict[str, bytes] = {}
        self._lines: dict[str, dict[JsonPath, int]] = {}

    # -- paths --------------------------------------------------------------------------------
    def rel(self, path: Path) -> str:
        """``path`` relative to the root, POSIX form (for reports)."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def check_dir(self, path: Path, what: str, *, fatal: bool = True) -> Path | None:
        """A sub-folder that exists and stays inside the project, else ``None``.

        A folder that is a symlink out of the project is foreign content the scan cannot vouch
        for: a ``SourceError`` when ``fatal`` (graphs/, packages/), else a finding.
        """
        found, error = probe(path)
        if error is None and found is None:
            return None
        reason = f"cannot be read ({error})" if error else ""
        real: Path | None = None
        if not reason:
            try:
                real = path.resolve(strict=True)
            except (OSError, RuntimeError) as exc:
                reason = f"cannot be resolved ({exc.__class__.__name__})"
        if real is not None and not real.is_relative_to(self.root):
            reason = "is a symlink that leads out of the project"
        if reason:
            if fatal:
                raise SourceError(f"{self.rel(path)}: {what} {reason}")
            self.add(
                "integrity.path-escape",
                Severity.CRITICAL,
                f"{what} {self.rel(path)} {reason}; not read",
                Location(self.rel(path)),
                cwe=59,
            )
            return None
        return real if real is not None and is_dir(real) else None

    def check_file(self, path: Path, *, rule_loc: Location, what: str) -> Checked | None:
        """Resolve ``path``; report and return ``None`` when it is missing, escapes or is odd."""
        found, error = probe(path)
        if error is not None:
            self.add(
                "integrity.unreadable",
                Severity.HIGH,
                f"{what} {clip(self.rel(path))} cannot be read: {error}",
                rule_loc,
            )
            return MISSING_REPORTED
        if found is None:
            return None
        try:
            real = path.resolve(strict=True)
        except FileNotFoundError:
            self.add(
                "integrity.asset-missing",
                Severity.HIGH,
                f"{what} {self.rel(path)} is a dangling symlink",
                rule_loc,
            )
            return MISSING_REPORTED
        except (OSError, RuntimeError) as exc:
            self.add(
                "integrity.unreadable",
                Severity.HIGH,
                f"{what} {self.rel(path)} cannot be resolved: {exc.__class__.__name__}",
                rule_loc,
            )
            return MISSING_REPORTED
        if not real.is_relative_to(self.root):
            self.add(
                "integrity.path-escape",
                Severity.CRITICAL,
                f"{what} {self.rel(path)} is a symlink that leads out of the project; not read",
                rule_loc,
                cwe=59,
            )
            return MISSING_REPORTED
        try:
            st = real.stat()
        except OSError as exc:
            self.add(
                "integrity.unreadable",
                Severity.HIGH,
                f"{what} {self.rel(path)} cannot be read: {exc.strerror or exc}",
                rule_loc,
            )
            return MISSING_REPORTED
        if not stat.S_ISREG(st.st_mode):
            self.add(
                "integrity.not-a-file",
                Severity.HIGH,
                f"{what} {self.rel(path)} is not a regular file; not read",
                rule_loc,
            )
            return MISSING_REPORTED
        return Checked(real, st.st_size)

    # -- findings -----------------------------------------------------------------------------
    def add(
        self,
        rule_id: str,
        severity: Severity,
        message: str,
        location: Location,
        *,
        evidence: str = "",
        cwe: int | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        self.findings.append(
            Finding.create(
                rule_id=rule_id,
                category=Category.INTEGRITY,
                severity=severity,
                message=one_line(message),
                location=location,
                evidence=evidence,
                cwe=cwe,
                properties=properties,
            )
        )

    def peek_json(self, path: Path) -> Any:
        """The parsed JSON of a regular file inside the project, or ``None``; records nothing.

        Used to decide what a file is (an override? a model descriptor?) from its content
        before reading it as a manifest.
        """
        found, error = probe(path)
        if found is None or error is not None or not stat.S_ISREG(found.st_mode):
            return None
        try:
            if found.st_size > MAX_MANIFEST_BYTES:
                return None
            return parse_json_text(path.read_bytes())
        except (OSError, JsonTextError):
            return None

    def location(self, rel: str, parts: JsonPath = ()) -> Location:
        """A Location in a manifest: its relative path, the JSON path and the line, if found."""
        text = self.texts.get(rel)
        line = None
        if text is not None and parts:
            index = self._lines.get(rel)
            if index is None:
                index = self._lines[rel] = line_index(text)
            line = line_of(index, parts)
        return Location(rel, format_path(parts), line)

    # -- manifests ----------------------------------------------------------------------------
    def read_manifest(self, path: Path, kind: ManifestKind, package: str | None = None) -> Any:
        """Read, parse and record one manifest; ``None`` (and a finding) when it cannot be used."""
        rel = self.rel(path)
        where = Location(rel)
        checked = self.check_file(path, rule_loc=where, what="manifest")
        if checked is None:
            self.add(
                "integrity.manifest-missing",
                Severity.HIGH,
                f"{rel} is missing",
                where,
            )
            self.manifests.append(ManifestDoc(kind.value, rel, None, package))
            return None
        if checked is MISSING_REPORTED:
            self.manifests.append(ManifestDoc(kind.value, rel, None, package))
            return None
        data: Any = None
        try:
            with checked.path.open("rb") as f:
                raw = f.read(MAX_MANIFEST_BYTES + 1)
            if len(raw) > MAX_MANIFEST_BYTES:
                raise JsonTextError(f"larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB")
            data = parse_json_text(raw)
            self.texts[rel] = raw.decode("utf-8-sig")
            self.raw[rel] = raw
        except OSError as exc:
            self.add(
                "integrity.manifest-unreadable",
                Severity.HIGH,
                f"{rel} cannot be read: {exc.strerror or exc}",
                where,
            )
        except JsonTextError as exc:
            self.add(
                "integrity.manifest-unreadable",
                Severity.HIGH,
                f"{rel} is not a usable manifest: {exc}",
                where,
                evidence=str(exc),
            )
        template: tuple[str, ...] = ()
        if kind is ManifestKind.OVERRIDE:
            # Samples ship fill-in templates: {Placeholder} values, or a name that says so
            # (override_configuration_template.json names nodes the user has to add).
            template = template_placeholders(data) or (
                ("named a template",) if "template" in path.name.lower() else ()
            )
        self.manifests.append(ManifestDoc(kind.value, rel, data, package, template))
        return data


_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_ -]{0,63}\}")


def template_placeholders(data: Any) -> tuple[str, ...]:
    """The ``{Placeholder}`` fields of a fill-in template (empty for a real document).

    Samples keep override templates such as ``{"name": "{YourCameraName}_node"}`` for the
    user to fill in before deploying; they are not deployable as they are.
    """
    found: set[str] = set()
    stack = [data]
    while stack and len(found) < 32:
        value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            found.update(_PLACEHOLDER.findall(value))
    return tuple(sorted(found))


MISSING_REPORTED = Checked(Path(), -1)  # sentinel: a finding was already made


def sorted_children(folder: Path, limit: int, what: str) -> list[Path]:
    try:
        with os.scandir(folder) as it:
            names: list[str] = []
            for entry in it:
                names.append(entry.name)
                if len(names) > limit:
                    raise SourceError(f"{folder}: more than {limit} {what}; refusing to read it")
    except OSError as exc:
        raise SourceError(f"{folder}: cannot list {what}: {exc.strerror or exc}") from exc
    return [folder / n for n in sorted(names)]
