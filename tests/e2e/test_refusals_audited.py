"""Refused decisions, end to end: the person is told why, and the attempt is audited."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from domain.items import ReviewState
from store.audit.verification import verify_database
from store.tables import audit_records
from tests.e2e.conftest import TREASURY, Desk, journal_of, wait_said, wait_told


async def refused_records(desk: Desk) -> list[dict[str, Any]]:
    """The signed bodies of the ``decision.refused`` records, oldest first."""
    stmt = (
        select(audit_records.c.body)
        .where(audit_records.c.event == "decision.refused")
        .order_by(audit_records.c.seq)
    )
    async with desk.container.database.reader.connect() as conn:
        bodies = (await conn.execute(stmt)).scalars().all()
    return [json.loads(body) for body in bodies]


async def test_the_preparer_approving_their_own_item_is_told_and_audited(desk: Desk) -> None:
    (item,) = await desk.ingest(prepared_by="U0ALICE")
    card = await desk.card(item)
    await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
    told = await wait_said(desk, "U0ALICE", f"you prepared {item.human_id}", "maker-checker")
    assert "cannot approve it" in told
    await desk.slack.slash_command("U0ALICE", f"approve {item.human_id} looks right to me")
    await wait_told(desk, "U0ALICE", "maker-checker", 2)

    async def both_recorded() -> bool:
        return len(await refused_records(desk)) == 2

    await desk.slack.wait_for(both_recorded, message="two refusals recorded")
    reason = f"you prepared {item.human_id}, so you cannot approve it (maker-checker)"
    for record in await refused_records(desk):
        assert {k: record[k] for k in ("actor", "item_id", "item", "from", "to", "data")} == {
            "actor": "U0ALICE",
            "item_id": item.id,
            "item": item.human_id,
            "from": None,
            "to": None,
            "data": {"action": "approve", "reason": reason},
        }
    unchanged = await desk.item(item.id or 0)
    assert unchanged.state is ReviewState.PENDING and unchanged.version == item.version
    assert await journal_of(desk, item) == []
    # The log with the refusals in it still verifies, replayed record by record too.
    report = await verify_database(desk.container.database, anchors=None, deep=True)
    assert report.ok, report.problem


async def test_an_outsiders_attempt_is_recorded_without_the_item(desk: Desk) -> None:
    (item,) = await desk.ingest()
    await desk.card(item)
    await desk.slack.slash_command("U0DAN", f"approve {item.human_id}")
    await wait_said(desk, "U0DAN", f"you cannot see {item.human_id}")
    await desk.slack.slash_command("U0DAN", "approve R-999")
    await wait_said(desk, "U0DAN", "you cannot see R-999")

    async def both_recorded() -> bool:
        return len(await refused_records(desk)) == 2

    await desk.slack.wait_for(both_recorded, message="two refusals recorded")
    seen, missing = await refused_records(desk)
    assert (seen["item_id"], seen["item"], seen["from"]) == (None, None, None)
    assert (missing["item_id"], missing["item"], missing["from"]) == (None, None, None)
    assert seen["data"] == {"action": "approve", "reason": f"you cannot see {item.human_id}"}
    assert missing["data"] == {"action": "approve", "reason": "you cannot see R-999"}
