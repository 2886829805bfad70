"""Envelope encryption: round trips per keyring, the message format, and every failure path."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_encryption_sdk
import pytest
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signing.digest import BackgroundHasher
from signing.encrypt import (
    ALGORITHM,
    CONTEXT_APPLICATION,
    CONTEXT_SHA256,
    CONTEXT_VERSION,
    FRAME_LENGTH,
    DecryptionError,
    EncryptionError,
    Engine,
    KmsKeyring,
    RawAesKeyring,
    RawRsaKeyring,
    decrypt_file,
    encrypt_file,
    encryption_context,
)
from signing.errors import KeyLoadError
from tests.helpers.esdk import message_with_full_final_frame
from tests.helpers.moto_server import MotoServer, start_moto

AES = RawAesKeyring(b"\x01" * 32, key_name="unit")


@pytest.fixture(scope="module")
def rsa_pem() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    yield from start_moto()


def _plain(tmp_path: Path, size: int) -> tuple[Path, dict[str, str]]:
    src = tmp_path / "asset.bin"
    src.write_bytes(os.urandom(size))
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    return src, encryption_context(sha, application="shelf", version="1.0.0")


def _only(dir_: Path) -> list[str]:
    return sorted(p.name for p in dir_.iterdir())


@pytest.mark.parametrize(
    "size",
    [0, 1, FRAME_LENGTH - 1, FRAME_LENGTH, FRAME_LENGTH + 1, 3 * FRAME_LENGTH + 7],
    ids=["empty", "one-byte", "frame-minus-1", "one-frame", "frame-plus-1", "several-frames"],
)
@pytest.mark.parametrize(
    ("write", "read"),
    [("sdk", "sdk"), ("sdk", "frames"), ("frames", "sdk"), ("frames", "frames")],
)
def test_aes_round_trip_any_size(tmp_path: Path, size: int, write: Engine, read: Engine) -> None:
    # Both engines write the same format and read each other's messages.
    src, ctx = _plain(tmp_path, size)
    res = encrypt_file(src, tmp_path / "a.enc", AES, ctx, engine=write)
    assert res.plaintext_size == size
    assert res.ciphertext_size == (tmp_path / "a.enc").stat().st_size
    assert _sdk_decrypt((tmp_path / "a.enc").read_bytes(), AES) == src.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    dec = decrypt_file(tmp_path / "a.enc", out, AES, ctx, engine=read)
    assert dec.path.read_bytes() == src.read_bytes()
    assert dec.sha256 == ctx[CONTEXT_SHA256]
    assert dec.context[CONTEXT_APPLICATION] == "shelf"


def test_message_uses_committing_unsigned_suite_and_1mib_frames(tmp_path: Path) -> None:
    src, ctx = _plain(tmp_path, FRAME_LENGTH * 2 + 5)
    encrypt_file(src, tmp_path / "a.enc", AES, ctx)
    # Read the header back with the SDK itself, independently of decrypt_file.
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    with (
        open(tmp_path / "a.enc", "rb") as fp,
        client.stream(mode="decrypt-unsigned", source=fp, key_provider=AES.provider()) as dec,
    ):
        dec.read()
        header = dec.header
    assert header.algorithm is Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
    assert header.algorithm is ALGORITHM
    assert header.frame_length == FRAME_LENGTH
    assert header.encryption_context[CONTEXT_SHA256] == ctx[CONTEXT_SHA256]
    assert header.encryption_context[CONTEXT_VERSION] == "1.0.0"


def test_rsa_encrypt_to_public_decrypt_with_private(
    tmp_path: Path, rsa_pem: tuple[bytes, bytes]
) -> None:
    private, public = rsa_pem
    src, ctx = _plain(tmp_path, 100_000)
    ring = RawRsaKeyring.from_public_pem(public)
    encrypt_file(src, tmp_path / "a.enc", ring, ctx)
    with pytest.raises(DecryptionError, match="wrong-key"):
        # The public-only keyring cannot unwrap the data key.
        decrypt_file(tmp_path / "a.enc", tmp_path, ring, ctx)
    dec = decrypt_file(
        tmp_path / "a.enc", tmp_path, RawRsaKeyring.from_private_pem(private, b"pw"), ctx
    )
    assert dec.path.read_bytes() == src.read_bytes()
    assert ring.key_names == RawRsaKeyring.from_private_pem(private, b"pw").key_names
    assert ring.key_names[0].startswith("sha256:")


def test_rsa_wrong_password_and_small_keys_refused(rsa_pem: tuple[bytes, bytes]) -> None:
    with pytest.raises(KeyLoadError, match="cannot load the private key") as err:
        RawRsaKeyring.from_private_pem(rsa_pem[0], b"nope")
    assert "nope" not in err.value.diagnostics()
    small = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(KeyLoadError, match="at least 3072"):
        RawRsaKeyring([small])


def test_kms_keyring_several_keys_each_decrypts(tmp_path: Path, moto: MotoServer) -> None:
    kms = moto.client("kms")
    arns = [kms.create_key()["KeyMetadata"]["Arn"] for _ in range(2)]
    src, ctx = _plain(tmp_path, 2 * FRAME_LENGTH + 3)
    ring = KmsKeyring(arns, endpoint_url=moto.url)
    encrypt_file(src, tmp_path / "a.enc", ring, ctx)
    for arn in arns:
        dec = decrypt_file(
            tmp_path / "a.enc", tmp_path, KmsKeyring([arn], endpoint_url=moto.url), ctx
        )
        assert dec.path.read_bytes() == src.read_bytes()
        dec.path.unlink()
    other = kms.create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(DecryptionError, match="wrong-key"):
        decrypt_file(tmp_path / "a.enc", tmp_path, KmsKeyring([other], endpoint_url=moto.url), ctx)
    assert ring.describe() == {"kind": "aws-kms", "key_ids": arns}


def test_kms_multi_region_key(tmp_path: Path, moto: MotoServer) -> None:
    arn = moto.client("kms").create_key(MultiRegion=True)["KeyMetadata"]["Arn"]
    assert ":key/mrk-" in arn
    src, ctx = _plain(tmp_path, 1000)
    other = moto.client("kms").create_key()["KeyMetadata"]["Arn"]
    ring = KmsKeyring([arn, other], endpoint_url=moto.url)
    encrypt_file(src, tmp_path / "m.enc", ring, ctx)
    # moto's KMS refuses Decrypt for multi-region keys (AccessDeniedException; real KMS does
    # not), so check the message header: the data key is wrapped under the mrk ARN itself.
    from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header

    with open(tmp_path / "m.enc", "rb") as fp:
        header, _ = deserialize_header(fp)
    wrapped_under = {k.key_provider.key_info.decode() for k in header.encrypted_data_keys}
    assert wrapped_under == {arn, other}
    dec = decrypt_file(
        tmp_path / "m.enc", tmp_path, KmsKeyring([other], endpoint_url=moto.url), ctx
    )
    assert dec.path.read_bytes() == src.read_bytes()


def test_kms_keyring_needs_arns() -> None:
    with pytest.raises(KeyLoadError, match="full ARN"):
        KmsKeyring(["alias/release"])
    with pytest.raises(KeyLoadError, match="at least one"):
        KmsKeyring([])


def test_plaintext_changed_since_scan_writes_nothing(tmp_path: Path) -> None:
    src, ctx = _plain(tmp_path, 1000)
    src.write_bytes(b"swapped after the scan")
    out = tmp_path / "out"
    with pytest.raises(EncryptionError, match="changed since it was scanned"):
        encrypt_file(src, out / "a.enc", AES, ctx)
    assert _only(out) == []


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, dict[str, str], Path]:
    src, ctx = _plain(tmp_path, 2 * FRAME_LENGTH + 100)
    enc = tmp_path / "a.enc"
    encrypt_file(src, enc, AES, ctx)
    out = tmp_path / "out"
    out.mkdir()
    return enc, ctx, out


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: _flip(p, p.stat().st_size - 200), "tampered"),  # last frame's body
        (lambda p: _flip(p, FRAME_LENGTH + 500), "tampered"),  # a middle frame
        (lambda p: _flip(p, 10), "tampered"),  # header: message id (key commitment fails)
        (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "malformed"),
        (lambda p: p.write_bytes(b"not an encrypted message at all"), "malformed"),
    ],
    ids=["last-frame", "middle-frame", "header", "truncated", "garbage"],
)
def test_damaged_ciphertext_fails_and_leaves_nothing(
    sealed: tuple[Path, dict[str, str], Path], mutate: object, reason: str
) -> None:
    enc, ctx, out = sealed
    mutate(enc)  # type: ignore[operator]
    with pytest.raises(DecryptionError) as err:
        decrypt_file(enc, out, AES, ctx)
    assert err.value.reason == reason
    assert err.value.exit_code == 1
    assert _only(out) == []


def test_wrong_key_and_context_mismatch(sealed: tuple[Path, dict[str, str], Path]) -> None:
    enc, ctx, out = sealed
    with pytest.raises(DecryptionError, match=r"\(wrong-key\)"):
        decrypt_file(enc, out, RawAesKeyring(b"\x01" * 32, key_name="other-name"), ctx)
    with pytest.raises(DecryptionError, match=r"\(wrong-key\)"):
        decrypt_file(enc, out, RawAesKeyring(b"\x02" * 32, key_name="unit"), ctx)
    with pytest.raises(DecryptionError, match=r"\(context-mismatch\).*panorama-gate:version"):
        decrypt_file(enc, out, AES, {**ctx, CONTEXT_VERSION: "2.0.0"})
    with pytest.raises(DecryptionError, match=r"\(context-mismatch\).*panorama-gate:sha256"):
        decrypt_file(enc, out, AES, {**ctx, CONTEXT_SHA256: "0" * 64})
    assert _only(out) == []


def test_signed_suite_is_refused(tmp_path: Path) -> None:
    src, ctx = _plain(tmp_path, 10)
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    ct, _ = client.encrypt(
        source=src.read_bytes(),
        key_provider=AES.provider(),
        encryption_context=ctx,
        algorithm=Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    )
    (tmp_path / "s.enc").write_bytes(ct)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DecryptionError):
        decrypt_file(tmp_path / "s.enc", out, AES, ctx)
    assert _only(out) == []


def test_encryption_context_validation() -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        encryption_context("abc", application="a", version="1")
    with pytest.raises(ValueError, match="application"):
        encryption_context("0" * 64, application="", version="1")


def test_aes_keyring_never_shows_its_key() -> None:
    ring = RawAesKeyring(b"\x07" * 32, key_name="k")
    assert "\x07" not in repr(ring)
    assert (b"\x07" * 32).hex() not in str(ring.describe())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(min_size=1, max_size=3000), where=st.floats(min_value=0, max_value=1))
def test_any_single_byte_change_is_caught(tmp_path: Path, data: bytes, where: float) -> None:
    src = tmp_path / "p.bin"
    src.write_bytes(data)
    ctx = encryption_context(hashlib.sha256(data).hexdigest(), application="a", version="1")
    enc = tmp_path / "p.enc"
    encrypt_file(src, enc, AES, ctx)
    _flip(enc, min(enc.stat().st_size - 1, int(where * enc.stat().st_size)))
    out = tmp_path / "o"
    out.mkdir(exist_ok=True)
    with pytest.raises(DecryptionError):
        decrypt_file(enc, out, AES, ctx)
    assert _only(out) == []


def _sdk_decrypt(data: bytes, ring: RawAesKeyring) -> bytes:
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    plain, _ = client.decrypt(source=data, key_provider=ring.provider())
    return bytes(plain)


@pytest.mark.parametrize("size", [0, 5, FRAME_LENGTH, 2 * FRAME_LENGTH + 9])
def test_own_frame_writer_survives_short_reads(size: int) -> None:
    # The body writer must fill each frame even when the source returns short reads, or it
    # would end the message early.
    import io

    from signing import _frames, _streams
    from signing import encrypt as enc

    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._src = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            return self._src.read(min(n, 70_000) if n >= 0 else 70_000)

        def readinto(self, buffer: Any) -> int:
            data = self.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)

    data = os.urandom(size)
    ctx = encryption_context(hashlib.sha256(data).hexdigest(), application="a", version="1")
    hasher = BackgroundHasher()
    reader = _streams.HashingReader(Trickle(data), hasher, None)
    encryptor = enc._CLIENT.stream(
        mode="encrypt",
        source=reader,
        key_provider=AES.provider(),
        encryption_context=ctx,
        algorithm=ALGORITHM,
        frame_length=FRAME_LENGTH,
    )
    out = io.BytesIO()
    writer = _streams.CountingWriter(out)
    assert _frames.write_frames(encryptor, reader, writer, ALGORITHM, FRAME_LENGTH)
    assert hasher.hexdigest() == ctx[CONTEXT_SHA256]
    assert writer.size == len(out.getvalue())
    assert _sdk_decrypt(out.getvalue(), AES) == data


def test_sdk_body_loop_is_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from signing import _frames

    monkeypatch.setattr(_frames, "write_frames", lambda *a: False)
    src, ctx = _plain(tmp_path, FRAME_LENGTH + 3)
    res = encrypt_file(src, tmp_path / "a.enc", AES, ctx)
    assert res.ciphertext_size == (tmp_path / "a.enc").stat().st_size
    assert _sdk_decrypt((tmp_path / "a.enc").read_bytes(), AES) == src.read_bytes()


def test_own_frame_reader_rejects_reordered_frames_and_trailing_data(
    sealed: tuple[Path, dict[str, str], Path],
) -> None:
    enc, ctx, out = sealed
    data = enc.read_bytes()
    # The body is 2 full frames and a final one; each full frame is 4 + 12 + 1 MiB + 16 bytes.
    full = 4 + 12 + FRAME_LENGTH + 16
    final_len = 4 + 4 + 12 + 4 + 100 + 16
    head = len(data) - 2 * full - final_len
    frame1, frame2 = data[head : head + full], data[head + full : head + 2 * full]
    enc.write_bytes(data[:head] + frame2 + frame1 + data[head + 2 * full :])
    with pytest.raises(DecryptionError, match="out of order"):
        decrypt_file(enc, out, AES, ctx)
    enc.write_bytes(data + b"x")
    with pytest.raises(DecryptionError, match="after the final frame"):
        decrypt_file(enc, out, AES, ctx)
    assert _only(out) == []


def test_sdk_body_reader_is_the_fallback(
    sealed: tuple[Path, dict[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from signing import _frames

    monkeypatch.setattr(_frames, "read_frames", lambda *a: False)
    enc, ctx, out = sealed
    dec = decrypt_file(enc, out, AES, ctx)
    assert dec.sha256 == ctx[CONTEXT_SHA256]
    _flip(enc, enc.stat().st_size - 10)
    with pytest.raises(DecryptionError, match=r"\(tampered\)"):
        decrypt_file(enc, out, AES, ctx)


@pytest.mark.parametrize("frame_length", [4096, 65536], ids=["sdk-default-frames", "64k-frames"])
def test_messages_from_the_sdk_with_other_frame_lengths(tmp_path: Path, frame_length: int) -> None:
    # What another AWS Encryption SDK writes (same suite, other frame size) decrypts too.
    src, ctx = _plain(tmp_path, 3 * frame_length)
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    ct, _ = client.encrypt(
        source=src.read_bytes(),
        key_provider=AES.provider(),
        encryption_context=ctx,
        algorithm=ALGORITHM,
        frame_length=frame_length,
    )
    (tmp_path / "o.enc").write_bytes(ct)
    dec = decrypt_file(tmp_path / "o.enc", tmp_path, AES, ctx)
    assert dec.path.read_bytes() == src.read_bytes()


def test_counting_writer_finishes_short_writes() -> None:
    # A raw (unbuffered) file may accept fewer bytes than offered; nothing may be dropped.
    import io

    from signing import _streams

    class Sip(io.BytesIO):
        def write(self, data: Any) -> int:
            return super().write(bytes(data[:1000]))

    sink = Sip()
    writer = _streams.CountingWriter(sink)
    data = os.urandom(10_500)
    writer.write(data)
    writer.write(b"")
    assert (sink.getvalue(), writer.size) == (data, 10_500)


def test_reused_frame_buffers_survive_a_hasher_that_lags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The frame loops reuse a ring of buffers; a slow hasher (the queue full, the reader
    # blocked) must still see every frame's bytes as they were, on both sides.
    import time

    from signing import digest as digest_mod
    from signing import encrypt as enc

    class SlowHasher(digest_mod.BackgroundHasher):
        def _run(self) -> None:
            while (chunk := self._queue.get()) is not None and not self._abandoned:
                time.sleep(0.003)
                self._hash.update(chunk)

    monkeypatch.setattr(enc, "BackgroundHasher", SlowHasher)
    src, ctx = _plain(tmp_path, 23 * FRAME_LENGTH + 7)  # more frames than the ring holds
    res = encrypt_file(src, tmp_path / "a.enc", AES, ctx)
    assert res.plaintext_sha256 == ctx[CONTEXT_SHA256]
    assert _sdk_decrypt((tmp_path / "a.enc").read_bytes(), AES) == src.read_bytes()
    out = decrypt_file(tmp_path / "a.enc", tmp_path, AES, ctx)
    assert out.path.read_bytes() == src.read_bytes()
    assert out.sha256 == ctx[CONTEXT_SHA256]


def test_writeback_requests_windows_behind_the_writer(tmp_path: Path) -> None:
    from signing import _writeback

    calls: list[tuple[int, int]] = []

    def fake(fd: int, offset: int, nbytes: int, flags: int) -> int:
        calls.append((offset, nbytes))
        return 0

    with open(tmp_path / "f", "wb", buffering=0) as f:
        wb = _writeback.Writeback(f.fileno(), window=10)
        wb._call = fake
        for _ in range(9):
            wb.advance(5)  # 45 bytes: each window ending two windows behind the end is asked for
        assert calls == [(0, 10), (10, 10), (20, 10)]
        wb._call = lambda *a: -1  # a file system that refuses: given up, not an error
        wb.advance(100)
        assert wb._call is None
        wb.advance(100)
    # The real call on a real file: no error, bytes intact.
    with open(tmp_path / "g", "wb", buffering=0) as f:
        wb = _writeback.Writeback(f.fileno(), window=4096)
        data = os.urandom(5 * 4096 + 3)
        f.write(data)
        wb.advance(len(data))
    assert (tmp_path / "g").read_bytes() == data


def test_frame_loops_without_the_into_methods(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cryptography releases before encrypt_into/decrypt_into: the allocating calls are used.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from signing import _frames

    class OldAESGCM:
        def __init__(self, key: bytes) -> None:
            self._aead = AESGCM(key)

        def encrypt(self, nonce: bytes, data: Any, aad: bytes) -> bytes:
            return self._aead.encrypt(nonce, bytes(data), aad)

        def decrypt(self, nonce: bytes, data: Any, aad: bytes) -> bytes:
            return self._aead.decrypt(nonce, bytes(data), aad)

    monkeypatch.setattr(_frames, "AESGCM", OldAESGCM)
    src, ctx = _plain(tmp_path, 3 * FRAME_LENGTH + 11)
    encrypt_file(src, tmp_path / "a.enc", AES, ctx)
    assert _sdk_decrypt((tmp_path / "a.enc").read_bytes(), AES) == src.read_bytes()
    out = decrypt_file(tmp_path / "a.enc", tmp_path, AES, ctx)
    assert out.path.read_bytes() == src.read_bytes()


@pytest.mark.parametrize("frames", [1, 3])
def test_a_final_frame_of_exactly_the_frame_length_decrypts(tmp_path: Path, frames: int) -> None:
    # The format allows it and the specification recommends it for exact multiples (other SDKs
    # write it); the default engine reads it. The SDK's own Python reader refuses it, which is
    # one reason the frames engine exists.
    data = os.urandom(frames * FRAME_LENGTH)
    ctx = encryption_context(hashlib.sha256(data).hexdigest(), application="a", version="1")
    (tmp_path / "m.enc").write_bytes(
        message_with_full_final_frame(data, AES.provider(), ctx, ALGORITHM, FRAME_LENGTH)
    )
    dec = decrypt_file(tmp_path / "m.enc", tmp_path, AES, ctx, engine="frames")
    assert dec.path.read_bytes() == data
    with pytest.raises(DecryptionError, match="malformed"):
        decrypt_file(tmp_path / "m.enc", tmp_path, AES, ctx, engine="sdk")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.enc", dec.path.name])
