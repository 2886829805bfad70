"""Who signs and who verifies: local keys (cryptography) and AWS KMS asymmetric keys.

A :class:`Signer` signs either a message or a precomputed SHA-256 digest (ECDSA only: it is what
lets a 1 GiB asset be hashed once and signed without a second read). A :class:`Verifier`
answers ``True``/``False`` for a signature and raises only when it cannot decide (KMS
unreachable), so callers fail closed with their own precise message.

Key references (``load_signer`` / ``load_verifier``):

* a path to an encrypted PKCS#8 PEM private key (signer) or a PEM public key (verifier);
* ``awskms://[ENDPOINT]/KEY``, cosign's form, where KEY is a key id, ``alias/NAME`` or a key ARN
  and ENDPOINT an optional ``host:port`` (``awskms:///alias/gate`` uses the default endpoint).
  The KMS key must be ``ECC_NIST_P256`` with ``ECDSA_SHA_256``; messages are sent as digests.

Only this module talks to KMS for signing.

Example::

    signer = load_signer("ci/cosign.key", password=b"...")
    sig = signer.sign(b"hello")
    assert load_verifier("ci/cosign.pub").verify(sig, b"hello")
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils

from signing.errors import KeyLoadError, SigningError
from signing.keys import (
    KeyType,
    PrivateKey,
    PublicKey,
    key_id,
    key_type_of,
    load_private_key,
    load_public_key,
)

__all__ = [
    "KMS_SCHEME",
    "Message",
    "KmsKeyRef",
    "KmsSigner",
    "KmsVerifier",
    "LocalKeySigner",
    "PublicKeyVerifier",
    "Signer",
    "Verifier",
    "load_signer",
    "load_verifier",
    "parse_kms_uri",
]

KMS_SCHEME = "awskms://"

Message = bytes | memoryview
"""What can be signed: bytes, or a view such as a memory-mapped file's."""
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_ECDSA_PREHASHED = ec.ECDSA(utils.Prehashed(hashes.SHA256()))


class Signer(ABC):
    """Signs messages or SHA-256 digests with one key."""

    @property
    @abstractmethod
    def key_id(self) -> str:
        """Hex SHA-256 of the public key's DER SubjectPublicKeyInfo (the bundle hint)."""

    @property
    @abstractmethod
    def key_type(self) -> KeyType:
        """The key's algorithm."""

    @property
    def prehashed(self) -> bool:
        """Whether :meth:`sign_sha256` works (ECDSA yes; pure Ed25519 needs the message)."""
        return self.key_type is KeyType.ECDSA_P256

    @abstractmethod
    def public_key(self) -> PublicKey:
        """The public half, for writing ``.pub`` files and cross-checks."""

    @abstractmethod
    def sign(self, message: Message) -> bytes:
        """Signature over ``message`` (ECDSA: DER over its SHA-256; Ed25519: raw 64 bytes)."""

    @abstractmethod
    def sign_sha256(self, digest: bytes) -> bytes:
        """DER ECDSA signature over a precomputed SHA-256 ``digest``; ECDSA keys only."""


class Verifier(ABC):
    """Checks signatures made by one key; ``False`` means invalid, exceptions mean undecided."""

    @property
    @abstractmethod
    def key_id(self) -> str:
        """Same id as the matching :attr:`Signer.key_id`."""

    @property
    @abstractmethod
    def key_type(self) -> KeyType:
        """The key's algorithm."""

    @abstractmethod
    def verify(self, signature: bytes, message: Message) -> bool:
        """Whether ``signature`` is valid for ``message``."""

    @abstractmethod
    def verify_sha256(self, signature: bytes, digest: bytes) -> bool:
        """Whether an ECDSA ``signature`` is valid for the SHA-256 ``digest`` of a message."""


def _require_ecdsa(key_type: KeyType, what: str) -> None:
    if key_type is not KeyType.ECDSA_P256:
        raise SigningError(
            f"{what} needs an ECDSA key: Ed25519 signs the whole message, not a precomputed digest"
        )


class LocalKeySigner(Signer):
    """A private key held in memory (loaded from an encrypted key file, or made in tests).

    ``path`` is where it was loaded from (for messages); the password is not kept.
    """

    def __init__(self, key: PrivateKey, *, path: Path | None = None) -> None:
        self._key = key
        self._type = key_type_of(key)
        self._id = key_id(key.public_key())
        self.path = path

    def __repr__(self) -> str:
        return f"LocalKeySigner(key_type={self._type.value}, key_id={self._id[:16]}…)"

    @property
    def key_id(self) -> str:
        return self._id

    @property
    def key_type(self) -> KeyType:
        return self._type

    def export_pkcs8_pem(self, password: bytes) -> bytes:
        """The key as a PKCS#8 PEM encrypted with ``password``, for a library that reads keys
        only from files (``model_signing``): the caller writes it somewhere private and
        deletes it."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )

    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def sign(self, message: Message) -> bytes:
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            return self._key.sign(message)
        return self._key.sign(message, _ECDSA_SHA256)

    def sign_sha256(self, digest: bytes) -> bytes:
        _require_ecdsa(self._type, "signing a digest")
        assert isinstance(self._key, ec.EllipticCurvePrivateKey)
        return self._key.sign(digest, _ECDSA_PREHASHED)


class PublicKeyVerifier(Verifier):
    """Verifies with a public key in memory."""

    def __init__(self, key: PublicKey) -> None:
        self._key = key
        self._type = key_type_of(key)
        self._id = key_id(key)

    def __repr__(self) -> str:
        return f"PublicKeyVerifier(key_type={self._type.value}, key_id={self._id[:16]}…)"

    @property
    def key_id(self) -> str:
        return self._id

    @property
    def key_type(self) -> KeyType:
        return self._type

    @property
    def public_key(self) -> PublicKey:
        """The verifying key."""
        return self._key

    def verify(self, signature: bytes, message: Message) -> bool:
        try:
            if isinstance(self._key, ed25519.Ed25519PublicKey):
                self._key.verify(signature, message)
            else:
                self._key.verify(signature, message, _ECDSA_SHA256)
        except InvalidSignature:
            return False
        return True

    def verify_sha256(self, signature: bytes, digest: bytes) -> bool:
        if not isinstance(self._key, ec.EllipticCurvePublicKey):
            return False
        try:
            self._key.verify(signature, digest, _ECDSA_PREHASHED)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class KmsKeyRef:
    """A parsed ``awskms://`` reference."""

    key: str
    endpoint_url: str | None = None

    def __str__(self) -> str:
        host = ""
        if self.endpoint_url:
            host = self.endpoint_url.split("://", 1)[-1]
        return f"{KMS_SCHEME}{host}/{self.key}"


def parse_kms_uri(uri: str) -> KmsKeyRef:
    """Parse cosign's ``awskms://[ENDPOINT]/KEY`` form.

    ``awskms:///alias/gate`` → key ``alias/gate``, default endpoint;
    ``awskms://localhost:4566/alias/gate`` → endpoint ``http://localhost:4566``.
    """
    if not uri.startswith(KMS_SCHEME):
        raise KeyLoadError(f"{uri}: not an {KMS_SCHEME} key reference")
    rest = uri[len(KMS_SCHEME) :]
    host, sep, key = rest.partition("/")
    if not sep or not key:
        raise KeyLoadError(
            f"{uri}: expected {KMS_SCHEME}[ENDPOINT]/KEY (e.g. {KMS_SCHEME}/alias/gate)"
        )
    endpoint = None
    if host:
        # cosign's endpoint is host:port; a loopback endpoint (moto, localstack) speaks http.
        local = host.split(":", 1)[0] in ("localhost", "127.0.0.1", "[::1]")
        endpoint = f"{'http' if local else 'https'}://{host}"
    return KmsKeyRef(key=key, endpoint_url=endpoint)


def _kms_client(ref: KmsKeyRef, endpoint_url: str | None) -> Any:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.client("kms", endpoint_url=endpoint_url or ref.endpoint_url)
    except BotoCoreError as exc:
        raise KeyLoadError(
            f"{ref}: cannot create a KMS client: {exc}",
            hint="set AWS_REGION (or AWS_DEFAULT_REGION) and credentials",
        ) from exc


class _KmsKey:
    """Shared KMS plumbing: fetch and check the public key once."""

    def __init__(self, ref: KmsKeyRef, client: Any) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self.ref = ref
        self.client = client
        try:
            resp = client.get_public_key(KeyId=ref.key)
        except (ClientError, BotoCoreError) as exc:
            raise KeyLoadError(f"{ref}: cannot read the KMS public key: {exc}") from exc
        spec = resp.get("KeySpec") or resp.get("CustomerMasterKeySpec")
        if spec != "ECC_NIST_P256" or "ECDSA_SHA_256" not in resp.get("SigningAlgorithms", []):
            raise KeyLoadError(
                f"{ref}: KMS key spec {spec!r} is not supported: "
                "use an ECC_NIST_P256 SIGN_VERIFY key"
            )
        if resp.get("KeyUsage", "SIGN_VERIFY") != "SIGN_VERIFY":
            raise KeyLoadError(f"{ref}: KMS key usage is {resp.get('KeyUsage')!r}, not SIGN_VERIFY")
        try:
            pub = serialization.load_der_public_key(resp["PublicKey"])
        except (KeyError, ValueError) as exc:
            raise KeyLoadError(f"{ref}: KMS returned an unreadable public key") from exc
        if not isinstance(pub, ec.EllipticCurvePublicKey):
            raise KeyLoadError(f"{ref}: KMS public key is not an EC key")
        self.public_key = pub
        self.key_id = key_id(pub)


class KmsSigner(Signer):
    """Signs through AWS KMS ``Sign`` with ``MessageType=DIGEST``; the key never leaves KMS."""

    def __init__(self, ref: KmsKeyRef, client: Any) -> None:
        self._k = _KmsKey(ref, client)

    def __repr__(self) -> str:
        return f"KmsSigner({self._k.ref})"

    @property
    def key_id(self) -> str:
        return self._k.key_id

    @property
    def key_type(self) -> KeyType:
        return KeyType.ECDSA_P256

    def public_key(self) -> PublicKey:
        return self._k.public_key

    def sign(self, message: Message) -> bytes:
        return self.sign_sha256(hashlib.sha256(message).digest())

    def sign_sha256(self, digest: bytes) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self._k.client.sign(
                KeyId=self._k.ref.key,
                Message=digest,
                MessageType="DIGEST",
                SigningAlgorithm="ECDSA_SHA_256",
            )
        except (ClientError, BotoCoreError) as exc:
            raise SigningError(f"{self._k.ref}: KMS Sign failed: {exc}") from exc
        sig = resp.get("Signature")
        if not isinstance(sig, bytes | bytearray) or not sig:
            raise SigningError(f"{self._k.ref}: KMS Sign returned no signature")
        return bytes(sig)


class KmsVerifier(Verifier):
    """Verifies through AWS KMS ``Verify`` (``MessageType=DIGEST``)."""

    def __init__(self, ref: KmsKeyRef, client: Any) -> None:
        self._k = _KmsKey(ref, client)

    def __repr__(self) -> str:
        return f"KmsVerifier({self._k.ref})"

    @property
    def key_id(self) -> str:
        return self._k.key_id

    @property
    def key_type(self) -> KeyType:
        return KeyType.ECDSA_P256

    def verify(self, signature: bytes, message: Message) -> bool:
        return self.verify_sha256(signature, hashlib.sha256(message).digest())

    def verify_sha256(self, signature: bytes, digest: bytes) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self._k.client.verify(
                KeyId=self._k.ref.key,
                Message=digest,
                MessageType="DIGEST",
                Signature=signature,
                SigningAlgorithm="ECDSA_SHA_256",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "KMSInvalidSignatureException":
                return False
            raise SigningError(f"{self._k.ref}: KMS Verify failed: {exc}") from exc
        except BotoCoreError as exc:
            raise SigningError(f"{self._k.ref}: KMS Verify failed: {exc}") from exc
        # Anything but an explicit True is a failure: fail closed.
        return resp.get("SignatureValid") is True


def load_signer(
    key_ref: str | Path,
    password: bytes | None = None,
    *,
    endpoint_url: str | None = None,
    kms_client: Any = None,
) -> Signer:
    """A :class:`Signer` for a private key file or an ``awskms://`` reference."""
    text = str(key_ref)
    if text.startswith(KMS_SCHEME):
        ref = parse_kms_uri(text)
        return KmsSigner(ref, kms_client or _kms_client(ref, endpoint_url))
    path = Path(text)
    return LocalKeySigner(load_private_key(path, password), path=path)


def load_verifier(
    key_ref: str | Path, *, endpoint_url: str | None = None, kms_client: Any = None
) -> Verifier:
    """A :class:`Verifier` for a PEM public key file or an ``awskms://`` reference."""
    text = str(key_ref)
    if text.startswith(KMS_SCHEME):
        ref = parse_kms_uri(text)
        return KmsVerifier(ref, kms_client or _kms_client(ref, endpoint_url))
    return PublicKeyVerifier(load_public_key(Path(text)))
