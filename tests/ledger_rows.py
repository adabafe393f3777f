"""Rows that set up where ledger delivery stands, written straight into the store.

The relay that writes them in production is built elsewhere; these tests only read them,
so they lay down exactly what the schema promises: one outbox row per deliverable entry
(``kind`` and ``target`` ``ledger``, dedupe key ``ledger:`` + idempotency key, state
pending | sending | sent | dead) and one ``breakers`` row per breaker.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.items import EntryKind, JournalEntry, JournalLine
from domain.journal import idempotency_key, ledger_ref
from domain.ledger_status import BreakerStatus, Delivery, ledger_dedupe_key
from store.engine import Database
from store.mapping import entry_to_row
from store.repositories import SqlItemRepository
from store.tables import breakers, journal_entries, outbox
from tests.builders import make_facts, make_item
from tests.fakes import T0


async def add_item(conn: AsyncConnection, n: int, *, currency: str = "USD") -> int:
    """A stored item (external id ``ledger-n``); returns its id."""
    facts = make_facts(external_id=f"ledger-{n}", currency=currency)
    stored = await SqlItemRepository(conn).add(make_item(facts=facts, id=None))
    assert stored.id is not None
    return stored.id


def entry(
    item_id: int,
    *,
    kind: EntryKind = EntryKind.APPROVAL,
    seq: int | None = None,
    minor: int = 12_500,
    currency: str = "USD",
    at: datetime = T0,
    **fields: object,
) -> JournalEntry:
    """A balanced entry for ``item_id`` (``fields``: hold, reference, dispute_id...)."""
    made = JournalEntry(
        idempotency_key=idempotency_key(item_id, kind, seq),
        ledger_ref=ledger_ref(item_id, kind, seq),
        item_id=item_id,
        currency=currency,
        lines=(
            JournalLine(account="1190", debit_minor=minor),
            JournalLine(account="1999", credit_minor=minor),
        ),
        memo=f"R-{item_id} {kind.value} by U0ALICE",
        created_at=at,
        kind=kind,
        entity="ACME-US",
    )
    return replace(made, **fields)  # type: ignore[arg-type]


async def add_entry(conn: AsyncConnection, made: JournalEntry) -> int:
    """Stores the entry; returns its row id."""
    result = await conn.execute(insert(journal_entries).values(**entry_to_row(made)))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


async def add_ledger_row(
    conn: AsyncConnection, made: JournalEntry, state: str, *, at: datetime = T0
) -> None:
    """The outbox row delivering ``made``, in ``state``."""
    await conn.execute(
        insert(outbox).values(
            dedupe_key=ledger_dedupe_key(made.idempotency_key),
            kind="ledger",
            target="ledger",
            item_id=made.item_id,
            payload={"idempotency_key": made.idempotency_key},
            state=state,
            attempts=1 if state != "pending" else 0,
            failures=1 if state == "dead" else 0,
            available_at=at,
            last_error="HTTP 422: unknown account" if state == "dead" else None,
            created_at=at,
            sent_at=at if state == "sent" else None,
        )
    )


async def add_slack_row(conn: AsyncConnection, n: int, state: str, *, at: datetime = T0) -> None:
    """A Slack message row in ``state`` (the outbox counts rows of every kind)."""
    await conn.execute(
        insert(outbox).values(
            dedupe_key=f"test-slack-{n}",
            kind="alert",
            target="C0TREASURY",
            payload={},
            state=state,
            attempts=0,
            failures=0,
            available_at=at,
            created_at=at,
        )
    )


async def set_breaker(conn: AsyncConnection, status: BreakerStatus, *, at: datetime = T0) -> None:
    """Stores the breaker as ``status`` says."""
    await conn.execute(
        insert(breakers).values(
            name=status.name,
            state=status.state.value,
            failures=status.failures,
            opened_at=status.opened_at,
            probe_at=status.probe_at,
            last_error=status.last_error,
            updated_at=status.updated_at or at,
        )
    )


#: One entry per outbox state, and two without a row (one held, one made before delivery),
#: with the delivery each must read as.
STATES: list[tuple[str | None, str | None, Delivery]] = [
    ("pending", None, Delivery.PENDING),
    ("sending", None, Delivery.PENDING),
    ("sent", None, Delivery.SENT),
    ("dead", None, Delivery.DEAD),
    (None, "no account mapping", Delivery.PENDING),
    (None, None, Delivery.PENDING),
]


async def seed_journal(db: Database, *, first: int = 1) -> list[int]:
    """One entry per ``STATES`` row, in that order, each on an item of its own (external
    ids from ``ledger-{first}``); entry n is for n.00 USD. Returns their row ids."""
    ids = []
    async with db.writer.begin() as conn:
        for n, (state, hold, _) in enumerate(STATES, start=first):
            item_id = await add_item(conn, n)
            made = entry(
                item_id,
                minor=100 * n,
                at=T0 + timedelta(minutes=n),
                hold=hold,
                reference=f"ERP-{n}" if state == "sent" else None,
                delivered_at=T0 + timedelta(hours=1) if state == "sent" else None,
            )
            ids.append(await add_entry(conn, made))
            if state is not None:
                await add_ledger_row(conn, made, state)
    return ids
