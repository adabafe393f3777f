"""A dispute's expected resolution date passing, end to end: the owner gets one DM from
the SLA sweep, and a desk restarted on the same store never sends it again."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from domain.items import ReviewState
from tests.e2e.conftest import stop_desk
from tests.e2e.ladder_support import (
    TREASURY,
    StepClock,
    audit_events,
    desk_settings,
    jobs_of,
    messages_with,
    policy_yaml,
    settle,
    start_policy_desk,
    wait_item_state,
    wait_message,
)
from tests.slack_standin import SlackStandIn

OVERDUE = "is past its expected resolution date"


async def test_the_owner_is_reminded_once_across_a_restart(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    clock = StepClock()
    settings = desk_settings(tmp_path, slack)
    # The example ladder (24h reminder) and a UTC display timezone: the date below passes
    # at the next midnight UTC, before the ladder's first rung.
    first = await start_policy_desk(slack, settings, policy_yaml(), clock=clock)
    try:
        (item,) = await first.ingest()
        ref = item.human_id
        card = await first.card(item)
        await slack.click("U0ALICE", "Dispute", channel=TREASURY, ts=card.ts)
        await slack.wait_for(lambda: slack.open_modal("U0ALICE"), message="dispute form")
        today = clock.now().date()
        await slack.submit_modal(
            "U0ALICE",
            {
                "Category": "Amount mismatch",
                "Description": "The counterparty booked 2,450.00, not 2,500.00",
                "Expected resolution date": today.isoformat(),
            },
        )
        await wait_item_state(first, item, ReviewState.DISPUTED)
        jobs = jobs_of(first)
        assert await jobs.sla_sweep() == 0  # the date has not passed yet

        midnight = datetime.combine(today + timedelta(days=1), time(0), tzinfo=UTC)
        clock.advance((midnight - clock.now()).total_seconds() - 1)
        assert await jobs.sla_sweep() == 0  # one second before it passes
        clock.advance(2)
        assert await jobs.sla_sweep() == 1
    finally:
        await stop_desk(first)  # the DM goes out on the way out, or after the restart

    second = await start_policy_desk(slack, settings, clock=clock)  # same files
    try:
        dm = await wait_message(slack, "U0ALICE", OVERDUE)
        assert f"Dispute D-{item.id}-1 on {ref}" in dm.all_text()
        assert today.isoformat() in dm.all_text()
        assert await jobs_of(second).sla_sweep() == 0
        clock.advance(60)
        assert await jobs_of(second).sla_sweep() == 0
        await settle(second, clock)
        assert len(messages_with(slack, "U0ALICE", OVERDUE)) == 1
        history = await audit_events(second, item.id)
        assert Counter(history)["dispute.reminded"] == 1
        disputed = await second.item(item.id or 0)
        assert disputed.dispute is not None and disputed.dispute.reminded_at is not None
        # The card followed the reminder's new version: its buttons still work.
        await slack.wait_for(
            lambda: any(
                f"card.{item.id}.v{disputed.version}" in str(b.get("block_id", ""))
                for b in (slack.message(TREASURY, card.ts) or card).blocks or []
            ),
            timeout=10,
            message="the card shows the current version",
        )
    finally:
        await stop_desk(second)
