"""A posted item whose source data changes, through the real bot and the Slack stand-in:
its entry is reversed, its card comes back with buttons on the new facts, and a second
approval posts a second entry of its own."""

from __future__ import annotations

from decimal import Decimal

from domain.intake import IntakeRow
from domain.items import EntryKind, ReviewState
from tests.builders import make_facts
from tests.e2e.conftest import MATERIAL, TREASURY, Desk, ingest_rows, journal_of


async def test_a_changed_re_ingest_brings_a_posted_card_back_and_a_re_approval_posts_again(
    desk: Desk,
) -> None:
    (item,) = await desk.ingest()
    assert item.id is not None
    card = await desk.card(item)
    await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)

    async def state_is(state: ReviewState) -> bool:
        return (await desk.item(item.id or 0)).state is state

    async def posted() -> bool:
        return await state_is(ReviewState.POSTED)

    async def pending() -> bool:
        return await state_is(ReviewState.PENDING)

    await desk.slack.wait_for(posted, message="item posted")

    changed = make_facts(
        **(MATERIAL | {"external_id": item.facts.external_id, "amount": "2600.00"})
    )
    await ingest_rows(desk.container, [IntakeRow(line=2, facts=changed)])
    await desk.slack.wait_for(pending, message="back in review")

    back = await desk.slack.wait_for(
        lambda: (
            (m := desk.slack.message(TREASURY, card.ts)) is not None
            and "2,600.00 USD" in m.all_text()
            and "Approve" in m.button_labels()
            and m
        ),
        message="the same card shows the new amount with its buttons again",
    )
    assert "file:" not in back.all_text()  # no ledger reference while in review
    entries = await journal_of(desk, item)
    assert [(e.kind, e.reverses) for e in entries] == [
        (EntryKind.APPROVAL, None),
        (EntryKind.REVERSAL, entries[0].idempotency_key),
    ]

    await desk.slack.click("U0BOB", "Approve", channel=TREASURY, ts=card.ts)
    await desk.slack.wait_for(posted, message="posted again")
    final = await desk.item(item.id)
    entries = await journal_of(desk, item)
    second_ref = entries[-1].reference  # the (file) ledger's answer to the second entry
    assert second_ref is not None and final.ledger_ref == second_ref
    assert [e.idempotency_key for e in entries] == [
        f"item-{item.id}-approval",
        f"item-{item.id}-reversal-1",
        f"item-{item.id}-approval-2",
    ]
    assert entries[-1].lines[0].debit_minor == int(Decimal("2600.00") * 100)
    await desk.slack.wait_for(
        lambda: (m := desk.slack.message(TREASURY, card.ts)) and second_ref in m.all_text(),
        message="the card shows the second ledger reference",
    )
