"""Envelope encryption in the AWS Encryption SDK message format.

Every AWS Encryption SDK (and the AWS Encryption CLI) can decrypt what this module writes, given
the wrapping key. Choices, and why:

* algorithm suite ``AES_256_GCM_HKDF_SHA512_COMMIT_KEY`` (key commitment, no ECDSA signature):
  the release is signed separately by :mod:`signing`, so the SDK's own signature would only cost
  time; key commitment stops one ciphertext from decrypting to two plaintexts under two keys;
* 1 MiB frames and 1 MiB reads: the SDK's 4 KiB default frames make the per-frame overhead
  dominate, several times slower on large container assets;
* an encryption context binding the artifact's plaintext SHA-256, the application and the
  package version, so a ciphertext cannot be replayed under another name or release;
* decryption writes into a temporary file that is deleted on any error, because the SDK
  releases plaintext of earlier frames before it reaches a tampered later frame.

Two engines write and read the same bytes: ``sdk``, the SDK's public streaming API (1 MiB
reads), and ``frames`` (:mod:`signing._frames`), which leaves the header and every key to the
SDK but writes and reads the framed body itself. :func:`default_engine` picks ``frames`` only
where :func:`signing._frames.supported` holds (the pinned SDK); the figures that justify it are
in docs/publish.md (``benchmarks/publish.py`` measures both engines against ``age``).

Keyrings live in :mod:`signing.keyrings` (re-exported here): :class:`KmsKeyring` (one or more
AWS KMS keys, multi-region keys allowed), :class:`RawRsaKeyring` (encrypt to an RSA public key,
decrypt with the private key) and :class:`RawAesKeyring` (for tests).

Example::

    from signing.encrypt import RawRsaKeyring, encrypt_file, decrypt_file, encryption_context
    ring = RawRsaKeyring.from_public_pem(Path("release.pub.pem").read_bytes())
    ctx = encryption_context(sha256_hex, application="shelf-monitor", version="1.2.0")
    result = encrypt_file(Path("assets/abc.tar.gz"), Path("abc.tar.gz.enc"), ring, ctx)
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aws_encryption_sdk
import botocore.exceptions
from aws_encryption_sdk.exceptions import (
    ActionNotAllowedError,
    AWSEncryptionSDKClientError,
    DecryptKeyError,
    MaxEncryptedDataKeysExceeded,
    SerializationError,
)
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy
from cryptography.exceptions import InvalidTag

from signing import _frames
from signing._streams import CountingWriter, HashingReader, ProgressCallback
from signing.digest import BackgroundHasher
from signing.errors import SigningError
from signing.keyrings import (
    AES_PROVIDER_ID,
    RSA_PROVIDER_ID,
    Keyring,
    KmsKeyring,
    RawAesKeyring,
    RawRsaKeyring,
    cli_raw_aes_provider,
    cli_raw_rsa_provider,
)

__all__ = [
    "AES_PROVIDER_ID",
    "ALGORITHM",
    "CONTEXT_APPLICATION",
    "CONTEXT_SHA256",
    "CONTEXT_VERSION",
    "FRAME_LENGTH",
    "READ_SIZE",
    "RSA_PROVIDER_ID",
    "DecryptResult",
    "DecryptionError",
    "EncryptResult",
    "EncryptionError",
    "Engine",
    "Keyring",
    "KmsKeyring",
    "RawAesKeyring",
    "RawRsaKeyring",
    "cli_raw_aes_provider",
    "cli_raw_rsa_provider",
    "decrypt_file",
    "default_engine",
    "encrypt_file",
    "encryption_context",
]

ALGORITHM = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
"""Committing suite without the SDK's ECDSA signature (the release is signed separately)."""
FRAME_LENGTH = 1024 * 1024
"""Plaintext bytes per frame."""
READ_SIZE = 1024 * 1024
"""Bytes read from the SDK stream at a time (matches the frame so each read is one frame)."""
MAX_ENCRYPTED_DATA_KEYS = 16
"""Refuse messages with more wrapped data keys than this (a cheap denial-of-service guard)."""

CONTEXT_SHA256 = "panorama-gate:sha256"
CONTEXT_APPLICATION = "panorama-gate:application"
CONTEXT_VERSION = "panorama-gate:version"

_CLIENT = aws_encryption_sdk.EncryptionSDKClient(
    commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
    max_encrypted_data_keys=MAX_ENCRYPTED_DATA_KEYS,
)


class EncryptionError(SigningError):
    """Encryption could not be done (exit 3: a tool or key-service failure)."""


class DecryptionError(SigningError):
    """A ciphertext does not decrypt to what was published (exit 1: do not deploy).

    ``reason`` is stable for scripts: ``tampered``, ``wrong-key``, ``context-mismatch``,
    ``malformed``, ``unsupported-suite`` or ``digest-mismatch``.
    """

    exit_code = 1

    def __init__(self, reason: str, message: str, *, hint: str = "") -> None:
        super().__init__(f"decryption failed ({reason}): {message}", hint=hint)
        self.reason = reason


def encryption_context(sha256_hex: str, *, application: str, version: str) -> dict[str, str]:
    """The encryption context that binds a ciphertext to its artifact and release."""
    if len(sha256_hex) != 64 or any(c not in "0123456789abcdef" for c in sha256_hex):
        raise ValueError(f"not a lower-case SHA-256 hex digest: {sha256_hex!r}")
    if not application or not version:
        raise ValueError("the encryption context needs an application name and a version")
    return {CONTEXT_SHA256: sha256_hex, CONTEXT_APPLICATION: application, CONTEXT_VERSION: version}


Engine = Literal["sdk", "frames"]
"""``sdk``: the SDK's public streaming API; ``frames``: :mod:`signing._frames`."""


def default_engine() -> Engine:
    """``frames`` where the installed SDK is the one it was written for, else ``sdk``."""
    return "frames" if _frames.supported() else "sdk"


@dataclass(frozen=True, slots=True)
class EncryptResult:
    """What one encryption produced: the plaintext's digest, both sizes, and the context.

    The ciphertext is not hashed here: the upload reads it once for its whole-file and
    per-part checksums anyway (:meth:`signing.store.ObjectStore.digest_file`), and a second
    SHA-256 pass would cost more than the encryption itself (AES-GCM runs several times
    faster than SHA-256 on this hardware). The ciphertext needs no digest for its integrity:
    every frame is authenticated, and the plaintext digest is checked on decryption.
    """

    plaintext_sha256: str
    plaintext_size: int
    ciphertext_size: int
    context: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class DecryptResult:
    """A verified plaintext in a temporary file (the caller moves or deletes it)."""

    path: Path
    sha256: str
    size: int
    context: Mapping[str, str]


def encrypt_file(
    src: Path,
    dst: Path,
    keyring: Keyring,
    context: Mapping[str, str],
    *,
    progress: ProgressCallback | None = None,
    engine: Engine | None = None,
) -> EncryptResult:
    """Encrypt ``src`` into ``dst`` (written atomically) and check the plaintext digest.

    The plaintext is hashed while it is encrypted; if it does not match the context's
    ``panorama-gate:sha256`` (the digest the gate approved), the file changed since the scan
    and nothing is written.
    """
    expected = context.get(CONTEXT_SHA256)
    if expected is None:
        raise EncryptionError("encryption context has no panorama-gate:sha256")
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    tmp = Path(tmp_name)
    plain_hash = BackgroundHasher()
    try:
        with open(src, "rb", buffering=0) as raw, os.fdopen(fd, "wb", buffering=0) as sink:
            out = CountingWriter(sink)
            reader = HashingReader(raw, plain_hash, progress)
            with _CLIENT.stream(
                mode="encrypt",
                source=reader,
                key_provider=keyring.provider(),
                encryption_context=dict(context),
                algorithm=ALGORITHM,
                frame_length=FRAME_LENGTH,
                source_length=os.fstat(raw.fileno()).st_size,
            ) as encryptor:
                use_frames = (engine or default_engine()) == "frames"
                if not (
                    use_frames
                    and _frames.write_frames(encryptor, reader, out, ALGORITHM, FRAME_LENGTH)
                ):
                    while True:
                        chunk = encryptor.read(READ_SIZE)
                        if not chunk:
                            break
                        out.write(chunk)
            os.fsync(sink.fileno())
        actual = plain_hash.hexdigest()
        if actual != expected:
            raise EncryptionError(
                f"{src}: changed since it was scanned (sha256 {actual}, approved {expected})",
                hint="rerun the gate on the files you mean to publish",
            )
        os.replace(tmp, dst)
    except OSError as exc:
        _unlink(tmp)
        raise EncryptionError(f"{src}: cannot encrypt: {exc.strerror or exc}") from exc
    except (
        AWSEncryptionSDKClientError,
        botocore.exceptions.BotoCoreError,
        botocore.exceptions.ClientError,
    ) as exc:
        _unlink(tmp)
        raise EncryptionError(f"{src}: encryption failed: {_sdk_message(exc)}") from exc
    except BaseException:
        _unlink(tmp)
        raise
    finally:
        plain_hash.abandon()
    return EncryptResult(
        plaintext_sha256=actual,
        plaintext_size=plain_hash.size,
        ciphertext_size=out.size,
        context=dict(context),
    )


def decrypt_file(
    src: Path,
    dst_dir: Path,
    keyring: Keyring,
    expected_context: Mapping[str, str],
    *,
    progress: ProgressCallback | None = None,
    engine: Engine | None = None,
) -> DecryptResult:
    """Decrypt ``src`` into a new temporary file in ``dst_dir``; verify context and digest.

    Checks, in order: the message uses the committing unsigned suite; its encryption context
    holds every expected pair (before any plaintext is written); every frame authenticates;
    the plaintext's SHA-256 equals the context's. On any failure the temporary file is
    deleted and :class:`DecryptionError` says which check failed.
    """
    expected_sha = expected_context.get(CONTEXT_SHA256)
    fd, tmp_name = tempfile.mkstemp(prefix=".decrypt.", suffix=".tmp", dir=dst_dir)
    tmp = Path(tmp_name)
    digest = BackgroundHasher()
    context: dict[str, str] = {}
    checked = False
    try:
        with open(src, "rb") as source, os.fdopen(fd, "wb", buffering=0) as sink:
            out = CountingWriter(sink)
            # Not used as a context manager: on an error its __exit__ logs a second,
            # misleading "Footer not read" traceback; the source file is closed by our ``with``.
            decryptor = _CLIENT.stream(
                mode="decrypt-unsigned", source=source, key_provider=keyring.provider()
            )
            # Reading ``header`` parses and authenticates the header (unwrapping the data key)
            # without touching the body: the context is checked before any plaintext exists,
            # and an error here is about keys or the header, not the frames.
            header = decryptor.header
            context = dict(header.encryption_context)
            _check_header(src, header.algorithm, context, expected_context)
            checked = True
            use_frames = (engine or default_engine()) == "frames"
            if not (
                use_frames
                and _frames.read_frames(decryptor, header, source, out, digest, progress, ALGORITHM)
            ):
                while True:
                    chunk = decryptor.read(READ_SIZE)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    if progress is not None:
                        progress(len(chunk))
                decryptor.close()
            os.fsync(sink.fileno())
        actual = digest.hexdigest()
        if expected_sha is not None and actual != expected_sha:
            raise DecryptionError(
                "digest-mismatch",
                f"{src.name}: plaintext sha256 {actual} is not the published {expected_sha}",
            )
    except DecryptionError:
        _unlink(tmp)
        raise
    except BaseException as exc:
        _unlink(tmp)
        mapped = _map_decrypt_error(src, exc, header_read=checked)
        if mapped is None:
            raise
        raise mapped from exc
    finally:
        digest.abandon()
    return DecryptResult(path=tmp, sha256=actual, size=digest.size, context=context)


def _check_header(
    src: Path, algorithm: Algorithm, context: Mapping[str, str], expected: Mapping[str, str]
) -> None:
    if algorithm is not ALGORITHM:
        raise DecryptionError(
            "unsupported-suite",
            f"{src.name}: algorithm suite {algorithm.name} is not the committing suite "
            f"{ALGORITHM.name}",
        )
    for key, value in expected.items():
        if context.get(key) != value:
            raise DecryptionError(
                "context-mismatch",
                f"{src.name}: encryption context {key}={context.get(key)!r}, expected {value!r}",
                hint="the ciphertext belongs to another artifact or release",
            )


def _map_decrypt_error(
    src: Path, exc: BaseException, *, header_read: bool
) -> DecryptionError | SigningError | None:
    name = src.name
    if isinstance(exc, InvalidTag) and not header_read:
        # Raw AES keys unwrap the data key with AES-GCM: a different key with the same name
        # fails that tag check before the header is accepted.
        return DecryptionError(
            "wrong-key",
            f"{name}: the given key cannot unwrap the data key (another key, or the wrapped "
            "key was altered)",
            hint="pass the key the release was encrypted for",
        )
    if isinstance(exc, InvalidTag):
        return DecryptionError(
            "tampered", f"{name}: authentication failed: the ciphertext was modified or corrupted"
        )
    if isinstance(exc, DecryptKeyError):
        return DecryptionError(
            "wrong-key",
            f"{name}: none of the given keys can decrypt it ({_sdk_message(exc)})",
            hint="pass the key (or KMS key ARN) the release was encrypted for",
        )
    if isinstance(exc, MaxEncryptedDataKeysExceeded | ActionNotAllowedError):
        return DecryptionError("malformed", f"{name}: message refused: {_sdk_message(exc)}")
    if isinstance(exc, SerializationError | AWSEncryptionSDKClientError | struct.error):
        text = _sdk_message(exc)
        lowered = text.lower()
        if "commitment" in lowered or "header auth" in lowered or "tag" in lowered:
            # A flipped header byte fails the commitment or header authentication check.
            return DecryptionError(
                "tampered", f"{name}: header authentication failed: the ciphertext was modified"
            )
        if "unpack" in lowered or "deserializ" in lowered or "footer" in lowered:
            return DecryptionError(
                "malformed", f"{name}: truncated or not an encrypted release object"
            )
        return DecryptionError("malformed", f"{name}: not a valid encrypted release object: {text}")
    if isinstance(exc, botocore.exceptions.BotoCoreError | botocore.exceptions.ClientError):
        return SigningError(f"{name}: AWS KMS call failed: {exc}")
    if isinstance(exc, OSError):
        return SigningError(f"{name}: cannot decrypt: {exc.strerror or exc}")
    return None


def _sdk_message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
