"""The delivery outbox against Slack's failures: rate limits wait for Retry-After, server
errors back off and retry, permanent errors dead-letter at once and alert compliance."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

import pytest

from bot.app import make_deps
from domain.delivery import Failed, OutboxMessage, RateLimited, Sent
from domain.items import Item
from domain.notifications import NoticeKind
from domain.templates import DeliveryFailed
from handlers.notifier import SlackNotifier, make_client
from store.outbox import OutboxRow, OutboxStore, RowState
from tests.e2e.conftest import TREASURY, Desk, cards_idle, cards_of

BOB = "U0BOB"

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


# --- a post in doubt (its process died between Slack's answer and the record) ---------------


def _alert(*, unsure: bool) -> OutboxMessage:
    now = datetime.now(UTC)
    return OutboxMessage(
        id=9001,
        kind=NoticeKind.ALERT,
        target=TREASURY,
        item_id=None,
        payload=DeliveryFailed(outbox_id=7, kind=NoticeKind.CARD, target=TREASURY, error="x"),
        dedupe_key="alert:delivery_failed:7:1",
        created_at=now,
        unsure_since=now if unsure else None,
    )


async def test_a_post_in_doubt_is_found_by_its_metadata_instead_of_posted_again(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SlackNotifier(client=desk.server.client, deps=make_deps(desk.container))
    now = desk.container.clock.now()
    first = await notifier.deliver(_alert(unsure=False), card=None, now=now)
    assert isinstance(first, Sent)
    (posted,) = desk.slack.messages_in(TREASURY)
    assert posted.metadata == {
        "event_type": "recon_outbox_message",
        "event_payload": {"dedupe_key": "alert:delivery_failed:7:1", "kind": "alert"},
    }
    assert desk.slack.calls_to("conversations.history") == []  # not in doubt: no lookup

    again = await notifier.deliver(_alert(unsure=True), card=None, now=now)
    assert again == first  # recorded, not posted again
    assert len(desk.slack.messages_in(TREASURY)) == 1
    (lookup,) = desk.slack.calls_to("conversations.history")
    assert lookup.params["include_all_metadata"] in ("1", "true", True)

    # Slack cannot answer now: retried later, still in doubt (nothing posted meanwhile).
    desk.slack.fail_next("conversations.history", status=429, retry_after=3)
    assert isinstance(await notifier.deliver(_alert(unsure=True), card=None, now=now), RateLimited)
    desk.slack.fail_next("conversations.history", status=503)
    failed = await notifier.deliver(_alert(unsure=True), card=None, now=now)
    assert isinstance(failed, Failed) and not failed.permanent
    assert len(desk.slack.messages_in(TREASURY)) == 1

    # An install without the history scopes: posted (a duplicate beats a lost message), said.
    desk.slack.fail_next("conversations.history", error="missing_scope")
    with caplog.at_level(logging.WARNING):
        unchecked = await notifier.deliver(_alert(unsure=True), card=None, now=now)
    assert isinstance(unchecked, Sent) and unchecked.ts != first.ts
    assert len(desk.slack.messages_in(TREASURY)) == 2
    assert any(getattr(r, "event", None) == "delivery_unchecked" for r in caplog.records)


def _dm(*, unsure: bool) -> OutboxMessage:
    return dataclasses.replace(
        _alert(unsure=unsure),
        id=9002,
        kind=NoticeKind.DM,
        target=BOB,
        dedupe_key="dm:delivery_failed:7:1",
    )


async def test_a_dm_in_doubt_is_found_in_the_dm_instead_of_posted_again(desk: Desk) -> None:
    notifier = SlackNotifier(client=desk.server.client, deps=make_deps(desk.container))
    now = desk.container.clock.now()
    dm = desk.slack.dm_channel(BOB).id
    first = await notifier.deliver(_dm(unsure=False), card=None, now=now)
    assert isinstance(first, Sent) and first.channel == dm
    (posted,) = desk.slack.messages_in(dm)
    assert posted.metadata is not None
    assert posted.metadata["event_payload"]["dedupe_key"] == "dm:delivery_failed:7:1"

    again = await notifier.deliver(_dm(unsure=True), card=None, now=now)
    assert again == first  # recorded, not posted again
    assert len(desk.slack.messages_in(dm)) == 1
    (lookup,) = desk.slack.calls_to("conversations.history")
    assert lookup.params["channel"] == dm
    assert lookup.params["include_all_metadata"] in ("1", "true", True)


# --- a post that got no answer (a timeout, a dropped connection) is in doubt too ------------


async def test_a_card_post_whose_answer_was_dropped_is_looked_for_not_posted_again(
    desk: Desk,
) -> None:
    dropped = desk.slack.drop_response("chat.postMessage", channel=TREASURY)
    (item,) = await desk.ingest()
    await desk.slack.wait_for(lambda: dropped.reached.is_set(), message="card posted")
    await desk.slack.wait_for(
        lambda: desk.slack.calls_to("conversations.history"), message="looked for", timeout=10
    )
    await cards_idle(desk)
    (card,) = cards_of(desk.slack, item)  # one card, not two
    assert _posts_to(desk, TREASURY) == [200]
    row = await _card_row(desk, item)
    assert row.state is RowState.SENT and row.attempts == 2 and row.failures == 1
    assert item.id is not None
    assert await OutboxStore(desk.container.database).card_location(item.id) == (
        TREASURY,
        card.ts,
    )


async def test_a_timeout_is_a_failure_in_doubt(desk: Desk) -> None:
    client = make_client(token=desk.slack.bot_token, base_url=desk.slack.api_url, timeout=1)
    notifier = SlackNotifier(client=client, deps=make_deps(desk.container))
    held = desk.slack.hold_response("chat.postMessage", channel=TREASURY)
    outcome = await notifier.deliver(_alert(unsure=False), card=None, now=_now(desk))
    assert held.reached.is_set()
    assert outcome == Failed(error="network: TimeoutError", permanent=False, in_doubt=True)
    held.release()
    # A call that never left (nothing listens there) is a plain failure: Slack saw nothing.
    nowhere = make_client(token=desk.slack.bot_token, base_url="http://127.0.0.1:9/api/")
    notifier = SlackNotifier(client=nowhere, deps=make_deps(desk.container))
    outcome = await notifier.deliver(_alert(unsure=False), card=None, now=_now(desk))
    assert isinstance(outcome, Failed) and not outcome.in_doubt and not outcome.permanent


def _now(desk: Desk) -> datetime:
    return desk.container.clock.now()


async def test_a_thread_reply_in_doubt_is_found_in_its_thread_instead_of_posted_again(
    desk: Desk,
) -> None:
    notifier = SlackNotifier(client=desk.server.client, deps=make_deps(desk.container))
    parent = await notifier.deliver(_alert(unsure=False), card=None, now=_now(desk))
    assert isinstance(parent, Sent) and parent.ts is not None

    def reply(*, unsure: bool) -> OutboxMessage:
        return dataclasses.replace(
            _alert(unsure=unsure), id=9003, dedupe_key="digest:cluster:1", thread_ts=parent.ts
        )

    # Slack posts the reply but the answer is lost on the way: the outcome is unknown.
    desk.slack.drop_response("chat.postMessage", channel=TREASURY)
    lost = await notifier.deliver(reply(unsure=False), card=None, now=_now(desk))
    assert isinstance(lost, Failed) and lost.in_doubt
    (posted,) = desk.slack.thread(TREASURY, parent.ts)[1:]

    found = await notifier.deliver(reply(unsure=True), card=None, now=_now(desk))
    assert found == Sent(channel=TREASURY, ts=posted.ts)  # recorded, not posted again
    assert len(desk.slack.thread(TREASURY, parent.ts)) == 2
    (lookup,) = desk.slack.calls_to("conversations.replies")
    assert lookup.params["ts"] == parent.ts
    assert lookup.params["include_all_metadata"] in ("1", "true", True)
    assert desk.slack.calls_to("conversations.history") == []

    # A thread Slack will not list to this token: posted (a duplicate beats a lost reply).
    desk.slack.fail_next("conversations.replies", error="not_allowed_token_type")
    unchecked = await notifier.deliver(reply(unsure=True), card=None, now=_now(desk))
    assert isinstance(unchecked, Sent) and unchecked.ts != posted.ts
    assert len(desk.slack.thread(TREASURY, parent.ts)) == 3
