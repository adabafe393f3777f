"""A three-tier escalation graph through the Slack stand-in: big items climb reviewers ->
leads -> compliance, small ones reviewers -> controllers and stop there; each tier's
channel hears of what reaches it, and a tier's approval cap refuses a lead."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.items import ReviewState
from tests.e2e.conftest import stop_desk
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

GRAPH = {
    "tiers": [
        {"name": "reviewers", "role": "reviewer"},
        {"name": "leads", "role": "lead", "approve_up_to": "2000.00"},
        {"name": "controllers", "members": ["U0AUDIT"], "channel": TREASURY},
        {"name": "compliance", "role": "compliance_officer", "channel": COMPLIANCE},
    ],
    "edges": [
        {"from": "reviewers", "to": "leads", "after": "4s", "when": {"min_amount": "2000.00"}},
        {"from": "reviewers", "to": "controllers", "after": "4s"},
        {"from": "leads", "to": "compliance", "after": "6s"},
    ],
}


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


async def test_a_three_tier_graph_escalates_on_amount(
    slack: SlackStandIn, tmp_path: Path, clock: StepClock
) -> None:
    policy = policy_yaml(sla=FAST_LADDER, escalation=GRAPH)
    desk = await start_policy_desk(slack, desk_settings(tmp_path, slack), policy, clock=clock)
    try:
        (big,) = await desk.ingest(1, amount="2500.00")
        (small,) = await desk.ingest(1, amount="1500.00")
        jobs = jobs_of(desk)
        clock.advance(2.2)
        assert await jobs.sla_sweep() == 2  # both reminded
        clock.advance(2.0)
        assert await jobs.sla_sweep() == 2  # both escalated, each along its own edge
        await wait_item_state(desk, big, ReviewState.ESCALATED)
        await wait_item_state(desk, small, ReviewState.ESCALATED)
        await wait_message(slack, TREASURY, f"{small.human_id} reached escalation tier controllers")
        assert not messages_with(slack, TREASURY, f"{big.human_id} reached escalation tier")

        # The leads' tier approves up to 2,000.00: the big item is refused, with the cap.
        await slack.slash_command("U0LEAD", f"approve {big.human_id}")
        await wait_told(desk, "U0LEAD", "your escalation tier approves up to 2000.00 USD")
        assert (await desk.item(big.id or 0)).state is ReviewState.ESCALATED

        clock.advance(2.0)
        assert await jobs.sla_sweep() == 1  # only the big item has a next edge
        await wait_item_state(desk, big, ReviewState.DEAD_LETTER)
        await wait_message(slack, COMPLIANCE, f"{big.human_id} reached escalation tier compliance")
        await settle(desk, clock)
        clock.advance(60)
        assert await jobs.sla_sweep() == 0
        assert (await desk.item(small.id or 0)).state is ReviewState.ESCALATED
        assert "item.dead_lettered" not in await audit_events(desk, small.id)
        assert "decision.refused" in await audit_events(desk, big.id)
    finally:
        await stop_desk(desk)
