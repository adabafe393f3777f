"""The SLA ladder end to end: the real bot, its jobs and the Slack stand-in.

The policy's ladder runs in seconds (remind 2s, escalate 4s, dead letter 6s). The clock is
the real one plus an offset the test moves (``StepClock``), and the sweep job is
called directly, so every step happens exactly when the test says; one test runs the
real APScheduler ticks instead.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from domain.items import ReviewState
from tests.e2e.conftest import Desk, stop_desk
from tests.e2e.ladder_support import (
    COMPLIANCE,
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
    wait_item_state,
    wait_message,
    wait_told,
)
from tests.slack_standin import SlackStandIn

LADDER = ("sla.reminded", "item.escalated", "item.dead_lettered")


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


def _fast_policy(**sections: object) -> str:
    return policy_yaml(sla=FAST_LADDER, **sections)


def _ladder_counts(slack: SlackStandIn, ref: str) -> dict[str, int]:
    """How many times each ladder message about ``ref`` reached Slack."""
    return {
        "reminder_dm": len(messages_with(slack, "U0ALICE", f"Reminder: {ref} is waiting")),
        "reminder_channel": len(messages_with(slack, TREASURY, f"Reminder: {ref} is still")),
        "escalation_post": len(messages_with(slack, TREASURY, f"{ref} was escalated to the team")),
        "lead_dm": len(messages_with(slack, "U0LEAD", f"{ref} was escalated to you")),
        "dead_letter_alert": len(messages_with(slack, COMPLIANCE, f"{ref} is dead-lettered")),
    }


async def test_reminder_escalation_and_dead_letter_arrive_in_order_once_each(
    slack: SlackStandIn, tmp_path: Path, clock: StepClock
) -> None:
    settings = desk_settings(tmp_path, slack)
    policy = _fast_policy(compliance={"leads_resolve_dead_letters": False})
    desk = await start_policy_desk(slack, settings, policy, clock=clock)
    try:
        (item,) = await desk.ingest()
        ref = item.human_id
        card = await desk.card(item)
        await slack.click("U0ALICE", "Claim", channel=TREASURY, ts=card.ts)
        await wait_item_state(desk, item, ReviewState.ASSIGNED)
        jobs = jobs_of(desk)
        assert await jobs.sla_sweep() == 0

        # remind_after: a DM to the assignee, with the card (its buttons: see the xfail below).
        clock.advance(2.2)
        assert await jobs.sla_sweep() == 1
        assert await jobs.sla_sweep() == 0
        reminder = await wait_message(slack, "U0ALICE", f"Reminder: {ref} is waiting")
        assert "2,500.00 USD" in reminder.all_text() and "Globex Ltd" in reminder.all_text()

        # escalate_after: escalated, posted to the team channel, the card updated, leads DMed.
        clock.advance(2.0)
        assert await jobs.sla_sweep() == 1
        await wait_message(slack, TREASURY, f"{ref} was escalated to the team's leads")
        await wait_message(slack, "U0LEAD", f"{ref} was escalated to you")
        await slack.wait_for(
            lambda: "Escalated" in (slack.message(TREASURY, card.ts) or card).all_text(),
            timeout=10,
            message="the card shows the escalation",
        )
        escalated = await desk.item(item.id or 0)
        assert (escalated.state, escalated.assignee) == (ReviewState.ESCALATED, None)
        await slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
        await wait_told(desk, "U0ALICE", "only its team's leads may act")

        # dead_letter_after: the compliance alert; only compliance can act now.
        clock.advance(2.0)
        assert await jobs.sla_sweep() == 1
        alert = await wait_message(slack, COMPLIANCE, f"{ref} is dead-lettered")
        assert "High severity" in alert.all_text() and "halted" in alert.all_text()
        await slack.wait_for(
            lambda: "Dead-lettered" in (slack.message(TREASURY, card.ts) or card).all_text(),
            timeout=10,
            message="the card shows the dead letter",
        )
        await slack.click("U0LEAD", "Approve", channel=TREASURY, ts=card.ts)
        await wait_told(desk, "U0LEAD", "only compliance officers may act")
        assert (await desk.item(item.id or 0)).state is ReviewState.DEAD_LETTER

        # Nothing more, however long the wait.
        clock.advance(60)
        assert await jobs.sla_sweep() == 0
        await settle(desk, clock)
        assert _ladder_counts(slack, ref) == {
            "reminder_dm": 1,
            "reminder_channel": 0,
            "escalation_post": 1,
            "lead_dm": 1,
            "dead_letter_alert": 1,
        }
        history = await audit_events(desk, item.id)
        assert [e for e in history if e in LADDER] == list(LADDER)

        # The compliance officer decides on the card.
        await slack.click("U0AUDIT", "Approve", channel=TREASURY, ts=card.ts)
        posted = await wait_item_state(desk, item, ReviewState.POSTED)
        assert posted.decided_by == "U0AUDIT"
    finally:
        await stop_desk(desk)


async def test_the_reminder_carries_the_card_with_its_buttons(
    slack: SlackStandIn, tmp_path: Path, clock: StepClock
) -> None:
    desk = await start_policy_desk(
        slack, desk_settings(tmp_path, slack), _fast_policy(), clock=clock
    )
    try:
        (item,) = await desk.ingest()
        card = await desk.card(item)
        await slack.click("U0ALICE", "Claim", channel=TREASURY, ts=card.ts)
        await wait_item_state(desk, item, ReviewState.ASSIGNED)
        clock.advance(2.2)
        assert await jobs_of(desk).sla_sweep() == 1
        reminder = await wait_message(slack, "U0ALICE", f"Reminder: {item.human_id} is waiting")
        assert {"Approve", "Reject", "Release"} <= set(reminder.button_labels())
    finally:
        await stop_desk(desk)


async def test_a_decision_halfway_stops_the_ladder(
    slack: SlackStandIn, tmp_path: Path, clock: StepClock
) -> None:
    desk = await start_policy_desk(
        slack, desk_settings(tmp_path, slack), _fast_policy(), clock=clock
    )
    try:
        (item,) = await desk.ingest()
        ref = item.human_id
        card = await desk.card(item)
        clock.advance(2.2)
        assert await jobs_of(desk).sla_sweep() == 1
        # Nobody claimed it: the reminder goes to the team channel, with the card.
        reminder = await wait_message(slack, TREASURY, f"Reminder: {ref} is still unclaimed")
        assert "2,500.00 USD" in reminder.all_text()
        await slack.click("U0BOB", "Approve", channel=TREASURY, ts=card.ts)
        decided = await wait_item_state(desk, item, ReviewState.POSTED)
        assert decided.sla_next_at is None
        for _ in range(3):
            clock.advance(5)
            assert await jobs_of(desk).sla_sweep() == 0
        await settle(desk, clock)
        assert _ladder_counts(slack, ref) == {
            "reminder_dm": 0,
            "reminder_channel": 1,
            "escalation_post": 0,
            "lead_dm": 0,
            "dead_letter_alert": 0,
        }
        assert slack.messages_in(COMPLIANCE) == []
    finally:
        await stop_desk(desk)


async def test_a_restart_in_the_middle_loses_and_repeats_nothing(
    slack: SlackStandIn, tmp_path: Path, clock: StepClock
) -> None:
    settings = desk_settings(tmp_path, slack)
    first = await start_policy_desk(slack, settings, _fast_policy(), clock=clock)
    try:
        (item,) = await first.ingest()
        ref = item.human_id
        card = await first.card(item)
        await slack.click("U0ALICE", "Claim", channel=TREASURY, ts=card.ts)
        await wait_item_state(first, item, ReviewState.ASSIGNED)
        clock.advance(2.2)
        assert await jobs_of(first).sla_sweep() == 1
    finally:
        await stop_desk(first)  # the reminder is delivered on the way out

    second = await start_policy_desk(slack, settings, clock=clock)  # same files, the policy kept
    try:
        await wait_message(slack, "U0ALICE", f"Reminder: {ref} is waiting")
        assert await jobs_of(second).sla_sweep() == 0  # the reminder is not repeated
        clock.advance(2.0)
        assert await jobs_of(second).sla_sweep() == 1
        await wait_message(slack, TREASURY, f"{ref} was escalated to the team's leads")
        await settle(second, clock)
        counts = _ladder_counts(slack, ref)
        assert (counts["reminder_dm"], counts["escalation_post"], counts["lead_dm"]) == (1, 1, 1)
        history = await audit_events(second, item.id)
        assert Counter(e for e in history if e in LADDER) == {
            "sla.reminded": 1,
            "item.escalated": 1,
        }
        assert len([m for m in slack.messages_in(TREASURY) if m.ts == card.ts]) == 1
    finally:
        await stop_desk(second)


@pytest.mark.slow
async def test_two_serve_processes_on_one_database_produce_one_of_everything(
    slack: SlackStandIn, tmp_path: Path, clock: StepClock
) -> None:
    settings = desk_settings(tmp_path, slack)
    one = await start_policy_desk(slack, settings, _fast_policy(), clock=clock)
    two: Desk | None = None
    try:
        two = await start_policy_desk(slack, settings, clock=clock)
        await slack.wait_for(
            lambda: len(slack.connections) >= 2, message="both processes connected"
        )
        (item,) = await one.ingest()
        ref = item.human_id
        card = await one.card(item)
        await slack.click("U0ALICE", "Claim", channel=TREASURY, ts=card.ts)
        await wait_item_state(one, item, ReviewState.ASSIGNED)
        for _ in range(3):  # remind, escalate, dead letter: each taken by one process
            clock.advance(2.1)
            taken = await asyncio.gather(jobs_of(one).sla_sweep(), jobs_of(two).sla_sweep())
            assert sorted(taken) == [0, 1]
        # Digest items arrive; both processes close the same window at once.
        await one.ingest(3, risk_tier=None, amount=Decimal("100.00"))
        posted = await asyncio.gather(jobs_of(one).digest(), jobs_of(two).digest())
        assert sorted(posted) == [0, 1]
        await wait_message(slack, TREASURY, "Digest for treasury")
        await settle(one, clock)
        await settle(two, clock)
        assert _ladder_counts(slack, ref) == {
            "reminder_dm": 1,
            "reminder_channel": 0,
            "escalation_post": 1,
            "lead_dm": 1,
            "dead_letter_alert": 1,
        }
        (summary,) = messages_with(slack, TREASURY, "Digest for treasury")
        assert len(slack.thread(TREASURY, summary.ts)) == 2  # the summary and its one group
        history = await audit_events(one)
        assert Counter(e for e in history if e in (*LADDER, "digest.posted")) == {
            "sla.reminded": 1,
            "item.escalated": 1,
            "item.dead_lettered": 1,
            "digest.posted": 1,
        }
    finally:
        if two is not None:
            await stop_desk(two)
        await stop_desk(one)


async def test_expired_claims_are_released_audited_and_the_card_updated(
    slack: SlackStandIn, tmp_path: Path, clock: StepClock
) -> None:
    policy = policy_yaml(sla={"claim_ttl": "2s"})
    desk = await start_policy_desk(slack, desk_settings(tmp_path, slack), policy, clock=clock)
    try:
        (item,) = await desk.ingest()
        card = await desk.card(item)
        await slack.click("U0ALICE", "Claim", channel=TREASURY, ts=card.ts)
        await slack.wait_for(
            lambda: "Release" in (slack.message(TREASURY, card.ts) or card).button_labels(),
            timeout=10,
            message="the card shows the claim",
        )
        assert await jobs_of(desk).claim_sweep() == 0
        clock.advance(2.5)
        assert await jobs_of(desk).claim_sweep() == 1
        assert await jobs_of(desk).claim_sweep() == 0
        released = await wait_item_state(desk, item, ReviewState.PENDING)
        assert released.assignee is None
        await slack.wait_for(
            lambda: "Claim" in (slack.message(TREASURY, card.ts) or card).button_labels(),
            timeout=10,
            message="the card offers Claim again",
        )
        assert (await audit_events(desk, item.id)).count("item.released") == 1
    finally:
        await stop_desk(desk)


@pytest.mark.slow
async def test_the_scheduler_runs_the_ladder_on_its_own(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    """No test hand on the clock or the jobs: APScheduler ticks every half second."""
    settings = desk_settings(tmp_path, slack, sweep_interval=0.5)
    policy = policy_yaml(
        sla={"remind_after": "1s", "escalate_after": "2s", "dead_letter_after": "3s"}
    )
    desk = await start_policy_desk(slack, settings, policy)
    try:
        (item,) = await desk.ingest()
        ref = item.human_id
        await wait_message(slack, COMPLIANCE, f"{ref} is dead-lettered", within=15)
        await desk.relay_idle()
        history = await audit_events(desk, item.id)
        ladder = [e for e in history if e in LADDER]
        # Ticks are half a second apart, so a rung may be passed over, never repeated.
        assert ladder[-1] == "item.dead_lettered"
        assert len(ladder) == len(set(ladder))
        assert ladder == sorted(ladder, key=LADDER.index)
        assert len(messages_with(slack, COMPLIANCE, f"{ref} is dead-lettered")) == 1
    finally:
        await stop_desk(desk)
