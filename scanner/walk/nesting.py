"""Which archives inside an artifact are opened and walked in turn: decided by content.

In a model archive or a code package (``LinkContext.EXTRACT``) every member that *is* an
archive (a tar, compressed or not, or a zip of files) is opened, whatever it is named. A zip
that is itself one model (a PyTorch checkpoint, ``.npz``, ``.keras``) is a file for the model
analyzers, not an archive to unpack.

A container's root filesystem (``LinkContext.ROOTFS``) holds many archives of its own (JARs,
wheels, documentation tarballs): only those that are *model containers* are opened, because
since appliance 8.0.29 models ship inside the code container. A model container is an archive
whose visible member names (the headers inside the sniffed head) include a model file or a
SavedModel layout, or one whose own name is a model name (``model.mar``).

Example::

    opens_nested(peek.sniff(path), path, LinkContext.ROOTFS)   # False for usr/share/java/*.jar
"""

from __future__ import annotations

from scanner.sources.safe_archive import LinkContext
from scanner.sources.sniff import ARCHIVE_SUFFIXES, ContentKind, Sniffed, has_model_name
from scanner.sources.sniff import is_model_member_name as _model_member

__all__ = ["opens_nested"]


def _is_archive(sniffed: Sniffed, path: str) -> bool:
    if sniffed.is_archive:
        return True
    # a compressed stream too long to sniff inside (bzip2) is an archive when named as one
    return sniffed.kind is ContentKind.COMPRESSED and path.lower().endswith(ARCHIVE_SUFFIXES)


def opens_nested(sniffed: Sniffed, path: str, context: LinkContext) -> bool:
    """Whether the member at ``path`` whose head sniffed as ``sniffed`` is walked inside."""
    if not _is_archive(sniffed, path):
        return False
    if context is LinkContext.EXTRACT:
        return True
    return has_model_name(path) or any(_model_member(n) for n in sniffed.names)
