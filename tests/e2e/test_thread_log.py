"""A dispute's communication log, end to end: people reply, edit and delete in the threads
of the desk's messages in Slack (the stand-in), and each change is one audit record.

The stand-in here also sends the bot its own posts as ``message`` events (as Slack does
for an app subscribed to ``message.channels``), so ignoring them is tested too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from domain.items import DisputeCategory, Item, ReviewState
from handlers.notifier import make_client
from store.audit.verification import verify_database
from store.tables import audit_records
from tests.e2e.conftest import (
    CHANNELS,
    PEOPLE,
    TREASURY,
    Desk,
    e2e_settings,
    listeners_idle,
    start_desk,
    stop_desk,
    wait_card,
    wait_state,
)
from tests.e2e.ladder_support import (
    FAST_LADDER,
    StepClock,
    desk_settings,
    jobs_of,
    policy_yaml,
    start_policy_desk,
    wait_message,
)
from tests.slack_standin import SlackStandIn

EVENT = "dispute.message"


async def _standin(**options: Any) -> SlackStandIn:
    standin = SlackStandIn(**options)
    await standin.start()
    for user, name in PEOPLE.items():
        standin.add_user(user, name)
    for channel, name in CHANNELS.items():
        standin.add_channel(channel, name, members=tuple(PEOPLE))
    return standin


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    """The stand-in, echoing the bot's own posts as message events like Slack."""
    standin = await _standin(echo_bot_messages=True)
    try:
        yield standin
    finally:
        await standin.stop()


@pytest.fixture
async def desk(slack: SlackStandIn, tmp_path: Path) -> AsyncIterator[Desk]:
    running = await start_desk(slack, e2e_settings(tmp_path, slack))
    try:
        yield running
    finally:
        await stop_desk(running)


async def log_records(desk: Desk) -> list[dict[str, Any]]:
    """The signed bodies of the ``dispute.message`` records, oldest first."""
    stmt = (
        select(audit_records.c.body)
        .where(audit_records.c.event == EVENT)
        .order_by(audit_records.c.seq)
    )
    async with desk.container.database.reader.connect() as conn:
        return [json.loads(b) for b in (await conn.execute(stmt)).scalars()]


async def wait_records(desk: Desk, n: int) -> list[dict[str, Any]]:
    async def counted() -> list[dict[str, Any]] | None:
        records = await log_records(desk)
        return records if len(records) == n else None

    found = await desk.slack.wait_for(counted, timeout=10, message=f"{n} log records")
    assert isinstance(found, list)
    return found


async def dispute(desk: Desk, item: Item) -> Item:
    await desk.container.usecases.disputes.open_dispute(
        item_id=item.id or 0,
        actor="U0ALICE",
        now=desk.container.clock.now(),
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="the bank shows 2,450.00",
    )
    return await wait_state(desk, item, ReviewState.DISPUTED)


async def test_replies_edits_and_deletions_in_the_cards_thread_are_the_disputes_log(
    desk: Desk,
) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    await dispute(desk, item)
    await wait_card(desk, item, "Disputed")

    posted = await desk.slack.post_reply(
        "U0BOB", TREASURY, card.ts, "Globex confirms they were paid twice"
    )
    assert posted.delivery is not None and posted.delivery.ack is not None
    [first] = await wait_records(desk, 1)
    assert {k: first[k] for k in ("event", "actor", "item_id", "item", "from", "to")} == {
        "event": EVENT,
        "actor": "U0BOB",
        "item_id": item.id,
        "item": item.human_id,
        "from": None,
        "to": None,
    }
    assert first["data"] == {
        "user": "U0BOB",
        "ts": posted.message.ts,
        "thread_ts": card.ts,
        "channel": TREASURY,
        "text": "Globex confirms they were paid twice",
        "change": "posted",
    }

    # The reply is in Slack's thread as the bot would read it.
    client = make_client(token=desk.slack.bot_token, base_url=desk.slack.api_url)
    thread = await client.conversations_replies(channel=TREASURY, ts=card.ts)
    assert [m.get("user") for m in thread["messages"]][-1] == "U0BOB"

    await desk.slack.edit_message("U0BOB", TREASURY, posted.message.ts, "paid twice: ref 991")
    await desk.slack.edit_message("U0BOB", TREASURY, posted.message.ts, "paid twice: ref 992")
    await desk.slack.delete_message("U0BOB", TREASURY, posted.message.ts)
    records = await wait_records(desk, 4)
    assert [(r["data"]["change"], r["data"]["text"]) for r in records] == [
        ("posted", "Globex confirms they were paid twice"),
        ("edited", "paid twice: ref 991"),
        ("edited", "paid twice: ref 992"),
        ("deleted", "paid twice: ref 992"),
    ]
    assert {r["data"]["ts"] for r in records} == {posted.message.ts}
    assert records[0] == first  # the first record is untouched

    # Slack delivering the reply's event again (same event_id, retry_attempt 1): no record.
    again = await desk.slack.redeliver(posted.delivery.envelope_id)
    assert again.retry_attempt == 1
    await desk.slack.wait_for(lambda: again.ack is not None, message="redelivery acked")
    await listeners_idle(desk)
    assert len(await log_records(desk)) == 4

    # The bot's own posts and card edits reached it as message events too (acked), and
    # recorded nothing.
    def own(e: Any) -> bool:
        event = e.payload["event"]
        return e.type == "events_api" and bool(
            event.get("bot_id") or (event.get("message") or {}).get("bot_id")
        )

    echoed = [e for e in desk.slack.envelopes if own(e)]
    assert {e.payload["event"].get("subtype") for e in echoed} == {None, "message_changed"}
    await desk.slack.wait_for(
        lambda: all(e.ack is not None for e in echoed), message="own events acked"
    )

    report = await verify_database(desk.container.database, anchors=None, deep=True)
    assert report.ok, report.problem


async def test_messages_that_are_not_replies_of_an_open_dispute_are_ignored(
    desk: Desk,
) -> None:
    calm, disputed = await desk.ingest(2)
    calm_card = await desk.card(calm)
    disputed_card = await desk.card(disputed)
    await dispute(desk, disputed)

    results = [
        await desk.slack.post_reply("U0BOB", TREASURY, calm_card.ts, "looks fine to me"),
        await desk.slack.post_message("U0BOB", TREASURY, "lunch anyone?"),
    ]
    desk.slack.add_user("U0NEW", "newcomer")
    await desk.slack.join_channel("U0NEW", TREASURY)
    # A reply in the thread of a person's own message is not a desk thread.
    results.append(await desk.slack.post_reply("U0CAROL", TREASURY, results[1].message.ts, "yes"))
    assert all(r.delivery is not None and r.delivery.ack is not None for r in results)
    # ...and a reply on the disputed card, to know when the listener has caught up.
    await desk.slack.post_reply("U0CAROL", TREASURY, disputed_card.ts, "chasing Globex")
    [record] = await wait_records(desk, 1)
    assert (record["actor"], record["item_id"]) == ("U0CAROL", disputed.id)
    await listeners_idle(desk)
    assert len(await log_records(desk)) == 1
    assert (await desk.item(calm.id or 0)).version == calm.version
    for person in ("U0BOB", "U0CAROL", "U0NEW"):  # nobody was told anything went wrong
        assert desk.said_to(person) == ""


async def test_a_reply_in_the_thread_of_an_escalation_copy_is_logged(tmp_path: Path) -> None:
    slack = await _standin()
    clock = StepClock()
    desk = await start_policy_desk(
        slack, desk_settings(tmp_path, slack), policy_yaml(sla=FAST_LADDER), clock=clock
    )
    try:
        (item,) = await desk.ingest()
        await desk.card(item)
        await dispute(desk, item)
        jobs = jobs_of(desk)
        clock.advance(2.2)  # remind_after: the reminder (a DM to who holds the dispute)
        assert await jobs.sla_sweep() == 1
        clock.advance(2.0)  # escalate_after: the escalation post in the team channel
        assert await jobs.sla_sweep() == 1
        alert = await wait_message(slack, TREASURY, f"{item.human_id} was escalated to the team")
        await slack.post_reply("U0LEAD", TREASURY, alert.ts, "I will call Globex today")
        [record] = await wait_records(desk, 1)
        assert record["item_id"] == item.id
        assert record["data"]["thread_ts"] == alert.ts
        assert record["data"]["user"] == "U0LEAD"
    finally:
        await stop_desk(desk)
        await slack.stop()


async def test_without_the_subscription_slack_sends_nothing(tmp_path: Path) -> None:
    slack = await _standin(bot_events=["app_home_opened"])
    desk = await start_desk(slack, e2e_settings(tmp_path, slack))
    try:
        (item,) = await desk.ingest()
        card = await desk.card(item)
        await dispute(desk, item)
        posted = await slack.post_reply("U0BOB", TREASURY, card.ts, "no one hears this")
        assert posted.delivery is None
        assert posted.message in slack.thread(TREASURY, card.ts)  # still in Slack
        assert await log_records(desk) == []
    finally:
        await stop_desk(desk)
        await slack.stop()
