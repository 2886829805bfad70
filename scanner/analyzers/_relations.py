"""Dependency edges between the packages installed in one artifact.

- Python: each ``Requires-Dist`` of a distribution, resolved against the distributions installed
  in the same artifact (the same ``site-packages`` folder first). Requirements that only apply to
  an extra are left out: whether an extra was installed is not recorded anywhere. Environment
  markers (``python_version < "3.9"``) cannot be evaluated for an image we do not run, so the
  installed set decides: a requirement whose distribution is installed is an edge.
- dpkg: ``Pre-Depends`` and ``Depends``, each entry resolved to the first alternative that is
  installed, directly or through a package that ``Provides`` it.

Example::

    edges = python_requirements(['six >=1.5', 'pytest ; extra == "test"'])   # ["six"]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from packaging.requirements import InvalidRequirement, Requirement

__all__ = ["deb_dependencies", "python_requirements"]

_NAME_RX = re.compile(r"[-_.]+")


def _canonical(name: str) -> str:
    return _NAME_RX.sub("-", name).lower()


def python_requirements(requires_dist: Iterable[str]) -> list[str]:
    """Canonical names a distribution requires outside any extra (unparseable ones skipped)."""
    out: list[str] = []
    for text in requires_dist:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue  # a broken header names no dependency we could resolve
        if req.marker is not None and "extra" in str(req.marker):
            continue
        name = _canonical(req.name)
        if name not in out:
            out.append(name)
    return out


def deb_dependencies(
    depends: Sequence[Sequence[str]],
    installed: Mapping[str, str],
) -> list[str]:
    """Installed package names a dpkg package depends on.

    ``installed`` maps every installed package name *and* every name one ``Provides`` to the
    installed package that answers it.
    """
    out: list[str] = []
    for alternatives in depends:
        for name in alternatives:
            target = installed.get(name)
            if target is not None:
                if target not in out:
                    out.append(target)
                break
    return out
