"""Detached per-asset signatures in cosign's ``sign-blob --key`` form.

The ``.sig`` file is the standard base64 of the signature, no newline:

* ECDSA P-256: DER ``ECDSA-Sig-Value`` over SHA-256 of the blob. The blob is hashed once while
  streaming and the digest is signed, so a 1 GiB asset is read once. Verify without our tool::

      base64 -d asset.sig > asset.sig.der
      openssl dgst -sha256 -verify cosign.pub -signature asset.sig.der asset
      cosign verify-blob --key cosign.pub --signature asset.sig asset

* Ed25519: the 64-byte signature over the blob itself (pure Ed25519 has no prehash form), so the
  blob is memory-mapped (not copied) and read a second time. openssl verifies it with
  ``openssl pkeyutl -verify -rawin -pubin -inkey k.pub -in asset -sigfile asset.sig.raw``.

Example::

    d, sig_b64 = sign_blob(signer, Path("assets/abc.tar.gz"))
    assert verify_blob(verifier, Path("assets/abc.tar.gz"), sig_b64) == d
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

from scanner.models import Digest
from signing._base64 import decode_canonical
from signing.digest import FileDigest, sha256_file
from signing.errors import SigningError
from signing.keys import KeyType
from signing.signer import Signer, Verifier

__all__ = [
    "decode_signature",
    "encode_signature",
    "sign_blob",
    "sign_digest_or_blob",
    "verify_blob",
    "verify_digest_or_blob",
]


def encode_signature(sig: bytes) -> bytes:
    """cosign's ``.sig`` file content: standard base64, no trailing newline."""
    return base64.b64encode(sig)


def decode_signature(text: bytes) -> bytes | None:
    """Decode a ``.sig`` file (surrounding whitespace allowed); ``None`` when it is not the
    canonical base64 ``encode_signature`` writes (``_base64``)."""
    try:
        return decode_canonical(text.strip())
    except (binascii.Error, ValueError):
        return None


@contextlib.contextmanager
def _mapped(path: Path) -> Iterator[memoryview]:
    """The file's bytes as a read-only view of a memory map (no heap copy of a 1 GiB asset)."""
    try:
        with open(path, "rb") as fp:
            if os.fstat(fp.fileno()).st_size == 0:
                yield memoryview(b"")
                return
            with mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ) as m:
                view = memoryview(m)
                try:
                    yield view
                finally:
                    view.release()  # an exported view would stop the map from closing
    except OSError as exc:
        raise SigningError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def sign_digest_or_blob(signer: Signer, digest: Digest, path: Path) -> bytes:
    """The raw signature for a blob whose SHA-256 is already known (ECDSA: no second read)."""
    if signer.key_type is KeyType.ECDSA_P256:
        return signer.sign_sha256(digest.value)
    with _mapped(path) as data:
        return signer.sign(data)


def sign_blob(signer: Signer, path: Path) -> tuple[FileDigest, bytes]:
    """Hash and sign a blob; returns its digest and the base64 ``.sig`` content."""
    d = sha256_file(path)
    return d, encode_signature(sign_digest_or_blob(signer, d.digest, path))


def verify_digest_or_blob(verifier: Verifier, sig: bytes, digest: Digest, path: Path) -> bool:
    """Whether ``sig`` is valid for the blob at ``path`` whose SHA-256 is ``digest``.

    The caller must have checked ``digest`` against the file's bytes (it does, while checking
    subjects); Ed25519 reads the file again because it signs the message itself.
    """
    if verifier.key_type is KeyType.ECDSA_P256:
        return verifier.verify_sha256(sig, digest.value)
    with _mapped(path) as data:
        return verifier.verify(sig, data)


def verify_blob(verifier: Verifier, path: Path, sig_text: bytes) -> FileDigest | None:
    """Check a ``.sig`` against a blob; returns the blob's digest when valid, else ``None``."""
    sig = decode_signature(sig_text)
    if sig is None:
        return None
    d = sha256_file(path)
    return d if verify_digest_or_blob(verifier, sig, d.digest, path) else None
