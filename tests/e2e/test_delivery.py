"""The delivery outbox against Slack's failures: rate limits wait for Retry-After, server
errors back off and retry, permanent errors dead-letter at once and alert compliance."""

from __future__ import annotations

import pytest

from domain.items import Item
from store.outbox import OutboxRow, OutboxStore, RowState
from tests.e2e.conftest import TREASURY, Desk, cards_idle, cards_of

pytestmark = pytest.mark.usefixtures("every_envelope_acked")

COMPLIANCE = "C0COMPLIANCE"


async def _card_row(desk: Desk, item: Item) -> OutboxRow:
    """The outbox row that posts ``item``'s card."""
    rows = await OutboxStore(desk.container.database).list_rows(states=list(RowState), limit=500)
    (row,) = [r for r in rows if r.dedupe_key == f"card:{item.id}:v1"]
    return row


def _posts_to(desk: Desk, channel: str) -> list[int]:
    """HTTP statuses of every chat.postMessage to ``channel``, oldest first."""
    return [
        c.status for c in desk.slack.calls_to("chat.postMessage") if c.params["channel"] == channel
    ]


async def test_a_rate_limited_card_is_retried_and_arrives_once(desk: Desk) -> None:
    desk.slack.fail_next("chat.postMessage", status=429, retry_after=1, channel=TREASURY)
    (item,) = await desk.ingest()
    card = await desk.card(item)
    await cards_idle(desk)
    assert [m.ts for m in cards_of(desk.slack, item)] == [card.ts]
    assert _posts_to(desk, TREASURY) == [429, 200]
    row = await _card_row(desk, item)
    assert row.state is RowState.SENT
    assert row.attempts == 2 and row.failures == 0  # a rate limit is not a failure
    assert desk.slack.messages_in(COMPLIANCE) == []


async def test_a_server_error_is_retried_with_backoff(desk: Desk) -> None:
    desk.slack.fail_next("chat.postMessage", status=503, channel=TREASURY)
    (item,) = await desk.ingest()
    card = await desk.card(item, where=TREASURY)
    await cards_idle(desk)
    assert [m.ts for m in cards_of(desk.slack, item)] == [card.ts]
    assert _posts_to(desk, TREASURY) == [503, 200]
    row = await _card_row(desk, item)
    assert row.state is RowState.SENT
    assert row.attempts == 2 and row.failures == 1  # counted: the next wait doubles
    assert desk.slack.messages_in(COMPLIANCE) == []


@pytest.mark.parametrize(
    "error", ["channel_not_found", "not_in_channel", "is_archived", "invalid_blocks"]
)
async def test_a_permanent_error_dead_letters_at_once_and_alerts_compliance(
    desk: Desk, error: str
) -> None:
    desk.slack.fail_next("chat.postMessage", error=error, channel=TREASURY)
    (item,) = await desk.ingest()
    alert = await desk.slack.wait_for(
        lambda: [m for m in desk.slack.messages_in(COMPLIANCE) if error in m.all_text()],
        message="compliance alerted",
    )
    (message,) = alert
    text = message.all_text()
    assert "could not be delivered" in text and item.human_id in text and TREASURY in text
    await cards_idle(desk)
    assert _posts_to(desk, TREASURY) == [200]  # one attempt, no retries
    assert cards_of(desk.slack, item) == []

    # what `recon-bot outbox --dead` lists
    dead = await OutboxStore(desk.container.database).list_rows(states=[RowState.DEAD])
    (row,) = dead
    assert row.dedupe_key == f"card:{item.id}:v1" and row.target == TREASURY
    assert row.last_error == error and row.attempts == 1
    assert f"recon-bot outbox --retry {row.id}" in text


async def test_a_dead_card_replayed_after_the_fix_arrives_once(desk: Desk) -> None:
    archived = desk.slack.channels[TREASURY]
    archived.archived = True
    (item,) = await desk.ingest()
    await desk.slack.wait_for(
        lambda: desk.slack.messages_in(COMPLIANCE), message="compliance alerted"
    )
    store = OutboxStore(desk.container.database)
    (row,) = await store.list_rows(states=[RowState.DEAD])
    assert row.last_error == "is_archived"

    archived.archived = False  # someone unarchives the channel, then replays the row
    assert await store.retry(row.id, now=desk.container.clock.now())
    card = await desk.card(item)
    await cards_idle(desk)
    assert [m.ts for m in cards_of(desk.slack, item)] == [card.ts]
    assert await store.list_rows(states=[RowState.DEAD]) == []
    assert len(desk.slack.messages_in(COMPLIANCE)) == 1
