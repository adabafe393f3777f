"""Exactly-once effects from at-least-once delivery: double clicks, two reviewers at the
same moment, Slack redelivering an envelope, and a restart between click and delivery.
Each gives one approval, one journal entry, one card update carrying the decision and one
card message per item."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from domain.items import Item, ReviewState
from tests.e2e.conftest import (
    TREASURY,
    Desk,
    card_updates,
    cards_idle,
    cards_of,
    e2e_settings,
    journal_of,
    listeners_idle,
    private_lines,
    start_desk,
    stop_desk,
    wait_card,
    wait_state,
)
from tests.slack_standin import SlackStandIn

pytestmark = pytest.mark.usefixtures("every_envelope_acked")


async def _exactly_one_decision(desk: Desk, item: Item, card_ts: str) -> Item:
    """One approval, one journal entry, one card showing the decision, one card update."""
    posted = await wait_state(desk, item, ReviewState.POSTED)
    assert posted.ledger_ref is not None
    await wait_card(desk, item, posted.ledger_ref)
    await cards_idle(desk)
    assert len(posted.approvals) == 1
    entries = await journal_of(desk, item)
    # The item shows the ledger's reference, stored on its one entry.
    assert [e.reference for e in entries] == [posted.ledger_ref]
    final = [c for c in card_updates(desk.slack, card_ts) if posted.ledger_ref in str(c.params)]
    # Two changes update the card: the approval, then the posting on the ledger's answer.
    # The card renders the item as it is when sent, so when the ledger answers first both
    # show the reference; a repeated decision would make a third.
    assert 1 <= len(final) <= 2, f"{len(final)} card updates carry the decision"
    (card,) = cards_of(desk.slack, item)  # no duplicate post
    assert card.ts == card_ts and card.button_labels() == []
    return posted


async def test_a_double_click_approves_once(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    first, second = await asyncio.gather(
        desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts),
        desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts),
    )
    assert not first.timed_out and not second.timed_out
    posted = await _exactly_one_decision(desk, item, card.ts)
    assert [a.user for a in posted.approvals] == ["U0ALICE"]
    # both clicks were answered: one confirms, the other says nothing more happened
    told = await desk.slack.wait_for(
        lambda: (lines := private_lines(desk, "U0ALICE")) and len(lines) == 2 and lines,
        message="both clicks answered",
    )
    assert sum(f"{item.human_id} approved. Its journal entry" in t for t in told) == 1


async def test_two_reviewers_at_the_same_moment_approve_once(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    await asyncio.gather(
        desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts),
        desk.slack.click("U0BOB", "Approve", channel=TREASURY, ts=card.ts),
    )
    posted = await _exactly_one_decision(desk, item, card.ts)
    (winner,) = [a.user for a in posted.approvals]
    loser = "U0BOB" if winner == "U0ALICE" else "U0ALICE"
    told = await desk.slack.wait_for(
        lambda: private_lines(desk, loser), message="the second reviewer is told"
    )
    (line,) = told
    assert item.human_id in line and "approved and posted" not in line


async def test_a_redelivered_click_approves_once(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    click = await desk.slack.click("U0BOB", "Approve", channel=TREASURY, ts=card.ts)
    await wait_state(desk, item, ReviewState.POSTED)
    again = await desk.slack.redeliver(click.envelope_id)
    ack = await again.done
    assert ack is not None and not again.timed_out
    assert again.retry_attempt == 1
    await _exactly_one_decision(desk, item, card.ts)
    # The copy carries the click's trigger_id, which the durable inbox already holds as
    # done: acked and dropped, so one click gets one answer (it used to get a second,
    # "You already approved").
    await listeners_idle(desk)
    (said,) = private_lines(desk, "U0BOB")
    assert f"{item.human_id} approved" in said


async def test_a_restart_between_click_and_delivery_updates_the_card_once(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    first = await start_desk(slack, settings)
    try:
        (item,) = await first.ingest()
        card = await first.card(item)
        slack.fail_next("chat.update", status=503, times=10_000)
        await slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
        await wait_state(first, item, ReviewState.POSTED)
        await slack.wait_for(
            lambda: any(c.status == 503 for c in slack.calls_to("chat.update")),
            message="Slack refused the card update",
        )
    finally:
        await stop_desk(first)

    assert card_updates(slack, card.ts) == []  # nobody saw the decision yet
    slack.faults.clear()
    second = await start_desk(slack, settings)
    try:
        posted = await _exactly_one_decision(second, item, card.ts)
        assert [a.user for a in posted.approvals] == ["U0ALICE"]
        assert len(slack.messages_in(TREASURY)) == 1
    finally:
        await stop_desk(second)


async def test_a_restart_before_the_card_was_ever_posted_posts_it_once(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    first = await start_desk(slack, settings)
    try:
        slack.fail_next("chat.postMessage", status=503, times=10_000, channel=TREASURY)
        (item,) = await first.ingest()
        await slack.wait_for(
            lambda: slack.calls_to("chat.postMessage"), message="Slack refused the card"
        )
        await slack.slash_command("U0BOB", f"approve {item.human_id}")
        posted = await wait_state(first, item, ReviewState.POSTED)
    finally:
        await stop_desk(first)

    slack.faults.clear()
    second = await start_desk(slack, settings)
    try:
        card = await wait_card(second, item, posted.ledger_ref or "?", within=10.0)
        await cards_idle(second)
        assert cards_of(slack, item) == [card]  # one card, drawn in its final state
        assert card_updates(slack, card.ts) == [] and card.button_labels() == []
        assert len(await journal_of(second, item)) == 1
    finally:
        await stop_desk(second)


async def test_a_redelivered_click_that_opens_a_form_opens_one_quietly(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    click = await desk.slack.click("U0ALICE", "Reject", channel=TREASURY, ts=card.ts)
    form = await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="form")
    again = await desk.slack.redeliver(click.envelope_id)
    assert await again.done is not None
    await listeners_idle(desk)  # whatever the redelivery's listener says, it has said
    # The copy is known by its trigger_id (the durable inbox): acked and dropped before it
    # tries to open a second form.
    assert len(desk.slack.calls_to("views.open")) == 1
    modal = desk.slack.open_modal("U0ALICE")
    assert modal is not None and modal.id == form.id  # one form, still open
    assert private_lines(desk, "U0ALICE") == []
