"""The reads of ledger delivery on real databases (SQLite, and PostgreSQL when
RECON_TEST_POSTGRES_URL is set): entries with their delivery state, counts, breakers."""

from __future__ import annotations

from datetime import timedelta

from domain.items import EntryKind
from domain.ledger_status import (
    LEDGER_BREAKER,
    BreakerState,
    BreakerStatus,
    Delivery,
    DeliveryCounts,
)
from store.engine import Database
from store.ledger_status import LedgerStatusStore, SqlLedgerStatusRepository
from tests.fakes import T0
from tests.ledger_rows import (
    STATES,
    add_entry,
    add_item,
    add_ledger_row,
    add_slack_row,
    entry,
    seed_journal,
    set_breaker,
)


async def test_entries_come_oldest_first_with_the_delivery_state_of_their_outbox_row(
    migrated: Database,
) -> None:
    ids = await seed_journal(migrated)
    records = await LedgerStatusStore(migrated).records()
    assert [r.id for r in records] == sorted(ids)
    assert [r.delivery for r in records] == [delivery for _, _, delivery in STATES]
    sent = records[2]
    assert sent.entry.reference == "ERP-3"
    assert sent.entry.delivered_at == T0 + timedelta(hours=1)
    assert sent.entry.delivered_at.tzinfo is not None
    assert records[4].entry.hold == "no account mapping"
    assert [str(r.amount.amount) for r in records] == [
        "1.00",
        "2.00",
        "3.00",
        "4.00",
        "5.00",
        "6.00",
    ]


async def test_unposted_leaves_out_only_sent_entries(migrated: Database) -> None:
    ids = await seed_journal(migrated)
    unposted = await LedgerStatusStore(migrated).records(unposted=True)
    assert [r.id for r in unposted] == [
        i for i, s in zip(ids, STATES, strict=True) if s[0] != "sent"
    ]
    assert Delivery.SENT not in {r.delivery for r in unposted}


async def test_records_page_by_id(migrated: Database) -> None:
    ids = await seed_journal(migrated)
    store = LedgerStatusStore(migrated)
    first = await store.records(limit=4)
    rest = await store.records(after_id=first[-1].id, limit=4)
    assert [r.id for r in first + rest] == ids
    assert await store.records(after_id=ids[-1]) == []
    assert [r.id for r in await store.records(after_id=ids[1], unposted=True, limit=2)] == [
        ids[3],
        ids[4],
    ]


async def test_delivery_counts_are_disjoint_and_add_up_to_every_entry(migrated: Database) -> None:
    await seed_journal(migrated)
    async with migrated.writer.begin() as conn:
        # A held entry whose row died anyway counts once, as dead.
        held_dead = entry(await add_item(conn, 99), hold="no account mapping")
        await add_entry(conn, held_dead)
        await add_ledger_row(conn, held_dead, "dead")
    counts = await LedgerStatusStore(migrated).delivery_counts()
    assert counts == DeliveryCounts(pending=3, sent=1, dead=2, held=1)
    assert counts.unposted == 6
    async with migrated.reader.connect() as conn:
        assert await SqlLedgerStatusRepository(conn).delivery_counts() == counts


async def test_an_empty_journal_counts_zero_and_lists_nothing(migrated: Database) -> None:
    store = LedgerStatusStore(migrated)
    assert await store.delivery_counts() == DeliveryCounts()
    assert await store.records() == []


async def test_no_breaker_row_reads_closed_and_a_stored_one_reads_back(migrated: Database) -> None:
    store = LedgerStatusStore(migrated)
    assert await store.breakers() == [BreakerStatus(name=LEDGER_BREAKER)]
    opened = BreakerStatus(
        name=LEDGER_BREAKER,
        state=BreakerState.OPEN,
        failures=5,
        opened_at=T0,
        probe_at=T0 + timedelta(seconds=30),
        last_error="TimeoutError: no answer in 10 s",
        updated_at=T0 + timedelta(seconds=1),
    )
    async with migrated.writer.begin() as conn:
        await set_breaker(conn, opened)
        await set_breaker(conn, BreakerStatus(name="erp-probe", state=BreakerState.HALF_OPEN))
    assert await store.breakers() == [
        BreakerStatus(name="erp-probe", state=BreakerState.HALF_OPEN, updated_at=T0),
        opened,
    ]
    async with migrated.reader.connect() as conn:
        read = await SqlLedgerStatusRepository(conn).breaker(LEDGER_BREAKER)
        missing = await SqlLedgerStatusRepository(conn).breaker("nothing-here")
    assert read == opened and read.last_error_class == "TimeoutError"
    assert missing == BreakerStatus(name="nothing-here")


async def test_outbox_counts_every_kind_and_pending_includes_in_flight(migrated: Database) -> None:
    store = LedgerStatusStore(migrated)
    empty = await store.outbox_counts()
    assert (empty.pending, empty.sent, empty.dead, empty.oldest_pending_at) == (0, 0, 0, None)
    await seed_journal(migrated)  # ledger rows: pending, sending, sent, dead (at T0)
    async with migrated.writer.begin() as conn:
        await add_slack_row(conn, 1, "pending", at=T0 - timedelta(minutes=5))
        await add_slack_row(conn, 2, "sent")
        await add_slack_row(conn, 3, "dead")
    counts = await store.outbox_counts()
    assert (counts.pending, counts.sent, counts.dead) == (3, 2, 2)
    assert counts.oldest_pending_at == T0 - timedelta(minutes=5)
    assert counts.oldest_pending_at.tzinfo is not None


async def test_kinds_and_links_of_corrective_entries_read_back(migrated: Database) -> None:
    async with migrated.writer.begin() as conn:
        item_id = await add_item(conn, 1, currency="JPY")
        original = entry(item_id, currency="JPY", minor=1500)
        reversal = entry(
            item_id,
            kind=EntryKind.REVERSAL,
            seq=1,
            currency="JPY",
            minor=1500,
            reverses=original.idempotency_key,
        )
        write_off = entry(item_id, kind=EntryKind.WRITE_OFF, currency="JPY", dispute_id="D-1-1")
        for made in (original, reversal, write_off):
            await add_entry(conn, made)
    records = await LedgerStatusStore(migrated).records()
    assert [r.entry.kind for r in records] == [
        EntryKind.APPROVAL,
        EntryKind.REVERSAL,
        EntryKind.WRITE_OFF,
    ]
    assert records[1].entry.reverses == original.idempotency_key
    assert records[2].entry.dispute_id == "D-1-1"
    assert str(records[0].amount.amount) == "1500"  # JPY has no minor unit
