"""Modal submissions and round-tripped values, parsed at the edge."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.items import DisputeCategory
from domain.states import MIN_REASON_WORDS
from handlers import blocks
from handlers.forms import (
    DisputeForm,
    EscalateForm,
    FormErrors,
    ModalMetadata,
    PayloadError,
    QueueCursor,
    RejectForm,
    parse_dispute,
    parse_escalate,
    parse_home_page,
    parse_metadata,
    parse_queue_cursor,
    parse_reject,
)
from handlers.ids import INPUT_ACTION_ID, Field, Modal
from tests.unit.test_blocks import make_item

TODAY = date(2024, 5, 2)
META = ModalMetadata(item_id=1042, version=7, channel="C0TREASURY", ts="1714656600.000100")


def text_input(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def select(value: str | None) -> dict[str, Any]:
    option = (
        None if value is None else {"text": {"type": "plain_text", "text": value}, "value": value}
    )
    return {"type": "static_select", "selected_option": option}


def datepicker(value: str | None) -> dict[str, Any]:
    return {"type": "datepicker", "selected_date": value}


def submission(
    callback_id: Modal, values: dict[Field, dict[str, Any]], *, metadata: str | None = None
) -> dict[str, Any]:
    """A ``view`` as Slack sends it in ``view_submission`` (trimmed to what matters)."""
    return {
        "id": "V0123456",
        "type": "modal",
        "callback_id": callback_id.value,
        "private_metadata": META.encode() if metadata is None else metadata,
        "hash": "1714656600.abc",
        "state": {
            "values": {field.value: {INPUT_ACTION_ID: state} for field, state in values.items()}
        },
    }


def dispute_values(**overrides: dict[str, Any]) -> dict[Field, dict[str, Any]]:
    values = {
        Field.CATEGORY: select("amount_mismatch"),
        Field.DESCRIPTION: text_input("  Counterparty remitted 12,450.00 not 12,500.00  "),
        Field.CONTACT: text_input("ap@globex.example"),
        Field.EXPECTED_DATE: datepicker("2024-05-10"),
        Field.EVIDENCE: text_input(
            "https://files.example/remit.pdf\n\n  http://erp.example/doc?id=7&v=2  \n"
        ),
        Field.ADJUSTMENT: text_input("-50.00"),
    }
    values.update({Field(k): v for k, v in overrides.items()})
    return values


# --- reject ----------------------------------------------------------------------------------


def test_reject_with_a_reason() -> None:
    view = submission(Modal.REJECT, {Field.REASON: text_input("  duplicate of R-1001 posted  ")})
    form = parse_reject(view)
    assert isinstance(form, RejectForm)
    assert form.reason == "duplicate of R-1001 posted"
    assert form.metadata == META


@pytest.mark.parametrize("value", [None, "", "   \n "])
def test_reject_reason_is_required(value: str | None) -> None:
    errors = parse_reject(submission(Modal.REJECT, {Field.REASON: text_input(value)}))
    assert isinstance(errors, FormErrors)
    assert set(errors) == {"reason"}
    assert f"at least {MIN_REASON_WORDS} words" in errors["reason"]


def test_reject_reason_needs_enough_words() -> None:
    errors = parse_reject(submission(Modal.REJECT, {Field.REASON: text_input("wrong amount")}))
    assert errors == {"reason": "Give a reason of at least 3 words (this has 2)."}


def test_reject_reason_too_long() -> None:
    errors = parse_reject(submission(Modal.REJECT, {Field.REASON: text_input("word " * 1000)}))
    assert isinstance(errors, FormErrors) and "under 2000 characters" in errors["reason"]


def test_reject_missing_block_counts_as_empty() -> None:
    errors = parse_reject(submission(Modal.REJECT, {}))
    assert isinstance(errors, FormErrors) and set(errors) == {"reason"}


def test_form_errors_are_ready_for_the_ack() -> None:
    errors = parse_reject(submission(Modal.REJECT, {Field.REASON: text_input("no")}))
    assert isinstance(errors, dict)
    assert json.loads(json.dumps({"response_action": "errors", "errors": errors}))["errors"] == {
        "reason": errors["reason"]
    }


# --- escalate --------------------------------------------------------------------------------


def test_escalate_reason_is_optional() -> None:
    form = parse_escalate(submission(Modal.ESCALATE, {Field.REASON: text_input(None)}))
    assert isinstance(form, EscalateForm) and form.reason is None
    form = parse_escalate(submission(Modal.ESCALATE, {Field.REASON: text_input(" needs a lead ")}))
    assert isinstance(form, EscalateForm) and form.reason == "needs a lead"


def test_escalate_reason_too_long() -> None:
    errors = parse_escalate(submission(Modal.ESCALATE, {Field.REASON: text_input("x" * 2001)}))
    assert isinstance(errors, FormErrors) and set(errors) == {"reason"}


# --- dispute ---------------------------------------------------------------------------------


def parse(values: dict[Field, dict[str, Any]], currency: str = "USD") -> DisputeForm | FormErrors:
    return parse_dispute(submission(Modal.DISPUTE, values), currency=currency, today=TODAY)


def test_dispute_full_form() -> None:
    form = parse(dispute_values())
    assert isinstance(form, DisputeForm)
    assert form.category is DisputeCategory.AMOUNT_MISMATCH
    assert form.description == "Counterparty remitted 12,450.00 not 12,500.00"
    assert form.counterparty_contact == "ap@globex.example"
    assert form.expected_resolution == date(2024, 5, 10)
    assert form.evidence_links == (
        "https://files.example/remit.pdf",
        "http://erp.example/doc?id=7&v=2",
    )
    assert form.proposed_adjustment == Decimal("-50.00")
    assert form.metadata == META


def test_dispute_optional_fields_may_be_empty() -> None:
    form = parse(
        dispute_values(
            contact=text_input(None),
            expected_date=datepicker(None),
            evidence=text_input(None),
            adjustment=text_input("  "),
        )
    )
    assert isinstance(form, DisputeForm)
    assert form.counterparty_contact is None
    assert form.expected_resolution is None
    assert form.evidence_links == ()
    assert form.proposed_adjustment is None


@pytest.mark.parametrize(
    ("overrides", "block_id", "fragment"),
    [
        ({"category": select(None)}, "category", "Choose a category."),
        ({"category": select("bribery")}, "category", "listed categories"),
        ({"description": text_input(None)}, "description", "at least 3 words"),
        ({"description": text_input("too short")}, "description", "this has 2"),
        ({"contact": text_input("x" * 201)}, "contact", "under 200 characters"),
        (
            {"evidence": text_input("https://ok.example/a\n\nnot a url")},
            "evidence",
            "Line 3 is not an http(s) URL: not a url",
        ),
        ({"evidence": text_input("ftp://files.example/x")}, "evidence", "Line 1"),
        ({"evidence": text_input("https://")}, "evidence", "Line 1"),
        ({"evidence": text_input("https://a.example:99999/")}, "evidence", "Line 1"),
        (
            {"evidence": text_input("\n".join(f"https://e.example/{i}" for i in range(21)))},
            "evidence",
            "at most 20 links",
        ),
        ({"expected_date": datepicker("2024-05-01")}, "expected_date", "in the past"),
        ({"expected_date": datepicker("05/10/2024")}, "expected_date", "Pick a date"),
        ({"adjustment": text_input("10.505")}, "adjustment", "more decimals than USD allows (2)"),
        ({"adjustment": text_input("1,250.00")}, "adjustment", "is not a decimal number"),
        ({"adjustment": text_input("1e3")}, "adjustment", "not a plain decimal"),
        ({"adjustment": text_input("9" * 41)}, "adjustment", "plain amount in USD"),
    ],
)
def test_dispute_rule_errors_land_on_their_block(
    overrides: dict[str, dict[str, Any]], block_id: str, fragment: str
) -> None:
    errors = parse(dispute_values(**overrides))
    assert isinstance(errors, FormErrors)
    assert set(errors) == {block_id}
    assert fragment in errors[block_id]


def test_dispute_expected_date_today_is_fine() -> None:
    form = parse(dispute_values(expected_date=datepicker(TODAY.isoformat())))
    assert isinstance(form, DisputeForm) and form.expected_resolution == TODAY


def test_dispute_adjustment_uses_the_item_currency() -> None:
    jpy = parse(dispute_values(adjustment=text_input("1250.5")), currency="JPY")
    assert isinstance(jpy, FormErrors) and "JPY allows (0)" in jpy["adjustment"]
    kwd = parse(dispute_values(adjustment=text_input("12.345")), currency="KWD")
    assert isinstance(kwd, DisputeForm) and kwd.proposed_adjustment == Decimal("12.345")
    trailing = parse(dispute_values(adjustment=text_input("10.500")))
    assert isinstance(trailing, DisputeForm) and trailing.proposed_adjustment == Decimal("10.50")


def test_dispute_reports_every_problem_at_once() -> None:
    errors = parse(
        dispute_values(
            category=select(None),
            description=text_input("bad"),
            evidence=text_input("nope"),
            expected_date=datepicker("2020-01-01"),
            adjustment=text_input("abc"),
        )
    )
    assert isinstance(errors, FormErrors)
    assert set(errors) == {"category", "description", "evidence", "expected_date", "adjustment"}


def test_dispute_modal_and_parser_agree_on_ids() -> None:
    """Fill the rendered modal the way Slack would, then parse the submission."""
    view = blocks.dispute_modal(make_item(currency="EUR"), channel="C0APEU", ts="1.2").to_dict()
    answers: dict[str, dict[str, Any]] = {
        "category": select("fx_difference"),
        "description": text_input("rate used was a day old"),
        "contact": text_input(None),
        "expected_date": datepicker(None),
        "evidence": text_input(None),
        "adjustment": text_input("-12.40"),
    }
    values = {
        block["block_id"]: {block["element"]["action_id"]: answers[block["block_id"]]}
        for block in view["blocks"]
        if block["type"] == "input"
    }
    payload = {**view, "state": {"values": values}}
    form = parse_dispute(payload, currency="EUR", today=TODAY)
    assert isinstance(form, DisputeForm)
    assert form.category is DisputeCategory.FX_DIFFERENCE
    assert form.proposed_adjustment == Decimal("-12.40")
    assert (form.metadata.item_id, form.metadata.channel, form.metadata.ts) == (
        1042,
        "C0APEU",
        "1.2",
    )


# --- metadata and navigation values ------------------------------------------------------------


def test_metadata_round_trip_is_compact() -> None:
    assert parse_metadata(META.encode()) == META
    short = ModalMetadata(item_id=5, version=1)
    assert short.encode() == '{"item_id":5,"version":1}'
    assert parse_metadata(short.encode()) == short


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not json",
        "[]",
        "{}",
        '{"item_id":"1042","version":7}',
        '{"item_id":1042,"version":true}',
        '{"item_id":0,"version":7}',
        '{"item_id":1042,"version":7,"admin":true}',
        '{"item_id":1042,"version":7,"channel":"<#C1>"}',
        '{"item_id":1042,"version":7,"ts":"yesterday"}',
        "x" * 3001,
    ],
)
def test_metadata_garbage_is_a_clear_payload_error(garbage: str) -> None:
    with pytest.raises(PayloadError, match="metadata"):
        parse_metadata(garbage)


def test_forms_refuse_foreign_metadata() -> None:
    view = submission(Modal.REJECT, {Field.REASON: text_input("a b c")}, metadata="{}")
    with pytest.raises(PayloadError):
        parse_reject(view)


def test_forms_refuse_a_malformed_view() -> None:
    with pytest.raises(PayloadError, match="unexpected shape"):
        parse_reject({"private_metadata": META.encode(), "state": {"values": []}})


def test_queue_cursor_round_trip() -> None:
    cursor = QueueCursor(scope="team:ap-europe", offset=20)
    assert parse_queue_cursor(cursor.encode()) == cursor
    for garbage in ("", "mine|10", '{"scope":"mine","offset":-1}', '{"scope":"","offset":0}'):
        with pytest.raises(PayloadError):
            parse_queue_cursor(garbage)


def test_home_page_value() -> None:
    assert parse_home_page("0") == 0
    assert parse_home_page(" 12 ") == 12
    for garbage in ("", "-1", "1.5", "9999999", "two"):
        with pytest.raises(PayloadError):
            parse_home_page(garbage)
