"""The in-toto Statement v1 that says what the gate checked and decided.

Subjects are every artifact of the target (its path relative to the target, POSIX, and SHA-256)
plus the package manifests. The predicate type is ours::

    https://panorama-gate.dev/attestation/gate-verdict/v1

and its predicate holds::

    verdict    {decision, reasons: [{code, message}]}
    report     {sha256, size}                    the JSON report the verdict came from
    policy     {name, sha256}
    sbom       {sha256} or null                  when an SBOM was given to ``sign``
    tool       {name, version}
    target     {kind, name, version}
    artifacts  [{name, kind, sha256, signature, model_signature}]
               the detached ``.sig`` / model-signing bundle file written for each subject
               (``null`` when none), so a verifier knows which files must exist;
               ``model_root`` is the file or folder model-signing signed and
               ``model_signature_sha256`` pins the model bundle's bytes
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
    "GatePredicate",
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
    sbom_sha256: str | None = None
    target: Mapping[str, str] = field(default_factory=dict)
    artifacts: tuple[ArtifactEntry, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "verdict": {"decision": self.decision, "reasons": [dict(r) for r in self.reasons]},
            "report": {"sha256": self.report_sha256, "size": self.report_size},
            "policy": {"name": self.policy_name, "sha256": self.policy_sha256},
            "sbom": {"sha256": self.sbom_sha256} if self.sbom_sha256 else None,
            "tool": {"name": self.tool_name, "version": self.tool_version},
            "target": dict(self.target),
            "artifacts": [
                {
                    "name": a.name,
                    "kind": a.kind,
                    "sha256": a.sha256,
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


def _obj(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise _fail(f"{where}.{key} is missing or not an object")
    return value


def parse_statement(payload: bytes) -> Statement:
    """Parse a DSSE payload as our statement; ``VerificationError`` (malformed-statement) else.

    Only call this on a payload whose signature has been verified.
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
    pred = _obj(doc, "predicate", "statement")
    verdict = _obj(pred, "verdict", "predicate")
    decision = _str(verdict, "decision", "verdict")
    if decision not in {d.value for d in Decision}:
        raise _fail(f"unknown verdict decision {decision!r}")
    report = _obj(pred, "report", "predicate")
    policy = _obj(pred, "policy", "predicate")
    tool = _obj(pred, "tool", "predicate")
    sbom = pred.get("sbom")
    sbom_sha = _str(sbom, "sha256", "sbom") if isinstance(sbom, dict) else None
    size = report.get("size")
    if not isinstance(size, int):
        raise _fail("predicate.report.size is missing or not an integer")
    entries = []
    raw_artifacts = pred.get("artifacts", [])
    if not isinstance(raw_artifacts, list):
        raise _fail("predicate.artifacts is not a list")
    for i, a in enumerate(raw_artifacts):
        if not isinstance(a, dict):
            raise _fail(f"artifacts[{i}] is not an object")
        sig = a.get("signature")
        msig = a.get("model_signature")
        mroot = a.get("model_root")
        msha = a.get("model_signature_sha256")
        if any(x is not None and not isinstance(x, str) for x in (sig, msig, mroot, msha)):
            raise _fail(f"artifacts[{i}] signature names are not strings")
        entries.append(
            ArtifactEntry(
                _str(a, "name", f"artifacts[{i}]"),
                _str(a, "kind", f"artifacts[{i}]"),
                _str(a, "sha256", f"artifacts[{i}]"),
                sig,
                msig,
                mroot,
                msha,
            )
        )
    reasons = tuple(
        {str(k): str(v) for k, v in r.items()}
        for r in verdict.get("reasons", [])
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
        sbom_sha256=sbom_sha,
        target={str(k): str(v) for k, v in target.items()} if isinstance(target, dict) else {},
        artifacts=tuple(entries),
    )
    return Statement(tuple(subjects), PREDICATE_TYPE, predicate)
