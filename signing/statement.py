"""The in-toto Statement v1 that says what the gate checked and decided.

Subjects are every artifact of the target (its path relative to the target, POSIX, and SHA-256)
plus the package manifests. The predicate type is ours::

    https://panorama-gate.dev/attestation/gate-verdict/v1

and its predicate holds::

    verdict    {decision, reasons: [{code, message}]}
    report     {sha256, size}                    the JSON report the verdict came from
    policy     {name, sha256}
    sbom       {sha256, size} or null            when an SBOM was given to ``sign``
    licenses   {sha256, size} or null            the license report, when one was given
    tool       {name, version}
    target     {kind, name, version}
    release    {application, version, destination}  what this release is: ``pull`` and
               ``verify`` compare it with what the user asked for (values may be null
               when ``sign`` was not told them)
    folders    [{name, sha256}]                  each folder artifact and its tree digest
               (:mod:`scanner.treedigest`): every file in it must be a subject
    artifacts  [{name, kind, sha256, size, mode, signature, model_signature}]
               per subject: its size (a download is bounded by it), its mode as git
               records it for files of a folder artifact (else null), and the detached
               ``.sig`` / model-signing bundle file written for it (``null`` when none),
               so a verifier knows which files must exist; ``model_root`` is the file or
               folder model-signing signed and ``model_signature_sha256`` pins the model
               bundle's bytes
    signedAt   RFC 3339 UTC time of signing

Example::

    st = build_statement(subjects, GatePredicate(...))
    payload = statement_bytes(st)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.models import Decision
from signing.errors import Reason, VerificationError

__all__ = [
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "ArtifactEntry",
    "FileRef",
    "FolderEntry",
    "GatePredicate",
    "ReleaseInfo",
    "Statement",
    "Subject",
    "build_statement",
    "parse_statement",
    "statement_bytes",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://panorama-gate.dev/attestation/gate-verdict/v1"


@dataclass(frozen=True, slots=True, order=True)
class Subject:
    """One in-toto subject: a name (POSIX path relative to the target) and its SHA-256."""

    name: str
    sha256: str


@dataclass(frozen=True, slots=True)
class ArtifactEntry:
    """What was signed for one subject and which signature files go with it."""

    name: str
    kind: str
    sha256: str
    signature: str | None = None
    model_signature: str | None = None
    model_root: str | None = None
    model_signature_sha256: str | None = None
    size: int | None = None
    mode: str | None = None


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    """Which application, version and destination a release was signed for."""

    application: str | None = None
    version: str | None = None
    destination: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        """JSON form."""
        return {
            "application": self.application,
            "version": self.version,
            "destination": self.destination,
        }


@dataclass(frozen=True, slots=True)
class FolderEntry:
    """A folder artifact and the digest of its exact file set."""

    name: str
    sha256: str


@dataclass(frozen=True, slots=True)
class FileRef:
    """A signed document beside the subjects (SBOM, license report): digest and size."""

    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class GatePredicate:
    """The predicate body (see the module docstring for its JSON form)."""

    decision: str
    policy_name: str
    policy_sha256: str
    report_sha256: str
    report_size: int
    tool_name: str
    tool_version: str
    signed_at: str
    reasons: tuple[Mapping[str, str], ...] = ()
    sbom: FileRef | None = None
    licenses: FileRef | None = None
    target: Mapping[str, str] = field(default_factory=dict)
    release: ReleaseInfo = field(default_factory=ReleaseInfo)
    folders: tuple[FolderEntry, ...] = ()
    artifacts: tuple[ArtifactEntry, ...] = ()

    @property
    def sbom_sha256(self) -> str | None:
        """The signed SBOM's SHA-256, if any."""
        return self.sbom.sha256 if self.sbom is not None else None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""

        def ref(r: FileRef | None) -> dict[str, Any] | None:
            return {"sha256": r.sha256, "size": r.size} if r is not None else None

        return {
            "verdict": {"decision": self.decision, "reasons": [dict(r) for r in self.reasons]},
            "report": {"sha256": self.report_sha256, "size": self.report_size},
            "policy": {"name": self.policy_name, "sha256": self.policy_sha256},
            "sbom": ref(self.sbom),
            "licenses": ref(self.licenses),
            "tool": {"name": self.tool_name, "version": self.tool_version},
            "target": dict(self.target),
            "release": self.release.to_dict(),
            "folders": [{"name": f.name, "sha256": f.sha256} for f in self.folders],
            "artifacts": [
                {
                    "name": a.name,
                    "kind": a.kind,
                    "sha256": a.sha256,
                    "size": a.size,
                    "mode": a.mode,
                    "signature": a.signature,
                    "model_signature": a.model_signature,
                    "model_root": a.model_root,
                    "model_signature_sha256": a.model_signature_sha256,
                }
                for a in self.artifacts
            ],
            "signedAt": self.signed_at,
        }


@dataclass(frozen=True, slots=True)
class Statement:
    """A parsed or built statement."""

    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: GatePredicate

    def subject_map(self) -> dict[str, str]:
        """Subject name → SHA-256 hex."""
        return {s.name: s.sha256 for s in self.subjects}

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the in-toto Statement v1."""
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": s.name, "digest": {"sha256": s.sha256}} for s in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": self.predicate.to_dict(),
        }


def build_statement(subjects: Sequence[Subject], predicate: GatePredicate) -> Statement:
    """A statement with subjects sorted by name; duplicate names are a programming error."""
    ordered = tuple(sorted(set(subjects)))
    names = [s.name for s in ordered]
    if len(names) != len(set(names)):
        raise ValueError("two subjects share a name with different digests")
    return Statement(ordered, PREDICATE_TYPE, predicate)


def statement_bytes(statement: Statement) -> bytes:
    """Deterministic JSON bytes (sorted keys, compact) used as the DSSE payload."""
    return json.dumps(statement.to_dict(), sort_keys=True, separators=(",", ":")).encode("utf-8")


def _fail(message: str) -> VerificationError:
    return VerificationError(Reason.MALFORMED_STATEMENT, message)


def _str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise _fail(f"{where}.{key} is missing or not a string")
    return value


def _opt_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _fail(f"{where}.{key} is not a string")
    return value


def _opt_size(obj: Mapping[str, Any], key: str, where: str) -> int | None:
    value = obj.get(key)
    # bool is an int in Python; a size of `true` is malformed, not 1.
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise _fail(f"{where}.{key} is not a non-negative integer")
    return value


def _obj(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise _fail(f"{where}.{key} is missing or not an object")
    return value


def _list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise _fail(f"{where}.{key} is not a list")
    return value


def _file_ref(pred: Mapping[str, Any], key: str) -> FileRef | None:
    raw = pred.get(key)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _fail(f"predicate.{key} is not an object")
    size = _opt_size(raw, "size", key)
    # Statements written before sizes were signed carry only the digest (size -1: unknown).
    return FileRef(_str(raw, "sha256", key), -1 if size is None else size)


def _subjects(doc: Mapping[str, Any]) -> tuple[Subject, ...]:
    raw_subjects = doc.get("subject")
    if not isinstance(raw_subjects, list) or not raw_subjects:
        raise _fail("statement has no subjects")
    subjects = []
    for i, s in enumerate(raw_subjects):
        if not isinstance(s, dict):
            raise _fail(f"subject[{i}] is not an object")
        digest = _obj(s, "digest", f"subject[{i}]")
        subjects.append(Subject(_str(s, "name", f"subject[{i}]"), _str(digest, "sha256", "digest")))
    if len({s.name for s in subjects}) != len(subjects):
        raise _fail("statement names a subject twice")
    return tuple(subjects)


def _artifact(a: Any, i: int) -> ArtifactEntry:
    where = f"artifacts[{i}]"
    if not isinstance(a, dict):
        raise _fail(f"{where} is not an object")
    return ArtifactEntry(
        _str(a, "name", where),
        _str(a, "kind", where),
        _str(a, "sha256", where),
        _opt_str(a, "signature", where),
        _opt_str(a, "model_signature", where),
        _opt_str(a, "model_root", where),
        _opt_str(a, "model_signature_sha256", where),
        _opt_size(a, "size", where),
        _opt_str(a, "mode", where),
    )


def _folder(f: Any, i: int) -> FolderEntry:
    if not isinstance(f, dict):
        raise _fail(f"folders[{i}] is not an object")
    return FolderEntry(_str(f, "name", f"folders[{i}]"), _str(f, "sha256", f"folders[{i}]"))


def _release(pred: Mapping[str, Any]) -> ReleaseInfo:
    raw = pred.get("release")
    if raw is None:
        return ReleaseInfo()
    if not isinstance(raw, dict):
        raise _fail("predicate.release is not an object")
    return ReleaseInfo(
        _opt_str(raw, "application", "release"),
        _opt_str(raw, "version", "release"),
        _opt_str(raw, "destination", "release"),
    )


def parse_statement(payload: bytes) -> Statement:
    """Parse a DSSE payload as our statement; ``VerificationError`` (malformed-statement) else.

    Only call this on a payload whose signature has been verified. Statements written by
    earlier versions (no release, folders or sizes) parse, with those fields empty.
    """
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(f"statement is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise _fail("statement is not a JSON object")
    if doc.get("_type") != STATEMENT_TYPE:
        raise _fail(f"statement _type is {doc.get('_type')!r}, expected {STATEMENT_TYPE}")
    if doc.get("predicateType") != PREDICATE_TYPE:
        raise _fail(f"predicateType is {doc.get('predicateType')!r}, expected {PREDICATE_TYPE}")
    subjects = _subjects(doc)
    pred = _obj(doc, "predicate", "statement")
    verdict = _obj(pred, "verdict", "predicate")
    decision = _str(verdict, "decision", "verdict")
    if decision not in {d.value for d in Decision}:
        raise _fail(f"unknown verdict decision {decision!r}")
    report = _obj(pred, "report", "predicate")
    policy = _obj(pred, "policy", "predicate")
    tool = _obj(pred, "tool", "predicate")
    size = _opt_size(report, "size", "report")
    if size is None:
        raise _fail("predicate.report.size is missing or not an integer")
    reasons = tuple(
        {str(k): str(v) for k, v in r.items()}
        for r in _list(verdict, "reasons", "verdict")
        if isinstance(r, dict)
    )
    target = pred.get("target") or {}
    predicate = GatePredicate(
        decision=decision,
        policy_name=_str(policy, "name", "policy"),
        policy_sha256=_str(policy, "sha256", "policy"),
        report_sha256=_str(report, "sha256", "report"),
        report_size=size,
        tool_name=_str(tool, "name", "tool"),
        tool_version=_str(tool, "version", "tool"),
        signed_at=_str(pred, "signedAt", "predicate"),
        reasons=reasons,
        sbom=_file_ref(pred, "sbom"),
        licenses=_file_ref(pred, "licenses"),
        target={str(k): str(v) for k, v in target.items()} if isinstance(target, dict) else {},
        release=_release(pred),
        folders=tuple(_folder(f, i) for i, f in enumerate(_list(pred, "folders", "predicate"))),
        artifacts=tuple(
            _artifact(a, i) for i, a in enumerate(_list(pred, "artifacts", "predicate"))
        ),
    )
    return Statement(subjects, PREDICATE_TYPE, predicate)
