"""Read-only auditors end to end (issue 14): refused on every decision path, everything seen.

The policy lists U0READER under ``compliance.auditors``. Path by path, an auditor
clicking a button (cards, App Home, digest groups), running a deciding ``/recon``
command or submitting a form is told privately that auditors decide nothing, the item
does not change, and the attempt is audited (``decision.refused``). The same auditor
sees every team's queue and App Home.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from domain.items import DisputeCategory, DisputeState, Item, ReviewState, RiskTier
from domain.permissions import READ_ONLY_REASON
from store.tables import audit_records
from tests.e2e.conftest import (
    CHANNELS,
    PEOPLE,
    QUIET,
    TREASURY,
    Desk,
    cards_of,
    stop_desk,
    times_told,
    wait_said,
    wait_state,
    wait_told,
)
from tests.e2e.ladder_support import (
    APEU,
    desk_settings,
    jobs_of,
    policy_yaml,
    start_policy_desk,
    wait_message,
)
from tests.slack_standin import SlackStandIn

pytestmark = pytest.mark.usefixtures("every_envelope_acked")

AUDITOR = "U0READER"


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    """The e2e stand-in, with the auditor in every channel too."""
    async with SlackStandIn() as standin:
        people = {**PEOPLE, AUDITOR: "reader"}
        for user, name in people.items():
            standin.add_user(user, name)
        for channel, name in CHANNELS.items():
            standin.add_channel(channel, name, members=tuple(people))
        yield standin


@pytest.fixture
async def desk(slack: SlackStandIn, tmp_path: Path) -> AsyncIterator[Desk]:
    policy = policy_yaml(compliance={"auditors": [AUDITOR]})
    running = await start_policy_desk(slack, desk_settings(tmp_path, slack), policy)
    try:
        yield running
    finally:
        await stop_desk(running)


async def refusals_by(desk: Desk, actor: str) -> list[dict[str, Any]]:
    """The ``decision.refused`` records of ``actor``, oldest first."""
    stmt = (
        select(audit_records.c.body)
        .where(audit_records.c.event == "decision.refused")
        .order_by(audit_records.c.seq)
    )
    async with desk.container.database.reader.connect() as conn:
        bodies = (await conn.execute(stmt)).scalars().all()
    return [r for r in map(json.loads, bodies) if r["actor"] == actor]


class Refusals:
    """Counts the auditor's refusals as a test makes them: each attempt must add one
    private message with the reason and one audit record, and change nothing."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.count = 0

    async def expect(self, item: Item | None, action: str) -> None:
        """The attempt just made was refused, told, audited; ``item`` did not change."""
        self.count += 1
        await wait_told(self.desk, AUDITOR, READ_ONLY_REASON, self.count)

        async def recorded() -> bool:
            return len(await refusals_by(self.desk, AUDITOR)) == self.count

        await self.desk.slack.wait_for(recorded, message=f"{self.count} refusals audited")
        last = (await refusals_by(self.desk, AUDITOR))[-1]
        # The action and the sentence (a digest group's record also names the group).
        assert (last["data"]["action"], last["data"]["reason"]) == (action, READ_ONLY_REASON)
        if item is not None:
            assert item.id is not None
            now = await self.desk.item(item.id)
            assert (now.state, now.version) == (item.state, item.version), item.human_id


async def card_with(desk: Desk, item: Item, label: str, where: str = TREASURY) -> Any:
    """Waits until ``item``'s card offers ``label`` and returns the message."""

    def find() -> Any:
        for message in cards_of(desk.slack, item, where):
            if label in message.button_labels():
                return message
        return None

    return await desk.slack.wait_for(find, timeout=10, message=f"{item.human_id} card: {label}")


async def test_an_auditor_clicking_every_card_button_is_refused(desk: Desk) -> None:
    (item,) = await desk.ingest(amount=Decimal("2500.00"))
    refusals = Refusals(desk)
    card = await card_with(desk, item, "Approve")
    for label, action in (
        ("Approve", "approve"),
        ("Reject", "reject"),
        ("Escalate", "escalate"),
        ("Dispute", "dispute"),
        ("Claim", "claim"),
    ):
        await desk.slack.click(AUDITOR, label, channel=TREASURY, ts=card.ts)
        await refusals.expect(item, action)
    assert desk.slack.open_modal(AUDITOR) is None  # no form opened for a refused click

    # Claimed by a reviewer: the card offers Release.
    await desk.slack.click("U0BOB", "Claim", channel=TREASURY, ts=card.ts)
    claimed = await wait_state(desk, item, ReviewState.ASSIGNED)
    card = await card_with(desk, claimed, "Release")
    await desk.slack.click(AUDITOR, "Release", channel=TREASURY, ts=card.ts)
    await refusals.expect(claimed, "release")

    # Disputed: the dispute buttons.
    usecases = desk.container.usecases
    now = desk.container.clock.now()
    await usecases.disputes.open_dispute(
        item_id=claimed.id or 0,
        actor="U0BOB",
        now=now,
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="the bank shows a different amount",
    )
    disputed = await wait_state(desk, item, ReviewState.DISPUTED)
    card = await card_with(desk, disputed, "Awaiting counterparty")
    for label, action in (
        ("Awaiting counterparty", "update_dispute"),
        ("Add note", "note_dispute"),
        ("Resolve", "resolve_dispute"),
    ):
        await desk.slack.click(AUDITOR, label, channel=TREASURY, ts=card.ts)
        await refusals.expect(disputed, action)
    await usecases.disputes.update_dispute(
        item_id=item.id or 0, actor="U0BOB", now=now, state=DisputeState.AWAITING_COUNTERPARTY
    )
    waiting = await desk.item(item.id or 0)
    card = await card_with(desk, waiting, "Resume")
    await desk.slack.click(AUDITOR, "Resume", channel=TREASURY, ts=card.ts)
    await refusals.expect(waiting, "update_dispute")
    assert desk.slack.open_modal(AUDITOR) is None


async def test_an_auditor_running_every_deciding_command_is_refused(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    ref = item.human_id
    refusals = Refusals(desk)
    for text, action in (
        (f"approve {ref}", "approve"),
        (f"approve {ref} looks fine to me", "approve"),
        (f"reject {ref} not in our books at all", "reject"),
        (f"escalate {ref}", "escalate"),
        (f"dispute {ref}", "dispute"),
        (f"resolve {ref}", "resolve_dispute"),
        (f"note {ref} called the bank today", "note_dispute"),
        (f"assign {ref} <@U0BOB>", "assign"),
        (f"assign {ref} <@{AUDITOR}>", "assign"),
    ):
        await desk.slack.slash_command(AUDITOR, text)
        await refusals.expect(item, action)
    await desk.slack.slash_command(AUDITOR, "claim")  # the next item of "their" teams
    await refusals.expect(item, "claim")
    assert desk.slack.open_modal(AUDITOR) is None
    # The reads still answer: the item and its history.
    await desk.slack.slash_command(AUDITOR, f"show {ref}")
    await wait_said(desk, AUDITOR, ref, "Globex Ltd")


async def test_an_auditor_submitting_a_form_is_refused(desk: Desk) -> None:
    """A form the auditor could never open (someone else's, replayed) decides nothing."""
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0ALICE", f"dispute {item.human_id}")
    form = await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="form")
    result = await desk.slack.submit_modal(
        AUDITOR,
        {"Category": "Amount mismatch", "Description": "submitted by the auditor, not Alice"},
        view_id=form.id,
    )
    assert not result.timed_out and not result.errors
    await Refusals(desk).expect(item, "dispute")


async def test_an_auditor_sees_every_team_and_is_refused_on_app_home(
    desk: Desk, slack: SlackStandIn
) -> None:
    (treasury,) = await desk.ingest(**QUIET)
    (euro,) = await desk.ingest(entity="ACME-FR", currency="EUR", counterparty="Initech", **QUIET)
    await desk.relay_idle()
    await slack.slash_command(AUDITOR, "queue all")
    answer = await wait_said(desk, AUDITOR, f"*{treasury.human_id}*", f"*{euro.human_id}*")
    assert READ_ONLY_REASON not in answer
    await slack.slash_command(AUDITOR, "queue team ap-europe")
    await wait_said(desk, AUDITOR, "Open in ap-europe")

    home = await _home(desk, AUDITOR, "Unclaimed in my teams · 2")
    text = home.all_text()
    assert "treasury" in text and "ap-europe" in text
    assert treasury.human_id in text and euro.human_id in text
    # Their rows offer a look, no decision.
    assert set(home.button_labels()) == {"Refresh", "Details"}
    await slack.click(AUDITOR, "Details", view_id=home.id, action_id=f"recon.details:{euro.id}")
    await wait_said(desk, AUDITOR, "Initech")

    # Decision buttons replayed from the teams' own Homes (Slack would never send these
    # for the auditor) are refused all the same.
    refusals = Refusals(desk)
    for member, target in (("U0ALICE", treasury), ("U0DAN", euro)):
        theirs = await _home(desk, member, target.human_id)
        for label, action in (("Claim", "claim"), ("Approve", "approve"), ("Reject", "reject")):
            await slack.click(
                AUDITOR, label, view_id=theirs.id, action_id=f"recon.{action}:{target.id}"
            )
            await refusals.expect(target, action)
    assert slack.open_modal(AUDITOR) is None
    assert times_told(desk, AUDITOR, READ_ONLY_REASON) == refusals.count


async def _home(desk: Desk, user: str, needle: str) -> Any:
    """Opens ``user``'s App Home and waits until it shows ``needle``."""
    await desk.slack.open_home(user)
    return await desk.slack.wait_for(
        lambda: (h := desk.slack.home_of(user)) and needle in h.all_text() and h,
        message=f"{user}'s Home showing {needle!r}",
    )


async def test_an_auditor_clicking_a_digest_group_s_buttons_is_refused(
    desk: Desk, slack: SlackStandIn
) -> None:
    items = await desk.ingest(
        2, risk_tier=RiskTier.LOW, amount=Decimal("50.00"), entity="ACME-DE", currency="EUR"
    )
    assert await jobs_of(desk).digest() == 1
    summary = await wait_message(slack, APEU, "Digest for ap-europe")
    group = await slack.wait_for(
        lambda: (t := slack.thread(APEU, summary.ts)) and len(t) == 2 and t[1],
        timeout=10,
        message="the digest group",
    )
    refusals = Refusals(desk)
    for label, action in (("Approve all", "approve"), ("Reject all", "reject")):
        await slack.click(AUDITOR, label, channel=APEU, ts=group.ts)
        await refusals.expect(None, action)
    assert slack.open_modal(AUDITOR) is None  # the reason form was not opened
    for item in items:
        now = await desk.item(item.id or 0)
        assert (now.state, now.version) == (ReviewState.PENDING, item.version)
