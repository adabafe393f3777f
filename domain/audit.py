"""Audit records: canonical form, hash chain, Merkle tree and checkpoints (pure).

The audit log is a sequence of records. Each record's *body* is the RFC 8785 canonical
JSON of one :class:`AuditEntry` plus its sequence number ``seq`` (1-based, gapless) and
``prev``, the hash of the record before it (:data:`GENESIS` for the first). A record's
hash is ``SHA-256(0x00 || body)``, which is also its RFC 6962 Merkle leaf hash, so one
hash serves both the chain and the tree.

After every transaction that appended records, the writer signs a :class:`Checkpoint`:
the log's name, size and Merkle root (RFC 6962) at that size, a time and the signing
key's id. The root is kept incrementally by a :class:`MerkleFrontier` (the roots of the
O(log n) perfect subtrees), so sealing never re-reads the log.

:class:`AuditVerifier` checks a whole log in one streaming pass: gaps, links, hashes,
body/row consistency, checkpoint signatures and roots, and anchors (checkpoints copied
to a file outside the database). It is pure, so the same code verifies a live database
and an exported bundle; it names the first bad record and why in one sentence.

Nothing here does I/O or reads a clock; times come in as arguments.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

if TYPE_CHECKING:
    from domain.ports import Signer


@dataclass(frozen=True, slots=True)
class CanonicalData:
    """Audit ``data`` already checked and in its RFC 8785 form: make it with
    :func:`canonical_data`.

    Ingest's parsing process makes one per row on its otherwise idle core, so the writer
    splices the text into the record body instead of checking and encoding the dict.
    """

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One state change to record, before it gets its sequence number and chain link.

    ``data`` holds JSON-safe values only: str, int, bool, None, lists and dicts of those
    (amounts as minor units or decimal strings, never floats), or is such a dict already
    made canonical by :func:`canonical_data`.
    """

    time: datetime
    event: str
    actor: str
    item_id: int | None = None
    item: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    policy_version: str | None = None
    data: dict[str, Any] | CanonicalData = field(default_factory=dict)


FORMAT_VERSION: Final = 1
"""Version of the record body format (the ``v`` field)."""

GENESIS: Final = "0" * 64
"""The ``prev`` of the first record."""

EMPTY_ROOT: Final = hashlib.sha256(b"").hexdigest()
"""Merkle root of the empty log (RFC 6962: the hash of the empty string)."""

SIGNATURE_ALGORITHM: Final = "ed25519"
"""The only checkpoint signature algorithm; stored in ``audit_keys.algorithm``."""

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""Largest integer JSON carries exactly (I-JSON, RFC 7493); RFC 8785 refuses larger."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"
_BODY_KEYS: Final = frozenset(
    "v seq time event item item_id actor from to policy_version data prev".split()
)

# The end of every version-1 body. RFC 8785 sorts keys, so "prev", "seq", "time", "to"
# and "v" are always the last five members, after "data" (the only member of arbitrary
# shape). This pattern is anchored at the body's end and admits only flat scalar members
# after "prev", so the "prev" it matches belongs to the outermost object: in valid JSON
# the bytes ,"prev":" can only be structural (a quote after a comma opens a key), and
# the last such occurrence cannot lie inside "data" because a nested match would need a
# second closing brace. A body that is not valid JSON can only pass if its hash, its
# successor's link and a signed Merkle root all agree with it, which only the key holder
# can arrange. So checking this tail checks seq and prev exactly, at a fraction of the
# cost of json.loads (see AuditVerifier, option ``deep`` for the full parse).
_TAIL_START: Final = b',"prev":"'
_TAIL = re.compile(
    rb',"prev":"([0-9a-f]{64})","seq":([1-9][0-9]{0,15}),'
    rb'"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z",'
    rb'"to":(?:null|"(?:[^"\\]|\\.)*"),"v":1}',
    re.DOTALL,
)


class AuditFormatError(ValueError):
    """An entry, record, key or checkpoint that does not fit the audit log format."""


# --- canonical form ----------------------------------------------------------------------


@functools.lru_cache(maxsize=256)  # pure; a batch stamps every record with one time
def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and ``Z``: ``2024-05-01T12:00:00.000000Z``.

    Raises:
        AuditFormatError: ``moment`` is naive; audit times must be aware.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AuditFormatError("audit times must be timezone-aware UTC; got a naive datetime")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    """The aware UTC datetime of a :func:`format_time` string (exactly that form).

    Raises:
        AuditFormatError: ``text`` is not in the exact form :func:`format_time` writes.
    """
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        raise AuditFormatError(f"{text!r} is not an audit time (YYYY-MM-DDTHH:MM:SS.ffffffZ)")
    return datetime.fromisoformat(text)


def _check_data(value: object, path: str) -> bool:
    """Refuses what RFC 8785 cannot carry exactly; True when every key is ASCII.

    ASCII keys are what lets :func:`canonical_json` take its fast path.
    """
    # Floats are refused outright: an amount that went through a float may already be
    # wrong, and a float's JSON form is not what an auditor should have to reason about.
    if isinstance(value, float):
        raise AuditFormatError(
            f"{path} is a float ({value!r}); audit records take amounts as int minor "
            "units or decimal strings, never floats"
        )
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise AuditFormatError(
                f"{path} = {value} is outside the exact JSON integer range (2**53 - 1); "
                "write it as a decimal string"
            )
        return True
    ascii_keys = True
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditFormatError(f"{path} has a non-string key {key!r}")
            if not key.isascii():
                ascii_keys = False
            kind = type(item)
            if kind is str or item is None or kind is bool:
                continue  # the common leaves, without a call per value
            if kind is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            ascii_keys = _check_data(item, f"{path}.{key}") and ascii_keys
        return ascii_keys
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if type(item) is str:
                continue
            ascii_keys = _check_data(item, f"{path}[{index}]") and ascii_keys
        return ascii_keys
    raise AuditFormatError(
        f"{path} is a {type(value).__name__}; audit data takes str, int, bool, None, "
        "lists and dicts only (amounts as int minor units or decimal strings)"
    )


def _check_text(name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise AuditFormatError(f"audit field {name} must be a string, got {value!r}")


def canonical_data(data: dict[str, Any]) -> CanonicalData:
    """``data`` checked as :func:`record_body` checks it, and made canonical once.

    Raises:
        AuditFormatError: a float or other non-JSON value, or text that is not UTF-8.
    """
    try:
        text = _data_text(data)
        text.encode()  # a lone surrogate is refused here, not in the writer
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:
        raise AuditFormatError(
            "data cannot be canonicalized: input contains non-UTF-8 codepoints"
        ) from exc
    return CanonicalData(text)


def _data_text(data: object) -> str:
    """The RFC 8785 text of checked ``data`` (lone surrogates may remain: encode it).

    Raises:
        AuditFormatError: not a dict, or a value audit data cannot hold.
        rfc8785.CanonicalizationError: a key that is not UTF-8.
    """
    if not isinstance(data, dict):
        raise AuditFormatError(f"data must be a dict, got {type(data).__name__}")
    return _canonical_text(data, ascii_keys=_check_data(data, "data"))


#: JSON for one string, exactly as the encoder behind :func:`canonical_json` writes it.
_string: Final[Callable[[str], str]] = json.encoder.encode_basestring


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else _string(value)


def record_body(entry: AuditEntry, *, seq: int, prev: str) -> bytes:
    """The canonical body (RFC 8785 JSON, UTF-8) of ``entry`` as record ``seq``.

    The members are written in their RFC 8785 order (ASCII keys sort alike in UTF-16
    and code points) around the canonical ``data``, which the entry may bring ready
    (:class:`CanonicalData`). A property test holds the bytes equal to ``rfc8785.dumps``
    of the body as a dict, and ``audit verify --deep`` re-canonicalizes stored bodies.

    Args:
        entry: the state change; ``time`` must be aware, ``data`` JSON-safe, no floats.
        seq: the record's 1-based position in the log.
        prev: hash (64 lowercase hex) of record ``seq - 1``, or :data:`GENESIS`.

    Returns:
        The exact bytes stored, hashed and signed; the same entry, seq and prev always
        give the same bytes.

    Raises:
        AuditFormatError: a float or other non-JSON value in ``data``, a naive time, a
            bad ``seq`` or ``prev``, text that is not UTF-8.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SAFE_INTEGER:
        raise AuditFormatError(f"seq must be a positive integer, got {seq!r}")
    if not isinstance(prev, str) or not _HEX64.fullmatch(prev):
        raise AuditFormatError(f"prev must be 64 lowercase hex digits, got {prev!r}")
    if type(entry.event) is not str or type(entry.actor) is not str:  # the usual case fast
        _check_text("event", entry.event, optional=False)
        _check_text("actor", entry.actor, optional=False)
    _check_text("item", entry.item, optional=True)
    _check_text("from_state", entry.from_state, optional=True)
    _check_text("to_state", entry.to_state, optional=True)
    _check_text("policy_version", entry.policy_version, optional=True)
    if entry.item_id is not None:
        if isinstance(entry.item_id, bool) or not isinstance(entry.item_id, int):
            raise AuditFormatError(f"item_id must be an int or None, got {entry.item_id!r}")
        _check_data(entry.item_id, "item_id")
    data = entry.data
    try:
        text = data.text if type(data) is CanonicalData else _data_text(data)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:  # a key not UTF-8
        raise AuditFormatError(
            f"record {seq} cannot be canonicalized: input contains non-UTF-8 codepoints"
        ) from exc
    body = "".join(
        (
            '{"actor":',
            _string(entry.actor),
            ',"data":',
            text,
            ',"event":',
            _string(entry.event),
            ',"from":',
            _text_or_null(entry.from_state),
            ',"item":',
            _text_or_null(entry.item),
            ',"item_id":',
            "null" if entry.item_id is None else str(entry.item_id),
            ',"policy_version":',
            _text_or_null(entry.policy_version),
            ',"prev":"',
            prev,
            '","seq":',
            str(seq),
            ',"time":"',
            format_time(entry.time),
            '","to":',
            _text_or_null(entry.to_state),
            ',"v":',
            str(FORMAT_VERSION),
            "}",
        )
    )
    try:
        return body.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate in one of the entry's strings
        raise AuditFormatError(
            f"record {seq} cannot be canonicalized: input contains non-UTF-8 codepoints"
        ) from exc


# RFC 8785 with the standard library's C encoder, for the values _check_data admits.
_FAST_JSON = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def canonical_json(value: Any, *, ascii_keys: bool) -> bytes:
    """RFC 8785 bytes of a value :func:`_check_data` accepted, byte for byte ``rfc8785.dumps``.

    ``rfc8785`` is the definition, and it serializes every value whose keys are not
    all ASCII. For the rest, which is nearly every record the desk writes, the standard
    library's C encoder gives the same bytes five times faster (5 µs against 30 µs for
    an ingest record), because on such values the two rules coincide:

    - members are sorted by key: RFC 8785 compares UTF-16 code units and Python compares
      code points, which order ASCII keys identically;
    - strings escape exactly ``"``, ``\\``, and the controls below U+0020, as ``\\b``,
      ``\\t``, ``\\n``, ``\\f``, ``\\r`` or lowercase ``\\u00xx``, and keep every
      other character as UTF-8;
    - numbers are ints within 2**53 - 1 (no floats, which is where the rules differ),
      written as plain decimal digits; ``true``, ``false`` and ``null`` as such.

    A property test holds the two equal over arbitrary data, and ``audit verify --deep``
    re-canonicalizes every stored body with ``rfc8785`` itself.

    Raises:
        rfc8785.CanonicalizationError: a string or key holds a lone surrogate (not UTF-8).
    """
    try:
        return _canonical_text(value, ascii_keys=ascii_keys).encode()
    except UnicodeEncodeError as exc:
        raise rfc8785.CanonicalizationError("input contains non-UTF-8 codepoints") from exc


def _canonical_text(value: Any, *, ascii_keys: bool) -> str:
    """:func:`canonical_json` as text; a lone surrogate may remain (encoding refuses it).

    Raises:
        rfc8785.CanonicalizationError, UnicodeEncodeError: a key that is not UTF-8.
    """
    if ascii_keys:
        return _FAST_JSON.encode(value)
    return rfc8785.dumps(value).decode()  # raises UnicodeEncodeError for a bad key itself


def leaf_hash(body: bytes) -> str:
    """The record hash: SHA-256(0x00 || body), hex; equal to its RFC 6962 leaf hash."""
    return hashlib.sha256(_LEAF_PREFIX + body).hexdigest()


def leaf_digest(body: bytes) -> bytes:
    """:func:`leaf_hash` as raw bytes, for :meth:`MerkleFrontier.append_digest`."""
    return hashlib.sha256(_LEAF_PREFIX + body).digest()


# --- Merkle tree ---------------------------------------------------------------------------


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
        if not isinstance(leaf_hex, str) or not _HEX64.fullmatch(leaf_hex):
            raise AuditFormatError(f"a leaf hash is 64 lowercase hex digits, got {leaf_hex!r}")
        self.append_digest(bytes.fromhex(leaf_hex))

    def append_digest(self, leaf: bytes) -> None:
        """Appends one leaf given as its raw 32-byte hash (the verifier's fast path)."""
        roots = self._roots
        roots.append(leaf)
        carry = self._size
        while carry & 1:
            right = roots.pop()
            roots[-1] = _node(roots[-1], right)
            carry >>= 1
        self._size += 1

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
        size, roots = obj.get("size"), obj.get("roots")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise AuditFormatError(f"frontier size must be a non-negative int, got {size!r}")
        if not isinstance(roots, list) or not all(
            isinstance(root, str) and _HEX64.fullmatch(root) for root in roots
        ):
            raise AuditFormatError("frontier roots must be a list of 64-digit hex hashes")
        if len(roots) != size.bit_count():
            raise AuditFormatError(
                f"a frontier of size {size} has {size.bit_count()} roots, not {len(roots)}"
            )
        frontier = cls()
        frontier._size = size
        frontier._roots = [bytes.fromhex(root) for root in roots]
        return frontier


def merkle_root(leaves: Iterable[str]) -> str:
    """RFC 6962 root of the given leaf hashes (hex), for tests and small tools."""
    frontier = MerkleFrontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


# --- keys and checkpoints -------------------------------------------------------------------


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
    if not isinstance(root, str) or not _HEX64.fullmatch(root):
        raise AuditFormatError("a checkpoint root is 64 lowercase hex digits")
    if not isinstance(key_id, str) or not _HEX32.fullmatch(key_id):
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
        if not isinstance(root, str) or not _HEX64.fullmatch(root):
            raise AuditFormatError("checkpoint root must be 64 lowercase hex digits")
        if not isinstance(key_id, str) or not _HEX32.fullmatch(key_id):
            raise AuditFormatError("checkpoint key_id must be 32 lowercase hex digits")
        if not isinstance(signature, str) or not _HEX128.fullmatch(signature):
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


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyReport:
    """The outcome of verifying one log.

    ``first_bad_seq`` is the first record that cannot be vouched for: the record itself
    for a gap, bad hash, wrong seq or broken link; for a checkpoint or anchor whose root
    or signature fails, the first record after the last size a valid signed root
    matched (a root tells that a range changed, not which record in it).
    """

    ok: bool
    records: int
    """Records read and found good (the whole log when ``ok``)."""
    checkpoints: int
    """Checkpoints checked (signature and root)."""
    anchors: int
    """Anchored checkpoints checked."""
    root: str
    """Merkle root of the good records read."""
    first_bad_seq: int | None = None
    reason: str | None = None
    """Stable code of the problem: gap, order, format, hash, link, signature,
    unknown_key, checkpoint_root, checkpoint_log, truncated, unsigned_tail,
    anchor_mismatch, anchor_beyond_log, anchor_file, head, bundle."""
    problem: str | None = None
    """One sentence for a person."""

    def summary(self) -> str:
        """One line for the CLI."""
        if self.ok:
            return (
                f"OK: {self.records} records, {self.checkpoints} checkpoints, "
                f"{self.anchors} anchors verified; root {self.root}"
            )
        return f"FAILED: {self.problem}"  # the sentence names the first bad record


# Status of one checkpoint signature; None means valid.
_SigStatus = tuple[str, str] | None


class _Keys:
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

    def check(self, checkpoint: Checkpoint) -> _SigStatus:
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

    def check_batch(self, checkpoints: Sequence[Checkpoint]) -> list[_SigStatus]:
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
    return _Keys(keys, trusted).check_batch(checkpoints)


# Signature checks run in batches so an executor's per-task overhead stays small next to
# Ed25519's 60-80 us per verification; cryptography releases the GIL while verifying, so
# a thread pool checks signatures on other cores while this thread hashes records.
# (A process pool was measured too: no faster on two cores, and slow to start.)
_SIGNATURE_BATCH = 64


class AuditVerifier:
    """Verifies one audit log in a single streaming pass; pure, no I/O.

    Feed checkpoints (in size order) with :meth:`add_checkpoints` before the records
    they cover, and records (in seq order) with :meth:`add_records`, chunk by chunk;
    then call :meth:`finish`. Memory stays O(chunk + pending checkpoints + anchors).
    The verifier stops at the first problem; ``add_records`` returns False from then on
    so the caller can stop reading.

    Checks, per record: seq contiguous from 1 (gap), recomputed hash equals the stored
    hash, the body's own seq equals the row's (order), the body's prev equals the
    previous record's hash (link), the body is a version-1 record (format; with ``deep``
    also valid canonical JSON without floats). Per checkpoint: the key is known and the
    signature valid, and the root equals the root recomputed at its size. At the end:
    no checkpoint or anchor beyond the log (truncation or old backup), and the newest
    checkpoint covers every record (no unsigned tail). Anchors are checkpoints read from
    outside the database; each must verify and match the log's root at its size.
    """

    def __init__(
        self,
        *,
        log: str,
        keys: Iterable[AuditKey],
        anchors: Iterable[Checkpoint] = (),
        executor: Executor | None = None,
        deep: bool = False,
        trusted: Collection[str] | None = None,
    ) -> None:
        """Prepares a verification.

        Args:
            log: the log's name; anchors of other logs are ignored, checkpoints of
                other logs are a failure.
            keys: every public key of the log (keys table or ``keys.json``).
            anchors: checkpoints from the anchors file, in file order.
            executor: optional pool for signature checks (threads help: cryptography
                releases the GIL); without one they run inline.
            deep: also parse each body fully and require canonical JSON (about 8x
                slower; the default checks seq and prev exactly from the body's tail).
            trusted: key ids the auditor pinned out of band; a checkpoint signed by any
                other key fails, even one in ``keys``. None trusts every key given.
        """
        self._log = log
        self._key_list = list(keys)
        self._trusted = frozenset(trusted) if trusted is not None else None
        self._keys = _Keys(self._key_list, self._trusted)
        self._executor = executor
        self._deep = deep
        self._frontier = MerkleFrontier()
        self._size = 0
        self._prev = GENESIS.encode()
        # (checkpoint, signature status thunk) in size order, not yet reached.
        self._checkpoints: deque[tuple[Checkpoint, Callable[[], _SigStatus]]] = deque()
        numbered = [(number, a) for number, a in enumerate(anchors, 1) if a.log == log]
        numbered.sort(key=lambda pair: pair[1].size)  # stable: equal sizes keep file order
        self._anchors: deque[tuple[int, Checkpoint]] = deque(numbered)
        self._last_added_size = -1
        self._signed_upto = 0  # largest size whose database checkpoint verified
        self._trusted_upto = 0  # largest size any valid signed root (checkpoint/anchor) matched
        self._checked_checkpoints = 0
        self._checked_anchors = 0
        self._problem: tuple[str, str, int | None] | None = None
        self._next_size = self._compute_next_size()

    # -- feeding --

    @property
    def failed(self) -> bool:
        """Whether a problem has been found (then nothing more is checked)."""
        return self._problem is not None

    @property
    def size(self) -> int:
        """Records verified so far."""
        return self._size

    def add_checkpoints(self, checkpoints: Iterable[Checkpoint]) -> None:
        """Queues checkpoints; call before feeding the records up to their sizes.

        Raises:
            ValueError: checkpoints out of size order, or added after the records they
                cover (a caller bug, not a property of the log).
        """
        batch = list(checkpoints)
        if not batch or self._problem is not None:
            return
        for checkpoint in batch:
            if checkpoint.size < self._last_added_size or checkpoint.size < self._size:
                raise ValueError("checkpoints must come in size order, before their records")
            self._last_added_size = checkpoint.size
        keys = self._keys
        if self._executor is None:
            for checkpoint in batch:
                self._checkpoints.append((checkpoint, _deferred(keys.check, checkpoint)))
        else:
            for start in range(0, len(batch), _SIGNATURE_BATCH):
                part = batch[start : start + _SIGNATURE_BATCH]
                future = self._executor.submit(
                    check_signatures, self._key_list, part, self._trusted
                )
                for index, checkpoint in enumerate(part):
                    self._checkpoints.append((checkpoint, _batch_result(future, index)))
        self._next_size = self._compute_next_size()
        if self._next_size == self._size:
            self._settle()

    def add_records(self, rows: Iterable[Sequence[Any]]) -> bool:
        """Checks the next records, in seq order: ``(seq: int, body: bytes, hash: str)``.

        Returns:
            False once a problem is found (the caller may stop reading), else True.
        """
        if self._problem is not None:
            return False
        if self._next_size == self._size:
            self._settle()
            if self._problem is not None:
                return False
        # The hot loop: locals only, one SHA-256, one anchored regex, and the frontier
        # step of MerkleFrontier.append_digest inlined (a call per record costs ~10 %).
        n = self._size
        prev = self._prev
        frontier = self._frontier
        roots = frontier._roots
        sha256 = hashlib.sha256
        match_tail = _TAIL.fullmatch
        next_size = self._next_size
        deep = self._deep
        for seq, body, stored in rows:
            n += 1
            if seq != n:
                self._size = n - 1
                return self._gap(n, seq)
            if type(body) is not bytes:
                if not isinstance(body, bytearray | memoryview):  # e.g. TEXT in SQLite
                    self._size = n - 1
                    return self._fail("format", f"record {n}: its body is not bytes", n)
                body = bytes(body)  # some drivers hand out buffers
            digest = sha256(_LEAF_PREFIX + body).digest()
            hexed = digest.hex()
            if hexed != stored:
                self._size = n - 1
                return self._fail(
                    "hash",
                    f"record {n}: its stored hash does not match its body "
                    "(the body or the hash was changed)",
                    n,
                )
            tail = match_tail(body, body.rfind(_TAIL_START))
            if tail is None or (deep and not self._deep_ok(n, body)):
                self._size = n - 1
                return self._fail(
                    "format", f"record {n}: its body is not a version-1 audit record", n
                )
            if int(tail[2]) != n:
                self._size = n - 1
                return self._fail(
                    "order",
                    f"record {n}: its body says seq {int(tail[2])}, so records were "
                    "swapped or moved",
                    n,
                )
            if tail[1] != prev:
                self._size = n - 1
                return self._broken_link(n)
            prev = hexed.encode()
            roots.append(digest)
            carry = n - 1
            while carry & 1:
                right = roots.pop()
                roots[-1] = sha256(_NODE_PREFIX + roots[-1] + right).digest()
                carry >>= 1
            frontier._size = n
            if n == next_size:
                self._size = n
                self._prev = prev
                self._settle()
                if self._problem is not None:
                    return False
                next_size = self._next_size
        self._size = n
        self._prev = prev
        return True

    def fail(self, reason: str, problem: str, first_bad_seq: int | None = None) -> None:
        """Records a problem found outside the stream (e.g. an unreadable bundle line)."""
        if self._problem is None:
            self._problem = (reason, problem, first_bad_seq)

    def finish(
        self,
        *,
        head_size: int | None = None,
        head_hash: str | None = None,
        head_root: str | None = None,
    ) -> VerifyReport:
        """Ends the stream and reports; call after the last record and checkpoint.

        Args:
            head_size: the database's head row size, if any (checked last).
            head_hash: the head row's last hash.
            head_root: the root of the head row's frontier.
        """
        if self._problem is None and self._next_size == self._size:
            self._settle()
        if self._problem is None:
            self._check_end()
        if self._problem is None and head_size is not None:
            self._check_head(head_size, head_hash, head_root)
        records = self._size
        root = self._frontier.root()
        if self._problem is None:
            return VerifyReport(
                ok=True,
                records=records,
                checkpoints=self._checked_checkpoints,
                anchors=self._checked_anchors,
                root=root,
            )
        reason, problem, first_bad = self._problem
        return VerifyReport(
            ok=False,
            records=records,
            checkpoints=self._checked_checkpoints,
            anchors=self._checked_anchors,
            root=root,
            first_bad_seq=first_bad,
            reason=reason,
            problem=problem,
        )

    # -- internals --

    def _fail(self, reason: str, problem: str, first_bad_seq: int | None) -> bool:
        self.fail(reason, problem, first_bad_seq)
        return False

    def _gap(self, expected: int, seq: int) -> bool:
        if seq > expected:
            last = "the log's start" if expected == 1 else f"record {expected - 1}"
            return self._fail(
                "gap",
                f"record {expected} is missing: the log jumps from {last} to {seq}",
                expected,
            )
        return self._fail(
            "gap",
            f"record {expected} is missing: a row with seq {seq} stands in its place",
            expected,
        )

    def _broken_link(self, n: int) -> bool:
        if n == 1:
            return self._fail("link", "record 1: its prev is not the genesis value", 1)
        # The link breaks at n when record n-1 was changed and re-hashed, or when n's own
        # prev was changed and n re-hashed; n-1 is the earlier suspect unless a signed
        # root already vouched for it.
        first = n if self._trusted_upto >= n - 1 else n - 1
        return self._fail(
            "link",
            f"record {n}: its prev does not match the hash of record {n - 1}, so record "
            f"{first} was changed and re-hashed",
            first,
        )

    def _deep_ok(self, n: int, body: bytes) -> bool:
        try:
            obj = json.loads(body, parse_float=_refuse_float, parse_constant=_refuse_float)
        except ValueError:
            return False
        return (
            isinstance(obj, dict)
            and obj.keys() == _BODY_KEYS
            and obj["seq"] == n
            and rfc8785.dumps(obj) == body
        )

    def _compute_next_size(self) -> int:
        sizes = []
        if self._checkpoints:
            sizes.append(self._checkpoints[0][0].size)
        if self._anchors:
            sizes.append(self._anchors[0][1].size)
        return min(sizes) if sizes else -1

    def _unvouched_from(self, size: int) -> int | None:
        # First record after the last size a valid signed root matched.
        if size == 0:
            return None
        return min(self._trusted_upto + 1, size)

    def _settle(self) -> None:
        """Checks every checkpoint and anchor at the current size."""
        n = self._size
        root: str | None = None
        verified: set[Checkpoint] = set()
        matched = False
        checkpoints = self._checkpoints
        while checkpoints and checkpoints[0][0].size == n:
            checkpoint, status = checkpoints.popleft()
            self._checked_checkpoints += 1
            first = self._unvouched_from(n)
            if checkpoint.log != self._log:
                self.fail(
                    "checkpoint_log",
                    f"the checkpoint for size {n} belongs to log {checkpoint.log!r}, "
                    f"not {self._log!r}",
                    first,
                )
                return
            result = status()
            if result is not None:
                reason, why = result
                unvouched = f", so {_records(first, n, 'is', 'are')} not vouched for"
                self.fail(reason, f"the checkpoint for size {n} {why}{unvouched}", first)
                return
            if root is None:
                root = self._frontier.root()
            if checkpoint.root != root:
                self.fail(
                    "checkpoint_root",
                    f"{_records(first, n, 'does', 'do')} not match the checkpoint signed for "
                    f"size {n} (the "
                    "Merkle root differs), so the log was altered in that range and re-hashed",
                    first,
                )
                return
            verified.add(checkpoint)
            self._signed_upto = n
            matched = True
        anchors = self._anchors
        while anchors and anchors[0][1].size == n:
            number, anchor = anchors.popleft()
            self._checked_anchors += 1
            if anchor not in verified:
                # Normally every anchor repeats a database checkpoint verified just above;
                # only one that differs costs a signature check of its own.
                result = self._keys.check(anchor)
                if result is not None:
                    reason, why = result
                    self.fail(reason, f"anchor #{number} (size {n}) {why}", self._unvouched_from(n))
                    return
                verified.add(anchor)
            if root is None:
                root = self._frontier.root()
            if anchor.root != root:
                first = self._unvouched_from(n)
                self.fail(
                    "anchor_mismatch",
                    f"{_records(first, n, 'does', 'do')} not match anchor #{number} signed for "
                    f"size {n}, "
                    "so the log was rewritten or an old backup restored and appended to",
                    first,
                )
                return
            matched = True
        if matched:
            self._trusted_upto = n
        self._next_size = self._compute_next_size()

    def _check_end(self) -> None:
        n = self._size
        if self._checkpoints:
            checkpoint, status = self._checkpoints[0]
            result = status()
            if result is not None:
                reason, why = result
                self.fail(reason, f"the checkpoint for size {checkpoint.size} {why}", n + 1)
                return
            self.fail(
                "truncated",
                f"the log has {n} records but a valid checkpoint is signed for size "
                f"{checkpoint.size}, so {_records(n + 1, checkpoint.size, 'was', 'were')} "
                "deleted or an old backup was restored",
                n + 1,
            )
            return
        if self._anchors:
            number, anchor = self._anchors[-1]  # the largest anchored size
            result = self._keys.check(anchor)
            if result is not None:
                reason, why = result
                self.fail(reason, f"anchor #{number} (size {anchor.size}) {why}", n + 1)
                return
            self.fail(
                "anchor_beyond_log",
                f"the log has {n} records but anchor #{number} is signed for size "
                f"{anchor.size}, so {_records(n + 1, anchor.size, 'was', 'were')} deleted "
                "or an old backup was restored",
                n + 1,
            )
            return
        if self._signed_upto < n:
            self.fail(
                "unsigned_tail",
                f"{_records(self._signed_upto + 1, n, 'is', 'are')} not covered by any "
                "signed checkpoint (unsigned tail)",
                self._signed_upto + 1,
            )

    def _check_head(self, size: int, last_hash: str | None, root: str | None) -> None:
        n = self._size
        if size != n:
            self.fail(
                "head",
                f"the head row says the log has {size} records but it has {n}",
                min(size, n) + 1,
            )
        elif last_hash is not None and last_hash != self._prev.decode():
            self.fail("head", f"the head row's last hash is not the hash of record {n}", n)
        elif root is not None and root != self._frontier.root():
            self.fail(
                "head", f"the head row's Merkle frontier does not match records 1 to {n}", n or None
            )


def _records(first: int | None, last: int, singular: str, plural: str) -> str:
    """A clause's subject and verb: "records 7 to 9 do" or "record 9 does"."""
    if first is None or first == last:
        return f"record {last} {singular}"
    return f"records {first} to {last} {plural}"


def _deferred(
    check: Callable[[Checkpoint], _SigStatus], checkpoint: Checkpoint
) -> Callable[[], _SigStatus]:
    return lambda: check(checkpoint)


def _batch_result(future: Future[list[_SigStatus]], index: int) -> Callable[[], _SigStatus]:
    return lambda: future.result()[index]


def _refuse_float(text: str) -> Any:
    raise ValueError(f"float {text} in an audit body")
