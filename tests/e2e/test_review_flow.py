"""Reviewers at work: cards, buttons, commands, modals, refusals, exactly-once effects."""

from __future__ import annotations

from decimal import Decimal

from domain.items import ReviewState
from tests.e2e.conftest import TREASURY, Desk


async def test_an_immediate_item_gets_a_card_with_the_five_buttons(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    labels = card.button_labels()
    for label in ("Approve", "Reject", "Escalate", "Dispute", "Claim"):
        assert label in labels
    text = card.all_text()
    assert "2,500.00 USD" in text and "ACME-US" in text and "Globex" in text


async def test_approve_updates_the_card_in_place_with_the_ledger_reference(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    result = await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
    assert not result.timed_out

    async def posted() -> bool:
        return (await desk.item(item.id or 0)).state is ReviewState.POSTED

    await desk.slack.wait_for(posted, message="item posted")
    final = await desk.item(item.id or 0)
    ledger_ref = final.ledger_ref
    assert ledger_ref is not None
    updated = await desk.slack.wait_for(
        lambda: (m := desk.slack.message(TREASURY, card.ts)) and ledger_ref in m.all_text() and m,
        message="card shows the ledger reference",
    )
    assert updated.button_labels() == []  # no stale buttons
    assert "U0ALICE" in updated.all_text()
    assert "approved" in desk.said_to("U0ALICE").lower()


async def test_dual_control_needs_two_distinct_approvers(desk: Desk) -> None:
    (item,) = await desk.ingest(amount=Decimal("25000.00"))
    card = await desk.card(item)
    await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
    await desk.slack.wait_for(
        lambda: (
            (m := desk.slack.message(TREASURY, card.ts)) is not None
            and "1 of 2 approvals: <@U0ALICE>" in m.all_text()
        ),
        message="card shows 1 of 2 approvals",
    )
    waiting = await desk.item(item.id or 0)
    assert waiting.state is ReviewState.AWAITING_SECOND_APPROVAL
    await desk.slack.click("U0BOB", "Approve", channel=TREASURY, ts=card.ts)

    async def posted() -> bool:
        return (await desk.item(item.id or 0)).state is ReviewState.POSTED

    await desk.slack.wait_for(posted, message="posted after the second approval")
    final = await desk.item(item.id or 0)
    assert [a.user for a in final.approvals] == ["U0ALICE", "U0BOB"]
