"""The audit record's canonical form and the checkpoint message, frozen as golden bytes.

Changing any expected value here breaks every audit log already written: a new format
needs a new ``v`` and a verifier that reads both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from domain.audit.checkpoints import Checkpoint, checkpoint_message, sign_checkpoint
from domain.audit.keys import key_id_for
from domain.audit.merkle import EMPTY_ROOT, leaf_hash
from domain.audit.records import (
    GENESIS,
    AuditEntry,
    AuditFormatError,
    CanonicalData,
    canonical_data,
    canonical_json,
    format_time,
    parse_time,
    record_body,
)


class SeedSigner:
    """A deterministic Ed25519 signer (Ed25519 signatures are deterministic too)."""

    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key_hex = self._key.public_key().public_bytes_raw().hex()
        self.key_id = key_id_for(bytes.fromhex(self.public_key_hex))

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


GOLDEN_ENTRY = AuditEntry(
    # 14:30 at +02:00 is 12:30 UTC: the body must say so, with microseconds and Z.
    time=datetime(2024, 5, 1, 14, 30, 45, 123456, tzinfo=timezone(timedelta(hours=2))),
    event="item.approved",
    actor="U012ABCDEF",
    item_id=42,
    item="R-42",
    from_state="assigned",
    to_state="approved",
    policy_version="sha256:3f9a1c0d",
    data={
        "amount_minor": 1234567,
        "currency": "EUR",
        "note": 'Zürich € "ok"',
        "lines": [{"account": "1200", "debit_minor": 1234567}],
        "approved": True,
        "ref": None,
    },
)

GOLDEN_BODY = (
    b'{"actor":"U012ABCDEF","data":{"amount_minor":1234567,"approved":true,"currency":"EUR",'
    b'"lines":[{"account":"1200","debit_minor":1234567}],'
    b'"note":"Z\xc3\xbcrich \xe2\x82\xac \\"ok\\"","ref":null},"event":"item.approved",'
    b'"from":"assigned","item":"R-42","item_id":42,"policy_version":"sha256:3f9a1c0d",'
    b'"prev":"abababababababababababababababababababababababababababababababab","seq":7,'
    b'"time":"2024-05-01T12:30:45.123456Z","to":"approved","v":1}'
)
GOLDEN_HASH = "25db9ac51c698704e2ad79a06b912704f6241489b5d8ec3732ff918659aa269c"

GOLDEN_FIRST_BODY = (
    b'{"actor":"system","data":{},"event":"item.ingested","from":null,"item":null,'
    b'"item_id":null,"policy_version":null,'
    b'"prev":"0000000000000000000000000000000000000000000000000000000000000000","seq":1,'
    b'"time":"2024-05-01T00:00:00.000000Z","to":null,"v":1}'
)
GOLDEN_FIRST_HASH = "7a3d069cfaa4c020f6a443d2f71d6537cdc47008b0f98813d18fa381c9380370"

SEED = bytes(range(32))
GOLDEN_PUBLIC_KEY = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
GOLDEN_KEY_ID = "56475aa75463474c0285df5dbf2bcab7"
GOLDEN_MESSAGE = (
    b'{"key_id":"56475aa75463474c0285df5dbf2bcab7","log":"recon",'
    b'"root":"25db9ac51c698704e2ad79a06b912704f6241489b5d8ec3732ff918659aa269c","size":7,'
    b'"time":"2024-05-01T12:31:00.000000Z"}'
)
GOLDEN_SIGNATURE = (
    "edc36312f4c4b6ea363994c9580d03cafa1fd9aeab270ac884eb3d419cff208d"
    "f2310bc96c6164f74cb4707d03cd4c169d45a1d6949a2707f2f31aa7be6f6d02"
)


def test_record_body_golden_bytes_and_hash() -> None:
    body = record_body(GOLDEN_ENTRY, seq=7, prev="ab" * 32)

    assert body == GOLDEN_BODY
    assert leaf_hash(body) == GOLDEN_HASH
    # The record hash is the RFC 6962 leaf hash: SHA-256 over 0x00 || body.
    assert hashlib.sha256(b"\x00" + GOLDEN_BODY).hexdigest() == GOLDEN_HASH
    assert rfc8785.dumps(json.loads(body)) == body  # canonical: a fixed point


def test_first_record_links_to_genesis_and_writes_nulls() -> None:
    entry = AuditEntry(time=datetime(2024, 5, 1, tzinfo=UTC), event="item.ingested", actor="system")

    body = record_body(entry, seq=1, prev=GENESIS)

    assert GENESIS == "0" * 64
    assert body == GOLDEN_FIRST_BODY
    assert leaf_hash(body) == GOLDEN_FIRST_HASH


def test_checkpoint_message_key_id_and_signature_golden() -> None:
    signer = SeedSigner(SEED)
    time = datetime(2024, 5, 1, 12, 31, tzinfo=UTC)

    checkpoint = sign_checkpoint(signer, log="recon", size=7, root=GOLDEN_HASH, time=time)

    assert signer.public_key_hex == GOLDEN_PUBLIC_KEY
    assert signer.key_id == GOLDEN_KEY_ID
    assert (
        key_id_for(bytes.fromhex(GOLDEN_PUBLIC_KEY))
        == (hashlib.sha256(bytes.fromhex(GOLDEN_PUBLIC_KEY)).hexdigest()[:32])
    )
    message = checkpoint_message(
        log="recon", size=7, root=GOLDEN_HASH, time=time, key_id=GOLDEN_KEY_ID
    )
    assert message == GOLDEN_MESSAGE
    assert checkpoint.message() == GOLDEN_MESSAGE
    assert checkpoint.signature == GOLDEN_SIGNATURE


@given(
    log=st.text(min_size=1, max_size=30),
    size=st.integers(min_value=0, max_value=2**53 - 1),
    root=st.binary(min_size=32, max_size=32),
    key=st.binary(min_size=16, max_size=16),
    micros=st.integers(min_value=0, max_value=4_000_000_000_000_000),
)
def test_checkpoint_message_is_rfc8785_of_its_fields(
    log: str, size: int, root: bytes, key: bytes, micros: int
) -> None:
    # checkpoint_message builds canonical JSON by hand for speed; it must never differ
    # from the reference canonicalizer, whatever the log name holds.
    time = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    as_json: dict[str, Any] = {
        "log": log,
        "size": size,
        "root": root.hex(),
        "time": format_time(time),
        "key_id": key.hex(),
    }
    try:
        expected = rfc8785.dumps(as_json)
    except rfc8785.CanonicalizationError:  # lone surrogates: not representable at all
        return

    message = checkpoint_message(log=log, size=size, root=root.hex(), time=time, key_id=key.hex())
    assert message == expected


# Every kind of value audit data may hold, with text over all of Unicode (controls,
# quotes, backslashes, U+2028, astral characters, lone surrogates) and ints at the edges.
_SCALARS = (
    st.none() | st.booleans() | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1) | st.text()
)
# Keys lean on the characters whose order differs between UTF-16 units and code points.
_KEYS = st.text(st.sampled_from("a~\u00e9\ue000\uff61\U0001f600") | st.characters(), max_size=4)
_DATA = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_KEYS, inner, max_size=5)
    ),
    max_leaves=20,
)


_TEXT_OR_NONE = st.none() | st.text()


@given(
    data=st.dictionaries(_KEYS, _DATA, max_size=6),
    event=st.text(),
    actor=st.text(),
    item=_TEXT_OR_NONE,
    item_id=st.none() | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1),
    from_state=_TEXT_OR_NONE,
    to_state=_TEXT_OR_NONE,
    policy_version=_TEXT_OR_NONE,
    seq=st.integers(min_value=1, max_value=2**53 - 1),
    prev=st.sampled_from([GENESIS, "ab" * 32, "0123456789abcdef" * 4]),
    microsecond=st.integers(min_value=0, max_value=999_999),
)
def test_every_field_of_a_record_body_is_written_as_rfc8785_would(
    data: dict[str, Any],
    event: str,
    actor: str,
    item: str | None,
    item_id: int | None,
    from_state: str | None,
    to_state: str | None,
    policy_version: str | None,
    seq: int,
    prev: str,
    microsecond: int,
) -> None:
    # record_body writes the members in key order around the data's canonical text,
    # which the entry may bring ready (CanonicalData, made in ingest's parsing process).
    # Data keys past ASCII take rfc8785 itself; the rest the C encoder. Whatever the
    # fields, the bytes must be the package's own.
    time = datetime(2026, 11, 21, 12, 30, 5, microsecond, tzinfo=UTC)
    entry = AuditEntry(
        time=time,
        event=event,
        actor=actor,
        item_id=item_id,
        item=item,
        from_state=from_state,
        to_state=to_state,
        policy_version=policy_version,
        data=data,
    )
    as_json: dict[str, Any] = {
        "v": 1,
        "seq": seq,
        "time": format_time(time),
        "event": event,
        "item": item,
        "item_id": item_id,
        "actor": actor,
        "from": from_state,
        "to": to_state,
        "policy_version": policy_version,
        "data": data,
        "prev": prev,
    }
    try:
        expected = rfc8785.dumps(as_json)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):  # a lone surrogate
        with pytest.raises(AuditFormatError, match=f"record {seq} cannot be canonicalized"):
            record_body(entry, seq=seq, prev=prev)
        return

    assert record_body(entry, seq=seq, prev=prev) == expected
    ready = dataclasses.replace(entry, data=canonical_data(data))
    assert record_body(ready, seq=seq, prev=prev) == expected


def test_canonical_data_refuses_what_a_record_cannot_hold() -> None:
    assert canonical_data({"b": 1, "a": ["x"]}) == CanonicalData('{"a":["x"],"b":1}')
    with pytest.raises(AuditFormatError, match=r"data\.amount is a float"):
        canonical_data({"amount": 1.5})
    with pytest.raises(AuditFormatError, match="cannot be canonicalized"):
        canonical_data({"k": "\ud800"})
    with pytest.raises(AuditFormatError, match="cannot be canonicalized"):
        canonical_data({"\ud800": 1})
    with pytest.raises(AuditFormatError, match="data must be a dict"):
        canonical_data([1])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        {"\u00e9": 1, "z": 2, "\U0001f600": 3, "\uff61": 4},  # UTF-16 order differs here
        {"k": '\x00\x08\t\n\x0b\x0c\r\x1f\x7f"\\/\u2028\u2029\U0001f600'},
        {"n": [-(2**53 - 1), 0, 2**53 - 1, True, False, None]},
    ],
)
def test_canonical_json_agrees_with_rfc8785_on_the_hard_cases(value: dict[str, Any]) -> None:
    ascii_keys = all(key.isascii() for key in value)

    assert canonical_json(value, ascii_keys=ascii_keys) == rfc8785.dumps(value)


def test_a_lone_surrogate_in_a_key_is_an_audit_format_error() -> None:
    # It used to escape record_body as a bare UnicodeEncodeError from rfc8785.
    entry = AuditEntry(
        time=datetime(2024, 5, 1, tzinfo=UTC), event="e", actor="a", data={"\ud800": 1}
    )

    with pytest.raises(AuditFormatError, match="cannot be canonicalized"):
        record_body(entry, seq=1, prev=GENESIS)


def test_canonical_json_refuses_a_lone_surrogate_like_rfc8785() -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_json({"k": "\ud800"}, ascii_keys=True)
    with pytest.raises(rfc8785.CanonicalizationError):
        rfc8785.dumps({"k": "\ud800"})


def test_checkpoint_round_trips_through_json() -> None:
    checkpoint = sign_checkpoint(
        SeedSigner(SEED),
        log="recon",
        size=3,
        root=EMPTY_ROOT,
        time=datetime(2024, 5, 1, 12, 31, 0, 5, tzinfo=UTC),
    )

    assert Checkpoint.from_json(json.loads(json.dumps(checkpoint.to_json()))) == checkpoint


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"amount": 12.5}, "data.amount is a float"),
        ({"lines": [{"debit": 1.0}]}, "data.lines[0].debit is a float"),
        ({"nan": float("nan")}, "data.nan is a float"),
        ({"amount": Decimal("12.50")}, "data.amount is a Decimal"),
        ({"when": datetime(2024, 1, 1, tzinfo=UTC)}, "data.when is a datetime"),
        ({"big": 2**60}, "data.big = 1152921504606846976 is outside"),
        ({1: "x"}, "data has a non-string key 1"),
    ],
)
def test_non_json_safe_data_is_refused_with_its_path(data: dict[Any, Any], path: str) -> None:
    entry = AuditEntry(time=datetime(2024, 5, 1, tzinfo=UTC), event="e", actor="a", data=data)

    with pytest.raises(AuditFormatError, match=path.replace("[", r"\[").replace("]", r"\]")):
        record_body(entry, seq=1, prev=GENESIS)


def test_float_message_says_what_to_use_instead() -> None:
    entry = AuditEntry(
        time=datetime(2024, 5, 1, tzinfo=UTC), event="e", actor="a", data={"amount": 0.1}
    )

    with pytest.raises(AuditFormatError) as excinfo:
        record_body(entry, seq=1, prev=GENESIS)

    assert str(excinfo.value) == (
        "data.amount is a float (0.1); audit records take amounts as int minor units "
        "or decimal strings, never floats"
    )


def test_naive_time_and_bad_chain_arguments_are_refused() -> None:
    naive = AuditEntry(time=datetime(2024, 5, 1), event="e", actor="a")  # noqa: DTZ001
    good = AuditEntry(time=datetime(2024, 5, 1, tzinfo=UTC), event="e", actor="a")

    with pytest.raises(AuditFormatError, match="timezone-aware"):
        record_body(naive, seq=1, prev=GENESIS)
    with pytest.raises(AuditFormatError, match="seq must be a positive integer"):
        record_body(good, seq=0, prev=GENESIS)
    with pytest.raises(AuditFormatError, match="prev must be 64 lowercase hex"):
        record_body(good, seq=2, prev="AB" * 32)


def test_time_format_round_trips_with_microseconds() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)

    assert format_time(moment) == "2024-02-29T23:59:59.999999Z"
    assert parse_time(format_time(moment)) == moment
    with pytest.raises(AuditFormatError):
        parse_time("2024-02-29T23:59:59Z")
