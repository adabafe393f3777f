"""The reject, escalate and dispute forms: mistakes come back in the ack under the field
(the form stays open), good answers decide, and a form on a changed item changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.items import DisputeCategory, ReviewState, RiskTier
from tests.e2e.conftest import (
    QUIET,
    TREASURY,
    Desk,
    cards_of,
    journal_of,
    private_lines,
    wait_card,
    wait_said,
    wait_state,
)

pytestmark = pytest.mark.usefixtures("every_envelope_acked")

GOOD_DISPUTE = {
    "Category": "Amount mismatch",
    "Description": "The counterparty booked 2,450.00, not 2,500.00",
}


async def _open_form(desk: Desk, user: str, label: str, card_ts: str) -> None:
    await desk.slack.click(user, label, channel=TREASURY, ts=card_ts)
    await desk.slack.wait_for(lambda: desk.slack.open_modal(user), message=f"{label} form")


async def test_reject_form_wants_a_reason_of_a_few_words(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    await _open_form(desk, "U0ALICE", "Reject", card.ts)
    form = desk.slack.open_modal("U0ALICE")
    assert form is not None

    for reason, problem in [
        ("   ", "Give a reason of at least 3 words."),
        ("wrong", "Give a reason of at least 3 words (this has 1)."),
        ("wrong amount", "Give a reason of at least 3 words (this has 2)."),
    ]:
        result = await desk.slack.submit_modal("U0ALICE", {"Reason": reason})
        assert not result.timed_out and result.ack is not None and result.ack.error is None
        assert result.response_action == "errors"
        assert result.errors == {"reason": problem}
        assert result.modal_after is not None and result.modal_after.id == form.id  # still open
        assert (await desk.item(item.id or 0)).state is ReviewState.PENDING

    # fixing the answer in the same form works
    result = await desk.slack.submit_modal("U0ALICE", {"Reason": "duplicate of the March wire"})
    assert result.response_action is None and result.modal_after is None
    rejected = await wait_state(desk, item, ReviewState.REJECTED)
    assert rejected.decision_note == "duplicate of the March wire"
    await wait_said(desk, "U0ALICE", f"{item.human_id} rejected")
    updated = await wait_card(desk, item, "Rejected", "<@U0ALICE>", "duplicate of the March wire")
    assert updated.ts == card.ts and updated.button_labels() == []
    assert await journal_of(desk, item) == []


async def test_escalate_form_reason_is_optional_and_the_card_says_who(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    await _open_form(desk, "U0BOB", "Escalate", card.ts)
    result = await desk.slack.submit_modal("U0BOB", {})  # no reason given
    assert result.response_action is None and result.modal_after is None
    await wait_state(desk, item, ReviewState.ESCALATED)
    await wait_said(desk, "U0BOB", f"{item.human_id} escalated to its leads")
    updated = await wait_card(desk, item, "Escalated")
    assert updated.ts == card.ts
    outcome = [line for line in updated.all_text().splitlines() if "*Escalated*" in line]
    assert outcome and "<@U0BOB>" in outcome[0]  # who (and when) escalated it
    assert "Claim" in updated.button_labels()  # the leads still decide on it here


@pytest.mark.parametrize(
    ("entries", "errors"),
    [
        (
            {"Evidence links": "https://bank.example/stmt/42\nnot a url"},
            {"evidence": "Line 2 is not an http(s) URL: not a url"},
        ),
        ({"Evidence links": "ftp://files.example/x"}, {"evidence": "not an http(s) URL"}),
        ({"Proposed adjustment (USD)": "12.345"}, {"adjustment": ""}),
        ({"Proposed adjustment (USD)": "twelve"}, {"adjustment": ""}),
        ({"Description": "too short"}, {"description": "at least 3 words"}),
        ({"Expected resolution date": "2020-02-29"}, {"expected_date": "is in the past"}),
        (
            {"Evidence links": "javascript:alert(1)", "Proposed adjustment (USD)": "1.001"},
            {"evidence": "not an http(s) URL", "adjustment": ""},
        ),
    ],
)
async def test_dispute_form_reports_each_bad_field(
    desk: Desk, entries: dict[str, str], errors: dict[str, str]
) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    await _open_form(desk, "U0ALICE", "Dispute", card.ts)
    result = await desk.slack.submit_modal("U0ALICE", {**GOOD_DISPUTE, **entries})
    assert result.response_action == "errors"
    assert set(result.errors) == set(errors)
    for field, fragment in errors.items():
        assert fragment in result.errors[field]
    assert result.modal_after is not None  # the form stays open
    unchanged = await desk.item(item.id or 0)
    assert unchanged.state is ReviewState.PENDING and unchanged.dispute is None


async def test_dispute_form_opens_a_dispute(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    await _open_form(desk, "U0ALICE", "Dispute", card.ts)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).date()
    result = await desk.slack.submit_modal(
        "U0ALICE",
        {
            **GOOD_DISPUTE,
            "Counterparty contact": "ar@globex.example",
            "Expected resolution date": later.isoformat(),
            "Evidence links": "https://bank.example/stmt/42\n\nhttp://globex.example/inv/7",
            "Proposed adjustment (USD)": "-50.00",
        },
    )
    assert result.response_action is None and result.modal_after is None
    disputed = await wait_state(desk, item, ReviewState.DISPUTED)
    dispute = disputed.dispute
    assert dispute is not None
    assert dispute.category is DisputeCategory.AMOUNT_MISMATCH
    assert dispute.opened_by == "U0ALICE"
    assert dispute.counterparty_contact == "ar@globex.example"
    assert dispute.expected_resolution == later
    assert dispute.evidence_links == (
        "https://bank.example/stmt/42",
        "http://globex.example/inv/7",
    )
    assert dispute.proposed_adjustment == Decimal("-50.00")
    await wait_said(desk, "U0ALICE", f"Dispute opened on {item.human_id}")
    updated = await wait_card(desk, item, "Disputed", "Amount mismatch")
    assert updated.ts == card.ts and len(cards_of(desk.slack, item)) == 1


async def test_a_form_that_can_only_fail_is_not_opened(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0ALICE", f"dispute {item.human_id}")
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="form")
    await desk.slack.submit_modal("U0ALICE", GOOD_DISPUTE)
    await wait_state(desk, item, ReviewState.DISPUTED)

    await desk.slack.slash_command("U0BOB", f"dispute {item.human_id}")
    await desk.slack.wait_for(
        lambda: desk.slack.open_modal("U0BOB") or private_lines(desk, "U0BOB"),
        message="a form or an answer",
    )
    assert desk.slack.open_modal("U0BOB") is None
    (line,) = private_lines(desk, "U0BOB")
    assert f"{item.human_id} is disputed" in line


async def test_dispute_amount_is_checked_in_the_items_currency(desk: Desk) -> None:
    (item,) = await desk.ingest(
        entity="ACME-DE", currency="EUR", amount=Decimal("900.00"), risk_tier=RiskTier.LOW
    )
    await desk.slack.slash_command("U0ERIN", f"dispute {item.human_id}")
    modal = await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ERIN"), message="form")
    assert "Proposed adjustment (EUR)" in modal.input_labels()
    result = await desk.slack.submit_modal(
        "U0ERIN", {**GOOD_DISPUTE, "Proposed adjustment (EUR)": "12.345"}
    )
    assert set(result.errors) == {"adjustment"}
    result = await desk.slack.submit_modal(
        "U0ERIN", {**GOOD_DISPUTE, "Proposed adjustment (EUR)": "12.35"}
    )
    assert result.response_action is None
    disputed = await wait_state(desk, item, ReviewState.DISPUTED)
    assert disputed.dispute is not None
    assert disputed.dispute.proposed_adjustment == Decimal("12.35")
    # opened from a command: the confirmation arrives privately
    await wait_said(desk, "U0ERIN", f"Dispute opened on {item.human_id}")


async def _open_from_queue(desk: Desk, user: str, label: str) -> None:
    await desk.slack.slash_command(user, "queue all")
    dm = desk.slack.dm_channel(user).id
    await desk.slack.wait_for(
        lambda: any(label in e.button_labels() for e in desk.slack.ephemerals_for(user, dm)),
        message="the queue",
    )
    await desk.slack.click(user, label, channel=dm)
    await desk.slack.wait_for(lambda: desk.slack.open_modal(user), message=f"{label} form")


@pytest.mark.parametrize(
    ("label", "entries", "field"),
    [
        ("Reject", {"Reason": "the amount does not match"}, "reason"),
        ("Dispute", GOOD_DISPUTE, "category"),
    ],
)
async def test_a_form_on_an_item_that_changed_is_refused(
    desk: Desk, label: str, entries: dict[str, str], field: str
) -> None:
    # (the escalate form shares this check; it opens only from a card, which costs a
    # second of the relay's pacing, so it is left out here)
    if label == "Reject":  # from a queue row
        (item,) = await desk.ingest(**QUIET)
        await _open_from_queue(desk, "U0ALICE", label)
    else:  # from the command
        (item,) = await desk.ingest(**QUIET)
        await desk.slack.slash_command("U0ALICE", f"dispute {item.human_id}")
        await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="form")
    # Bob decides while Alice is typing
    await desk.slack.slash_command("U0BOB", f"approve {item.human_id}")
    posted = await wait_state(desk, item, ReviewState.POSTED)

    result = await desk.slack.submit_modal("U0ALICE", entries)
    assert result.response_action == "errors"
    assert set(result.errors) == {field}
    assert f"{item.human_id} changed since you opened this form" in result.errors[field]
    assert "Nothing was changed" in result.errors[field]
    assert result.modal_after is not None
    after = await desk.item(item.id or 0)
    assert after == posted
    assert len(await journal_of(desk, item)) == 1


async def test_a_form_submitted_by_someone_who_may_not_act_changes_nothing(desk: Desk) -> None:
    """The decision is checked again at submit time, not only when the form opened."""
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0ALICE", f"dispute {item.human_id}")
    form = await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="form")
    # a forged submission of Alice's form by Dan (Slack would never send this)
    result = await desk.slack.submit_modal("U0DAN", GOOD_DISPUTE, view_id=form.id)
    assert not result.timed_out
    await wait_said(desk, "U0DAN", f"you cannot see {item.human_id}")
    unchanged = await desk.item(item.id or 0)
    assert unchanged.state is ReviewState.PENDING and unchanged.dispute is None
