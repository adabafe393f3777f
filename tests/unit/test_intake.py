"""Intake rows: each field's validation, line/field/error reports, aging, extra columns."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.intake import MAX_TEXT, RowError, content_hash, parse_row, same_content
from domain.items import ItemFacts, ItemKind, RiskTier

TODAY = date(2025, 3, 10)
BASE = {"external_id": "BNK-001", "entity": "ACME-US", "currency": "USD", "amount": "125.50"}


def parse(line: int = 2, **fields: Any) -> ItemFacts | RowError:
    row = {**BASE, **fields}
    row = {k: v for k, v in row.items() if v is not ...}
    return parse_row(row, line=line, default_source="bank.csv", today=TODAY)


def ok(**fields: Any) -> ItemFacts:
    result = parse(**fields)
    assert isinstance(result, ItemFacts), result
    return result


def bad(**fields: Any) -> RowError:
    result = parse(**fields)
    assert isinstance(result, RowError), result
    return result


def test_minimal_row_gets_defaults() -> None:
    facts = ok()
    assert facts == ItemFacts(
        source="bank.csv",
        external_id="BNK-001",
        kind=ItemKind.UNMATCHED,
        entity="ACME-US",
        currency="USD",
        amount=Decimal("125.50"),
    )


def test_full_row_is_parsed_exactly() -> None:
    facts = ok(
        kind="BATCH",
        source="ledger-export",
        counterparty=" Globex Corp ",
        counterparty_risk_tier="High",
        aging_days="3",
        booked_on="2025-03-01",
        confidence="0.925",
        score="77",
        matched_value="100000.00",
        variance="-12.5",
        record_count="42",
        entity_risk_score="0.3",
        prepared_by="U0PREP",
        reference="INV-9",
        description="March sweep",
        currency="eur",
        amount="100000",
    )
    assert facts.kind is ItemKind.BATCH
    assert facts.source == "ledger-export"
    assert facts.counterparty == "Globex Corp"
    assert facts.risk_tier is RiskTier.HIGH
    assert facts.aging_days == 3  # an explicit aging wins over booked_on
    assert facts.booked_on == date(2025, 3, 1)
    assert facts.confidence == Decimal("0.925")
    assert facts.score == 77
    assert facts.currency == "EUR"
    assert str(facts.amount) == "100000.00"
    assert str(facts.matched_value) == "100000.00"
    assert str(facts.variance) == "-12.50"
    assert facts.record_count == 42
    assert facts.entity_risk_score == Decimal("0.3")
    assert (facts.prepared_by, facts.reference, facts.description) == (
        "U0PREP",
        "INV-9",
        "March sweep",
    )
    assert facts.extra == {}


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"external_id": ...}, "external_id", "is required"),
        ({"external_id": ""}, "external_id", "is required"),
        ({"external_id": "   "}, "external_id", "is required"),
        ({"external_id": "x" * (MAX_TEXT + 1)}, "external_id", "longer than 300 characters"),
        ({"entity": ...}, "entity", "is required"),
        ({"currency": ...}, "currency", "is required"),
        ({"currency": "XYZ"}, "currency", "unknown currency 'XYZ'"),
        ({"currency": "dollars"}, "currency", "ISO 4217"),
        ({"amount": ...}, "amount", "is required"),
        ({"amount": ""}, "amount", "is required"),
        ({"amount": "abc"}, "amount", "'abc' is not a decimal number"),
        ({"amount": "1,250.00"}, "amount", "is not a decimal number"),
        ({"amount": "1e3"}, "amount", "not a plain decimal number"),
        ({"amount": "NaN"}, "amount", "not a plain decimal number"),
        ({"amount": "10.005"}, "amount", "more decimals than USD allows (2)"),
        ({"amount": "1.5", "currency": "JPY"}, "amount", "more decimals than JPY allows (0)"),
        ({"kind": "transfer"}, "kind", "'transfer' is not one of unmatched, match, batch"),
        ({"counterparty_risk_tier": "extreme"}, "counterparty_risk_tier", "'extreme' is not"),
        ({"booked_on": "2025-13-01"}, "booked_on", "'2025-13-01' is not a date (YYYY-MM-DD)"),
        ({"booked_on": "yesterday"}, "booked_on", "is not a date"),
        ({"booked_on": "2025-03-11"}, "booked_on", "2025-03-11 is in the future"),
        ({"aging_days": "-1"}, "aging_days", "-1 must be at least 0"),
        ({"aging_days": "1.5"}, "aging_days", "'1.5' is not a whole number"),
        ({"aging_days": "ten"}, "aging_days", "'ten' is not a whole number"),
        ({"confidence": "1.5"}, "confidence", "1.5 must be between 0 and 1"),
        ({"confidence": "-0.1"}, "confidence", "-0.1 must be between 0 and 1"),
        ({"confidence": "high"}, "confidence", "is not a decimal number"),
        ({"confidence": "9e-1"}, "confidence", "not a plain decimal"),
        ({"score": "101"}, "score", "101 must be between 0 and 100"),
        ({"score": "-1"}, "score", "-1 must be between 0 and 100"),
        ({"score": "8.5"}, "score", "not a whole number"),
        ({"kind": "match"}, "score", "is required for a match (0..100)"),
        ({"matched_value": "1.001"}, "matched_value", "more decimals than USD allows"),
        ({"variance": "lots"}, "variance", "is not a decimal number"),
        ({"kind": "batch", "variance": "1.00"}, "matched_value", "is required for a batch"),
        ({"kind": "batch", "matched_value": "1.00"}, "variance", "is required for a batch"),
        ({"record_count": "-5"}, "record_count", "-5 must be at least 0"),
        ({"entity_risk_score": "2"}, "entity_risk_score", "2 must be between 0 and 1"),
        ({"prepared_by": "U" * 301}, "prepared_by", "longer than 300 characters"),
    ],
)
def test_each_field_is_validated_with_line_field_and_reason(
    fields: dict[str, Any], field: str, error: str
) -> None:
    result = parse(line=17, **fields)
    assert isinstance(result, RowError), result
    assert result.line == 17
    assert result.field == field
    assert error in result.error


def test_description_may_be_long() -> None:
    assert ok(description="d" * 2000).description == "d" * 2000


@pytest.mark.parametrize(
    ("booked_on", "aging"),
    [("2025-03-10", 0), ("2025-03-09", 1), ("2025-03-01", 9), ("2024-03-10", 365)],
)
def test_booked_on_gives_the_aging(booked_on: str, aging: int) -> None:
    facts = ok(booked_on=booked_on)
    assert facts.aging_days == aging
    assert facts.booked_on == date.fromisoformat(booked_on)


def test_unknown_columns_are_kept_in_extra() -> None:
    facts = ok(**{"bank_ref": "ABC123", "note": "", "Amount": "5", "": "ignored"})
    assert facts.extra == {"bank_ref": "ABC123", "note": "", "Amount": "5"}
    assert "external_id" not in facts.extra


def test_source_column_overrides_the_default_and_blank_cells_are_absent() -> None:
    assert ok(source="erp").source == "erp"
    assert ok(source="  ").source == "bank.csv"
    facts = ok(counterparty="", confidence=" ", score="")
    assert (facts.counterparty, facts.confidence, facts.score) == (None, None, None)


def test_values_are_stripped_and_case_insensitive_where_enumerated() -> None:
    facts = ok(external_id="  BNK-9 ", kind=" Match ", score=" 90 ", counterparty_risk_tier="LOW")
    assert facts.external_id == "BNK-9"
    assert facts.kind is ItemKind.MATCH
    assert facts.score == 90
    assert facts.risk_tier is RiskTier.LOW


# --- content hash -----------------------------------------------------------------------


def test_content_hash_ignores_aging() -> None:
    a = ok(aging_days="1")
    b = ok(aging_days="30")
    assert a != b
    assert content_hash(a) == content_hash(b)
    # The same row read on two different days: same content.
    first = parse_row({**BASE, "booked_on": "2025-03-01"}, line=2, default_source="s", today=TODAY)
    later = parse_row(
        {**BASE, "booked_on": "2025-03-01"}, line=2, default_source="s", today=date(2025, 4, 1)
    )
    assert isinstance(first, ItemFacts) and isinstance(later, ItemFacts)
    assert first.aging_days != later.aging_days
    assert content_hash(first) == content_hash(later)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "125.51"},
        {"currency": "EUR"},
        {"entity": "ACME-DE"},
        {"counterparty": "Initech"},
        {"counterparty_risk_tier": "high"},
        {"booked_on": "2025-03-02"},
        {"confidence": "0.5"},
        {"prepared_by": "U0X"},
        {"reference": "R2"},
        {"description": "changed"},
        {"bank_ref": "NEW"},
        {"source": "other"},
    ],
)
def test_content_hash_changes_with_any_other_field(change: dict[str, str]) -> None:
    base = ok(bank_ref="OLD", booked_on="2025-03-01")
    changed = ok(**{"bank_ref": "OLD", "booked_on": "2025-03-01", **change})
    assert content_hash(base) != content_hash(changed)


def test_content_hash_is_a_stable_sha256() -> None:
    digest = content_hash(ok())
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert content_hash(ok()) == digest
    assert content_hash(ok(amount="125.5")) == digest  # amounts are at the currency scale


def test_equal_facts_have_equal_content_hashes() -> None:
    a = ok(confidence="0.9", entity_risk_score="0.5")
    b = ok(confidence="0.90", entity_risk_score="0.500")
    assert a == b
    assert content_hash(a) == content_hash(b)


def test_a_huge_amount_is_a_row_error_not_a_crash() -> None:
    try:
        result = parse(amount="9" * 30)
    except Exception as exc:
        raise AssertionError(f"parse_row raised {type(exc).__name__}") from exc
    assert isinstance(result, RowError) and result.field == "amount"


@pytest.mark.parametrize("text", ["1_000", "\u0661\u0662", "\uff13", "0x10", "+", "1 000"])
def test_whole_numbers_are_ascii_digits_only(text: str) -> None:
    error = bad(aging_days=text)
    assert (error.field, error.error) == ("aging_days", f"{text!r} is not a whole number")


@pytest.mark.parametrize("text", ["2147483648", "9" * 40])
def test_whole_numbers_past_the_integer_column_are_a_row_error(text: str) -> None:
    error = bad(record_count=text)
    assert error.field == "record_count" and "too large" in error.error
    assert ok(record_count="2147483647").record_count == 2**31 - 1


def test_items_hashed_by_earlier_releases_are_still_the_same_content() -> None:
    facts = ok(confidence="0.90")
    legacy = hashlib.sha256(
        json.dumps(
            {
                **_hash_doc(facts),
                "confidence": "0.90",
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
    ).hexdigest()
    assert legacy != content_hash(facts)
    assert same_content(legacy, facts) and same_content(content_hash(facts), facts)
    assert not same_content(legacy, ok(confidence="0.91"))


def _hash_doc(facts: ItemFacts) -> dict[str, Any]:
    return {
        "source": facts.source,
        "external_id": facts.external_id,
        "kind": facts.kind.value,
        "entity": facts.entity,
        "currency": facts.currency,
        "amount": str(facts.amount),
        "counterparty": None,
        "risk_tier": None,
        "booked_on": None,
        "confidence": None,
        "score": None,
        "matched_value": None,
        "variance": None,
        "record_count": None,
        "entity_risk_score": None,
        "prepared_by": None,
        "reference": None,
        "description": None,
        "extra": {},
    }


@pytest.mark.parametrize(
    ("field", "raw", "shown"),
    [
        ("counterparty", "Evil\u202eCorp", "Evil\ufffdCorp"),  # shows as "EvilproC"
        ("counterparty", "\u2067Acme\u2069 Ltd", "\ufffdAcme\ufffd Ltd"),
        ("reference", "INV\x00-1", "INV\ufffd-1"),
        ("description", "paid\x1b[2J twice\x7f", "paid\ufffd[2J twice\ufffd"),
    ],
)
def test_text_people_read_has_controls_and_bidi_overrides_replaced_and_kept_raw_in_extra(
    field: str, raw: str, shown: str
) -> None:
    facts = ok(**{field: raw})

    assert getattr(facts, field) == shown
    assert facts.extra == {f"raw:{field}": raw}


def test_line_breaks_tabs_and_ordinary_unicode_are_left_alone() -> None:
    facts = ok(
        counterparty="Müller\u00a0GmbH \u05e9\u05dc\u05d5\u05dd",
        description="first line\n\tsecond line",
    )

    assert facts.counterparty == "Müller\u00a0GmbH \u05e9\u05dc\u05d5\u05dd"
    assert facts.description == "first line\n\tsecond line"
    assert facts.extra == {}


@pytest.mark.parametrize("field", ["external_id", "source", "entity", "prepared_by"])
@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\x00", "\x85"])
def test_an_identifier_holding_a_control_or_bidi_override_rejects_the_row(
    field: str, char: str
) -> None:
    # Replacing it would merge two different ids ("A\u202eB", "A\u202dB") into one item.
    error = bad(**{field: f"A{char}B"})

    assert error.field == field
    assert f"U+{ord(char):04X}" in error.error and "not plain text" in error.error
