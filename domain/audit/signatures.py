"""Checking checkpoint signatures against the log's public keys (pure, no I/O).

Kept apart from the verifier's record stream because signature checks run on other
threads (cryptography releases the GIL while verifying): everything here is read-only
once built, and :func:`check_signatures` is picklable for a process pool.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Executor, Future

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domain.audit.checkpoints import Checkpoint
from domain.audit.keys import SIGNATURE_ALGORITHM, AuditKey, key_id_for

SignatureStatus = tuple[str, str] | None
"""Status of one checkpoint signature: None when valid, else ``(reason, clause)``."""


class KeyRing:
    """Public keys by id, each checked against its id once."""

    def __init__(self, keys: Iterable[AuditKey], trusted: Collection[str] | None = None) -> None:
        self.good: dict[str, Ed25519PublicKey] = {}
        self.bad: dict[str, str] = {}
        for key in keys:
            self._add(key, trusted)

    def _add(self, key: AuditKey, trusted: Collection[str] | None) -> None:
        if trusted is not None and key.key_id not in trusted:
            # Whoever can write the keys table can add a key and re-sign everything;
            # an auditor who pinned the key ids out of band is not fooled by that.
            self.bad[key.key_id] = "is not one of the trusted keys"
            return
        if key.algorithm != SIGNATURE_ALGORITHM:
            self.bad[key.key_id] = f"uses algorithm {key.algorithm!r}, not {SIGNATURE_ALGORITHM}"
            return
        try:
            raw = bytes.fromhex(key.public_key)
            if key_id_for(raw) != key.key_id:
                self.bad[key.key_id] = "has a public key that does not hash to its id"
                return
            self.good[key.key_id] = Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            self.bad[key.key_id] = "has a malformed public key"

    def check(self, checkpoint: Checkpoint) -> SignatureStatus:
        """Verifies one checkpoint's signature; thread-safe (read-only state)."""
        public_key = self.good.get(checkpoint.key_id)
        if public_key is None:
            why = self.bad.get(checkpoint.key_id)
            if why is None:
                return (
                    "unknown_key",
                    f"is signed by key {checkpoint.key_id}, which is not in the keys table",
                )
            return ("unknown_key", f"is signed by key {checkpoint.key_id}, which {why}")
        try:
            public_key.verify(bytes.fromhex(checkpoint.signature), checkpoint.message())
        except (InvalidSignature, ValueError):
            return ("signature", f"has an invalid signature for key {checkpoint.key_id}")
        return None

    def check_batch(self, checkpoints: Sequence[Checkpoint]) -> list[SignatureStatus]:
        """:meth:`check` for each checkpoint, in order."""
        return [self.check(checkpoint) for checkpoint in checkpoints]


def check_signatures(
    keys: Sequence[AuditKey],
    checkpoints: Sequence[Checkpoint],
    trusted: Collection[str] | None = None,
) -> list[tuple[str, str] | None]:
    """Checks each checkpoint's signature against ``keys``; picklable for process pools.

    ``trusted`` restricts the keys to those ids (None: every key given).

    Returns:
        Per checkpoint, None when valid, else ``(reason, clause)`` with reason
        ``unknown_key`` or ``signature`` and a clause to follow "the checkpoint ...".
    """
    return KeyRing(keys, trusted).check_batch(checkpoints)


# Signature checks run in batches so an executor's per-task overhead stays small next to
# Ed25519's 60-80 us per verification; cryptography releases the GIL while verifying, so
# a thread pool checks signatures on other cores while this thread hashes records.
# (A process pool was measured too: no faster on two cores, and slow to start.)
_SIGNATURE_BATCH = 64


def schedule_signature_checks(
    checkpoints: Sequence[Checkpoint],
    *,
    ring: KeyRing,
    keys: Sequence[AuditKey],
    trusted: Collection[str] | None,
    executor: Executor | None,
) -> list[Callable[[], SignatureStatus]]:
    """One status thunk per checkpoint, in order: checked inline when called, or in
    batches on ``executor`` (then calling a thunk waits for its batch)."""
    if executor is None:
        return [_deferred(ring.check, checkpoint) for checkpoint in checkpoints]
    pending: list[Callable[[], SignatureStatus]] = []
    for start in range(0, len(checkpoints), _SIGNATURE_BATCH):
        part = list(checkpoints[start : start + _SIGNATURE_BATCH])
        future = executor.submit(check_signatures, keys, part, trusted)
        pending.extend(_batch_result(future, index) for index in range(len(part)))
    return pending


def _deferred(
    check: Callable[[Checkpoint], SignatureStatus], checkpoint: Checkpoint
) -> Callable[[], SignatureStatus]:
    return lambda: check(checkpoint)


def _batch_result(
    future: Future[list[SignatureStatus]], index: int
) -> Callable[[], SignatureStatus]:
    return lambda: future.result()[index]
