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

Keyrings (the SDK calls them master key providers): :class:`KmsKeyring` (one or more AWS KMS
keys, multi-region keys allowed), :class:`RawRsaKeyring` (encrypt to an RSA public key, decrypt
with the private key) and :class:`RawAesKeyring` (for tests).

Example::

    from signing.encrypt import RawRsaKeyring, encrypt_file, decrypt_file, encryption_context
    ring = RawRsaKeyring.from_public_pem(Path("release.pub.pem").read_bytes())
    ctx = encryption_context(sha256_hex, application="shelf-monitor", version="1.2.0")
    result = encrypt_file(Path("assets/abc.tar.gz"), Path("abc.tar.gz.enc"), ring, ctx)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import struct
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_encryption_sdk
import boto3
import botocore.config
import botocore.exceptions
import botocore.session
from aws_encryption_sdk.exceptions import (
    ActionNotAllowedError,
    AWSEncryptionSDKClientError,
    DecryptKeyError,
    MaxEncryptedDataKeysExceeded,
    SerializationError,
)
from aws_encryption_sdk.identifiers import (
    Algorithm,
    CommitmentPolicy,
    ContentAADString,
    ContentType,
    EncryptionKeyType,
    SequenceIdentifier,
    WrappingAlgorithm,
)
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.internal.defaults import MAX_FRAME_COUNT
from aws_encryption_sdk.key_providers.base import MasterKeyProvider
from aws_encryption_sdk.key_providers.kms import MRKAwareStrictAwsKmsMasterKeyProvider
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from scanner.fsutil import read_full
from signing._writeback import Writeback
from signing.digest import BackgroundHasher
from signing.errors import KeyLoadError, SigningError

__all__ = [
    "ALGORITHM",
    "CONTEXT_APPLICATION",
    "CONTEXT_SHA256",
    "CONTEXT_VERSION",
    "FRAME_LENGTH",
    "READ_SIZE",
    "DecryptResult",
    "DecryptionError",
    "EncryptResult",
    "EncryptionError",
    "KmsKeyring",
    "Keyring",
    "RawAesKeyring",
    "RawRsaKeyring",
    "cli_raw_aes_provider",
    "cli_raw_rsa_provider",
    "decrypt_file",
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

RSA_PROVIDER_ID = "panorama-gate-rsa"
AES_PROVIDER_ID = "panorama-gate-aes"

_CLIENT = aws_encryption_sdk.EncryptionSDKClient(
    commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
    max_encrypted_data_keys=MAX_ENCRYPTED_DATA_KEYS,
)

ProgressCallback = Callable[[int], object]


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


# --------------------------------------------------------------------------- keyrings


class Keyring(ABC):
    """A set of wrapping keys; wraps the SDK master key provider that does the work."""

    kind: str = ""

    @abstractmethod
    def provider(self) -> MasterKeyProvider:
        """The SDK master key provider for these wrapping keys."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What the release index records about the keys: identifiers only, never material."""

    def fingerprint(self) -> str:
        """A short stable identifier of the wrapping keys (used to decide if a rerun may reuse
        an uploaded object: a ciphertext made for other keys must be re-encrypted)."""
        canonical = repr(sorted(self.describe().items())).encode()
        return hashlib.sha256(canonical).hexdigest()[:32]


def _kms_provider_class(
    endpoint_url: str | None, fips: bool
) -> type[MRKAwareStrictAwsKmsMasterKeyProvider]:
    # The SDK builds its regional KMS clients itself and has no endpoint option; a subclass
    # created per configuration carries the endpoint (S3-compatible test servers, VPC
    # endpoints) and FIPS choice into every regional client.
    config = botocore.config.Config(
        user_agent_extra="panorama-gate",
        use_fips_endpoint=fips,
        retries={"mode": "standard", "max_attempts": 5},
    )

    class _Provider(MRKAwareStrictAwsKmsMasterKeyProvider):  # type: ignore[misc]
        def add_regional_client(self, region_name: str) -> None:
            if region_name not in self._regional_clients:
                session = boto3.session.Session(botocore_session=self.config.botocore_session)
                client = session.client(
                    "kms", region_name=region_name, endpoint_url=endpoint_url, config=config
                )
                self._register_client(client, region_name)
                self._regional_clients[region_name] = client

    return _Provider


class KmsKeyring(Keyring):
    """AWS KMS keys (ARNs, several allowed, multi-region ``mrk-`` keys included).

    Encryption wraps the data key under every key, so any one of them can decrypt (for example
    one key per Region the devices run in). Decryption is strict: only the listed keys are
    tried, never a key named by the message itself.
    """

    kind = "aws-kms"

    def __init__(
        self,
        key_ids: Sequence[str],
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        fips: bool = False,
        botocore_session: botocore.session.Session | None = None,
    ) -> None:
        if not key_ids:
            raise KeyLoadError("--kms-key: at least one AWS KMS key ARN is needed")
        for key_id in key_ids:
            if not key_id.startswith("arn:"):
                # Strict providers need full ARNs so that the Region (and partition) are known;
                # aliases and bare key ids are ambiguous across Regions.
                raise KeyLoadError(
                    f"--kms-key {key_id!r}: use the key's full ARN",
                    hint="arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (or .../key/mrk-...)",
                )
        self.key_ids = tuple(key_ids)
        self.region = region
        self.endpoint_url = endpoint_url
        self.fips = fips
        self._session = botocore_session
        self._provider: MasterKeyProvider | None = None

    def provider(self) -> MasterKeyProvider:
        """A strict, multi-region-aware KMS master key provider (created once)."""
        if self._provider is None:
            session = self._session or botocore.session.Session()
            cls = _kms_provider_class(self.endpoint_url, self.fips)
            kwargs: dict[str, Any] = {"key_ids": list(self.key_ids), "botocore_session": session}
            if self.region:
                kwargs["region_names"] = [self.region]
            try:
                self._provider = cls(**kwargs)
            except (AWSEncryptionSDKClientError, botocore.exceptions.BotoCoreError) as exc:
                raise KeyLoadError(f"--kms-key: cannot use the AWS KMS keys: {exc}") from exc
        return self._provider

    def describe(self) -> dict[str, Any]:
        """Key ARNs (identifiers, not secrets)."""
        return {"kind": self.kind, "key_ids": list(self.key_ids)}


class _RawProvider(RawMasterKeyProvider):  # type: ignore[misc]
    """A raw master key provider holding its wrapping keys by key name."""

    provider_id = ""

    def __init__(self, **kwargs: Any) -> None:
        self._keys: dict[bytes, WrappingKey] = {}

    def put(self, key_name: str, key: WrappingKey) -> None:
        """Register a wrapping key under ``key_name`` and make it a master key."""
        self._keys[key_name.encode()] = key
        self.add_master_key(key_name)

    def _get_raw_key(self, key_id: bytes | str) -> WrappingKey:
        try:
            return self._keys[key_id if isinstance(key_id, bytes) else key_id.encode()]
        except KeyError:
            raise DecryptKeyError(f"no raw key named {key_id!r}") from None


def _rsa_provider_class() -> type[_RawProvider]:
    class _RsaProvider(_RawProvider):
        provider_id = RSA_PROVIDER_ID

    return _RsaProvider


def _aes_provider_class() -> type[_RawProvider]:
    class _AesProvider(_RawProvider):
        provider_id = AES_PROVIDER_ID

    return _AesProvider


_RsaProvider = _rsa_provider_class()
_AesProvider = _aes_provider_class()


def _public_key_name(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


class RawRsaKeyring(Keyring):
    """Encrypt to RSA public keys (RSA-OAEP-SHA256 wrapping); decrypt with a private key.

    For teams without KMS: CI holds only public keys, devices hold the private key. The key
    name written into each message is the SHA-256 of the public key (``sha256:<hex>``), so a
    decrypting party finds its key without trying all of them.
    """

    kind = "raw-rsa"

    def __init__(
        self,
        public_keys: Sequence[rsa.RSAPublicKey],
        private_pem: bytes | None = None,
        password: bytes | None = None,
    ) -> None:
        if not public_keys:
            raise KeyLoadError("raw RSA keyring: no public key given")
        for key in public_keys:
            if key.key_size < 3072:
                raise KeyLoadError(
                    f"RSA key {_public_key_name(key)} has {key.key_size} bits; at least 3072 needed"
                )
        self.public_keys = tuple(public_keys)
        self._private_pem = private_pem
        self._password = password
        self._provider: MasterKeyProvider | None = None

    @classmethod
    def from_public_pem(cls, *pems: bytes) -> RawRsaKeyring:
        """A keyring that can only encrypt, to each PEM public key."""
        keys: list[rsa.RSAPublicKey] = []
        for pem in pems:
            try:
                key = serialization.load_pem_public_key(pem)
            except ValueError as exc:
                raise KeyLoadError("raw RSA keyring: not a PEM public key") from exc
            if not isinstance(key, rsa.RSAPublicKey):
                raise KeyLoadError("raw RSA keyring: the public key is not an RSA key")
            keys.append(key)
        return cls(keys)

    @classmethod
    def from_private_pem(cls, pem: bytes, password: bytes | None = None) -> RawRsaKeyring:
        """A keyring that can decrypt (and encrypt) with one PEM private key."""
        try:
            key = serialization.load_pem_private_key(pem, password=password)
        except (ValueError, TypeError) as exc:
            # The message never includes the key or password: only that loading failed.
            raise KeyLoadError(
                "raw RSA keyring: cannot load the private key (wrong password or not PEM)"
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyLoadError("raw RSA keyring: the private key is not an RSA key")
        return cls([key.public_key()], private_pem=pem, password=password)

    @property
    def key_names(self) -> tuple[str, ...]:
        """The names written into messages: ``sha256:<hex of the public key>``."""
        return tuple(_public_key_name(k) for k in self.public_keys)

    def provider(self) -> MasterKeyProvider:
        """Raw RSA master keys; private when a private key was loaded, else public only."""
        if self._provider is None:
            prov = _RsaProvider()
            if self._private_pem is not None:
                prov.put(
                    self.key_names[0],
                    WrappingKey(
                        wrapping_algorithm=WrappingAlgorithm.RSA_OAEP_SHA256_MGF1,
                        wrapping_key=self._private_pem,
                        wrapping_key_type=EncryptionKeyType.PRIVATE,
                        password=self._password,
                    ),
                )
            else:
                for name, key in zip(self.key_names, self.public_keys, strict=True):
                    pem = key.public_bytes(
                        serialization.Encoding.PEM,
                        serialization.PublicFormat.SubjectPublicKeyInfo,
                    )
                    prov.put(
                        name,
                        WrappingKey(
                            wrapping_algorithm=WrappingAlgorithm.RSA_OAEP_SHA256_MGF1,
                            wrapping_key=pem,
                            wrapping_key_type=EncryptionKeyType.PUBLIC,
                        ),
                    )
            self._provider = prov
        return self._provider

    def describe(self) -> dict[str, Any]:
        """Provider id and key names (public-key fingerprints)."""
        return {
            "kind": self.kind,
            "provider_id": RSA_PROVIDER_ID,
            "key_names": list(self.key_names),
        }


class RawAesKeyring(Keyring):
    """A raw AES-256-GCM wrapping key; meant for tests and local trials."""

    kind = "raw-aes"

    def __init__(self, key: bytes, key_name: str = "test") -> None:
        if len(key) != 32:
            raise KeyLoadError(f"raw AES keyring: key must be 32 bytes, not {len(key)}")
        self._key = key
        self.key_name = key_name
        self._provider: MasterKeyProvider | None = None

    def provider(self) -> MasterKeyProvider:
        """One raw AES master key."""
        if self._provider is None:
            prov = _AesProvider()
            prov.put(
                self.key_name,
                WrappingKey(
                    wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                    wrapping_key=self._key,
                    wrapping_key_type=EncryptionKeyType.SYMMETRIC,
                ),
            )
            self._provider = prov
        return self._provider

    def describe(self) -> dict[str, Any]:
        """Provider id, key name and a keyed check value (never the key)."""
        check = hashlib.sha256(b"panorama-gate raw-aes check\x00" + self._key).hexdigest()[:16]
        return {
            "kind": self.kind,
            "provider_id": AES_PROVIDER_ID,
            "key_name": self.key_name,
            "check": check,
        }

    def __repr__(self) -> str:
        return f"RawAesKeyring(key_name={self.key_name!r})"


# ------------------------------------------------------------- AWS Encryption CLI plugins


def cli_raw_rsa_provider(key_ids: Sequence[str] = (), **kwargs: Sequence[str]) -> MasterKeyProvider:
    """AWS Encryption CLI plugin: ``--wrapping-keys provider=panorama-gate-rsa
    key=sha256:<hex> private-key=FILE`` (or ``public-key=FILE`` to encrypt).

    Registered under the ``aws_encryption_sdk_cli.master_key_providers`` entry-point group so
    that the AWS Encryption CLI decrypts releases without panorama-gate's own code paths. The
    CLI calls ``add_master_key`` for each ``key=`` value; names must match the loaded key.
    """
    private = kwargs.get("private-key") or kwargs.get("private_key")
    public = kwargs.get("public-key") or kwargs.get("public_key")
    if private:
        ring = RawRsaKeyring.from_private_pem(Path(private[0]).read_bytes())
    elif public:
        ring = RawRsaKeyring.from_public_pem(*(Path(p).read_bytes() for p in public))
    else:
        raise KeyLoadError("panorama-gate-rsa: give private-key=FILE or public-key=FILE")
    names = set(ring.key_names)
    for key_id in key_ids:
        if key_id not in names:
            raise KeyLoadError(f"panorama-gate-rsa: key={key_id} is not the loaded key")
    # add_master_key is idempotent, so the CLI's own calls for the same names are harmless.
    return ring.provider()


def cli_raw_aes_provider(key_ids: Sequence[str] = (), **kwargs: Sequence[str]) -> MasterKeyProvider:
    """AWS Encryption CLI plugin for the test AES keyring: ``key=NAME key-file=FILE``
    (32 raw bytes)."""
    files = kwargs.get("key-file") or kwargs.get("key_file")
    if not files or not key_ids:
        raise KeyLoadError("panorama-gate-aes: give key=NAME and key-file=FILE")
    return RawAesKeyring(Path(files[0]).read_bytes(), key_name=key_ids[0]).provider()


# ----------------------------------------------------------------------- streaming


class _HashingReader(io.RawIOBase):
    """A read-only stream that hashes and counts what passes through it."""

    def __init__(
        self,
        raw: io.RawIOBase | io.BufferedIOBase,
        hasher: BackgroundHasher,
        progress: ProgressCallback | None,
    ):
        super().__init__()
        self._raw = raw
        self.hash = hasher
        self._progress = progress

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        # The SDK calls read(); returning the bytes object lets the hasher keep a reference
        # instead of copying the chunk.
        data = self._raw.read(size)
        if data:
            self.hash.update(data)
            if self._progress is not None:
                self._progress(len(data))
        return data or b""

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def fill(self, buffer: bytearray) -> memoryview:
        """Read into ``buffer`` until it is full or the source ends; hash and count that.

        A short read is not the end of the file (only an empty read is), so a frame is only
        short at the very end. The buffer must stay untouched until the hasher has read it.
        """
        view = memoryview(buffer)
        got = read_full(self._raw, view)
        chunk = view[:got]
        if got:
            self.hash.update(chunk)
            if self._progress is not None:
                self._progress(got)
        return chunk


class _CountingWriter:
    """Writes everything to an unbuffered file, counts the bytes, and starts their writeback
    to disk as it goes (so the final ``fsync`` has little left to do)."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.size = 0
        try:
            self._writeback: Writeback | None = Writeback(sink.fileno())
        except (AttributeError, OSError, ValueError):  # not a real file (tests: BytesIO)
            self._writeback = None

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:  # a raw file may write less than asked
            n = self.sink.write(view)
            view = view[n:]
            self.size += n
        if self._writeback is not None:
            self._writeback.advance(len(data))


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
            out = _CountingWriter(sink)
            reader = _HashingReader(raw, plain_hash, progress)
            with _CLIENT.stream(
                mode="encrypt",
                source=reader,
                key_provider=keyring.provider(),
                encryption_context=dict(context),
                algorithm=ALGORITHM,
                frame_length=FRAME_LENGTH,
                source_length=os.fstat(raw.fileno()).st_size,
            ) as encryptor:
                if not _write_frames(encryptor, reader, out):
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


_FRAME_AAD = ContentAADString.FRAME_STRING_ID.value
_FINAL_FRAME_AAD = ContentAADString.FINAL_FRAME_STRING_ID.value
_FINAL_FRAME_MARKER = struct.pack(">I", SequenceIdentifier.SEQUENCE_NUMBER_END.value)


def _write_frames(encryptor: Any, reader: _HashingReader, out: _CountingWriter) -> bool:
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
        or algorithm is not ALGORITHM
        or header.frame_length != FRAME_LENGTH
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
    ring = [bytearray(FRAME_LENGTH) for _ in range(reader.hash.depth + 2)]
    sealed_buf = memoryview(bytearray(FRAME_LENGTH + algorithm.auth_len))
    into = hasattr(aead, "encrypt_into")
    sequence = 1
    while True:
        plaintext = reader.fill(ring[sequence % len(ring)])
        final = len(plaintext) < FRAME_LENGTH
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
            raise EncryptionError("plaintext too large for one message (frame count)")


def decrypt_file(
    src: Path,
    dst_dir: Path,
    keyring: Keyring,
    expected_context: Mapping[str, str],
    *,
    progress: ProgressCallback | None = None,
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
            out = _CountingWriter(sink)
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
            if not _read_frames(decryptor, header, source, out, digest, progress):
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


MAX_FRAME_LENGTH = 64 * 1024 * 1024
"""Frames larger than this are left to the SDK's own loop (a bound on what is held at once)."""


def _read_frames(
    decryptor: Any,
    header: Any,
    raw: Any,
    out: _CountingWriter,
    digest: BackgroundHasher,
    progress: ProgressCallback | None,
) -> bool:
    """Decrypt the framed body after the SDK has parsed and authenticated the header.

    The mirror of :func:`_write_frames`, with the checks of the SDK's ``deserialize_frame``
    and body loop (frames in order, final frame shorter than a frame) plus two stricter ones:
    each IV must be the one the format prescribes for its frame, and nothing may follow the
    final frame. Every frame's tag is checked before its plaintext is written. Returns False,
    having read nothing, when the message or the SDK is not what this loop handles.
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
        or header.algorithm is not ALGORITHM
        or header.content_type is not ContentType.FRAMED_DATA
        or not 0 < frame_length <= MAX_FRAME_LENGTH
    ):
        return False
    aead = AESGCM(key)
    message_id = header.message_id
    into = hasattr(aead, "decrypt_into") and hasattr(source, "readinto")
    # Reused buffers, as in _write_frames: no fresh 1 MiB objects (and page faults) per frame.
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
        if final and length >= frame_length:
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
