"""License texts recognised against the SPDX License List, and the structure of notice files.

Matching uses ``licenseclassifier`` (a pure-Python port of Google's ``licensecheck``): its
corpus is the SPDX License List's matching templates (about 700 licenses, CC0 data, refreshed
monthly), compiled ahead of time, so one text takes a few milliseconds and nothing is fetched.
It returns one region per license text it recognises, with offsets, and nothing rather than a
guess. We use the regions three ways:

- a file that is mostly license text (``coverage >= 75 %``) is a ``license-text`` match;
- license texts or grant notices inside other prose (a Debian ``copyright`` file, a README-like
  LICENSE) are ``license-notice`` matches, kept apart so the evidence says which it was;
- the prose *outside* the recognised regions is read for a dual-licensing statement
  ("either of the licenses", "dual licensed"), which turns several texts into a choice (OR).

Deprecated SPDX ids the corpus still uses (``GPL-3.0``) are normalised by ``license-expression``
(``GPL-3.0-only``): a bare GPL text does not grant "any later version"; a notice does.

Example::

    m = match_text(Path("COPYING").read_bytes())
    m.ids, m.kind        # ("GPL-3.0-only",), "license-text"
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import re
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from license_expression import ExpressionError, Licensing, get_spdx_licensing
from licenseclassifier import identify_license

__all__ = [
    "BundledBlock",
    "Section",
    "TextMatch",
    "bundled_blocks",
    "match_text",
    "own_part",
    "recording",
    "sections",
    "teach",
]

# A text bigger than this is a bundle of sources, not a license: only its head is matched.
MAX_TEXT = 512 * 1024
# licensecheck's own default: below it, the text is not "a license file" but prose with one in it.
TEXT_COVERAGE = 75.0


@dataclass(frozen=True, slots=True)
class TextMatch:
    """What a text holds: distinct SPDX ids in order of appearance, and how it was matched."""

    ids: tuple[str, ...] = ()
    kind: str = ""  # "license-text" | "license-notice" | "" (nothing recognised)
    dual: bool = False  # the prose around the texts offers a choice between them
    # how many of the first ids the choice is between (0: all of them); FreeType's "two
    # mutually exclusive licenses" followed by other components' texts is (FTL OR GPL) AND MIT
    choice: int = 0

    def expression(self) -> str:
        """The SPDX expression: the offered choice ORed, everything else ANDed."""
        ids = list(self.ids)
        if self.dual and len(ids) > 1:
            n = self.choice or len(ids)
            ids = ["(" + " OR ".join(ids[:n]) + ")", *ids[n:]] if n > 1 else ids
            if len(ids) == 1:
                return ids[0][1:-1]
        return " AND ".join(f"({i})" if " " in i and not i.startswith("(") else i for i in ids)


_DUAL_RX = re.compile(
    r"\bdual[- ]?licen[cs]|\bunder\s+the\s+terms\s+of\s+\*?(?:either|one)\*?\s+of\b|"
    r"\beither\s+of\s+the\s+(?:following\s+)?licen[cs]es\b|"
    r"\bat\s+your\s+(?:option|choice),?\s+(?:under|either)\b|"
    r"\bone\s+of\s+the\s+following\s+licen[cs]|"
    r"\bmutually\s+exclusive\s+(?:open[- ]source\s+)?licen[cs]es\b",
    re.IGNORECASE,
)
# A choice between exactly two of the texts that follow ("two mutually exclusive licenses",
# "choose one of the two licenses"): later texts are other components' and still apply.
_TWO_RX = re.compile(
    r"\btwo\s+mutually\s+exclusive\b|\bone\*?\s+of\s+the\s+two\s+licen[cs]es\b",
    re.IGNORECASE,
)
# Prose granting later versions of the GPL family the texts are ("any later version can be
# used also"): only read outside the license texts themselves, which always mention it.
_LATER_RX = re.compile(r"\bany\s+later\s+version\b", re.IGNORECASE)

# The FSF's grant notice ("licensed under the GNU Lesser General Public License, version 2.1
# (or, at your option, any later version)") as free prose: the corpus knows the standard
# notices, not every rewording Debian copyright files use. Only used when the corpus recognised
# nothing, and only after "under" or "license is": a mere mention is no grant.
_FSF_RX = re.compile(
    r"(?:under\s+(?:the\s+terms\s+of\s+)?(?:the\s+)?|licen[cs]e\s+(?:for\s+\S+\s+)?is\s+(?:the\s+)?)"
    r"GNU\s+(Lesser|Library|Affero)?\s*General\s+Public\s+License,?\s*"
    r"(?:as\s+published\s+by\s+the\s+Free\s+Software\s+Foundation;?,?\s*)?"
    r"(?:either\s+)?(?:version|v\.?)\s*(\d(?:\.\d)?)"
    r"(?P<later>[^.;]{0,80}?\bany\s+later\b)?",
    re.IGNORECASE,
)
_FSF_BASE = {None: "GPL", "": "GPL", "lesser": "LGPL", "library": "LGPL", "affero": "AGPL"}

# Matches by the SHA-256 of the text's bytes; ``_recorded``, when set, also gets each new one.
CACHE_SIZE = 8192
_cache: dict[str, TextMatch] = {}
_recorded: dict[str, TextMatch] | None = None
# one lock: the matcher memoises DFA states in one shared object, and the cache is shared too
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _licensing() -> Licensing:
    return get_spdx_licensing()  # builds a 0.1 s index: once per process


@lru_cache(maxsize=2048)
def _normalise_id(key: str) -> str:
    """The current SPDX id for a corpus id (deprecated ``GPL-2.0`` → ``GPL-2.0-only``)."""
    try:
        expr = _licensing().parse(key, validate=True, strict=False)
    except ExpressionError:
        return key
    return str(expr.render()) if expr is not None else key


def _fsf_notice(text: str) -> str | None:
    m = _FSF_RX.search(text)
    if m is None:
        return None
    base = _FSF_BASE.get((m.group(1) or "").lower(), "GPL")
    version = m.group(2)
    version = version if "." in version else f"{version}.0"
    if base == "LGPL" and version == "2.0" and (m.group(1) or "").lower() == "lesser":
        version = "2.1"  # there is no "Lesser" 2.0: the Lesser GPL starts at 2.1
    suffix = "or-later" if m.group("later") else "only"
    return f"{base}-{version}-{suffix}"


def _match(text: str) -> TextMatch:
    with _lock:
        regions = identify_license(text, coverage_threshold=0.0)
    if not regions:
        notice = _fsf_notice(text)
        return TextMatch((notice,), "license-notice") if notice else TextMatch()
    covered = sum(r.end - r.start for r in regions)
    size = len(text.strip()) or 1
    kind = "license-text" if 100.0 * covered / size >= TEXT_COVERAGE else "license-notice"
    ids: list[str] = []
    for r in regions:
        spdx = _normalise_id(r.id)
        if spdx not in ids:
            ids.append(spdx)
    outside: list[str] = []
    pos = 0
    for r in regions:
        outside.append(text[pos : r.start])
        pos = r.end
    outside.append(text[pos:])
    prose = " ".join(outside)
    dual = len(ids) > 1 and bool(_DUAL_RX.search(prose))
    choice = 2 if dual and len(ids) > 2 and _TWO_RX.search(prose) else 0
    if _LATER_RX.search(prose):
        ids = [
            i.replace("-only", "-or-later") if i.startswith(("GPL-", "LGPL-")) else i for i in ids
        ]
    return TextMatch(tuple(ids), kind, dual, choice)


def match_text(data: bytes | str) -> TextMatch:
    """Recognise the licenses in one text (cached by content: one LICENSE ships many times)."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    raw = raw[:MAX_TEXT]
    text = raw.decode("utf-8", "replace")
    if not text.strip():
        return TextMatch()
    # the key is the text's digest: equal texts share one entry without comparing 100 KB strings
    digest = hashlib.sha256(raw).hexdigest()
    found = _cache.get(digest)
    if found is None:
        found = _match(text)
        with _lock:
            if len(_cache) >= CACHE_SIZE:
                _cache.clear()  # a scan meets a few hundred texts: this is a safety bound
            _cache[digest] = found
    if _recorded is not None:
        _recorded[digest] = found
    return found


@contextlib.contextmanager
def recording() -> Iterator[dict[str, TextMatch]]:
    """Collect every match looked up inside the block (computed or cached), by digest.

    An analyzer worker matches the license texts it is handed while the walk goes on and sends
    what it recorded back: ``teach`` puts it in the scanning process's cache, so the component
    stage finds each text already matched when the artifact ends.
    """
    global _recorded
    got: dict[str, TextMatch] = {}
    with _lock:
        outer, _recorded = _recorded, got
    try:
        yield got
    finally:
        with _lock:
            _recorded = outer


def teach(matches: Mapping[str, TextMatch]) -> None:
    """Add matches computed elsewhere (``recording``) to this process's cache."""
    with _lock:
        if len(_cache) + len(matches) > CACHE_SIZE:
            _cache.clear()
        _cache.update(matches)


def states_dual(text: str) -> bool:
    """Whether a text with no license of its own offers a choice between licenses."""
    return bool(_DUAL_RX.search(text))


@dataclass(frozen=True, slots=True)
class BundledBlock:
    """One ``Name:``/``Files:``/``License:`` block of a bundled-components list (NumPy, SciPy)."""

    name: str
    files: tuple[str, ...]
    license: str


_BLOCK_RX = re.compile(r"^Name:\s*(?P<name>.+)$", re.MULTILINE)
_FIELD_RX = re.compile(r"^(?P<key>Files|License):\s*(?P<value>.*)$", re.MULTILINE)


def bundled_blocks(text: str) -> list[BundledBlock]:
    """The structured bundled-component blocks of a license file, in order."""
    starts = [m.start() for m in _BLOCK_RX.finditer(text)]
    out: list[BundledBlock] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        block = text[start:end]
        # the block's header fields end at its first blank line (license texts may follow)
        header = block.split("\n\n", 1)[0]
        name = _BLOCK_RX.match(header)
        fields = {m.group("key"): m.group("value").strip() for m in _FIELD_RX.finditer(header)}
        if name and fields.get("Files") and fields.get("License"):
            files = tuple(f.strip() for f in re.split(r"[,\s]+", fields["Files"]) if f.strip())
            out.append(BundledBlock(name.group("name").strip(), files, fields["License"]))
    return out


def block_matches(block: BundledBlock, path: str) -> bool:
    """Whether a path inside the wheel (``numpy.libs/libgfortran-….so.5``) is one of the block's."""
    for pattern in block.files:
        # NumPy writes "libgfortran*.so" for "libgfortran-040039e1-0352e75f.so.5.0.0"
        if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, pattern + ".*"):
            return True
    return False


def own_part(text: str) -> str:
    """The part of a license file that is the project's own license (before bundled notices)."""
    first = _BLOCK_RX.search(text)
    return text[: first.start()] if first else text


@dataclass(frozen=True, slots=True)
class Section:
    """One part of a third-party notices file: its heading lines and its body."""

    heading: str
    body: str


_RULE_RX = re.compile(r"^[ \t]*(?:-{4,}|={4,}|_{4,})[ \t]*$", re.MULTILINE)


def sections(text: str) -> list[Section]:
    """A notices file split at its top-level rules; each part's first paragraph is its heading.

    OpenCV writes "FFmpeg is redistributed within ..." after a 78-dash rule, Pillow writes
    "FREETYPE2" after a ``----`` rule. License texts carry rules of their own, so the top-level
    rule is the file's most frequent one.
    """
    rules = Counter(m.group(0).strip() for m in _RULE_RX.finditer(text))
    if not rules:
        return []
    top = rules.most_common(1)[0][0]
    out: list[Section] = []
    for part in re.split(rf"^[ \t]*{re.escape(top)}[ \t]*$", text, flags=re.MULTILINE):
        stripped = part.strip()
        if not stripped:
            continue
        heading, _, body = stripped.partition("\n\n")
        out.append(Section(heading.strip(), body))
    return out
