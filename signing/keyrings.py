"""Keyrings for envelope encryption: the wrapping keys a release's data keys are sealed under.

The AWS Encryption SDK calls them master key providers; each keyring here wraps one:

* :class:`KmsKeyring`: one or more AWS KMS keys (multi-region keys allowed), strict on decrypt;
* :class:`RawRsaKeyring`: encrypt to RSA public keys (RSA-OAEP-SHA256), decrypt with the
  private key, for teams without KMS;
* :class:`RawAesKeyring`: a raw AES-256 key, for tests and local trials.

:func:`cli_raw_rsa_provider` and :func:`cli_raw_aes_provider` are AWS Encryption CLI plugins
(entry points in ``pyproject.toml``), so the CLI decrypts releases without our code paths.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.session
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError, DecryptKeyError
from aws_encryption_sdk.identifiers import EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.base import MasterKeyProvider
from aws_encryption_sdk.key_providers.kms import MRKAwareStrictAwsKmsMasterKeyProvider
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from signing.errors import KeyLoadError

__all__ = [
    "AES_PROVIDER_ID",
    "RSA_PROVIDER_ID",
    "Keyring",
    "KmsKeyring",
    "RawAesKeyring",
    "RawRsaKeyring",
    "cli_raw_aes_provider",
    "cli_raw_rsa_provider",
]

RSA_PROVIDER_ID = "panorama-gate-rsa"
AES_PROVIDER_ID = "panorama-gate-aes"


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
