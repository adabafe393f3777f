"""The digest item's clock on a real store (issue 14): it waits in SQL as in the fakes.

The SQL side of the rule: a waiting item has no ``sla_next_at`` and is not counted
overdue by the dashboard query; ``awaiting_post`` finds the items a digest took whose
clock still waits; ``sent_at`` reads when the relay recorded the summary as sent (not
while it is pending or dead); the columns round-trip.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from domain.intake import IntakeRow
from domain.items import RiskTier
from domain.notifications import digest_key
from domain.permissions import OPERATOR
from domain.usecases import UseCases
from store.audit.anchors import AnchorFile
from store.audit.log import init_audit
from store.audit.signer import load_or_create_signing_key
from store.engine import Database
from store.tables import outbox
from store.uow import SqlUnitOfWorkFactory
from tests.builders import make_facts
from tests.integration.test_sla_sweep import Policies, policy_text

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
WINDOW = "2026-11-16T12:00:00+00:00"


@pytest.fixture
async def factory(migrated: Database, tmp_path: Path) -> SqlUnitOfWorkFactory:
    signer = load_or_create_signing_key(tmp_path / "audit.pem")
    async with migrated.writer.begin() as conn:
        await init_audit(conn, signer=signer, now=T0)
    return SqlUnitOfWorkFactory(
        database=migrated, signer=signer, anchors=AnchorFile(tmp_path / "anchors.jsonl")
    )


@pytest.fixture
def usecases(factory: SqlUnitOfWorkFactory) -> UseCases:
    return UseCases.over(uow=factory, policy=Policies(policy_text()))


async def _set_summary(db: Database, state: str, *, at: datetime | None = None) -> None:
    """Plays the relay: the treasury summary of ``WINDOW`` in ``state`` (sent at ``at``)."""
    async with db.writer.begin() as conn:
        result = await conn.execute(
            update(outbox)
            .where(outbox.c.dedupe_key == digest_key("treasury", WINDOW))
            .values(
                state=state,
                sent_at=at,
                result_channel="C0TREASURY" if state == "sent" else None,
                result_ts="1.000200" if state == "sent" else None,
            )
        )
        assert result.rowcount == 1


async def test_a_waiting_digest_item_on_a_real_store(
    migrated: Database, factory: SqlUnitOfWorkFactory, usecases: UseCases
) -> None:
    quiet = {"risk_tier": RiskTier.LOW, "confidence": "0.95", "reference": None}
    rows = [
        make_facts(external_id="low-1", amount="100.00", **quiet),
        make_facts(external_id="low-2", amount="110.00", **quiet),
        make_facts(external_id="high-1", amount="120.00", risk_tier=RiskTier.HIGH),
    ]
    await usecases.intake.ingest([IntakeRow(line=n, facts=f) for n, f in enumerate(rows)], now=T0)
    items = {i.facts.external_id: i for i in await usecases.queries.queue(viewer=OPERATOR)}
    assert items["low-1"].sla_waits and items["low-1"].sla_next_at is None
    assert not items["high-1"].sla_waits and items["high-1"].sla_next_at is not None
    later = T0 + timedelta(days=10)
    assert (await usecases.queries.stats(user="U0ALICE", now=later))["overdue"] == 1

    assert await usecases.digests.digest_window(window=WINDOW, now=T0)
    async with factory(read_only=True) as uow:
        waiting = await uow.digests.awaiting_post(limit=10)
        assert [(w, i.facts.external_id) for w, i in waiting] == [
            (WINDOW, "low-1"),
            (WINDOW, "low-2"),
        ]
        assert await uow.outbox.sent_at(digest_key("treasury", WINDOW)) is None

    # Dead (given up) is not sent: the clocks keep waiting for a replay.
    await _set_summary(migrated, "dead")
    assert await usecases.digests.start_clocks(now=later) == 0
    posted = T0 + timedelta(hours=3)
    await _set_summary(migrated, "sent", at=posted)
    assert await usecases.digests.start_clocks(now=later) == 2
    assert await usecases.digests.start_clocks(now=later) == 0
    for ref in ("low-1", "low-2"):
        item = await usecases.queries.get(items[ref].id or 0)
        assert not item.sla_waits and item.shown_in_digest == WINDOW
        assert item.sla_started_at == posted
        assert item.sla_next_at == posted + timedelta(hours=24)
        assert item.version == items[ref].version  # nothing a reviewer judges changed
    assert (await usecases.queries.stats(user="U0ALICE", now=later))["overdue"] == 3
