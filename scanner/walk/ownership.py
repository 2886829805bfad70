"""Who owns each file of a root filesystem, and whether it is still what its owner shipped.

While a root filesystem streams past, every regular file's digest is taken from the bytes the
walk reads anyway (MD5 where dpkg would own it, SHA-256 where pip would), and the package
databases are kept (dpkg's ``status``, ``info/*.list``, ``info/*.md5sums``, ``diversions``;
each Python distribution's ``RECORD``). When the pass ends the two are joined: a dictionary
lookup per file. A file is then

- *verified*: a package owns it and its bytes match what that package recorded;
- *modified*: a package owns it and its bytes differ (an OS binary or an installed dependency
  changed after install: how images get backdoored) - a finding of its own;
- *unverified*: owned, but nothing recorded to compare with (conffiles, RECORD lines without
  a hash);
- *unowned*: no package claims it - the application's own files, judged strictly.

Findings inside verified distribution content keep their rule but carry the owner and are
rated for what they are there (``rate``): key material compiled into an unmodified libgnutls
is not a leaked credential, NumPy's own test fixtures are not the app's model.

The databases usually stream *after* the files they describe (``docker export`` walks the
tree in name order; ``var/`` comes after ``usr/``), so nothing is decided before the end.

Example::

    index = OwnershipIndex("app.tar.gz")
    index.add_file("usr/bin/ls", "md5", digest)
    index.add_content("var/lib/dpkg/info/coreutils.md5sums", data)
    ownership = index.resolve()
    ownership.owner_of("usr/bin/ls")
"""

from __future__ import annotations

import collections
import dataclasses
import posixpath
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from scanner.models import Category, Finding, Location, Severity, frozen_mapping
from scanner.walk.package_db import (
    DPKG_INFO_RX,
    RECORD_RX,
    DpkgPackage,
    dist_of_record,
    parse_diversions,
    parse_dpkg_status,
    parse_list,
    parse_md5sums,
    parse_record,
)

__all__ = ["FileStatus", "Owner", "Ownership", "OwnershipIndex"]

_STATUS = "var/lib/dpkg/status"
_DIVERSIONS = "var/lib/dpkg/diversions"
# A .pth file directly in a site folder: Python executes its ``import`` lines at every start.
_PTH_RX = re.compile(r"(?:^|/)(?:site|dist)-packages/[^/]+\.pth\Z")
# Where pip (SHA-256 in RECORD) installs; elsewhere dpkg (MD5) is the likely owner.
_PIP_PREFIXES = ("usr/local/", "opt/", "root/", "home/", "srv/")


class FileStatus(StrEnum):
    """What the join found for one owned file."""

    VERIFIED = "verified"
    MODIFIED = "modified"
    UNVERIFIED = "unverified"


@dataclass(frozen=True, slots=True)
class Owner:
    """The package that installed a file."""

    ecosystem: str  # "deb" | "pypi"
    package: str
    version: str

    @property
    def label(self) -> str:
        """``name version`` as people read it."""
        return f"{self.package} {self.version}".strip()


@dataclass(slots=True)  # not frozen: a third of the cost to make, 60,000 times a join
class _Expect:
    """What a package database says one file should be (never changed once made)."""

    owner: Owner
    algorithm: str = ""  # "" when nothing was recorded to compare with
    digest: str = ""


@dataclass(slots=True)
class Ownership:
    """The joined result for one artifact."""

    artifact: str
    files: dict[str, tuple[Owner, FileStatus]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def owner_of(self, path: str) -> tuple[Owner, FileStatus] | None:
        """The owner of ``path`` and what was found, or None for an unowned file."""
        return self.files.get(path)

    def facts(self) -> dict[str, Any]:
        """The counts as the report shows them (``artifacts[].files``)."""
        return {"files": dict(self.counts)}

    def rate(self, f: Finding) -> Finding:
        """``f`` with its owner attached, re-rated when it sits in verified distribution content.

        Only findings in this artifact's files change. In a verified file, secrets and
        sensitive data become ``info`` (the package shipped them: test keys, sample data),
        and model findings below ``high`` become ``info`` (a package's own fixtures, not the
        app's model); code-execution model findings keep their severity, since a hostile
        dependency is still hostile. The original severity is kept in the properties.
        """
        if f.location.artifact != self.artifact or not f.location.path:
            return f
        got = self.files.get(f.location.path)
        if got is None:
            return f
        owner, status = got
        props = dict(f.properties)
        props.update(
            package=owner.package,
            package_version=owner.version,
            owner=owner.ecosystem,
            file_status=status.value,
        )
        severity = f.severity
        if status is FileStatus.VERIFIED and (
            f.category in (Category.SECRET, Category.PRIVACY)
            or (f.category is Category.MODEL and f.severity < Severity.HIGH)
        ):
            severity = Severity.INFO
        if severity != f.severity:
            props["original_severity"] = f.severity.label
            props["distribution_content"] = True
        return dataclasses.replace(f, severity=severity, properties=frozen_mapping(props))


class OwnershipIndex:
    """Collects one artifact's file digests and package databases during the walk."""

    def __init__(self, artifact: str) -> None:
        self.artifact = artifact
        self._digests: dict[str, tuple[str, str]] = {}  # path -> (algorithm, hex)
        self._hardlinks: dict[str, str] = {}
        self._symlinks: dict[str, str] = {}
        self._folders: dict[str, str] = {}  # folder -> where it really is (``_canonical``)
        self._expect: dict[str, _Expect] | None = None  # from the databases (``prepare``)
        self._content: dict[str, bytes] = {}  # package databases and .pth files
        # folders holding files a RECORD lists -> that distribution (for unlisted additions)
        self._pkg_dirs: dict[str, Owner] = {}

    # -- during the walk ----------------------------------------------------------------
    @staticmethod
    def wants_content(path: str) -> bool:
        """Whether the index needs this file's bytes (databases, startup .pth files)."""
        # each regex behind a cheap test it implies: this runs for every file of the walk
        return (
            path in (_STATUS, _DIVERSIONS)
            or (path.startswith("var/lib/dpkg/info/") and DPKG_INFO_RX.match(path) is not None)
            or (path.endswith(".dist-info/RECORD") and RECORD_RX.match(path) is not None)
            or (path.endswith(".pth") and _PTH_RX.search(path) is not None)
        )

    @staticmethod
    def algorithm_for(path: str) -> str:
        """The digest that can verify ``path``: SHA-256 where pip installs, else MD5 (dpkg)."""
        if (
            path.startswith(_PIP_PREFIXES)
            or "/site-packages/" in path
            or ("/dist-packages/" in path and not path.startswith("usr/lib/python3/"))
        ):
            return "sha256"
        return "md5"

    def add_content(self, path: str, data: bytes) -> None:
        """Keep a database file's bytes (the last layer's copy wins)."""
        self._content[path] = data
        self._expect = None

    def add_file(self, path: str, algorithm: str, hexdigest: str) -> None:
        """Record a regular file's digest (``""`` when its bytes could not be read)."""
        self._digests[path] = (algorithm, hexdigest)
        self._hardlinks.pop(path, None)

    def settle(self, path: str, algorithm: str, token: str, hexdigest: str) -> None:
        """Put the digest taken elsewhere (a worker process) in place of ``token``.

        ``add_file(path, algorithm, token)`` kept the path's place in the walk's order; a path
        removed or recorded again since keeps what happened to it.
        """
        if self._digests.get(path) == (algorithm, token):
            self._digests[path] = (algorithm, hexdigest)

    def add_hardlink(self, path: str, target: str) -> None:
        """Record a hard link: it has its target's bytes."""
        self._hardlinks[path] = target
        self._digests.pop(path, None)

    def add_symlink(self, path: str, target: str) -> None:
        """Record a symlink (directory links decide where a listed path really is)."""
        self._symlinks[path] = target
        self._folders.clear()
        self._expect = None

    def remove(self, path: str) -> None:
        """A whiteout in a later layer: the path and everything under it is gone."""
        for table in (self._digests, self._hardlinks, self._symlinks, self._content):
            for p in [p for p in table if p == path or p.startswith(path + "/")]:
                del table[p]
        self._folders.clear()
        self._expect = None

    # -- at the end ---------------------------------------------------------------------
    def prepare(self) -> None:
        """Read the package databases into what each file should be (once the walk is over).

        Digests play no part in it: the scan does it while a worker still finishes the
        digests it was handed. ``resolve`` does it if nobody did, or if a database or link
        arrived since.
        """
        self._pkg_dirs = {}  # derived from the RECORDs, like what it returns: never kept over
        self._expect = None  # until this succeeds
        expect = self._dpkg_expectations()
        self._record_expectations(expect)
        self._expect = expect

    def resolve(self) -> Ownership:
        """Join digests and databases: owners, statuses, counts and integrity findings."""
        for path, target in self._hardlinks.items():
            if target in self._digests:
                self._digests[path] = self._digests[target]
        if self._expect is None:
            self.prepare()
        expect = self._expect
        assert expect is not None
        result = Ownership(self.artifact)
        files = result.files
        verified, modified = FileStatus.VERIFIED, FileStatus.MODIFIED
        unverified = FileStatus.UNVERIFIED
        # files no database lists (bytecode compiled from a listed source is owned all the same)
        unlisted: list[str] = []
        for path, (algorithm, digest) in self._digests.items():
            exp = expect.get(path)
            if exp is None:
                unlisted.append(path)
                exp = _compiled_from(path, expect)
                if exp is None:
                    continue
            if exp.algorithm and exp.algorithm == algorithm and digest:
                if digest == exp.digest:
                    files[path] = (exp.owner, verified)
                else:
                    files[path] = (exp.owner, modified)
                    result.findings.append(self._modified(path, exp, digest))
            else:
                files[path] = (exp.owner, unverified)
        statuses = collections.Counter(status for _, status in files.values())
        result.counts = {
            "total": len(self._digests),
            "owned": len(files),
            "verified": statuses[verified],
            "modified": statuses[modified],
            "unverified": statuses[unverified],
            "unowned": len(self._digests) - len(files),
            "missing": sum(1 for p, e in expect.items() if e.digest and p not in self._digests),
        }
        result.findings.extend(self._unowned_findings(sorted(unlisted)))
        return result

    def _canonical(self, path: str) -> str:
        """``path`` with every directory symlink on the way resolved inside the root."""
        return self._canonical_parts(path)[0]

    def _canonical_parts(self, path: str) -> tuple[str, str]:
        """``path`` with every directory symlink on the way resolved inside the root, and the
        folder it is then in (``""``: the root).

        The last part is never resolved, so a path is its folder's canonical form plus its
        name: folders are few (a database lists some 30,000 files in 2,000 folders), and each
        is resolved once.
        """
        folder, sep, name = path.rpartition("/")
        if not sep:
            return path, ""
        real = self._folders.get(folder)
        if real is None:
            # every part of the folder resolved: as the folder of a name that no link can have
            # (the name stays the last part, so the result ends "/\0", or is "\0" at the root)
            resolved = self._resolve(folder + "/\0")
            real = self._folders[folder] = resolved[:-2] if resolved != "\0" else "\0"
        return (name, "") if real == "\0" else (f"{real}/{name}", real)

    def _resolve(self, path: str) -> str:
        parts = path.split("/")
        for _ in range(40):  # a bound against link loops
            for i in range(1, len(parts)):
                prefix = "/".join(parts[:i])
                target = self._symlinks.get(prefix)
                if target is None:
                    continue
                base = "" if target.startswith("/") else posixpath.dirname(prefix)
                joined = posixpath.normpath(posixpath.join("/", base, target)).lstrip("/")
                parts = [p for p in joined.split("/") if p] + parts[i:]
                break
            else:
                return "/".join(parts)
        return "/".join(parts)

    def _dpkg_expectations(self) -> dict[str, _Expect]:
        status = parse_dpkg_status(self._content.get(_STATUS, b""))
        by_name: dict[str, DpkgPackage] = {}
        for (pkg_name, _arch), known in status.items():
            by_name.setdefault(pkg_name, known)
        diversions = parse_diversions(self._content.get(_DIVERSIONS, b""))
        lists: dict[str, _Expect] = {}
        expect: dict[str, _Expect] = {}
        md5sums: list[tuple[Owner, bytes]] = []
        for path, data in self._content.items():
            m = DPKG_INFO_RX.match(path)
            if m is None:
                continue
            name, arch, kind = m.group(1), m.group(2) or "", m.group(3)
            pkg = status.get((name, arch)) or by_name.get(name)
            owner = Owner("deb", name, pkg.version if pkg is not None else "")
            if kind == "md5sums":
                md5sums.append((owner, data))
                continue
            listed_only = _Expect(owner)  # one for all its files: it is never changed
            for listed in parse_list(data):
                if diversions:
                    listed = self._diverted(listed, name, diversions)
                lists.setdefault(self._canonical(listed), listed_only)
        expect.update(lists)
        for owner, data in md5sums:
            for listed, digest in parse_md5sums(data):
                if diversions:
                    listed = self._diverted(listed, owner.package, diversions)
                expect[self._canonical(listed)] = _Expect(owner, "md5", digest)
        return expect

    @staticmethod
    def _diverted(path: str, package: str, diversions: dict[str, tuple[str, str]]) -> str:
        moved = diversions.get(path)
        if moved is None or moved[1] == package:
            return path
        return moved[0]

    def _record_expectations(self, expect: dict[str, _Expect]) -> None:
        for path, data in sorted(self._content.items()):
            dist = dist_of_record(path)
            if dist is None or self._canonical(path) in expect:
                continue  # a RECORD that dpkg installed: dpkg already vouches for its files
            site, name, version = dist
            owner = Owner("pypi", name, version)
            unhashed = _Expect(owner)
            meta = path.rsplit("/", 1)[0]
            seen: set[str] = set()  # this RECORD's real folders, each looked at once
            for row in parse_record(data, site):
                canon, folder = self._canonical_parts(row.path)
                known = expect.get(canon)
                if known is not None and known.owner.ecosystem == "deb":
                    continue
                expect[canon] = _Expect(owner, "sha256", row.sha256) if row.sha256 else unhashed
                if folder not in seen:
                    seen.add(folder)
                    if folder not in (site, meta) and not folder.endswith("/__pycache__"):
                        self._pkg_dirs.setdefault(folder, owner)

    def _modified(self, path: str, exp: _Expect, actual: str) -> Finding:
        return Finding.create(
            rule_id="integrity.package-file-modified",
            category=Category.INTEGRITY,
            severity=Severity.HIGH,
            message=(
                f"/{path} is not what {exp.owner.label} installed ({exp.algorithm} "
                f"{exp.digest[:12]}… expected, {actual[:12]}… found): a package's file was "
                "changed after install; rebuild from the package or explain the change"
            ),
            location=Location(self.artifact, path),
            evidence=f"{exp.owner.ecosystem}:{exp.owner.package}:{actual}",
            title="Package file modified after install",
            properties={
                "package": exp.owner.package,
                "package_version": exp.owner.version,
                "owner": exp.owner.ecosystem,
                "algorithm": exp.algorithm,
                "expected": exp.digest,
                "actual": actual,
            },
        )

    def _unowned_findings(self, unlisted: list[str]) -> list[Finding]:
        """Findings on files no database lists: startup hooks, additions to a distribution."""
        out: list[Finding] = []
        for path in unlisted:
            if _PTH_RX.search(path) and _runs_code(self._content.get(path, b"")):
                out.append(
                    Finding.create(
                        rule_id="integrity.unowned-startup-file",
                        category=Category.INTEGRITY,
                        severity=Severity.HIGH,
                        message=(
                            f"/{path} runs its import lines at every Python start and no "
                            "package installed it; find out what put it there"
                        ),
                        location=Location(self.artifact, path),
                        title="Startup hook no package owns",
                    )
                )
                continue
            if path.endswith(".pyc") or "/__pycache__/" in path:
                continue  # compiled on first import, beside or under __pycache__
            owner = self._package_owner(path)
            if owner is None:
                continue
            out.append(
                Finding.create(
                    rule_id="integrity.package-file-unlisted",
                    category=Category.INTEGRITY,
                    severity=Severity.MEDIUM,
                    message=(
                        f"/{path} sits in {owner.label}'s folder but its RECORD does not list "
                        "it: a file was added to an installed dependency after install"
                    ),
                    location=Location(self.artifact, path),
                    title="File added to an installed package",
                    properties={
                        "package": owner.package,
                        "package_version": owner.version,
                        "owner": owner.ecosystem,
                    },
                )
            )
        return out

    def _package_owner(self, path: str) -> Owner | None:
        """The distribution whose listed files share the nearest folder above ``path``."""
        folder = posixpath.dirname(path)
        while folder:
            owner = self._pkg_dirs.get(folder)
            if owner is not None:
                return owner
            if folder.endswith(("-packages", ".dist-info")):
                return None  # the site folder itself belongs to nobody
            folder = posixpath.dirname(folder)
        return None


_PYC_RX = re.compile(r"(?:(.*)/)?__pycache__/([^/.]+)\.[^/]*\.pyc\Z")


def _compiled_from(path: str, expect: dict[str, _Expect]) -> _Expect | None:
    """Bytecode compiled from an owned source (Debian compiles at install, Python on import).

    It belongs to the source's package but nothing recorded its bytes: owned, unverified.
    """
    m = _PYC_RX.match(path)
    if m is None:
        return None
    source = f"{m.group(1)}/{m.group(2)}.py" if m.group(1) else f"{m.group(2)}.py"
    got = expect.get(source)
    return _Expect(got.owner) if got is not None else None


def _runs_code(data: bytes) -> bool:
    """Whether a .pth file has a line Python executes (``import ...``), not only paths."""
    return any(line.lstrip().startswith((b"import ", b"import\t")) for line in data.splitlines())
