"""Reading a JSON report and mapping its artifacts onto a target's files (internal).

The signing package reads the report *file* (``report_to_dict``'s form: ``artifacts[]`` with
name/kind/path/sha256/size and ``verdict`` {decision, reasons, policy{name, sha256}}) into
``scanner.models`` values; it never imports the report writers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from scanner.models import Artifact, ArtifactKind, Decision, Digest, Reason, Verdict
from signing.digest import FileDigest, sha256_bytes
from signing.errors import InputError, SigningError

__all__ = [
    "ReportFacts",
    "discover_files",
    "manifest_files",
    "read_report",
    "resolve",
    "subject_name",
    "walk_files",
]

# Package manifests are subjects even when the report does not list them as artifacts.
_MANIFEST_GLOBS = ("graphs/*/graph.json", "packages/*/package.json", "packages/*/descriptor.json")


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What signing needs from a JSON report."""

    path: Path
    digest: FileDigest
    verdict: Verdict
    artifacts: tuple[Artifact, ...]
    tool_name: str
    tool_version: str
    target: dict[str, str]


def _bad(path: Path, message: str) -> InputError:
    return InputError(f"{path}: invalid report: {message}")


def read_report(path: Path) -> ReportFacts:
    """Parse the report file; anything missing or malformed is a refusal naming the field."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the report: {exc.strerror or exc}") from exc
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"not a JSON report: {exc}") from exc
    if not isinstance(doc, dict):
        raise _bad(path, "not a JSON report object")
    v = doc.get("verdict")
    if not isinstance(v, dict):
        raise _bad(path, "the report has no verdict (was it written by `scan --format json`?)")
    try:
        decision = Decision(str(v.get("decision")))
    except ValueError as exc:
        raise _bad(path, f"unknown verdict decision {v.get('decision')!r}") from exc
    policy = v.get("policy")
    if not isinstance(policy, dict) or not isinstance(policy.get("sha256"), str):
        raise _bad(path, "verdict.policy.sha256 is missing")
    reasons = tuple(
        Reason(str(r.get("code", "")), str(r.get("message", "")))
        for r in v.get("reasons") or []
        if isinstance(r, dict)
    )
    verdict = Verdict(decision, reasons, str(policy.get("name", "")), str(policy["sha256"]))
    raw_artifacts = doc.get("artifacts")
    if not isinstance(raw_artifacts, list):
        raise _bad(path, "artifacts[] is missing")
    artifacts = []
    for i, a in enumerate(raw_artifacts):
        if not isinstance(a, dict) or not isinstance(a.get("path"), str):
            raise _bad(path, f"artifacts[{i}] has no path")
        sha = a.get("sha256")
        digest = None
        if sha is not None:
            try:
                digest = Digest.from_hex(str(sha))
            except ValueError as exc:
                raise _bad(path, f"artifacts[{i}].sha256 is not hex") from exc
        try:
            kind = ArtifactKind(a.get("kind", "other"))
        except ValueError:
            kind = ArtifactKind.OTHER
        size = a.get("size")
        artifacts.append(
            Artifact(
                kind=kind,
                name=str(a.get("name") or a["path"]),
                path=a["path"],
                digest=digest,
                size=size if isinstance(size, int) else -1,
                package=a.get("package"),
            )
        )
    tool = doc.get("tool") if isinstance(doc.get("tool"), dict) else {}
    target = doc.get("target") if isinstance(doc.get("target"), dict) else {}
    assert isinstance(tool, dict)
    assert isinstance(target, dict)
    return ReportFacts(
        path=Path(path),
        digest=FileDigest(sha256_bytes(raw), len(raw)),
        verdict=verdict,
        artifacts=tuple(artifacts),
        tool_name=str(tool.get("name", "")),
        tool_version=str(tool.get("version", "")),
        target={k: str(target[k]) for k in ("kind", "name", "version") if target.get(k)},
    )


def subject_name(target: Path, artifact_path: str) -> str:
    """The subject name for an artifact: its POSIX path relative to the target.

    A single-file target's one artifact is named by the file's name.
    """
    if target.is_file():
        return target.name
    return PurePosixPath(artifact_path).as_posix().lstrip("/")


def resolve(target: Path, name: str) -> Path:
    """The file holding subject ``name`` inside ``target``; never outside it."""
    if target.is_file():
        if name in ("", ".", target.name) or PurePosixPath(name).name == target.name:
            return target
        raise SigningError(f"{name}: a single-file target has no other artifact")
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts:
        raise SigningError(f"{name}: artifact path is not inside the target")
    return target.joinpath(*rel.parts)  # "" or "." is the target folder itself


def manifest_files(target: Path) -> list[str]:
    """Package manifests of a project target (relative POSIX paths), sorted."""
    if not target.is_dir():
        return []
    found = {p.relative_to(target).as_posix() for g in _MANIFEST_GLOBS for p in target.glob(g)}
    return sorted(f for f in found if (target / f).is_file())


def _is_project(target: Path) -> bool:
    return all((target / d).is_dir() for d in ("graphs", "packages", "assets"))


def walk_files(root: Path, exclude: Path | None = None) -> list[Path]:
    """Every non-folder entry under ``root`` (files, and links, which are not followed),
    sorted, leaving out everything under ``exclude``.

    ``exclude`` is the signatures folder: when it lies inside a folder target, its files are
    outputs of signing, not part of what is signed. Links are listed so that a caller that
    expects only regular files sees them and refuses.
    """
    skip = exclude.absolute() if exclude is not None else None
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if skip is not None and here.absolute().is_relative_to(skip):
            dirnames[:] = []
            continue
        # os.walk lists a link to a folder among the folders and does not enter it.
        links = [d for d in dirnames if (here / d).is_symlink()]
        out.extend(here / name for name in (*filenames, *links))
    return sorted(out)


def discover_files(
    target: Path, exclude: Path | None = None, folders: Iterable[str] = ()
) -> list[str]:
    """Files of the target that must all be subjects of a valid attestation.

    * a project: every file under ``assets/`` (but hidden ones, which the scan skips too), the
      package manifests, and every file of each folder artifact in ``folders`` (relative
      POSIX paths: the unbuilt code packages the scan covered in place of a container, as the
      report or the signed statement names them);
    * a single file: the file itself;
    * any other folder (code package, model folder): every file in it;

    in each case leaving out the signatures folder ``exclude``.
    """
    if target.is_file():
        return [target.name]
    if not target.is_dir():
        raise InputError(f"{target}: target does not exist")
    if _is_project(target):
        files = {
            p.relative_to(target).as_posix()
            for p in walk_files(target / "assets", exclude)
            if not p.name.startswith(".")
        }
        for name in folders:
            folder = resolve(target, name)
            files.update(p.relative_to(target).as_posix() for p in walk_files(folder, exclude))
        return sorted(files | set(manifest_files(target)))
    return [p.relative_to(target).as_posix() for p in walk_files(target, exclude)]


def as_json(obj: Any) -> str:
    """Compact JSON for messages."""
    return json.dumps(obj, sort_keys=True)
