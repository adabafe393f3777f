"""Step-up confirmation end to end (issue 14): a large approval needs the amount retyped.

The policy asks for a step-up from 2,000.00 USD; ``Desk.ingest``'s items are 2,500.00
USD (material, so each gets a card). Approving one, by its Approve button or by
``/recon approve``, opens a form asking for the amount; a mismatch is an error under the
field (the form stays open, nothing changes); a match approves, and the approval's audit
record keeps ``step_up: true`` and the amount typed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from domain.items import DisputeCategory, Item, ReviewState
from handlers.ids import Field
from store.audit.verification import verify_database
from store.tables import audit_records
from tests.e2e.conftest import TREASURY, Desk, journal_of, stop_desk, wait_state, wait_told
from tests.e2e.ladder_support import desk_settings, policy_yaml, start_policy_desk

pytestmark = pytest.mark.usefixtures("every_envelope_acked")

AMOUNT_LABEL = "Type the amount (USD) to approve"


@pytest.fixture
async def desk(slack: Any, tmp_path: Path) -> AsyncIterator[Desk]:
    policy = policy_yaml(step_up={"amount": "2000.00"})
    running = await start_policy_desk(slack, desk_settings(tmp_path, slack), policy)
    try:
        yield running
    finally:
        await stop_desk(running)


async def approvals_recorded(desk: Desk, item: Item) -> list[dict[str, Any]]:
    """The ``item.approval_recorded`` records of ``item``, oldest first."""
    stmt = (
        select(audit_records.c.body)
        .where(audit_records.c.event == "item.approval_recorded")
        .where(audit_records.c.item_id == item.id)
        .order_by(audit_records.c.seq)
    )
    async with desk.container.database.reader.connect() as conn:
        return [json.loads(b) for b in (await conn.execute(stmt)).scalars().all()]


async def step_up_form(desk: Desk, user: str) -> Any:
    return await desk.slack.wait_for(
        lambda: (m := desk.slack.open_modal(user)) and AMOUNT_LABEL in m.input_labels() and m,
        message=f"the step-up form for {user}",
    )


async def test_a_mismatch_keeps_the_form_open_and_a_match_approves(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    await desk.slack.click("U0BOB", "Approve", channel=TREASURY, ts=card.ts)
    form = await step_up_form(desk, "U0BOB")
    assert form.title == f"Approve {item.human_id}"
    assert "2,500.00" in form.all_text()  # the amount is shown, not pre-filled

    wrong = await desk.slack.submit_modal("U0BOB", {AMOUNT_LABEL: "250.00"})
    assert f"not the amount of {item.human_id}" in wrong.errors[Field.AMOUNT.value]
    assert desk.slack.open_modal("U0BOB") is not None  # still open, to type it again
    garbage = await desk.slack.submit_modal("U0BOB", {AMOUNT_LABEL: "two thousand"})
    assert "is not an amount in USD" in garbage.errors[Field.AMOUNT.value]
    unchanged = await desk.item(item.id or 0)
    assert (unchanged.state, unchanged.version) == (ReviewState.PENDING, item.version)
    assert await approvals_recorded(desk, item) == []

    right = await desk.slack.submit_modal("U0BOB", {AMOUNT_LABEL: "2,500.00"})
    assert not right.errors
    posted = await wait_state(desk, item, ReviewState.POSTED)
    assert posted.decided_by == "U0BOB"
    assert len(await journal_of(desk, item)) == 1
    await wait_told(desk, "U0BOB", "is on its way to the ledger", 1)
    [record] = await approvals_recorded(desk, item)
    assert record["actor"] == "U0BOB"
    assert record["data"]["step_up"] is True
    assert record["data"]["step_up_amount"] == "2,500.00"
    # The log with these records in it still verifies, replayed record by record too.
    report = await verify_database(desk.container.database, anchors=None, deep=True)
    assert report.ok, report.problem


async def test_recon_approve_opens_the_form_with_the_note(desk: Desk) -> None:
    (item,) = await desk.ingest()
    await desk.slack.slash_command("U0ALICE", f"approve {item.human_id} matches the wire")
    form = await step_up_form(desk, "U0ALICE")
    assert form.title == f"Approve {item.human_id}"
    assert (await desk.item(item.id or 0)).state is ReviewState.PENDING  # not yet
    await desk.slack.submit_modal("U0ALICE", {AMOUNT_LABEL: "2500"})
    posted = await wait_state(desk, item, ReviewState.POSTED)
    assert posted.decision_note == "matches the wire"
    [record] = await approvals_recorded(desk, item)
    assert (record["data"]["step_up"], record["data"]["step_up_amount"]) == (True, "2500")


async def test_an_item_below_the_step_up_is_approved_in_one_click(desk: Desk) -> None:
    (item,) = await desk.ingest(amount=Decimal("1999.99"))
    card = await desk.card(item)
    await desk.slack.click("U0BOB", "Approve", channel=TREASURY, ts=card.ts)
    await wait_state(desk, item, ReviewState.POSTED)
    assert desk.slack.open_modal("U0BOB") is None
    [record] = await approvals_recorded(desk, item)
    assert "step_up" not in record["data"]


WRITE_OFF_LABEL = "Retype the amount written off (USD)"
NOTE = "the counterparty is insolvent"


async def resolutions_recorded(desk: Desk, item: Item) -> list[dict[str, Any]]:
    """The ``dispute.resolved`` records of ``item``, oldest first."""
    stmt = (
        select(audit_records.c.body)
        .where(audit_records.c.event == "dispute.resolved")
        .where(audit_records.c.item_id == item.id)
        .order_by(audit_records.c.seq)
    )
    async with desk.container.database.reader.connect() as conn:
        return [json.loads(b) for b in (await conn.execute(stmt)).scalars().all()]


async def test_a_write_off_at_the_step_up_needs_the_amount_retyped_in_the_form(
    desk: Desk,
) -> None:
    (item,) = await desk.ingest()
    assert item.id is not None
    await desk.card(item)
    await desk.container.usecases.disputes.open_dispute(
        item_id=item.id,
        actor="U0BOB",
        now=desk.container.clock.now(),
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="the counterparty booked a different amount",
    )
    before = await desk.item(item.id)
    await desk.slack.slash_command("U0BOB", f"resolve {item.human_id}")
    form = await desk.slack.wait_for(
        lambda: (m := desk.slack.open_modal("U0BOB")) and WRITE_OFF_LABEL in m.input_labels() and m,
        message="the resolve form with its step-up field",
    )
    assert form.title == f"Resolve {item.human_id}"
    written_off = {"Outcome": "Written off", "Note": NOTE}

    missing = await desk.slack.submit_modal("U0BOB", written_off)
    assert "needs the amount retyped" in missing.errors[Field.STEP_UP.value]
    wrong = await desk.slack.submit_modal("U0BOB", {**written_off, WRITE_OFF_LABEL: "250.00"})
    assert "not the amount written off (2500.00 USD)" in wrong.errors[Field.STEP_UP.value]
    unchanged = await desk.item(item.id)
    assert (unchanged.state, unchanged.version) == (ReviewState.DISPUTED, before.version)
    assert await resolutions_recorded(desk, item) == []

    right = await desk.slack.submit_modal("U0BOB", {**written_off, WRITE_OFF_LABEL: "2,500.00"})
    assert not right.errors
    await wait_state(desk, item, ReviewState.POSTED)
    (record,) = await resolutions_recorded(desk, item)
    assert record["data"]["step_up"] is True and record["data"]["step_up_amount"] == "2,500.00"
