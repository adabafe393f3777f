"""The RFC 6962 Merkle tree over the log's records (pure).

A record's hash is ``SHA-256(0x00 || body)``, which is also its RFC 6962 Merkle leaf
hash, so one hash serves both the chain and the tree. The root is kept incrementally by
a :class:`MerkleFrontier` (the roots of the O(log n) perfect subtrees), so sealing a
checkpoint never re-reads the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from domain.audit.records import HASH_HEX, AuditFormatError

EMPTY_ROOT: Final = hashlib.sha256(b"").hexdigest()
"""Merkle root of the empty log (RFC 6962: the hash of the empty string)."""

LEAF_PREFIX: Final = b"\x00"
"""RFC 6962's prefix of a leaf's hash input; the verifier hashes records inline with it."""

_NODE_PREFIX: Final = b"\x01"


def leaf_hash(body: bytes) -> str:
    """The record hash: SHA-256(0x00 || body), hex; equal to its RFC 6962 leaf hash."""
    return hashlib.sha256(LEAF_PREFIX + body).hexdigest()


def leaf_digest(body: bytes) -> bytes:
    """:func:`leaf_hash` as raw bytes, for :meth:`MerkleFrontier.append_digest`."""
    return hashlib.sha256(LEAF_PREFIX + body).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


class MerkleFrontier:
    """The RFC 6962 Merkle root of a growing log, kept in O(log n) space and time.

    The frontier holds the roots of the perfect subtrees that make up the tree, one per
    set bit of ``size``, largest (leftmost) first: appending a leaf works like adding one
    to a binary counter, merging equal-height subtrees as the carry ripples. The root
    folds them right to left, which is exactly RFC 6962's "split at the largest power of
    two smaller than n".
    """

    __slots__ = ("_roots", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._roots: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves appended."""
        return self._size

    def append(self, leaf_hex: str) -> None:
        """Appends one leaf given as its hash in hex (a record's ``hash``).

        Raises:
            AuditFormatError: ``leaf_hex`` is not 64 lowercase hex digits.
        """
        if not isinstance(leaf_hex, str) or not HASH_HEX.fullmatch(leaf_hex):
            raise AuditFormatError(f"a leaf hash is 64 lowercase hex digits, got {leaf_hex!r}")
        self.append_digest(bytes.fromhex(leaf_hex))

    def append_digest(self, leaf: bytes) -> None:
        """Appends one leaf given as its raw 32-byte hash (hashed once by the caller)."""
        self.extend_digests((leaf,))

    def extend_digests(self, leaves: Iterable[bytes]) -> None:
        """Appends leaves given as raw 32-byte hashes, in order (the verifier's fast path).

        One call per run of records, not per record: the verifier checks a chunk,
        then hands its leaves over here at each checkpoint and at the chunk's end.
        """
        roots = self._roots
        size = self._size
        sha256, node = hashlib.sha256, _NODE_PREFIX  # _node inlined: one call less per leaf
        for leaf in leaves:
            if size & 1:
                right = leaf
                carry = size
                while carry & 1:
                    right = sha256(node + roots.pop() + right).digest()
                    carry >>= 1
                roots.append(right)
            else:
                roots.append(leaf)
            size += 1
        self._size = size

    def copy(self) -> MerkleFrontier:
        """An independent frontier of the same leaves (appending to it leaves this one)."""
        frontier = MerkleFrontier()
        frontier._size = self._size
        frontier._roots = list(self._roots)
        return frontier

    def root_digest(self) -> bytes:
        """The Merkle root as raw bytes (SHA-256 of nothing for the empty tree)."""
        roots = self._roots
        if not roots:
            return bytes.fromhex(EMPTY_ROOT)
        acc = roots[-1]
        for left in reversed(roots[:-1]):
            acc = _node(left, acc)
        return acc

    def root(self) -> str:
        """The Merkle root, hex."""
        return self.root_digest().hex()

    def to_json(self) -> dict[str, Any]:
        """``{"size": n, "roots": [hex, ...]}``, largest subtree first."""
        return {"size": self._size, "roots": [root.hex() for root in self._roots]}

    @classmethod
    def from_json(cls, obj: Any) -> MerkleFrontier:
        """The frontier that :meth:`to_json` described.

        Raises:
            AuditFormatError: not a frontier, or the number of roots does not match the
                set bits of the size.
        """
        if not isinstance(obj, Mapping):
            raise AuditFormatError("a Merkle frontier is an object with size and roots")
        size, roots = _checked_size(obj.get("size")), obj.get("roots")
        if not isinstance(roots, list) or not all(
            isinstance(root, str) and HASH_HEX.fullmatch(root) for root in roots
        ):
            raise AuditFormatError("frontier roots must be a list of 64-digit hex hashes")
        return cls.restore(size=size, roots=[bytes.fromhex(root) for root in roots])

    @classmethod
    def restore(cls, *, size: int, roots: Sequence[bytes]) -> MerkleFrontier:
        """The frontier of a log of ``size`` leaves, from its subtree roots.

        Args:
            size: the number of leaves.
            roots: raw 32-byte roots of the perfect subtrees, largest first (one per
                set bit of ``size``), as :meth:`to_json` lists them in hex.

        Raises:
            AuditFormatError: ``size`` is not a non-negative int, or the number of roots
                does not match its set bits, or a root is not 32 bytes.
        """
        _checked_size(size)
        if len(roots) != size.bit_count():
            raise AuditFormatError(
                f"a frontier of size {size} has {size.bit_count()} roots, not {len(roots)}"
            )
        if not all(isinstance(root, bytes) and len(root) == 32 for root in roots):
            raise AuditFormatError("frontier roots must be 32-byte SHA-256 digests")
        frontier = cls()
        frontier._size = size
        frontier._roots = list(roots)
        return frontier


def _checked_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise AuditFormatError(f"frontier size must be a non-negative int, got {size!r}")
    return size


def merkle_root(leaves: Iterable[str]) -> str:
    """RFC 6962 root of the given leaf hashes (hex), for tests and small tools."""
    frontier = MerkleFrontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()
