"""The ledger contract (pure): the request body, what each answer means, the backoff."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from domain import ledger
from domain.items import EntryKind, JournalEntry, JournalLine
from domain.notifications import NoticeKind, ledger_delivery
from domain.templates import LedgerPost

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _entry(**overrides: object) -> JournalEntry:
    values: dict[str, object] = {
        "idempotency_key": "item-1042-write_off",
        "ledger_ref": "JE-00001042-W",
        "item_id": 1042,
        "currency": "JPY",
        "lines": (
            JournalLine(account="6800", debit_minor=12500),
            JournalLine(account="1999", credit_minor=12500),
        ),
        "memo": "R-1042 write_off by U0ALICE, U0BOB",
        "created_at": T0,
        "kind": EntryKind.WRITE_OFF,
        "entity": "ACME-JP",
        "dispute_id": "D-1042-1",
    }
    return JournalEntry(**(values | overrides))  # type: ignore[arg-type]


def test_the_body_carries_the_contract_fields_with_decimal_strings() -> None:
    body = ledger.request_body(_entry())
    assert body == {
        "idempotency_key": "item-1042-write_off",
        "ledger_ref": "JE-00001042-W",
        "item": "R-1042",
        "kind": "write_off",
        "entity": "ACME-JP",
        "currency": "JPY",
        "memo": "R-1042 write_off by U0ALICE, U0BOB",
        "lines": [
            {"account": "6800", "debit": "12500", "credit": "0"},
            {"account": "1999", "debit": "0", "credit": "12500"},
        ],
        "dispute_id": "D-1042-1",
        "reverses": None,
        "created_at": "2026-12-06T09:00:00+00:00",
    }
    json.dumps(body)  # JSON as it is: no Decimal, no datetime


def test_two_decimal_currencies_keep_their_cents() -> None:
    body = ledger.request_body(
        _entry(
            currency="USD",
            lines=(
                JournalLine(account="1190", debit_minor=250001),
                JournalLine(account="1999", credit_minor=250001),
            ),
        )
    )
    assert [(line["debit"], line["credit"]) for line in body["lines"]] == [
        ("2500.01", "0.00"),
        ("0.00", "2500.01"),
    ]


def test_one_delivery_row_per_entry_and_none_for_a_held_one() -> None:
    notice = ledger_delivery(_entry())
    assert (notice.kind, notice.target, notice.dedupe_key, notice.item_id) == (
        NoticeKind.LEDGER,
        "ledger",
        "ledger:item-1042-write_off",
        1042,
    )
    assert notice.payload == LedgerPost(idempotency_key="item-1042-write_off")
    with pytest.raises(ValueError, match="is held: no account mapping"):
        ledger_delivery(_entry(hold="no account mapping"))


def test_accepted_and_409_deliver_refusals_dead_letter_the_rest_retry() -> None:
    decide = ledger.decide
    assert decide(ledger.Accepted(reference="GL-1"), failures=3, now=T0, jitter=0.5) == (
        ledger.Deliver(reference="GL-1")
    )
    duplicate = ledger.Accepted(reference="GL-1", duplicate=True)
    assert decide(duplicate, failures=0, now=T0, jitter=0.5) == ledger.Deliver(reference="GL-1")
    assert decide(ledger.Refused(error="HTTP 422"), failures=0, now=T0, jitter=0.5) == (
        ledger.DeadLetter(error="HTTP 422")
    )
    retry = decide(ledger.Unavailable(error="timeout"), failures=2, now=T0, jitter=0.25)
    assert retry == ledger.RetryAt(at=T0 + timedelta(seconds=4.25), error="timeout")


@pytest.mark.parametrize(
    ("failures", "jitter", "seconds"),
    [
        (0, 0.0, 1.0),
        (0, 0.99, 1.99),
        (1, 0.5, 2.5),
        (4, 0.1, 16.1),
        (5, 0.0, 30.0),
        (60, 0.9, 30.0),
    ],
)
def test_backoff_is_two_to_the_n_plus_jitter_capped_at_30_seconds(
    failures: int, jitter: float, seconds: float
) -> None:
    assert ledger.backoff(failures, jitter) == timedelta(seconds=seconds)
