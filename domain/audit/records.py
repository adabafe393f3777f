"""Audit records: the entry to record and its canonical body (pure).

A record's *body* is the RFC 8785 canonical JSON of one :class:`AuditEntry` plus its
sequence number ``seq`` (1-based, gapless) and ``prev``, the hash of the record before
it (:data:`GENESIS` for the first). The body is what is stored, hashed and signed, so
its bytes are a contract: golden-bytes tests hold them fixed.

This module is the bottom of :mod:`domain.audit`: it imports nothing of the domain, so
intake and routing can make :class:`CanonicalData` without pulling in the Merkle tree,
the keys or the verifier.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import rfc8785


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

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""Largest integer JSON carries exactly (I-JSON, RFC 7493); RFC 8785 refuses larger."""

HASH_HEX: Final = re.compile(r"[0-9a-f]{64}")
"""A SHA-256 hash as written in the log: 64 lowercase hex digits (use ``fullmatch``)."""

_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
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
# cost of json.loads (``audit verify --deep`` adds the full parse: is_canonical_body).
BODY_TAIL_START: Final = b',"prev":"'
BODY_TAIL: Final = re.compile(
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
    if not isinstance(prev, str) or not HASH_HEX.fullmatch(prev):
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


def is_canonical_body(body: bytes, *, seq: int) -> bool:
    """Whether ``body`` parses as a version-1 body of record ``seq`` in canonical form.

    The full check behind ``audit verify --deep``: valid JSON without floats, exactly
    the body's members, its own ``seq``, and bytes equal to ``rfc8785.dumps`` of it.
    """
    try:
        obj = json.loads(body, parse_float=_refuse_float, parse_constant=_refuse_float)
    except ValueError:
        return False
    return (
        isinstance(obj, dict)
        and obj.keys() == _BODY_KEYS
        and obj["seq"] == seq
        and rfc8785.dumps(obj) == body
    )


def _refuse_float(text: str) -> Any:
    raise ValueError(f"float {text} in an audit body")
