"""Checkpoints: signed statements of the log's size and Merkle root (pure).

Within the merge delay after every transaction that appended records
(:mod:`domain.audit.sealing`), the writer signs a :class:`Checkpoint`:
the log's name, size and Merkle root (RFC 6962) at that size, a time and the signing
key's id. The signature covers :func:`checkpoint_message`, the canonical JSON of those
fields.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785

from domain.audit.keys import Signer
from domain.audit.records import (
    HASH_HEX,
    MAX_SAFE_INTEGER,
    AuditFormatError,
    format_time,
    parse_time,
)

_KEY_ID_HEX = re.compile(r"[0-9a-f]{32}")
_SIGNATURE_HEX = re.compile(r"[0-9a-f]{128}")


def checkpoint_message(*, log: str, size: int, root: str, time: datetime, key_id: str) -> bytes:
    """The exact bytes a checkpoint signature covers: canonical JSON of its fields.

    Args:
        log: the log's name.
        size: number of records the root covers.
        root: RFC 6962 Merkle root (hex) of records 1..size.
        time: when it was sealed (aware; written as RFC 3339 UTC with microseconds).
        key_id: :func:`key_id_for` of the signing key.

    Raises:
        AuditFormatError: ``root`` or ``key_id`` is not lowercase hex of the right
            length, or ``size`` is not a non-negative JSON-safe int.
    """
    if not isinstance(root, str) or not HASH_HEX.fullmatch(root):
        raise AuditFormatError("a checkpoint root is 64 lowercase hex digits")
    if not isinstance(key_id, str) or not _KEY_ID_HEX.fullmatch(key_id):
        raise AuditFormatError("a checkpoint key id is 32 lowercase hex digits")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SAFE_INTEGER:
        raise AuditFormatError(f"a checkpoint size is a non-negative int, got {size!r}")
    # Canonical JSON by hand, because the verifier builds one message per checkpoint:
    # RFC 8785 orders the members key_id < log < root < size < time, and once validated
    # every value but the log name is plain ASCII that needs no escaping. A test holds
    # this equal to rfc8785.dumps of the same object.
    return b'{"key_id":"%s","log":%s,"root":"%s","size":%d,"time":"%s"}' % (
        key_id.encode(),
        _canonical_string(log),
        root.encode(),
        size,
        format_time(time).encode(),
    )


@functools.lru_cache(maxsize=16)
def _canonical_string(text: str) -> bytes:
    # A log has one name, so this runs once per verification, not once per checkpoint.
    return rfc8785.dumps(text)


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A signed statement "log ``log`` had ``size`` records with Merkle root ``root``"."""

    log: str
    size: int
    root: str
    time: datetime
    key_id: str
    signature: str
    """Ed25519 signature over :meth:`message`, hex (128 digits)."""

    def message(self) -> bytes:
        """The signed bytes (:func:`checkpoint_message`)."""
        return checkpoint_message(
            log=self.log, size=self.size, root=self.root, time=self.time, key_id=self.key_id
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (anchors file, ``checkpoints.jsonl``)."""
        return {
            "log": self.log,
            "size": self.size,
            "root": self.root,
            "time": format_time(self.time),
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, obj: Any) -> Checkpoint:
        """The checkpoint that :meth:`to_json` described.

        Raises:
            AuditFormatError: a field is missing, of the wrong type or malformed.
        """
        if not isinstance(obj, Mapping):
            raise AuditFormatError("a checkpoint is a JSON object")
        size = obj.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise AuditFormatError(f"checkpoint size must be a non-negative int, got {size!r}")
        log, root, key_id, signature = (obj.get(k) for k in ("log", "root", "key_id", "signature"))
        if not isinstance(log, str):
            raise AuditFormatError("checkpoint log must be a string")
        if not isinstance(root, str) or not HASH_HEX.fullmatch(root):
            raise AuditFormatError("checkpoint root must be 64 lowercase hex digits")
        if not isinstance(key_id, str) or not _KEY_ID_HEX.fullmatch(key_id):
            raise AuditFormatError("checkpoint key_id must be 32 lowercase hex digits")
        if not isinstance(signature, str) or not _SIGNATURE_HEX.fullmatch(signature):
            raise AuditFormatError("checkpoint signature must be 128 lowercase hex digits")
        time = obj.get("time")
        if not isinstance(time, str):
            raise AuditFormatError("checkpoint time must be a string")
        return cls(
            log=log,
            size=size,
            root=root,
            time=parse_time(time),
            key_id=key_id,
            signature=signature,
        )


def sign_checkpoint(
    signer: Signer, *, log: str, size: int, root: str, time: datetime
) -> Checkpoint:
    """Signs "``log`` has ``size`` records with Merkle root ``root``" at ``time``."""
    message = checkpoint_message(log=log, size=size, root=root, time=time, key_id=signer.key_id)
    return Checkpoint(
        log=log,
        size=size,
        root=root,
        time=time,
        key_id=signer.key_id,
        signature=signer.sign(message).hex(),
    )
