"""A dispute to its end in Slack: the disputed card and its buttons, notes, the resolve
form (by button and by ``/recon resolve``), dual-control write-offs and every refusal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.items import DisputeCategory, DisputeOutcome, DisputeState, Item, ReviewState
from domain.journal import EntryKind
from tests.e2e.conftest import (
    TREASURY,
    Desk,
    journal_of,
    listeners_idle,
    stop_desk,
    wait_card,
    wait_said,
    wait_state,
    wait_told,
)
from tests.e2e.ladder_support import (
    FAST_LADDER,
    StepClock,
    desk_settings,
    jobs_of,
    policy_yaml,
    start_policy_desk,
)
from tests.slack_standin import SlackStandIn

pytestmark = pytest.mark.usefixtures("every_envelope_acked")

DISPUTE_BUTTONS = ["Awaiting counterparty", "Add note", "Resolve"]
GOOD_NOTE = "matched with the March statement"


async def disputed(desk: Desk, **overrides: Any) -> tuple[Item, Any]:
    """A treasury item Bob disputed (through the use case, as the dispute form does), and
    its card once it shows the dispute."""
    (item,) = await desk.ingest(**overrides)
    assert item.id is not None
    await desk.card(item)
    await desk.container.usecases.disputes.open_dispute(
        item_id=item.id,
        actor="U0BOB",
        now=desk.container.clock.now(),
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="the counterparty booked a different amount",
        expected_resolution=(dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).date(),
    )
    card = await wait_card(desk, item, f"Dispute D-{item.id}-1")
    return item, card


async def open_form(desk: Desk, user: str, label: str, card: Any) -> None:
    await desk.slack.click(user, label, channel=TREASURY, ts=card.ts)
    await desk.slack.wait_for(lambda: desk.slack.open_modal(user), message=f"{label} form")


async def audit_events(desk: Desk, item: Item) -> list[dict[str, Any]]:
    """The item's audit records, oldest first."""
    from store.audit.log import history

    assert item.id is not None
    async with desk.container.database.reader.connect() as conn:
        return await history(conn, item.id)


async def test_the_disputed_card_shows_the_dispute_and_pauses_and_resumes(desk: Desk) -> None:
    item, card = await disputed(desk)
    body = card.all_text()
    assert "Amount mismatch" in body and "Opened by <@U0BOB>" in body
    assert "0 days open" in body and "SLA clock running" in body
    assert "Expected resolution: " in body
    assert card.button_labels() == DISPUTE_BUTTONS

    await desk.slack.click("U0ALICE", "Awaiting counterparty", channel=TREASURY, ts=card.ts)
    await wait_said(desk, "U0ALICE", f"The dispute on {item.human_id} awaits the counterparty")
    paused = await wait_card(desk, item, "SLA clock paused (awaiting counterparty)")
    assert paused.ts == card.ts
    assert paused.button_labels() == ["Resume", "Add note", "Resolve"]
    waiting = await desk.item(item.id or 0)
    assert waiting.dispute is not None
    assert waiting.dispute.state is DisputeState.AWAITING_COUNTERPARTY
    assert waiting.sla_next_at is None  # the ladder does not run while paused

    await desk.slack.click("U0ALICE", "Resume", channel=TREASURY, ts=card.ts)
    await wait_said(desk, "U0ALICE", f"The dispute on {item.human_id} is open again")
    resumed = await wait_card(desk, item, "SLA clock running")
    assert resumed.button_labels() == DISPUTE_BUTTONS
    running = await desk.item(item.id or 0)
    assert running.dispute is not None and running.dispute.state is DisputeState.OPEN
    assert running.sla_next_at is not None
    moves = [
        (e["data"]["dispute_from"], e["data"]["dispute_to"])
        for e in await audit_events(desk, item)
        if e["event"] == "dispute.updated"
    ]
    assert moves == [("open", "awaiting_counterparty"), ("awaiting_counterparty", "open")]


async def test_add_note_by_button_and_by_command(desk: Desk) -> None:
    item, card = await disputed(desk)
    await open_form(desk, "U0ALICE", "Add note", card)
    form = desk.slack.open_modal("U0ALICE")
    assert form is not None
    result = await desk.slack.submit_modal("U0ALICE", {"Note": "   "})
    assert result.response_action == "errors"
    assert result.errors == {"note": "Write the note."}
    assert result.modal_after is not None and result.modal_after.id == form.id

    result = await desk.slack.submit_modal("U0ALICE", {"Note": "called their AP desk"})
    assert result.response_action is None and result.modal_after is None
    await wait_said(desk, "U0ALICE", f"Note added to the dispute on {item.human_id}")
    await desk.slack.slash_command("U0BOB", f"note {item.human_id} remittance promised Friday")
    await wait_said(desk, "U0BOB", f"Note added to the dispute on {item.human_id}")

    notes = [
        (e["actor"], e["data"]["text"])
        for e in await audit_events(desk, item)
        if e["event"] == "dispute.note"
    ]
    assert notes == [("U0ALICE", "called their AP desk"), ("U0BOB", "remittance promised Friday")]
    noted = await desk.item(item.id or 0)
    assert noted.state is ReviewState.DISPUTED
    # each note is a change: the card is drawn again at the new version
    await wait_card(desk, item, f"v{noted.version}")

    # no text, and no dispute: told why, nothing changes
    await desk.slack.slash_command("U0BOB", f"note {item.human_id}")
    await wait_said(desk, "U0BOB", "`/recon note ID text`: write the note after the id")
    (other,) = await desk.ingest()
    await desk.slack.slash_command("U0BOB", f"note {other.human_id} a note on nothing")
    await wait_said(
        desk, "U0BOB", f"{other.human_id} is pending; it cannot be given a dispute note"
    )
    assert (await desk.item(other.id or 0)).version == other.version


async def test_resolve_by_button_matched_sends_the_item_back_to_review(desk: Desk) -> None:
    item, card = await disputed(desk)
    await open_form(desk, "U0ALICE", "Resolve", card)
    result = await desk.slack.submit_modal(
        "U0ALICE", {"Outcome": "Matched", "Amount (USD)": "10.00", "Note": "done"}
    )
    assert result.response_action == "errors"
    assert result.errors == {
        "amount": "A matched resolution takes no amount; leave it empty.",
        "note": "Give a resolution note of at least 3 words (this has 1).",
    }
    assert (await desk.item(item.id or 0)).state is ReviewState.DISPUTED

    result = await desk.slack.submit_modal(
        "U0ALICE", {"Outcome": "Matched", "Amount (USD)": "", "Note": GOOD_NOTE}
    )
    assert result.response_action is None and result.modal_after is None
    back = await wait_state(desk, item, ReviewState.PENDING)
    assert back.dispute is not None
    assert back.dispute.outcome is DisputeOutcome.MATCHED
    assert back.dispute.resolved_by == "U0ALICE"
    await wait_said(desk, "U0ALICE", f"Dispute D-{item.id}-1 resolved (matched)", "back in review")
    final = await wait_card(desk, item, "Resolved by <@U0ALICE>")
    assert final.ts == card.ts
    assert not set(DISPUTE_BUTTONS) & set(final.button_labels())
    assert "Approve" in final.button_labels()  # back to ordinary review
    assert await journal_of(desk, item) == []


async def test_resolve_by_command_withdrawn_and_adjusted(desk: Desk) -> None:
    item, _ = await disputed(desk)
    await desk.slack.slash_command("U0ALICE", f"resolve {item.human_id}")
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="resolve form")
    await desk.slack.submit_modal("U0ALICE", {"Outcome": "Withdrawn", "Note": GOOD_NOTE})
    back = await wait_state(desk, item, ReviewState.PENDING)
    assert back.dispute is not None and back.dispute.outcome is DisputeOutcome.WITHDRAWN
    await wait_said(desk, "U0ALICE", "resolved (withdrawn)")

    adjusted, _ = await disputed(desk)
    await desk.slack.slash_command("U0BOB", f"resolve {adjusted.human_id}")
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0BOB"), message="resolve form")
    await desk.slack.submit_modal(
        "U0BOB", {"Outcome": "Adjusted", "Amount (USD)": "-50.00", "Note": GOOD_NOTE}
    )
    after = await wait_state(desk, adjusted, ReviewState.PENDING)
    assert after.dispute is not None
    assert after.dispute.outcome is DisputeOutcome.ADJUSTED
    assert after.dispute.resolution_amount == Decimal("-50.00")
    (resolved,) = [
        e for e in await audit_events(desk, adjusted) if e["event"] == "dispute.resolved"
    ]
    assert resolved["data"]["amount"] == "-50.00" and resolved["data"]["note"] == GOOD_NOTE


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ({"Outcome": "Adjusted"}, "Give the adjusted amount in USD."),
        ({"Outcome": "Adjusted", "Amount (USD)": "12.345"}, "more decimals than USD allows"),
        ({"Outcome": "Adjusted", "Amount (USD)": "twelve"}, "is not a decimal number"),
        ({"Outcome": "Adjusted", "Amount (USD)": "0"}, "The amount cannot be zero."),
        ({"Outcome": "Written off", "Amount (USD)": "-5.00"}, "as a positive number"),
        ({"Outcome": "Withdrawn", "Amount (USD)": "5.00"}, "takes no amount"),
    ],
)
async def test_amount_errors_come_back_in_the_ack(
    desk: Desk, entries: dict[str, str], problem: str
) -> None:
    item, card = await disputed(desk)
    await open_form(desk, "U0ALICE", "Resolve", card)
    result = await desk.slack.submit_modal("U0ALICE", {"Note": GOOD_NOTE, **entries})
    assert result.response_action == "errors"
    assert list(result.errors) == ["amount"] and problem in result.errors["amount"]
    assert result.modal_after is not None  # the form stays open
    unchanged = await desk.item(item.id or 0)
    assert unchanged.state is ReviewState.DISPUTED and unchanged.version == item.version + 1


async def test_a_large_write_off_needs_two_sign_offs_never_the_preparer(desk: Desk) -> None:
    item, card = await disputed(desk, amount=Decimal("25000.00"), prepared_by="U0ALICE")
    write_off = {"Outcome": "Written off", "Amount (USD)": "25000.00", "Note": GOOD_NOTE}

    # the preparer may not sign off a write-off of their own item
    await open_form(desk, "U0ALICE", "Resolve", card)
    await desk.slack.submit_modal("U0ALICE", write_off)
    await wait_said(desk, "U0ALICE", f"you prepared {item.human_id}", "maker-checker")
    assert (await desk.item(item.id or 0)).dispute.write_off_approvals == ()  # type: ignore[union-attr]

    # Bob's sign-off is the first of two: the reply and the card say so
    await open_form(desk, "U0BOB", "Resolve", card)
    await desk.slack.submit_modal("U0BOB", write_off)
    progress = "1 of 2 sign-offs: <@U0BOB>, waiting for a second"
    await wait_said(desk, "U0BOB", "Your sign-off is recorded", progress)
    waiting = await wait_card(desk, item, progress)
    assert waiting.ts == card.ts and "Resolve" in waiting.button_labels()
    first = await desk.item(item.id or 0)
    assert first.state is ReviewState.DISPUTED
    assert first.dispute is not None and first.dispute.resolution_amount == Decimal("25000.00")

    # Bob again, by the form the card now opens (it starts on the pending write-off):
    # nothing more is recorded, and he is told a different person must sign
    await open_form(desk, "U0BOB", "Resolve", waiting)
    await desk.slack.submit_modal("U0BOB", {"Note": GOOD_NOTE})
    await wait_said(desk, "U0BOB", "You already signed off the write-off")
    assert (await desk.item(item.id or 0)).version == first.version
    # the preparer by command: still refused
    await desk.slack.slash_command("U0ALICE", f"resolve {item.human_id}")
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="resolve form")
    await desk.slack.submit_modal("U0ALICE", {"Note": GOOD_NOTE})
    await wait_told(desk, "U0ALICE", "maker-checker", 2)
    assert await journal_of(desk, item) == []

    # the lead's sign-off is the second: approved for the write-off account and posted
    await desk.slack.slash_command("U0LEAD", f"resolve {item.human_id}")
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0LEAD"), message="resolve form")
    await desk.slack.submit_modal("U0LEAD", {"Note": GOOD_NOTE})
    posted = await wait_state(desk, item, ReviewState.POSTED)
    assert posted.dispute is not None
    assert posted.dispute.outcome is DisputeOutcome.WRITTEN_OFF
    assert [a.user for a in posted.dispute.write_off_approvals] == ["U0BOB", "U0LEAD"]
    await wait_said(desk, "U0LEAD", f"Dispute D-{item.id}-1 resolved (written off)")
    (entry,) = await journal_of(desk, item)
    assert entry.kind is EntryKind.WRITE_OFF
    final = await wait_card(desk, item, "resolved (written off)")
    assert "sign-offs" not in final.all_text()
    assert final.button_labels() == []


async def test_a_stale_form_or_card_changes_nothing(desk: Desk) -> None:
    item, card = await disputed(desk)
    # Bob opens the resolve form; Alice adds a note before he submits
    await open_form(desk, "U0BOB", "Resolve", card)
    await desk.slack.slash_command("U0ALICE", f"note {item.human_id} called their AP desk")
    noted = await wait_said(desk, "U0ALICE", "Note added")
    assert noted
    result = await desk.slack.submit_modal("U0BOB", {"Outcome": "Matched", "Note": GOOD_NOTE})
    assert result.response_action == "errors"
    assert "changed since you opened this form" in result.errors["outcome"]
    current = await desk.item(item.id or 0)
    assert current.state is ReviewState.DISPUTED

    # Bob's copy of the buttons (from /recon show) predates another note
    await desk.slack.slash_command("U0BOB", f"show {item.human_id}", channel=TREASURY)
    await desk.slack.wait_for(
        lambda: any(
            "Awaiting counterparty" in e.button_labels()
            for e in desk.slack.ephemerals_for("U0BOB", TREASURY)
        ),
        message="Bob's details",
    )
    (details,) = [
        e
        for e in desk.slack.ephemerals_for("U0BOB", TREASURY)
        if "Awaiting counterparty" in e.button_labels()
    ]
    await desk.slack.slash_command("U0ALICE", f"note {item.human_id} second call, no answer")
    await wait_told(desk, "U0ALICE", "Note added", 2)
    before = await desk.item(item.id or 0)
    await desk.slack.click("U0BOB", "Awaiting counterparty", channel=TREASURY, ts=details.ts)
    await wait_said(desk, "U0BOB", f"{item.human_id} changed since you opened it")
    await desk.slack.click("U0BOB", "Add note", channel=TREASURY, ts=details.ts)
    await wait_said(desk, "U0BOB", f"{item.human_id} changed since this card was drawn")
    await listeners_idle(desk)
    after = await desk.item(item.id or 0)
    assert after.version == before.version
    assert after.dispute is not None and after.dispute.state is DisputeState.OPEN


async def test_refusals_closed_items_and_outsiders(desk: Desk) -> None:
    item, card = await disputed(desk)
    # someone outside the item's team cannot see it, let alone resolve it
    await desk.slack.slash_command("U0DAN", f"resolve {item.human_id}")
    await wait_said(desk, "U0DAN", f"cannot see {item.human_id}")
    await desk.slack.slash_command("U0DAN", f"note {item.human_id} sneaky note here")
    await wait_told(desk, "U0DAN", f"cannot see {item.human_id}", 2)
    assert desk.slack.open_modal("U0DAN") is None

    # an item with no dispute cannot be resolved
    (plain,) = await desk.ingest()
    await desk.slack.slash_command("U0ALICE", f"resolve {plain.human_id}")
    await wait_said(desk, "U0ALICE", f"{plain.human_id} is pending; it cannot be resolved")
    assert desk.slack.open_modal("U0ALICE") is None

    # a closed item: nothing left to decide
    await desk.slack.slash_command("U0ALICE", f"approve {plain.human_id}")
    await wait_state(desk, plain, ReviewState.POSTED)
    await desk.slack.slash_command("U0BOB", f"resolve {plain.human_id}")
    await wait_said(desk, "U0BOB", f"{plain.human_id} is already posted")
    await desk.slack.slash_command("U0BOB", f"note {plain.human_id} too late for notes")
    await wait_said(desk, "U0BOB", f"{plain.human_id} is posted; it cannot be given a dispute")
    assert (await desk.item(item.id or 0)).state is ReviewState.DISPUTED
    assert card.button_labels() == DISPUTE_BUTTONS


async def test_details_show_the_dispute_timeline(desk: Desk) -> None:
    item, card = await disputed(desk)
    await desk.slack.click("U0ALICE", "Awaiting counterparty", channel=TREASURY, ts=card.ts)
    await wait_said(desk, "U0ALICE", "awaits the counterparty")
    await desk.slack.slash_command("U0ALICE", f"note {item.human_id} called their AP desk")
    await wait_said(desk, "U0ALICE", "Note added")
    await desk.slack.slash_command("U0BOB", f"show {item.human_id}")
    shown = await wait_said(desk, "U0BOB", "Dispute timeline")
    ident = f"D-{item.id}-1"
    assert f"`{ident}` <@U0BOB> opened the dispute (amount mismatch)" in shown
    assert "the counterparty booked a different amount" in shown
    assert f"`{ident}` <@U0ALICE> marked it awaiting the counterparty" in shown
    assert f"`{ident}` <@U0ALICE> added a note" in shown and "called their AP desk" in shown


async def test_the_ladder_waits_while_paused_and_then_only_overseers_may_resolve(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    clock = StepClock()
    settings = desk_settings(tmp_path, slack)
    desk = await start_policy_desk(slack, settings, policy_yaml(sla=FAST_LADDER), clock=clock)
    try:
        item, card = await disputed(desk)
        jobs = jobs_of(desk)
        await desk.slack.click("U0ALICE", "Awaiting counterparty", channel=TREASURY, ts=card.ts)
        await wait_card(desk, item, "SLA clock paused")
        clock.advance(60)
        assert await jobs.sla_sweep() == 0  # paused: no rung falls due
        assert (await desk.item(item.id or 0)).ladder_level == 0

        await desk.slack.click("U0ALICE", "Resume", channel=TREASURY, ts=card.ts)
        await wait_card(desk, item, "SLA clock running")
        for _ in range(3):
            clock.advance(2.5)
            await jobs.sla_sweep()
        late = await desk.item(item.id or 0)
        assert late.state is ReviewState.DISPUTED and late.ladder_level == 3

        await desk.slack.slash_command("U0ALICE", f"resolve {item.human_id}")
        await wait_said(desk, "U0ALICE", "only compliance officers or team leads may act")
        assert desk.slack.open_modal("U0ALICE") is None
        await desk.slack.slash_command("U0LEAD", f"resolve {item.human_id}")
        await desk.slack.wait_for(lambda: desk.slack.open_modal("U0LEAD"), message="form")
        await desk.slack.submit_modal("U0LEAD", {"Outcome": "Withdrawn", "Note": GOOD_NOTE})
        back = await wait_state(desk, item, ReviewState.PENDING)
        assert back.ladder_level == 0  # a fresh clock after the dispute
    finally:
        await stop_desk(desk)
