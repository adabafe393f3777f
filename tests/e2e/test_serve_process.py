"""``recon-bot serve`` as a real process: connects, logs once, answers, stops on SIGTERM,
and a SIGKILL between Slack's answer and the record leaves one card, not two."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.container import Container
from bot.setup import initialize
from domain.intake import IntakeRow
from domain.items import Item, ReviewState
from store.outbox import OutboxStore, RowState
from store.tables import outbox
from tests.builders import make_facts
from tests.e2e.conftest import MATERIAL, TREASURY, cards_of, e2e_settings, ingest_rows
from tests.e2e.serve_process import ServeProcess, start_serve
from tests.slack_standin import SlackStandIn


async def test_serve_connects_answers_and_stops_cleanly_on_sigterm(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    await initialize(settings)
    proc = await start_serve(settings, slack, tmp_path)
    try:
        await slack.wait_connected(timeout=30)
        result = await slack.slash_command("U0ALICE", "help")
        assert not result.timed_out
        assert result.ack_payload and "/recon" in str(result.ack_payload)
    finally:
        logs = (await proc.stop()).logs
    assert proc.returncode == 0, logs
    assert logs.count("connected to Slack over Socket Mode") == 1
    assert "stopped" in logs
    for secret in (slack.bot_token, slack.app_token):
        assert secret not in logs


async def _card_rows(container: Container, item: Item) -> dict[str, str]:
    """The item's card rows in the outbox: dedupe key -> state."""
    async with container.database.reader.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.dedupe_key, outbox.c.state).where(
                outbox.c.item_id == item.id, outbox.c.kind == "card"
            )
        )
        return {key: state for key, state in rows.all()}


@pytest.mark.slow
async def test_serve_killed_after_slack_took_a_card_leaves_one_card_after_restart(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    """Issue 16, finding 2: SIGKILL after Slack stored the card, before the relay recorded
    it; while the bot is down a reviewer claims the item. After the restart the item has
    exactly one top-level card, the one Slack stored, showing the claim with live buttons.
    """
    settings = e2e_settings(tmp_path, slack)
    await initialize(settings)
    # Slack stores the card, but its answer waits until the process is dead.
    hold = slack.hold_response("chat.postMessage", channel=TREASURY)
    container = await Container.open(settings)
    second: ServeProcess | None = None
    first = await start_serve(settings, slack, tmp_path)
    try:
        await slack.wait_connected(timeout=30)
        facts = make_facts(**(MATERIAL | {"external_id": "crash-1"}))
        (item,) = await ingest_rows(container, [IntakeRow(line=1, facts=facts)])
        async with asyncio.timeout(30):
            await hold.reached.wait()
        await first.kill()  # SIGKILL: no shutdown, no record of what Slack said
        hold.release()
        (orphan,) = cards_of(slack, item)
        assert "Pending review" in orphan.all_text()
        assert await _card_rows(container, item) == {f"card:{item.id}:v1": "sending"}

        assert item.id is not None
        claimed = await container.usecases.claims.claim(
            item_id=item.id, actor="U0ALICE", now=container.clock.now()
        )
        assert claimed.item.state is ReviewState.ASSIGNED

        second = await start_serve(settings, slack, tmp_path)
        store = OutboxStore(container.database)

        async def settled() -> bool:
            if len(cards_of(slack, item)) > 1:
                return True  # already wrong: say so below instead of waiting
            rows = await _card_rows(container, item)
            done = all(state == RowState.SENT.value for state in rows.values())
            return done and await store.card_location(item.id or 0) is not None

        # Bounded: one lease (15 s) for the dead process's row to come back, plus a tick.
        await slack.wait_for(settled, timeout=60, message="card deliveries settled")
        cards = cards_of(slack, item)
        assert [m.ts for m in cards] == [orphan.ts], "a second card was posted"
        (card,) = cards
        assert await store.card_location(item.id) == (TREASURY, orphan.ts)
        text = card.all_text()
        assert "Pending review" not in text and "Claimed" in text and "U0ALICE" in text
        labels = card.button_labels()
        assert "Release" in labels and "Approve" in labels and "Claim" not in labels
        assert not [c for c in slack.calls_to("chat.postMessage") if c.ok][1:]
    finally:
        hold.release()
        await first.kill()
        logs = (await second.stop()).logs if second is not None else ""
        await container.close()
    assert second.returncode == 0, logs
    for secret in (slack.bot_token, slack.app_token):
        assert secret not in logs
