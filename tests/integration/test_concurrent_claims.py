"""``/recon claim`` under concurrent claimers (issue 13, several replicas).

PostgreSQL: each claimer reads its candidate ``FOR UPDATE SKIP LOCKED``, so N claimers at
once get N distinct items, the best N of the queue, and none is turned away while items
wait. SQLite: the single writer serialises them, with the same outcome. The PostgreSQL run
needs ``RECON_TEST_POSTGRES_URL`` (skipped, saying so, without it).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from domain.intake import IntakeRow
from domain.items import ReviewState, RiskTier
from domain.policy import parse_policy
from domain.usecases import UseCases
from store.audit.anchors import AnchorFile
from store.audit.log import init_audit
from store.audit.signer import load_or_create_signing_key
from store.audit.verification import verify_database
from store.migrate import upgrade
from store.tables import items
from store.uow import SqlUnitOfWorkFactory
from tests.builders import make_facts
from tests.conftest import EXAMPLE_POLICY, open_database

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
CLAIMERS = 32
ITEMS = 48
REVIEWERS = [f"U0R{n:02d}" for n in range(CLAIMERS)]


async def test_concurrent_claimers_get_distinct_items_best_first(
    backend: str, tmp_path: Path
) -> None:
    text = EXAMPLE_POLICY.read_text().replace(
        "reviewers: [U0ALICE, U0BOB]", f"reviewers: [U0ALICE, U0BOB, {', '.join(REVIEWERS)}]"
    )
    loaded = parse_policy(text)
    async with open_database(backend, tmp_path, pool_size=CLAIMERS) as db:
        await upgrade(db)
        signer = load_or_create_signing_key(tmp_path / "audit.pem")
        async with db.writer.begin() as conn:
            await init_audit(conn, signer=signer, now=NOW)
        factory = SqlUnitOfWorkFactory(
            database=db, signer=signer, anchors=AnchorFile(tmp_path / "anchors.jsonl")
        )
        usecases = UseCases.over(uow=factory, policy=lambda: loaded)
        rows = [
            IntakeRow(
                line=n,
                facts=make_facts(
                    source="bank",
                    external_id=f"c-{n}",
                    amount=f"{2500 + 1000 * (n % 7)}.00",  # several priorities
                    risk_tier=RiskTier.HIGH,
                    confidence="0.95",
                ),
            )
            for n in range(ITEMS)
        ]
        await usecases.intake.ingest(rows, now=NOW)
        async with db.reader.connect() as conn:
            queue = await conn.execute(
                select(items.c.id)
                .where(items.c.state == ReviewState.PENDING.value)
                .order_by(items.c.priority.desc(), items.c.id)
            )
            best_first = [row[0] for row in queue]
        assert len(best_first) == ITEMS

        start = asyncio.Event()

        async def claimer(actor: str) -> int:
            await start.wait()
            outcome = await usecases.claims.claim_next(actor=actor, now=NOW)
            assert outcome.item.id is not None and outcome.item.assignee == actor
            return outcome.item.id

        tasks = [asyncio.create_task(claimer(actor)) for actor in REVIEWERS]
        await asyncio.sleep(0)
        start.set()
        claimed = await asyncio.gather(*tasks)  # none raised NothingToClaim

        assert len(set(claimed)) == CLAIMERS, "an item was handed out twice"
        assert sorted(claimed) == sorted(best_first[:CLAIMERS])
        async with db.reader.connect() as conn:
            held = await conn.execute(
                select(items.c.id, items.c.assignee).where(
                    items.c.state == ReviewState.ASSIGNED.value
                )
            )
            assert dict(held.all()) == dict(zip(claimed, REVIEWERS, strict=True))
        report = await verify_database(db, anchors=AnchorFile(tmp_path / "anchors.jsonl"))
        assert report.ok, report.problem
