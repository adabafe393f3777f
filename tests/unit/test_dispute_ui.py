"""The dispute in Slack, as pure pieces: the disputed card, the note and resolve forms and
their parsers, and the ``/recon resolve`` and ``/recon note`` commands."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.items import Approval, Dispute, DisputeOutcome, DisputeState, Item, ReviewState
from handlers import blocks
from handlers.command_line import Command, Usage, Verb, parse
from handlers.forms import FormErrors, NoteForm, ResolveForm, parse_note, parse_resolve
from handlers.ids import Field, ItemAction, Modal, item_action_id, item_value
from tests.unit.test_blocks import (
    NOW,
    POLICY,
    assert_valid_message,
    assert_valid_view,
    buttons,
    item_in,
    labels,
    texts,
)
from tests.unit.test_forms import META, select, submission, text_input

S = ReviewState


def dispute_of(**changes: Any) -> Dispute:
    """The dispute of :func:`disputed`, with ``changes``."""
    item = item_in(S.DISPUTED)
    assert item.dispute is not None
    return dataclasses.replace(item.dispute, **changes)


def disputed(**changes: Any) -> Item:
    """R-1042 (12,500.00 USD, prepared by U0PREP) disputed by Alice 30 minutes ago."""
    return item_in(S.DISPUTED, dispute=dispute_of(**changes))


# --- the card ----------------------------------------------------------------------------


def test_an_open_dispute_shows_its_id_age_clock_and_next_steps() -> None:
    msg = blocks.item_card(disputed(number=2), policy=POLICY, now=NOW + timedelta(days=3))
    assert_valid_message(msg)
    body = texts(msg)
    assert "*Dispute D-1042-2* · Amount mismatch · open" in body
    assert "Opened by <@U0ALICE>" in body
    assert "3 days open" in body
    assert "SLA clock running" in body
    assert "Expected resolution: 2024-05-10" in body
    assert labels(msg) == ["Awaiting counterparty", "Add note", "Resolve"]
    ids = [b["action_id"] for b in buttons(msg)]
    assert ids == [
        item_action_id(ItemAction.AWAIT_COUNTERPARTY, 1042),
        item_action_id(ItemAction.NOTE, 1042),
        item_action_id(ItemAction.RESOLVE, 1042),
    ]
    assert {b["value"] for b in buttons(msg)} == {item_value(1042, 3)}


def test_a_dispute_waiting_on_the_counterparty_is_paused_and_offers_resume() -> None:
    msg = blocks.item_card(
        disputed(state=DisputeState.AWAITING_COUNTERPARTY), policy=POLICY, now=NOW
    )
    body = texts(msg)
    assert "0 days open" in body
    assert "SLA clock paused (awaiting counterparty)" in body
    assert "SLA clock running" not in body
    assert labels(msg) == ["Resume", "Add note", "Resolve"]


def test_a_passed_expected_date_is_flagged() -> None:
    body = texts(blocks.item_card(disputed(), policy=POLICY, now=NOW + timedelta(days=9)))
    assert "Expected resolution: 2024-05-10 :alarm_clock: passed" in body
    body = texts(blocks.item_card(disputed(), policy=POLICY, now=NOW))
    assert ":alarm_clock: passed" not in body


def test_a_write_off_awaiting_its_second_sign_off_shows_the_progress() -> None:
    bob = Approval(user="U0BOB", at=NOW, note="uncollectable after three reminders")
    item = disputed(write_off_approvals=(bob,), resolution_amount=Decimal("12500.00"))
    msg = blocks.item_card(item, policy=POLICY, now=NOW)
    assert_valid_message(msg)
    assert "Write-off of 12,500.00 USD: 1 of 2 sign-offs: <@U0BOB>, waiting for a second" in texts(
        msg
    )
    assert "Resolve" in labels(msg)


def test_a_written_off_dispute_shows_who_and_how_much_and_no_progress() -> None:
    bob = Approval(user="U0BOB", at=NOW)
    resolved = dispute_of(
        state=DisputeState.RESOLVED,
        outcome=DisputeOutcome.WRITTEN_OFF,
        write_off_approvals=(bob,),
        resolution_amount=Decimal("100.00"),
        resolved_by="U0BOB",
        resolved_at=NOW,
    )
    after = dataclasses.replace(item_in(S.APPROVED), dispute=resolved)
    body = texts(blocks.item_card(after, policy=POLICY, now=NOW))
    assert "sign-offs" not in body
    assert "Resolved by <@U0BOB>" in body and "100.00 USD" in body


def test_a_resolved_dispute_has_no_dispute_buttons_and_no_clock() -> None:
    resolved = dispute_of(
        state=DisputeState.RESOLVED,
        outcome=DisputeOutcome.MATCHED,
        resolved_by="U0BOB",
        resolved_at=NOW,
    )
    item = dataclasses.replace(item_in(S.PENDING), dispute=resolved)
    msg = blocks.item_card(item, policy=POLICY, now=NOW)
    body = texts(msg)
    assert "resolved (matched)" in body and "days open" not in body
    assert not {"Awaiting counterparty", "Resume", "Add note", "Resolve"} & set(labels(msg))


@pytest.mark.parametrize("state", [s for s in S if s is not S.DISPUTED])
def test_only_a_disputed_item_offers_the_dispute_buttons(state: ReviewState) -> None:
    msg = blocks.item_card(item_in(state), policy=POLICY, now=NOW)
    assert not {"Awaiting counterparty", "Resume", "Add note", "Resolve"} & set(labels(msg))


# --- the forms ---------------------------------------------------------------------------


def test_note_modal_has_one_required_text() -> None:
    view = blocks.note_modal(disputed(), policy=POLICY, channel="C0TREASURY", ts="1.2")
    assert_valid_view(view, "modal")
    data = view.to_dict()
    assert data["callback_id"] == Modal.NOTE.value
    inputs = [b for b in data["blocks"] if b["type"] == "input"]
    assert [(b["block_id"], b.get("optional", False)) for b in inputs] == [("note", False)]


def test_resolve_modal_offers_the_four_outcomes_amount_and_note() -> None:
    view = blocks.resolve_modal(disputed(), policy=POLICY)
    assert_valid_view(view, "modal")
    data = view.to_dict()
    assert data["callback_id"] == Modal.RESOLVE.value
    inputs = {b["block_id"]: b for b in data["blocks"] if b["type"] == "input"}
    assert list(inputs) == ["outcome", "amount", "note"]
    outcome = inputs["outcome"]["element"]
    assert [(o["text"]["text"], o["value"]) for o in outcome["options"]] == [
        ("Matched", "matched"),
        ("Adjusted", "adjusted"),
        ("Written off", "written_off"),
        ("Withdrawn", "withdrawn"),
    ]
    assert "initial_option" not in outcome
    assert inputs["amount"]["label"]["text"] == "Amount (USD)"
    assert inputs["amount"]["optional"] is True
    assert inputs["note"].get("optional", False) is False


def test_resolve_modal_on_a_pending_write_off_starts_on_it() -> None:
    bob = Approval(user="U0BOB", at=NOW)
    item = disputed(write_off_approvals=(bob,), resolution_amount=Decimal("12500.00"))
    data = blocks.resolve_modal(item, policy=POLICY).to_dict()
    inputs = {b["block_id"]: b for b in data["blocks"] if b["type"] == "input"}
    assert inputs["outcome"]["element"]["initial_option"]["value"] == "written_off"
    assert inputs["amount"]["element"]["initial_value"] == "12500.00"
    assert any("1 of 2 sign-offs" in str(b.get("text")) for b in data["blocks"])


def resolve(currency: str = "USD", **values: dict[str, Any]) -> ResolveForm | FormErrors:
    state = {Field(k): v for k, v in values.items()}
    return parse_resolve(submission(Modal.RESOLVE, state), currency=currency)


NOTE = text_input("matched with the March statement")


@pytest.mark.parametrize(
    ("outcome", "amount", "expected"),
    [
        ("matched", None, None),
        ("withdrawn", "", None),
        ("adjusted", "-50.00", Decimal("-50.00")),
        ("adjusted", "12.5", Decimal("12.50")),
        ("written_off", None, None),
        ("written_off", "125.10", Decimal("125.10")),
    ],
)
def test_a_good_resolution(outcome: str, amount: str | None, expected: Decimal | None) -> None:
    form = resolve(outcome=select(outcome), amount=text_input(amount), note=NOTE)
    assert isinstance(form, ResolveForm)
    assert form.outcome is DisputeOutcome(outcome)
    assert form.amount == expected
    assert form.note == "matched with the March statement"
    assert form.metadata == META


@pytest.mark.parametrize(
    ("outcome", "amount", "problem"),
    [
        ("adjusted", None, "Give the adjusted amount in USD."),
        ("adjusted", "12.345", "more decimals than USD allows (2)"),
        ("adjusted", "twelve", "'twelve' is not a decimal number"),
        ("adjusted", "1e5", "not a plain decimal number"),
        ("adjusted", "0.00", "The amount cannot be zero."),
        ("adjusted", "-0", "The amount cannot be zero."),
        ("written_off", "-5.00", "positive number"),
        ("matched", "5.00", "A matched resolution takes no amount"),
        ("withdrawn", "5.00", "A withdrawn resolution takes no amount"),
        ("adjusted", "1" * 41, "Give a plain amount in USD"),
    ],
)
def test_amount_problems_come_back_under_the_amount(
    outcome: str, amount: str | None, problem: str
) -> None:
    errors = resolve(outcome=select(outcome), amount=text_input(amount), note=NOTE)
    assert isinstance(errors, FormErrors)
    assert list(errors) == ["amount"]
    assert problem in errors["amount"]


def test_the_amount_is_checked_in_the_items_currency() -> None:
    jpy = resolve("JPY", outcome=select("adjusted"), amount=text_input("1250.5"), note=NOTE)
    assert isinstance(jpy, FormErrors) and "more decimals than JPY allows (0)" in jpy["amount"]
    kwd = resolve("KWD", outcome=select("adjusted"), amount=text_input("12.345"), note=NOTE)
    assert isinstance(kwd, ResolveForm) and kwd.amount == Decimal("12.345")


def test_every_missing_answer_is_reported_at_once() -> None:
    errors = resolve(outcome=select(None), amount=text_input(None), note=text_input("  "))
    assert isinstance(errors, FormErrors)
    assert errors == {
        "outcome": "Choose an outcome.",
        "note": "Give a resolution note of at least 3 words.",
    }
    forged = resolve(outcome=select("lost"), amount=text_input(None), note=NOTE)
    assert forged == {"outcome": "Choose one of the listed outcomes."}
    short = resolve(outcome=select("matched"), amount=text_input(None), note=text_input("ok"))
    assert short == {"note": "Give a resolution note of at least 3 words (this has 1)."}


def test_a_note_needs_text_within_the_limit() -> None:
    form = parse_note(submission(Modal.NOTE, {Field.NOTE: text_input("  called AP  ")}))
    assert form == NoteForm(metadata=META, text="called AP")
    empty = parse_note(submission(Modal.NOTE, {Field.NOTE: text_input("   ")}))
    assert empty == {"note": "Write the note."}
    long = parse_note(submission(Modal.NOTE, {Field.NOTE: text_input("x" * 3001)}))
    assert isinstance(long, FormErrors) and "under 3000 characters" in long["note"]


# --- commands ----------------------------------------------------------------------------


def test_resolve_and_note_parse_like_the_other_item_commands() -> None:
    assert parse("resolve R-1042") == Command(verb=Verb.RESOLVE, item_id=1042)
    assert parse("RESOLVE r-7 extra words") == Command(
        verb=Verb.RESOLVE, item_id=7, text="extra words"
    )
    assert parse("note R-1042 called their AP desk") == Command(
        verb=Verb.NOTE, item_id=1042, text="called their AP desk"
    )
    assert parse("note R-1042") == Usage(
        problem="`/recon note ID text`: write the note after the id"
    )
    assert parse("note") == Usage(problem="`/recon note` needs an item id, e.g. `R-1042`")
    assert parse("resolve D-1042-1") == Usage(
        problem="`D-1042-1` is not an item id; ids look like `R-1042`"
    )


def test_help_lists_resolve_and_note() -> None:
    body = texts(blocks.help_message())
    assert "`/recon resolve ID`" in body
    assert "`/recon note ID text`" in body


# --- the details view's timeline ---------------------------------------------------------


def _record(seq: int, event: str, **data: Any) -> dict[str, Any]:
    return {"seq": seq, "event": event, "actor": "U0ALICE", "time": NOW.isoformat(), "data": data}


def test_details_show_the_newest_timeline_steps_within_slack_limits() -> None:
    history = [_record(1, "dispute.opened", category="timing", description="late")]
    history += [_record(n, "dispute.note", text="x" * 2000) for n in range(2, 40)]
    msg = blocks.item_details(disputed(), policy=POLICY, now=NOW, history=history)
    assert_valid_message(msg)
    body = texts(msg)
    assert "*Dispute timeline* (last 12 of 39)" in body
    assert body.count("`D-1042-1` <@U0ALICE> added a note") <= 12
    assert "opened the dispute" not in body  # the oldest step gave way to the newest


def test_timeline_text_cannot_ping_or_format() -> None:
    history = [
        _record(1, "dispute.opened", category="timing", description="late <!channel> *now*"),
        _record(2, "dispute.note", text="see <https://evil.example|the bank>"),
    ]
    body = texts(blocks.item_details(disputed(), policy=POLICY, now=NOW, history=history))
    assert "*Dispute timeline*" in body
    assert "<!channel>" not in body and "<https://evil.example" not in body
    assert "&lt;!channel&gt;" in body


def test_details_of_an_item_never_disputed_have_no_timeline() -> None:
    history = [_record(1, "item.ingested")]
    body = texts(blocks.item_details(item_in(S.PENDING), policy=POLICY, now=NOW, history=history))
    assert "Dispute timeline" not in body
