"""Clicks on item cards and queue rows: each goes through the same checks as a command,
and every refusal reaches the person who clicked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.items import ReviewState
from tests.e2e.conftest import (
    QUIET,
    TREASURY,
    Desk,
    card_updates,
    cards_idle,
    cards_of,
    journal_of,
    wait_card,
    wait_said,
    wait_state,
    wait_told,
)

pytestmark = pytest.mark.usefixtures("every_envelope_acked")


@pytest.mark.parametrize(
    ("label", "title", "inputs"),
    [
        ("Reject", "Reject", ["Reason"]),
        ("Escalate", "Escalate", ["Reason"]),
        (
            "Dispute",
            "Dispute",
            [
                "Category",
                "Description",
                "Counterparty contact",
                "Expected resolution date",
                "Evidence links",
                "Proposed adjustment (USD)",
            ],
        ),
    ],
)
async def test_card_buttons_open_their_forms(
    desk: Desk, label: str, title: str, inputs: list[str]
) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    result = await desk.slack.click("U0BOB", label, channel=TREASURY, ts=card.ts)
    assert not result.timed_out
    modal = await desk.slack.wait_for(lambda: desk.slack.open_modal("U0BOB"), message="a form")
    assert modal.title == f"{title} {item.human_id}"
    assert modal.input_labels() == inputs
    assert (await desk.item(item.id or 0)).state is ReviewState.PENDING  # a form decides nothing


async def test_claim_button_updates_the_card_in_place(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    await desk.slack.click("U0ALICE", "Claim", channel=TREASURY, ts=card.ts)
    claimed = await wait_state(desk, item, ReviewState.ASSIGNED)
    assert claimed.assignee == "U0ALICE"
    await wait_said(desk, "U0ALICE", f"You claimed {item.human_id} until")
    updated = await wait_card(desk, item, "<@U0ALICE>", "Claimed")
    assert updated.ts == card.ts
    labels = updated.button_labels()
    assert "Claim" not in labels and "Release" in labels and "Approve" in labels
    assert len(cards_of(desk.slack, item)) == 1


async def test_someone_outside_the_team_is_refused_on_every_button(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    for n, label in enumerate(("Approve", "Reject", "Escalate", "Dispute", "Claim"), start=1):
        result = await desk.slack.click("U0DAN", label, channel=TREASURY, ts=card.ts)
        assert not result.timed_out

        def told(n: int = n) -> bool:
            return len(desk.slack.ephemerals_for("U0DAN", TREASURY)) == n

        await desk.slack.wait_for(told, message=f"Dan told why {label} is refused")
        reply = desk.slack.ephemerals_for("U0DAN", TREASURY)[-1].all_text()
        assert reply == f":no_entry: you cannot see {item.human_id}", (label, reply)
    assert desk.slack.open_modal("U0DAN") is None
    unchanged = await desk.item(item.id or 0)
    assert unchanged.state is ReviewState.PENDING and unchanged.version == item.version
    await cards_idle(desk)
    assert card_updates(desk.slack, card.ts) == []


async def test_the_preparer_may_not_approve_their_own_item(desk: Desk) -> None:
    (item,) = await desk.ingest(prepared_by="U0ALICE")
    card = await desk.card(item)
    await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
    await wait_said(desk, "U0ALICE", f"you prepared {item.human_id}", "maker-checker")
    await desk.slack.slash_command("U0ALICE", f"approve {item.human_id} looks right to me")
    await wait_told(desk, "U0ALICE", "maker-checker", 2)
    unchanged = await desk.item(item.id or 0)
    assert unchanged.state is ReviewState.PENDING
    assert unchanged.approvals == () and unchanged.version == item.version
    assert await journal_of(desk, item) == []
    # someone else may
    await desk.slack.click("U0BOB", "Approve", channel=TREASURY, ts=card.ts)
    await wait_state(desk, item, ReviewState.POSTED)


async def test_dual_control_needs_two_people_neither_of_them_the_preparer(desk: Desk) -> None:
    (item,) = await desk.ingest(amount=Decimal("25000.00"), prepared_by="U0BOB")
    assert item.required_approvals == 2
    card = await desk.card(item)
    await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
    progress = "1 of 2 approvals: <@U0ALICE> — waiting for a second approver"
    await wait_card(desk, item, progress)
    # Alice again, on the updated card and by command: still one approval
    await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
    await desk.slack.slash_command("U0ALICE", f"approve {item.human_id}")
    await wait_told(desk, "U0ALICE", f"You already approved {item.human_id}", 2)
    # Bob prepared it: his approval never counts, by button or by command
    await desk.slack.click("U0BOB", "Approve", channel=TREASURY, ts=card.ts)
    await desk.slack.slash_command("U0BOB", f"approve {item.human_id}")
    await wait_told(desk, "U0BOB", "maker-checker", 2)
    waiting = await desk.item(item.id or 0)
    assert waiting.state is ReviewState.AWAITING_SECOND_APPROVAL
    assert [a.user for a in waiting.approvals] == ["U0ALICE"]
    assert await journal_of(desk, item) == []

    await desk.slack.slash_command("U0LEAD", f"approve {item.human_id}")
    posted = await wait_state(desk, item, ReviewState.POSTED)
    assert [a.user for a in posted.approvals] == ["U0ALICE", "U0LEAD"]
    assert len(await journal_of(desk, item)) == 1
    final = await wait_card(desk, item, posted.ledger_ref or "?", "<@U0ALICE>, <@U0LEAD>")
    assert final.ts == card.ts and final.button_labels() == []


async def test_a_stale_row_changes_nothing(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0LEAD", "queue all")
    dm = desk.slack.dm_channel("U0LEAD").id
    await desk.slack.wait_for(
        lambda: any("Approve" in e.button_labels() for e in desk.slack.ephemerals_for("U0LEAD")),
        message="the lead's queue",
    )
    # Alice claims it after the lead's list was drawn
    await desk.slack.slash_command("U0ALICE", "claim")
    claimed = await wait_state(desk, item, ReviewState.ASSIGNED)

    await desk.slack.click("U0LEAD", "Approve", channel=dm)
    await wait_said(desk, "U0LEAD", f"{item.human_id} changed since you opened it")
    await desk.slack.click("U0LEAD", "Reject", channel=dm)
    await wait_said(desk, "U0LEAD", f"{item.human_id} changed since this card was drawn")
    assert desk.slack.open_modal("U0LEAD") is None
    after = await desk.item(item.id or 0)
    assert after.state is ReviewState.ASSIGNED and after.version == claimed.version
    assert after.approvals == ()


async def test_details_and_release_buttons(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0ALICE", "claim")
    card = await wait_card(desk, item, "<@U0ALICE>")  # a claimed item earns a card
    await desk.slack.slash_command("U0ALICE", "queue")
    dm = desk.slack.dm_channel("U0ALICE").id
    await desk.slack.wait_for(
        lambda: any("Details" in e.button_labels() for e in desk.slack.ephemerals_for("U0ALICE")),
        message="Alice's queue",
    )
    await desk.slack.click("U0ALICE", "Details", channel=dm)
    await wait_said(desk, "U0ALICE", "History", "item.claimed")

    await desk.slack.click("U0ALICE", "Release", channel=TREASURY, ts=card.ts)
    await wait_said(desk, "U0ALICE", f"{item.human_id} is back in the queue")
    released = await wait_state(desk, item, ReviewState.PENDING)
    assert released.assignee is None
    await wait_card(desk, item, "Unclaimed")
