"""The checkpoint signing key: an Ed25519 key held in memory, loaded from a PEM file."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.audit.keys import key_id_for
from store.audit.durable import fsync_directory
from store.errors import StoreError


class SigningKeyError(StoreError):
    """The signing key file is unsafe or unreadable; the message never holds key bytes."""


class Ed25519Signer:
    """Signs checkpoints with an Ed25519 private key held in memory only.

    Implements :class:`domain.audit.keys.Signer`. ``repr`` shows the key id, never the key.
    """

    __slots__ = ("_key_id", "_private", "_public_raw")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self._public_raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._key_id = key_id_for(self._public_raw)

    @classmethod
    def generate(cls) -> Ed25519Signer:
        """A signer with a fresh random key (tests, or before writing a key file)."""
        return cls(Ed25519PrivateKey.generate())

    @property
    def key_id(self) -> str:
        """First 16 bytes of SHA-256 of the raw public key, hex."""
        return self._key_id

    @property
    def public_key_hex(self) -> str:
        """The raw 32-byte public key, hex."""
        return self._public_raw.hex()

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"Ed25519Signer(key_id={self._key_id!r})"


def load_or_create_signing_key(path: str | os.PathLike[str]) -> Ed25519Signer:
    """Loads the PEM Ed25519 key at ``path``, creating it (mode 0600) if absent.

    A new key file means a new key id: checkpoints signed with older keys still verify,
    because their public keys stay in ``audit_keys``.

    Raises:
        SigningKeyError: the file is accessible by group or others, is not a regular
            file, or is not an unencrypted PEM Ed25519 private key.
    """
    key_path = Path(path)
    if not key_path.exists():
        _create_key_file(key_path)
    info = key_path.stat()
    if not key_path.is_file():
        raise SigningKeyError(f"signing key {key_path} is not a regular file")
    if info.st_mode & 0o077:
        raise SigningKeyError(
            f"signing key {key_path} is accessible by group or others "
            f"(mode {info.st_mode & 0o777:04o}); run: chmod 600 {key_path}"
        )
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError):
        # The parser's message could quote file content; keep it out of ours.
        raise SigningKeyError(
            f"signing key {key_path} is not an unencrypted PEM private key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"signing key {key_path} is not an Ed25519 key")
    return Ed25519Signer(key)


def _create_key_file(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a private temporary file, then hard-link it into place: the key appears whole
    # or not at all, and if another process created one meanwhile, its key wins.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    fsync_directory(path.parent)
