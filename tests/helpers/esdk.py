"""Messages in the AWS Encryption SDK format that the Python SDK does not write (test-only).

The format allows a final frame of exactly the frame length, and the specification recommends
it for plaintexts that are an exact multiple of the frame length (other SDKs write that); the
Python SDK writes an empty final frame instead. This builder lets the SDK make the header and
every key, then seals the body itself with the derived data key (a private attribute of the
pinned SDK: this is test code crafting input, not a second implementation in the product).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping

import aws_encryption_sdk
from aws_encryption_sdk.identifiers import CommitmentPolicy, ContentAADString, SequenceIdentifier
from aws_encryption_sdk.key_providers.base import MasterKeyProvider
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["message_with_full_final_frame"]


def message_with_full_final_frame(
    plaintext: bytes,
    provider: MasterKeyProvider,
    context: Mapping[str, str],
    algorithm: object,
    frame_length: int,
) -> bytes:
    """An encryption of ``plaintext`` (a non-zero multiple of ``frame_length``) whose last
    frame is the final frame, full length."""
    assert plaintext
    assert len(plaintext) % frame_length == 0
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    encryptor = client.stream(
        mode="encrypt",
        source=io.BytesIO(plaintext),
        key_provider=provider,
        encryption_context=dict(context),
        algorithm=algorithm,
        frame_length=frame_length,
    )
    header = encryptor.header
    head = encryptor.output_buffer
    aead = AESGCM(encryptor._derived_data_key)
    frames = [plaintext[i : i + frame_length] for i in range(0, len(plaintext), frame_length)]
    body = bytearray()
    for seq, chunk in enumerate(frames, start=1):
        final = seq == len(frames)
        iv = struct.pack(">8xI", seq)
        label = (
            ContentAADString.FINAL_FRAME_STRING_ID if final else ContentAADString.FRAME_STRING_ID
        )
        aad = header.message_id + label.value + struct.pack(">IQ", seq, len(chunk))
        sealed = aead.encrypt(iv, chunk, aad)
        if final:
            end = SequenceIdentifier.SEQUENCE_NUMBER_END.value
            body += struct.pack(">II", end, seq) + iv + struct.pack(">I", len(chunk))
        else:
            body += struct.pack(">I", seq) + iv
        body += sealed
    return bytes(head) + bytes(body)
