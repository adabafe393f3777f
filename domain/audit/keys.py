"""Checkpoint signing keys: their ids, their public records and the Signer port (pure).

A key id is the first 16 bytes of SHA-256 of the raw Ed25519 public key, so an auditor
can check that a public key is the one a checkpoint names. Public keys are never
deleted once used: checkpoints signed by a rotated key still verify.

:class:`Signer` is the port the log writer signs with; it lives here, beside the keys it
describes, so the audit package needs nothing from :mod:`domain.ports` (which re-exports
it with the other ports) and no import cycle runs through the domain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from domain.audit.records import AuditFormatError, format_time, parse_time

SIGNATURE_ALGORITHM: Final = "ed25519"
"""The only checkpoint signature algorithm; stored in ``audit_keys.algorithm``."""


class Signer(Protocol):
    """Signs audit checkpoints (Ed25519)."""

    @property
    def key_id(self) -> str:
        """Stable id of the public key."""
        ...

    @property
    def public_key_hex(self) -> str:
        """Raw public key, hex."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Signature over ``message``."""
        ...


def key_id_for(public_key_raw: bytes) -> str:
    """Key id: the first 16 bytes of SHA-256 of the raw 32-byte public key, hex.

    Raises:
        AuditFormatError: not a raw Ed25519 public key (32 bytes).
    """
    if len(public_key_raw) != 32:
        raise AuditFormatError("an Ed25519 public key is 32 raw bytes")
    return hashlib.sha256(public_key_raw).digest()[:16].hex()


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditKey:
    """A public key that signed (or may sign) checkpoints; never deleted once used."""

    key_id: str
    public_key: str
    algorithm: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (for ``keys.json`` in a bundle)."""
        return {
            "key_id": self.key_id,
            "public_key": self.public_key,
            "algorithm": self.algorithm,
            "created_at": format_time(self.created_at),
        }

    @classmethod
    def from_json(cls, obj: Any) -> AuditKey:
        """The key that :meth:`to_json` described.

        Raises:
            AuditFormatError: a field is missing or of the wrong type.
        """
        if not isinstance(obj, Mapping):
            raise AuditFormatError("a key is a JSON object")
        fields = ("key_id", "public_key", "algorithm", "created_at")
        if not all(isinstance(obj.get(name), str) for name in fields):
            raise AuditFormatError("a key needs string key_id, public_key, algorithm, created_at")
        return cls(
            key_id=obj["key_id"],
            public_key=obj["public_key"],
            algorithm=obj["algorithm"],
            created_at=parse_time(obj["created_at"]),
        )
