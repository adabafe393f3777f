"""What the SLA ladder leaves in Slack, seen from the Slack side: the compliance alert
and the card of a dead-lettered item, the Home counts, who may still act on it, and the
reminders in the team channel.

The sweep a scheduler tick runs is called directly (``UseCases.sla_sweep``), on
items ingested as if they had arrived days ago; everything else is driven as people would.
(``test_ladder.py`` covers the ladder's timing and the scheduler itself.)
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from domain import sla
from domain.intake import IntakeRow
from domain.items import Item, ReviewState, RiskTier
from tests.builders import make_facts
from tests.e2e.conftest import (
    TREASURY,
    Desk,
    journal_of,
    listeners_idle,
    messages_idle,
    wait_card,
    wait_said,
    wait_state,
)

pytestmark = pytest.mark.usefixtures("every_envelope_acked")

COMPLIANCE = "C0COMPLIANCE"
QUIET_FACTS = make_facts(
    source="bank",
    external_id="old",
    amount="100.00",
    counterparty="Globex Ltd",
    risk_tier=RiskTier.LOW,
    confidence="0.95",
    reference=None,
)


async def _ingested_ago(desk: Desk, hours: int, external_id: str) -> Item:
    """A digest item (no card of its own) that entered review ``hours`` ago, shown by a
    digest posted then (its clock starts at that post, issue 14)."""
    facts = dataclasses.replace(QUIET_FACTS, external_id=external_id)
    then = desk.container.clock.now() - timedelta(hours=hours)
    await desk.container.usecases.intake.ingest([IntakeRow(line=1, facts=facts)], now=then)
    policy = desk.container.policy.current().policy
    async with desk.container.uow() as uow:
        waiting = await uow.items.get_by_external(facts.source, facts.external_id)
        assert waiting is not None and waiting.sla_waits
        shown = sla.start_clock(waiting, at=then, digest="an-earlier-window")
        shown = dataclasses.replace(shown, sla_next_at=sla.next_deadline(shown, policy))
        assert await uow.items.update(shown, expected_version=waiting.version)
        await uow.commit()
    return shown


async def test_a_dead_letter_alerts_compliance_and_only_compliance_or_leads_act(
    desk: Desk,
) -> None:
    item = await _ingested_ago(desk, 80, "late-1")
    await desk.container.usecases.ladder.sla_sweep(now=desk.container.clock.now())
    await wait_state(desk, item, ReviewState.DEAD_LETTER)

    alert = await desk.slack.wait_for(
        lambda: [m for m in desk.slack.messages_in(COMPLIANCE) if item.human_id in m.all_text()],
        message="compliance alerted",
    )
    assert "High severity" in alert[0].all_text()
    card = await wait_card(desk, item, "Dead-lettered")  # a card of its own now
    assert "Approve" in card.button_labels()

    await desk.slack.open_home("U0AUDIT")
    home = await desk.slack.wait_for(lambda: desk.slack.home_of("U0AUDIT"), message="Home")
    lines = home.all_text().splitlines()
    assert lines[lines.index("*:rotating_light: Dead-lettered*") + 1] == "1"
    assert lines[lines.index("*:alarm_clock: Overdue*") + 1] != "0"

    await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
    await wait_said(desk, "U0ALICE", f"{item.human_id} is dead-lettered", "compliance")
    assert (await desk.item(item.id or 0)).state is ReviewState.DEAD_LETTER
    await desk.slack.click("U0AUDIT", "Approve", channel=TREASURY, ts=card.ts)
    await wait_state(desk, item, ReviewState.POSTED)
    assert len(await journal_of(desk, item)) == 1


async def test_a_reminder_keeps_no_stale_buttons_once_the_item_is_settled(desk: Desk) -> None:
    item = await _ingested_ago(desk, 30, "late-2")
    await desk.container.usecases.ladder.sla_sweep(now=desk.container.clock.now())
    reminder = await desk.slack.wait_for(
        lambda: [m for m in desk.slack.messages_in(TREASURY) if "Reminder" in m.all_text()],
        message="a reminder in the team channel",
    )
    if "Approve" in reminder[0].button_labels():  # act where the reminder invites it
        await desk.slack.click("U0BOB", "Approve", channel=TREASURY, ts=reminder[0].ts)
    else:
        await desk.slack.slash_command("U0BOB", f"approve {item.human_id}")
    await wait_state(desk, item, ReviewState.POSTED)
    await listeners_idle(desk)
    await messages_idle(desk)
    stale = [m.ts for m in desk.slack.messages_in(TREASURY) if "Approve" in m.button_labels()]
    assert stale == [], "messages still offering Approve on a posted item"
