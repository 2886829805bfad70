"""Where a listed path really is, behind directory symlinks: folders are resolved once each.

The oracle is the plain algorithm (resolve every prefix of the path, restarting after each
link, at most 40 times); the index keeps each folder's resolution, and must say exactly what the
oracle says for any links (relative, absolute, ``..``, loops) and any path.
"""

from __future__ import annotations

import posixpath

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.walk.ownership import OwnershipIndex

NAMES = ("a", "b", "usr", "lib", "bin")
part = st.sampled_from(NAMES)
rel_path = st.lists(part, min_size=1, max_size=5).map("/".join)
link_target = st.tuples(
    st.booleans(), st.lists(st.sampled_from((*NAMES, "..", ".")), max_size=3)
).map(lambda t: ("/" if t[0] else "") + "/".join(t[1]))


def _oracle(links: dict[str, str], path: str) -> str:
    parts = path.split("/")
    for _ in range(40):
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            target = links.get(prefix)
            if target is None:
                continue
            base = "" if target.startswith("/") else posixpath.dirname(prefix)
            joined = posixpath.normpath(posixpath.join("/", base, target)).lstrip("/")
            parts = [p for p in joined.split("/") if p] + parts[i:]
            break
        else:
            return "/".join(parts)
    return "/".join(parts)


@settings(max_examples=400, deadline=None)
@given(
    links=st.dictionaries(st.lists(part, min_size=1, max_size=3).map("/".join), link_target),
    paths=st.lists(rel_path, min_size=1, max_size=8),
)
def test_each_path_resolves_as_the_plain_algorithm_says(
    links: dict[str, str], paths: list[str]
) -> None:
    index = OwnershipIndex("rootfs.tar")
    for source, target in links.items():
        index.add_symlink(source, target)
    for path in paths:
        assert index._canonical(path) == _oracle(links, path), (links, path)


def test_a_link_added_later_is_followed() -> None:
    index = OwnershipIndex("rootfs.tar")
    assert index._canonical("lib/x86_64/libc.so") == "lib/x86_64/libc.so"
    index.add_symlink("lib", "usr/lib")  # merged /usr: the folder resolved before moves
    assert index._canonical("lib/x86_64/libc.so") == "usr/lib/x86_64/libc.so"
    index.remove("lib")
    assert index._canonical("lib/x86_64/libc.so") == "lib/x86_64/libc.so"


def test_databases_read_ahead_follow_what_arrives_after() -> None:
    # the scan reads the databases while a worker finishes (prepare); anything recorded later
    # (a link, a database file) must still count when the digests are joined
    index = OwnershipIndex("rootfs.tar")
    index.add_content(
        "var/lib/dpkg/status",
        b"Package: tool\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n",
    )
    index.add_content(
        "var/lib/dpkg/info/tool.md5sums", b"d41d8cd98f00b204e9800998ecf8427e  lib/tool/empty\n"
    )
    index.add_file("usr/lib/tool/empty", "md5", "d41d8cd98f00b204e9800998ecf8427e")
    index.prepare()
    index.add_symlink("lib", "usr/lib")  # merged /usr: the listed lib/tool/empty is usr/lib/...
    owned = index.resolve()
    assert owned.counts["verified"] == 1
    assert owned.owner_of("usr/lib/tool/empty") is not None
