"""``recon-bot serve`` killed between the ledger's acceptance and its record: after a
restart every entry is in the ledger exactly once, with its reference stored.

The HTTP ledger stand-in stores the first entry it gets, then holds its answer; the test
SIGKILLs the bot right then (the ledger has the entry, the bot has no record of it),
releases the answer into the void, restarts the bot, and waits. The dead process's row
comes back when its lease runs out; the retry carries the same ``Idempotency-Key``; the
ledger answers 409 with the reference it gave; that is stored and the item posted.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.container import Container
from bot.settings import Settings
from bot.setup import initialize
from domain.intake import IntakeRow
from domain.items import ReviewState, RiskTier
from store.tables import journal_entries
from tests.builders import make_facts
from tests.e2e.conftest import e2e_settings, ingest_rows, write_policy_with_accounts
from tests.e2e.serve_process import start_serve
from tests.ledger_standin import LedgerStandIn
from tests.slack_standin import SlackStandIn


def ledger_env(ledger: LedgerStandIn) -> dict[str, str]:
    return {
        "RECON_LEDGER_SINK": "http",
        "RECON_LEDGER_URL": ledger.url,
        "RECON_LEDGER_TIMEOUT": "5",
    }


def accepted_rows(n: int) -> list[IntakeRow]:
    """Rows the policy accepts: each item approved at once, its entry queued."""
    return [
        IntakeRow(
            line=i + 2,
            facts=make_facts(
                source="bank",
                external_id=f"crash-{i}",
                kind="match",
                score=95,
                amount=Decimal("120.00") + i,
                counterparty=None,
                risk_tier=RiskTier.LOW,
                confidence="0.95",
                reference=None,
            ),
        )
        for i in range(n)
    ]


@pytest.mark.slow
async def test_a_bot_killed_after_the_ledger_took_an_entry_delivers_it_once_after_restart(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    write_policy_with_accounts(settings)
    await initialize(settings)
    container = await Container.open(settings)
    first = second = None
    async with LedgerStandIn() as ledger:
        hold = ledger.hold_next()  # the first entry is stored, its answer held
        try:
            first = await start_serve(settings, slack, tmp_path, env=ledger_env(ledger))
            await slack.wait_connected(timeout=30)
            items = await ingest_rows(container, accepted_rows(3))
            async with asyncio.timeout(30):
                await hold.reached.wait()
            await first.kill()  # SIGKILL: the ledger holds the entry, the bot recorded nothing
            hold.release()
            held_key = next(iter(ledger.entries))  # the first one stored is the held one
            async with container.uow(read_only=True) as uow:
                held = await uow.journal.get_by_key(held_key)
            assert held is not None and held.reference is None

            second = await start_serve(settings, slack, tmp_path, env=ledger_env(ledger))

            async def all_posted() -> bool:
                for item in items:
                    stored = await container.usecases.queries.get(item.id or 0)
                    if stored.state is not ReviewState.POSTED:
                        return False
                return True

            # Bounded: one lease (30 s) for the dead process's row to come back, and a pass.
            await slack.wait_for(all_posted, timeout=90, message="every item posted")
        finally:
            hold.release()
            if first is not None:
                await first.kill()
            logs = (await second.stop()).logs if second is not None else ""
        async with container.database.reader.connect() as conn:
            rows = (await conn.execute(select(journal_entries))).mappings().all()
        await container.close()

        assert second is not None and second.returncode == 0, logs
        # Every entry is in the ledger exactly once, and we hold the reference it gave.
        assert len(ledger.entries) == 3 and ledger.duplicates == 0
        assert ledger.repeats >= 1  # the retry of the held entry was answered 409
        by_key = {e.key: e.reference for e in ledger.entries.values()}
        assert {r["idempotency_key"]: r["reference"] for r in rows} == by_key
        for item in items:
            stored_item = await _posted(settings, item.id or 0)
            assert stored_item == by_key[f"item-{item.id}-approval"]


async def _posted(settings: Settings, item_id: int) -> str | None:
    container = await Container.open(settings)
    try:
        return (await container.usecases.queries.get(item_id)).ledger_ref
    finally:
        await container.close()
