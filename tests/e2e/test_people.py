"""People through the Slack stand-in: auto assignment until capacity is reached (the
lead told once), delegation while away and back, and ``/recon help`` naming both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from domain.items import ReviewState
from tests.e2e.conftest import Desk, ingest_rows, stop_desk, times_told, wait_told
from tests.e2e.ladder_support import (
    EXAMPLE_POLICY,
    StepClock,
    audit_events,
    desk_settings,
    policy_yaml,
    settle,
    start_policy_desk,
)
from tests.slack_standin import SlackStandIn

pytestmark = pytest.mark.usefixtures("every_envelope_acked")

ASSIGNED_AUTO = "was assigned to you* automatically"
NOBODY = "Nobody in your team could be assigned"


def auto_treasury() -> str:
    teams = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8"))["teams"]
    teams[0] = {**teams[0], "assignment": "auto"}
    return policy_yaml(
        teams=teams,
        people=[
            {"id": "U0ALICE", "teams": ["treasury"], "capacity": 1},
            {"id": "U0BOB", "teams": ["treasury"], "capacity": 1},
        ],
    )


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
async def auto_desk(slack: SlackStandIn, tmp_path: Path, clock: StepClock) -> AsyncIterator[Desk]:
    running = await start_policy_desk(
        slack, desk_settings(tmp_path, slack), auto_treasury(), clock=clock
    )
    try:
        yield running
    finally:
        await stop_desk(running)


async def test_auto_assignment_fills_capacity_then_tells_the_lead_once(
    auto_desk: Desk, clock: StepClock
) -> None:
    desk = auto_desk
    items = await desk.ingest(3)
    stored = [await desk.item(i.id or 0) for i in items]
    assert [i.assignee for i in stored] == ["U0ALICE", "U0BOB", None]
    assert [i.state for i in stored] == [
        ReviewState.ASSIGNED,
        ReviewState.ASSIGNED,
        ReviewState.PENDING,
    ]
    await wait_told(desk, "U0ALICE", items[0].human_id, 1)
    await wait_told(desk, "U0LEAD", NOBODY, 1)
    assert "U0ALICE: at capacity (1 of 1 open)" in desk.said_to("U0LEAD")
    await wait_told(desk, "U0BOB", "automatically", 1)
    # More items while everyone is full: one message per item, never twice for one.
    await desk.ingest(1)
    await ingest_rows(desk.container, [])  # a re-run with nothing new says nothing
    await wait_told(desk, "U0LEAD", NOBODY, 2)
    await settle(desk, clock)
    assert times_told(desk, "U0LEAD", NOBODY) == 2
    assert "item.unassignable" in await audit_events(desk, items[2].id)
    # Claims keep working in auto teams: the lead assigns the waiting item by hand.
    await desk.slack.slash_command("U0LEAD", f"assign {items[2].human_id} <@U0ALICE>")
    await wait_told(desk, "U0LEAD", f"{items[2].human_id} is assigned to", 1)


async def test_away_hands_work_to_the_delegate_and_back_returns_new_work(
    auto_desk: Desk, clock: StepClock
) -> None:
    desk = auto_desk
    (item,) = await desk.ingest(1)
    assert (await desk.item(item.id or 0)).assignee == "U0ALICE"
    until = (clock.now() + timedelta(days=3)).date().isoformat()

    await desk.slack.slash_command("U0ALICE", f"away until {until} delegate <@U0ALICE>")
    await wait_told(desk, "U0ALICE", "you cannot delegate to yourself", 1)
    await desk.slack.slash_command("U0ALICE", f"away until {until} delegate <@U0DAN>")
    await wait_told(desk, "U0ALICE", "is not in your team(s) treasury", 1)

    await desk.slack.slash_command(
        "U0ALICE", f"away until {until} delegate <@U0BOB> conference in Lisbon"
    )
    await wait_told(desk, "U0ALICE", f"You are away until {until}", 1)
    assert (await desk.item(item.id or 0)).assignee == "U0BOB"
    assert f"Handed over: {item.human_id}" in desk.said_to("U0ALICE")
    events = await audit_events(desk)
    assert "person.away" in events and events.count("decision.refused") == 2

    # Bob is full now (capacity 1) and Alice away: a new item waits for the lead.
    (second,) = await desk.ingest(1)
    assert (await desk.item(second.id or 0)).assignee is None
    await wait_told(desk, "U0LEAD", "U0ALICE: away", 1)

    await desk.slack.slash_command("U0ALICE", "back")
    await wait_told(desk, "U0ALICE", "Welcome back", 1)
    (third,) = await desk.ingest(1)
    assert (await desk.item(third.id or 0)).assignee == "U0ALICE"
    assert (await desk.item(item.id or 0)).assignee == "U0BOB"  # stays with the delegate
    assert "person.back" in await audit_events(desk)


async def test_help_lists_away_and_back(auto_desk: Desk) -> None:
    await auto_desk.slack.slash_command("U0BOB", "help")
    await wait_told(auto_desk, "U0BOB", "/recon away until DATE delegate @user", 1)
    assert "/recon back" in auto_desk.said_to("U0BOB")
