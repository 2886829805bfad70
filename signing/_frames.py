"""The framed message body written and read directly, beside the SDK's own loop (internal).

The SDK generates, parses and authenticates the header and derives every key (data key
wrapping, HKDF, key commitment); this module writes and reads only the framed body, byte for
byte in the SDK's format, reaching the derived key through the SDK's private attributes.
:func:`supported` says whether the installed SDK is the one this was written and tested
against; everywhere else the public streaming API is used.

Why it exists (measured by ``benchmarks/publish.py``, see docs/publish.md): the SDK's
Python body loop copies every frame through growing buffers, and its reader rejects a final
frame of exactly the frame length, which the message format allows, the specification
recommends for exact multiples and other SDKs emit.
"""

from __future__ import annotations

import struct
from typing import Any

import aws_encryption_sdk
from aws_encryption_sdk.exceptions import SerializationError
from aws_encryption_sdk.identifiers import ContentAADString, ContentType, SequenceIdentifier
from aws_encryption_sdk.internal.defaults import MAX_FRAME_COUNT
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from scanner.fsutil import read_full
from signing._streams import CountingWriter, HashingReader, ProgressCallback
from signing.digest import BackgroundHasher

__all__ = ["MAX_FRAME_LENGTH", "SDK_VERSION", "read_frames", "supported", "write_frames"]

SDK_VERSION = "3.3.1"
"""The SDK version whose private attributes these loops use (pinned in pyproject.toml)."""


def supported() -> bool:
    """Whether the installed SDK is the pinned one these loops were written against."""
    return str(getattr(aws_encryption_sdk, "__version__", "")) == SDK_VERSION


_FRAME_AAD = ContentAADString.FRAME_STRING_ID.value
_FINAL_FRAME_AAD = ContentAADString.FINAL_FRAME_STRING_ID.value
_FINAL_FRAME_MARKER = struct.pack(">I", SequenceIdentifier.SEQUENCE_NUMBER_END.value)


def write_frames(
    encryptor: Any, reader: HashingReader, out: CountingWriter, suite: Any, frame_length: int
) -> bool:
    """Write the message body with the SDK's header and keys but without its buffering.

    The SDK builds the header (data key generation and wrapping, key derivation, commitment
    key, header authentication); only the framed body is serialised here, byte for byte as
    the SDK's ``serialize_frame`` does (sequence number, IV = the sequence number, AES-GCM
    over the frame with the body AAD, tag; the final frame is marked and may be empty). The
    SDK's own loop copies every frame several times through growing ``bytes`` buffers and
    runs 3-4x slower. Returns False, having written nothing, when this SDK version does not
    expose what is needed; the caller then uses the SDK's loop.
    """
    header = encryptor.header  # runs the SDK's message preparation
    key = getattr(encryptor, "_derived_data_key", None)
    head = getattr(encryptor, "output_buffer", None)
    algorithm = header.algorithm
    if (
        not isinstance(key, bytes)
        or not isinstance(head, bytes)
        or getattr(encryptor, "signer", None) is not None
        or algorithm is not suite
        or header.frame_length != frame_length
        or algorithm.iv_len != 12
        or algorithm.auth_len != 16
    ):
        return False
    aead = AESGCM(key)
    message_id = header.message_id
    out.write(head)
    encryptor.output_buffer = b""
    # Buffers are reused, not allocated per frame: a fresh 1 MiB object per read and per
    # sealed frame costs a page fault per 4 KiB (about 260,000 per GiB), which took more
    # system time than the encryption. The plaintext ring is large enough that no buffer is
    # refilled while the hasher may still read it (see BackgroundHasher.update).
    ring = [bytearray(frame_length) for _ in range(reader.hash.depth + 2)]
    sealed_buf = memoryview(bytearray(frame_length + algorithm.auth_len))
    into = hasattr(aead, "encrypt_into")
    sequence = 1
    while True:
        plaintext = reader.fill(ring[sequence % len(ring)])
        final = len(plaintext) < frame_length
        iv = struct.pack(">8xI", sequence)
        aad = message_id + (_FINAL_FRAME_AAD if final else _FRAME_AAD)
        aad += struct.pack(">IQ", sequence, len(plaintext))
        sealed: bytes | memoryview
        if into:
            sealed = sealed_buf[: len(plaintext) + algorithm.auth_len]
            aead.encrypt_into(iv, plaintext, aad, sealed)
        else:  # cryptography before encrypt_into
            sealed = aead.encrypt(iv, plaintext, aad)
        if final:
            prefix = _FINAL_FRAME_MARKER + struct.pack(">I", sequence) + iv
            prefix += struct.pack(">I", len(plaintext))
        else:
            prefix = struct.pack(">I", sequence) + iv
        out.write(prefix)
        out.write(sealed)
        if final:
            return True
        sequence += 1
        if sequence > MAX_FRAME_COUNT:
            raise SerializationError("plaintext too large for one message (frame count)")


MAX_FRAME_LENGTH = 64 * 1024 * 1024
"""Frames larger than this are left to the SDK's own loop (a bound on what is held at once)."""


def read_frames(
    decryptor: Any,
    header: Any,
    raw: Any,
    out: CountingWriter,
    digest: BackgroundHasher,
    progress: ProgressCallback | None,
    suite: Any,
) -> bool:
    """Decrypt the framed body after the SDK has parsed and authenticated the header.

    The mirror of :func:`write_frames`, with the checks of the SDK's ``deserialize_frame``
    and body loop (frames in order, a final frame no longer than a frame) plus two stricter
    ones: each IV must be the one the format prescribes for its frame, and nothing may follow
    the final frame. A final frame of exactly the frame length is accepted (the SDK's Python
    reader refuses it, though the format allows it and other SDKs write it for plaintexts that
    are an exact multiple of the frame length). Every frame's tag is checked before its
    plaintext is written. Returns False, having read nothing, when the message or the SDK is
    not what this loop handles.
    """
    key = getattr(decryptor, "_derived_data_key", None)
    source = getattr(decryptor, "source_stream", None)
    if source is not None and getattr(source, "__wrapped__", None) is raw:
        # The SDK's reader wraps our file only to insist on full reads, copying every frame
        # twice through a BytesIO; our buffered file already reads fully (short only at the
        # end), and the SDK has left it just after the header.
        source = raw
    frame_length = header.frame_length
    if (
        not isinstance(key, bytes)
        or source is None
        or getattr(decryptor, "verifier", None) is not None
        or header.algorithm is not suite
        or header.content_type is not ContentType.FRAMED_DATA
        or not 0 < frame_length <= MAX_FRAME_LENGTH
    ):
        return False
    aead = AESGCM(key)
    message_id = header.message_id
    into = hasattr(aead, "decrypt_into") and hasattr(source, "readinto")
    # Reused buffers, as in write_frames: no fresh 1 MiB objects (and page faults) per frame.
    ring = [bytearray(frame_length) for _ in range(digest.depth + 2)]
    sealed_buf = memoryview(bytearray(frame_length + 16))

    def take(n: int) -> bytes:
        data = source.read(n)
        if len(data) != n:
            raise SerializationError("truncated message body")
        return bytes(data)

    def take_into(view: memoryview) -> memoryview:
        if read_full(source, view) != len(view):
            raise SerializationError("truncated message body")
        return view

    sequence = 1
    while True:
        (first,) = struct.unpack(">I", take(4))
        final = first == SequenceIdentifier.SEQUENCE_NUMBER_END.value
        number = struct.unpack(">I", take(4))[0] if final else first
        if number != sequence:
            raise SerializationError("malformed message: frames out of order")
        iv = take(12)
        if iv != struct.pack(">8xI", sequence):
            raise SerializationError("malformed message: unexpected frame IV")
        length = struct.unpack(">I", take(4))[0] if final else frame_length
        if final and length > frame_length:
            raise SerializationError("malformed message: final frame too long")
        aad = message_id + (_FINAL_FRAME_AAD if final else _FRAME_AAD)
        aad += struct.pack(">IQ", sequence, length)
        plaintext: bytes | memoryview
        if into:
            sealed = take_into(sealed_buf[: length + 16])
            plaintext = memoryview(ring[sequence % len(ring)])[:length]
            # A bad tag raises before the (unauthenticated) buffer is written anywhere.
            aead.decrypt_into(iv, sealed, aad, plaintext)
        else:  # cryptography before decrypt_into
            plaintext = aead.decrypt(iv, take(length + 16), aad)
        out.write(plaintext)
        digest.update(plaintext)
        if progress is not None:
            progress(len(plaintext))
        if final:
            if source.read(1):
                raise SerializationError("malformed message: data after the final frame")
            return True
        sequence += 1
