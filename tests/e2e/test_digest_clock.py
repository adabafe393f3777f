"""A digest item's SLA clock starts when its digest is posted (issue 14), end to end.

The issue's measurement: with a ladder shorter than the digest interval (here 2s/4s/6s,
and a digest posted only when the test runs the job), a digest item was reminded,
escalated and even dead-lettered before any digest had shown it to anyone. Now it waits
for its digest; the reminder comes ``remind_after`` after the digest's post, in the
digest's thread, naming it. When Slack is down at digest time the clock starts when the
post finally goes out, not when it was queued.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from domain.items import ReviewState
from store.audit.verification import verify_database
from store.tables import outbox
from tests.e2e.conftest import QUIET, Desk, stop_desk
from tests.e2e.ladder_support import (
    FAST_LADDER,
    TREASURY,
    StepClock,
    audit_events,
    desk_settings,
    jobs_of,
    messages_with,
    policy_yaml,
    settle,
    start_policy_desk,
    wait_message,
)
from tests.slack_standin import SlackStandIn


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
async def desk(slack: SlackStandIn, tmp_path: Path, clock: StepClock) -> AsyncIterator[Desk]:
    policy = policy_yaml(sla=FAST_LADDER)
    running = await start_policy_desk(slack, desk_settings(tmp_path, slack), policy, clock=clock)
    try:
        yield running
    finally:
        await stop_desk(running)


def _ladder_messages(slack: SlackStandIn, ref: str) -> list[str]:
    """Every ladder message about ``ref`` anywhere it could go."""
    needles = (f"Reminder: {ref}", f"{ref} was escalated", f"{ref} is dead-lettered")
    found: list[str] = []
    for where in (TREASURY, "C0COMPLIANCE", "U0LEAD"):
        for needle in needles:
            found += [m.all_text() for m in messages_with(slack, where, needle)]
    return found


async def _summary_sent_at(desk: Desk, team: str) -> datetime | None:
    """When the relay recorded the team's digest summary as sent (None: not yet)."""
    async with desk.container.database.reader.connect() as conn:
        row = await conn.execute(
            select(outbox.c.sent_at, outbox.c.state).where(
                outbox.c.dedupe_key.like(f"digest:{team}:%")
            )
        )
        found = row.first()
    if found is None or found[1] != "sent":
        return None
    sent: datetime = found[0]
    return sent


async def test_a_digest_item_is_reminded_only_after_its_digest(
    desk: Desk, slack: SlackStandIn, clock: StepClock
) -> None:
    (item,) = await desk.ingest(**QUIET)
    ref = item.human_id
    jobs = jobs_of(desk)
    # Longer than the whole ladder, and no digest yet: nothing happens to the item.
    clock.advance(10)
    assert await jobs.sla_sweep() == 0
    waiting = await desk.item(item.id or 0)
    assert (waiting.state, waiting.ladder_level, waiting.sla_waits) == (
        ReviewState.PENDING,
        0,
        True,
    )
    await settle(desk, clock)
    assert _ladder_messages(slack, ref) == []

    # The digest is posted; the sweep starts the clock at the post.
    assert await jobs.digest() == 1
    summary = await wait_message(slack, TREASURY, "Digest for treasury")
    await settle(desk, clock)
    posted_at = await _summary_sent_at(desk, "treasury")
    assert posted_at is not None
    assert await jobs.sla_sweep() == 0
    shown = await desk.item(item.id or 0)
    assert not shown.sla_waits and shown.sla_started_at == posted_at
    assert shown.shown_in_digest is not None
    assert "digest.clock_started" in await audit_events(desk)

    # remind_after (2s) counts from the post: not before, and then in the digest's thread.
    clock.advance(1)
    assert await jobs.sla_sweep() == 0
    clock.advance(2.2)  # past posted_at + 2s (settle moved the clock 3s before the post)
    assert await jobs.sla_sweep() == 1
    reminder = await wait_message(slack, TREASURY, f"Reminder: {ref} is still unclaimed")
    assert reminder.thread_ts == summary.ts
    assert shown.shown_in_digest in reminder.all_text()
    reminded = await desk.item(item.id or 0)
    assert (reminded.state, reminded.ladder_level) == (ReviewState.PENDING, 1)
    assert not [m for m in _ladder_messages(slack, ref) if "escalated" in m]
    # The log with these records in it still verifies, replayed record by record too.
    report = await verify_database(desk.container.database, anchors=None, deep=True)
    assert report.ok, report.problem


async def test_with_slack_down_at_digest_time_the_clock_starts_when_the_digest_is_out(
    desk: Desk, slack: SlackStandIn, clock: StepClock
) -> None:
    (item,) = await desk.ingest(**QUIET)
    jobs = jobs_of(desk)
    slack.fail_next("chat.postMessage", status=503, times=1000, channel=TREASURY)
    assert await jobs.digest() == 1
    queued_at = clock.now()
    # Slack stays down well past the whole ladder: retries fail, nothing is chased.
    for _ in range(12):
        clock.advance(1)
        assert await jobs.sla_sweep() == 0
        if desk.server.relay is not None:
            desk.server.relay.wake()
    assert await _summary_sent_at(desk, "treasury") is None
    assert (await desk.item(item.id or 0)).sla_waits
    # Slack is back: the digest goes out at the relay's next retry.
    slack.faults.clear()
    posted_at = None
    for _ in range(60):
        clock.advance(1)
        if desk.server.relay is not None:
            desk.server.relay.wake()
        await desk.relay_idle()
        posted_at = await _summary_sent_at(desk, "treasury")
        if posted_at is not None:
            break
    assert posted_at is not None
    assert await jobs.sla_sweep() == 0  # its clock starts now, at the post: nothing due yet
    shown = await desk.item(item.id or 0)
    assert shown.sla_started_at == posted_at
    assert (posted_at - queued_at).total_seconds() > 6  # later than the whole ladder
    assert shown.ladder_level == 0 and shown.state is ReviewState.PENDING
    assert await desk.container.usecases.digests.start_clocks(now=clock.now()) == 0
