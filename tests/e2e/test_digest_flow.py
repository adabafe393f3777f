"""Digests end to end: one summary per team and window, a thread of groups, bulk buttons.

The digest job is called directly (the policy's cron fires once a year, so the scheduler
never posts a window behind the test's back); the policy asks two approvers from 5,000
while materiality stays at 10,000, so a 6,000 item waits for the digest yet must be
reviewed on its own.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.items import ReviewState, RiskTier
from tests.e2e.conftest import Desk, stop_desk
from tests.e2e.ladder_support import (
    APEU,
    TREASURY,
    StepClock,
    audit_events,
    card_messages,
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
from tests.slack_standin import Message, SlackStandIn

LOW: dict[str, Any] = {"risk_tier": RiskTier.LOW, "amount": Decimal("100.00")}
INITECH: dict[str, Any] = {
    "risk_tier": RiskTier.LOW,
    "amount": Decimal("200.00"),
    "currency": "EUR",
    "counterparty": "Initech",
}
UMBRELLA: dict[str, Any] = {
    "risk_tier": RiskTier.LOW,
    "amount": Decimal("50.00"),
    "entity": "ACME-DE",
    "currency": "EUR",
    "counterparty": "Umbrella AG",
}
BULK = ["Approve all", "Reject all", "Review individually"]


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
async def desk(slack: SlackStandIn, tmp_path: Path, clock: StepClock) -> Any:
    policy = policy_yaml(dual_control={"amount": "5000.00"})
    running = await start_policy_desk(slack, desk_settings(tmp_path, slack), policy, clock=clock)
    try:
        yield running
    finally:
        await stop_desk(running)


async def _thread(slack: SlackStandIn, channel: str, team: str, size: int) -> list[Message]:
    """The digest summary and its replies, once all ``size`` messages are there."""
    summary = await wait_message(slack, channel, f"Digest for {team}")
    found = await slack.wait_for(
        lambda: len(t := slack.thread(channel, summary.ts)) == size and t,
        timeout=10,
        message=f"the digest thread in {channel} with {size} messages",
    )
    assert isinstance(found, list)
    return found


def _reply(thread: list[Message], title: str) -> Message:
    (found,) = [m for m in thread[1:] if title in m.all_text()]
    return found


async def test_a_window_posts_one_summary_and_a_thread_of_groups(
    desk: Desk, slack: SlackStandIn, clock: StepClock
) -> None:
    jobs = jobs_of(desk)
    assert await jobs.digest() == 0  # an empty window posts nothing
    globex = await desk.ingest(2, **LOW)
    initech = await desk.ingest(2, **INITECH)
    (big,) = await desk.ingest(1, **LOW | {"amount": Decimal("6000.00")})
    assert big.required_approvals == 2
    assert await jobs.digest() == 1
    assert await jobs.digest() == 0  # the same window again: nothing more

    thread = await _thread(slack, TREASURY, "treasury", 4)
    summary = thread[0].all_text()
    for expected in (
        "5 item(s)",
        "400.00 EUR, 6200.00 USD",
        "Oldest:",
        "Globex Ltd · USD · unmatched: 2 item(s)",
        "Initech · EUR · unmatched: 2 item(s)",
        "Needs individual review (dual control or material): 1 item(s)",
    ):
        assert expected in summary
    for title, members in (("Globex Ltd · USD", globex), ("Initech · EUR", initech)):
        reply = _reply(thread, title)
        assert reply.button_labels() == BULK
        assert all(m.human_id in reply.all_text() for m in members)
    apart = _reply(thread, "Needs individual review")
    assert big.human_id in apart.all_text()
    assert {"Approve", "Reject", "Claim"} <= set(apart.button_labels())
    assert not set(BULK) & set(apart.button_labels())
    await settle(desk, clock)
    # Nothing else: no card per digest item, one summary per window.
    assert len(slack.messages_in(TREASURY)) == 4
    assert (await audit_events(desk)).count("digest.posted") == 1


@pytest.mark.slow
async def test_approve_all_and_reject_all_decide_whole_groups(
    desk: Desk, slack: SlackStandIn
) -> None:
    globex = await desk.ingest(2, **LOW)
    initech = await desk.ingest(2, **INITECH)
    assert await jobs_of(desk).digest() == 1
    thread = await _thread(slack, TREASURY, "treasury", 3)

    approve = _reply(thread, "Globex Ltd · USD")
    await slack.click("U0ALICE", "Approve all", channel=TREASURY, ts=approve.ts)
    await wait_told(desk, "U0ALICE", "Approved and posted 2 item(s)")
    for item in globex:
        posted = await wait_item_state(desk, item, ReviewState.POSTED)
        assert posted.decided_by == "U0ALICE" and posted.ledger_ref
    edited = await slack.wait_for(
        lambda: (m := slack.message(TREASURY, approve.ts)) and "approved by" in m.all_text() and m,
        timeout=10,
        message="the group reply says it was approved",
    )
    assert "All 2 approved by <@U0ALICE>" in edited.all_text()
    assert edited.button_labels() == []

    reject = _reply(thread, "Initech · EUR")
    await slack.click("U0BOB", "Reject all", channel=TREASURY, ts=reject.ts)
    modal = await slack.wait_for(lambda: slack.open_modal("U0BOB"), message="the reason form")
    assert modal.title == "Reject group" and "Reason" in modal.input_labels()
    refused = await slack.submit_modal("U0BOB", {"Reason": "dupe"})
    assert "reason" in " ".join(refused.errors.values()).lower()
    await slack.submit_modal("U0BOB", {"Reason": "booked twice by the EUR feed"})
    await wait_told(desk, "U0BOB", "Rejected 2 item(s)")
    for item in initech:
        rejected = await wait_item_state(desk, item, ReviewState.REJECTED)
        assert rejected.decision_note == "booked twice by the EUR feed"
    await slack.wait_for(
        lambda: (
            "All 2 rejected by <@U0BOB>"
            in (slack.message(TREASURY, reject.ts) or reject).all_text()
        ),
        timeout=10,
        message="the group reply says it was rejected",
    )
    counts = Counter(await audit_events(desk))
    assert (counts["item.approved_in_bulk"], counts["digest.cluster_approved"]) == (2, 1)
    assert (counts["item.rejected"], counts["digest.cluster_rejected"]) == (2, 1)


@pytest.mark.slow
async def test_refusals_and_review_individually(desk: Desk, slack: SlackStandIn) -> None:
    mine, other = [
        *await desk.ingest(1, **UMBRELLA | {"prepared_by": "U0DAN"}),
        *await desk.ingest(1, **UMBRELLA),
    ]
    assert await jobs_of(desk).digest() == 1
    thread = await _thread(slack, APEU, "ap-europe", 2)
    group = thread[1]
    assert group.button_labels() == BULK

    # Maker-checker: the preparer of one item may not approve the group.
    await slack.click("U0DAN", "Approve all", channel=APEU, ts=group.ts)
    await wait_told(desk, "U0DAN", "maker-checker")
    # Someone outside the team may not either.
    await slack.click("U0ALICE", "Approve all", channel=APEU, ts=group.ts)
    await wait_told(desk, "U0ALICE", "you cannot see R-")
    assert {(await desk.item(i.id or 0)).state for i in (mine, other)} == {ReviewState.PENDING}

    # Review individually: one card per item, each with its own buttons.
    await slack.click("U0ERIN", "Review individually", channel=APEU, ts=group.ts)
    await wait_told(desk, "U0ERIN", "Posting 2 card(s)")
    await slack.wait_for(
        lambda: card_messages(slack, mine, APEU) and card_messages(slack, other, APEU),
        timeout=10,
        message="a card for each item of the group",
    )
    (card,) = card_messages(slack, other, APEU)
    await slack.click("U0ERIN", "Approve", channel=APEU, ts=card.ts)
    await wait_item_state(desk, other, ReviewState.POSTED)

    # One item changed since the digest: the whole group is refused, nothing changes.
    await slack.click("U0ERIN", "Approve all", channel=APEU, ts=group.ts)
    await wait_told(desk, "U0ERIN", "changed since the digest")
    assert (await desk.item(mine.id or 0)).state is ReviewState.PENDING
    assert "digest.cluster_approved" not in await audit_events(desk)
    assert messages_with(slack, APEU, "approved by") == []
