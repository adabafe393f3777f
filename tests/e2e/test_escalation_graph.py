"""Escalation graphs through the Slack stand-in.

A three-tier graph: big items climb reviewers -> leads -> compliance, small ones
reviewers -> controllers and stop there; each tier's channel hears of what reaches it,
and a tier's approval cap refuses a lead. A longer graph: items climb three edges
(reviewers -> leads -> controllers -> cfo), staying escalated while their tier moves;
tier members from another team act on what sits in their tier, within its limit, and
their App Home lists it while it sits there (refreshed as it comes and goes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from domain.items import Item, ReviewState
from handlers.ids import ItemAction, item_action_id
from tests.e2e.conftest import Desk, stop_desk
from tests.e2e.ladder_support import (
    APEU,
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


#: Three edges after the reminder. U0DAN and U0LEAD2 belong to ap-europe, not treasury.
LONG_GRAPH = {
    "tiers": [
        {"name": "reviewers", "role": "reviewer"},
        {"name": "leads", "role": "lead"},
        {"name": "controllers", "members": ["U0DAN"], "approve_up_to": "3000.00", "channel": APEU},
        {"name": "cfo", "members": ["U0LEAD2"], "channel": COMPLIANCE},
    ],
    "edges": [
        {"from": "reviewers", "to": "leads", "after": "4s"},
        {"from": "leads", "to": "controllers", "after": "6s"},
        {"from": "controllers", "to": "cfo", "after": "8s"},
    ],
}


async def wait_settled(desk: Desk, item: Item) -> Item:
    """Waits until the stored item is approved and posted; returns it.

    Posted, not only approved: the ledger's relay posts after the approval, and the
    posting queues its own Home refreshes, which a later :func:`settle` must find queued
    (one queued after its clock step would wait for a window that never ends).
    """

    async def done() -> Item | None:
        current = await desk.item(item.id or 0)
        return current if current.state is ReviewState.POSTED else None

    found = await desk.slack.wait_for(done, timeout=10.0, message=f"{item.human_id} posted")
    assert isinstance(found, Item)
    return found


async def test_a_graph_three_edges_long_moves_tiers_and_outsiders_act_in_theirs(
    slack: SlackStandIn, tmp_path: Path, clock: StepClock
) -> None:
    policy = policy_yaml(sla=FAST_LADDER, escalation=LONG_GRAPH)
    desk = await start_policy_desk(slack, desk_settings(tmp_path, slack), policy, clock=clock)
    try:
        (small,) = await desk.ingest(1, amount="2500.00")
        (big,) = await desk.ingest(1, amount="3500.00")
        jobs = jobs_of(desk)
        clock.advance(2.2)
        assert await jobs.sla_sweep() == 2  # reminded
        clock.advance(2.0)
        assert await jobs.sla_sweep() == 2  # escalated to the leads
        await wait_item_state(desk, small, ReviewState.ESCALATED)
        # Not yet in the controllers' tier: to U0DAN (another team) it is invisible.
        await slack.slash_command("U0DAN", f"approve {small.human_id}")
        await wait_told(desk, "U0DAN", f"you cannot see {small.human_id}")

        clock.advance(2.0)
        assert await jobs.sla_sweep() == 2  # both move on to the controllers
        await wait_message(slack, APEU, f"{small.human_id} reached escalation tier controllers")
        await wait_message(slack, "U0DAN", f"{big.human_id} reached escalation tier controllers")
        for item in (small, big):
            moved = await desk.item(item.id or 0)
            assert moved.state is ReviewState.ESCALATED
            assert moved.escalation_tier == "controllers"
            assert "sla.tier_moved" in await audit_events(desk, item.id)

        # The controllers approve up to 3,000.00: the big item is refused, the small approved.
        await slack.slash_command("U0DAN", f"approve {big.human_id}")
        await wait_told(desk, "U0DAN", "your escalation tier approves up to 3000.00 USD")
        assert (await desk.item(big.id or 0)).state is ReviewState.ESCALATED
        # The small one by the Approve button of the card `/recon show` gives privately.
        await slack.slash_command("U0DAN", f"show {small.human_id}")
        dm = slack.dm_channel("U0DAN").id
        await slack.wait_for(
            lambda: any("Approve" in e.button_labels() for e in slack.ephemerals_for("U0DAN", dm)),
            message="U0DAN's copy of the card",
        )
        await slack.click("U0DAN", "Approve", channel=dm)
        approved = await wait_settled(desk, small)
        assert [a.user for a in approved.approvals] == ["U0DAN"]

        clock.advance(2.0)
        assert await jobs.sla_sweep() == 1  # the last edge dead-letters the big item
        dead = await wait_item_state(desk, big, ReviewState.DEAD_LETTER)
        assert dead.escalation_tier == "cfo"
        await wait_message(slack, COMPLIANCE, f"{big.human_id} reached escalation tier cfo")
        # Out of the controllers' tier now: U0DAN no longer sees it; the cfo tier decides.
        await slack.slash_command("U0DAN", f"approve {big.human_id}")
        await wait_told(desk, "U0DAN", f"you cannot see {big.human_id}")
        await slack.slash_command("U0LEAD2", f"approve {big.human_id}")
        await wait_settled(desk, big)
    finally:
        await stop_desk(desk)


async def test_an_outsiders_home_lists_what_sits_in_their_tier_and_they_act_on_it_there(
    slack: SlackStandIn, tmp_path: Path, clock: StepClock
) -> None:
    policy = policy_yaml(sla=FAST_LADDER, escalation=LONG_GRAPH)
    desk = await start_policy_desk(slack, desk_settings(tmp_path, slack), policy, clock=clock)
    try:
        (small,) = await desk.ingest(1, amount="2500.00")
        (big,) = await desk.ingest(1, amount="3500.00")
        jobs = jobs_of(desk)
        for _ in range(3):  # reminded, escalated to the leads, moved on to the controllers
            clock.advance(2.2)
            await jobs.sla_sweep()
        await wait_message(slack, APEU, f"{big.human_id} reached escalation tier controllers")

        def home_of_dan(needle: str, present: bool = True) -> Callable[[], str | None]:
            def shows() -> str | None:
                home = slack.home_of("U0DAN")
                text = home.all_text() if home is not None else ""
                return text if (needle in text) is present and home is not None else None

            return shows

        # U0DAN (ap-europe) is a controller: the move refreshed their Home (never opened),
        # which now lists both treasury items.
        await settle(desk, clock)
        listed = "In my escalation tiers · 2"
        text = await slack.wait_for(home_of_dan(listed), timeout=10.0, message=listed)
        assert small.human_id in str(text) and big.human_id in str(text)
        # They approve the small one from their Home (the big one is over their cap).
        action_id = item_action_id(ItemAction.APPROVE, small.id or 0)
        await slack.click("U0DAN", "Approve", action_id=action_id)
        approved = await wait_settled(desk, small)
        assert [a.user for a in approved.approvals] == ["U0DAN"]

        # The big one moves on to the cfo's tier: it leaves U0DAN's list.
        clock.advance(2.2)
        await jobs.sla_sweep()
        await wait_item_state(desk, big, ReviewState.DEAD_LETTER)
        await settle(desk, clock)
        gone = "In my escalation tiers"
        await slack.wait_for(home_of_dan(gone, present=False), timeout=10.0, message="emptied")
    finally:
        await stop_desk(desk)
