"""Assemble README.md from docs/sections/*.md (one section per area; edit those, not README.md).

python docs/build_readme.py          # rewrite README.md
python docs/build_readme.py --check  # exit 1 when README.md is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"

ORDER = [
    "00-head.md",
    "05-unpacking.md",
    "ownership.md",
    "manifests.md",
    "code-secrets-privacy-container.md",
    "packages-vulns-licenses.md",
    "models.md",
    "sandbox.md",
    "policy-reports.md",
    "signing.md",
    "publish.md",
    "workflows.md",
    "reliability.md",
    "reliability-fuzz.md",
    "90-performance.md",
    "95-development.md",
]


def render() -> str:
    """The README's text: the sections in ORDER, then any section not listed (alphabetically)."""
    sections = HERE / "sections"
    names = [n for n in ORDER if (sections / n).is_file()]
    names += sorted(p.name for p in sections.glob("*.md") if p.name not in ORDER)
    parts = [(sections / n).read_text(encoding="utf-8").strip() + "\n" for n in names]
    return "\n".join(parts)


def main() -> int:
    """Write or check README.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        if README.read_text(encoding="utf-8") != text:
            print("README.md is out of date: run python docs/build_readme.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
