"""The repository contract: one suite run on the in-memory fakes, SQLite and PostgreSQL.

Every check goes through the ports of ``domain/ports.py`` (the unit of work and its
repositories). The outbox and audit sinks only write, so what they kept is read back
through a small ``Peek`` per backend. The SQL repositories are the contract: where a fake
disagreed with them, the fake was fixed. PostgreSQL runs when ``RECON_TEST_POSTGRES_URL``
is set and skips, saying so, when it is not.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from domain.audit import AuditEntry
from domain.digest import ClusterMember, ClusterState
from domain.errors import StaleItem
from domain.fx import FxRate
from domain.gl import LedgerEntry
from domain.intake import RowError
from domain.items import (
    EntryKind,
    Item,
    JournalEntry,
    JournalLine,
    ReviewState,
    Route,
)
from domain.journal import build_reversal
from domain.ledger_status import LEDGER_BREAKER, BreakerStatus, DeliveryCounts
from domain.notifications import NoticeKind, Notification
from domain.ports import UnitOfWorkFactory
from domain.statements.records import MatchStatus, Original, Stage1Status, Statement
from domain.templates import Links, encode
from store.audit.log import init_audit
from store.audit.signer import load_or_create_signing_key
from store.engine import Database
from store.migrate import upgrade
from store.tables import (
    audit_records,
    ingest_runs,
    outbox,
    policy_versions,
    quarantine,
    statement_originals,
)
from store.uow import SqlUnitOfWorkFactory
from tests.builders import make_facts, make_item
from tests.conftest import open_database, skip_without_postgres
from tests.fakes import T0, DuplicateKey, InMemoryUnitOfWorkFactory
from tests.statement_files import EUR_ACCOUNT, USD_ACCOUNT, make_statement, statement
from tests.statement_files import line as stmt_line

S = ReviewState
#: What each backend raises on a duplicate unique key.
DUPLICATE = (DuplicateKey, IntegrityError)


class Peek(Protocol):
    """Reads back what the write-only sinks (and the intake) kept, committed only."""

    async def audit_events(self) -> list[tuple[str, int | None]]: ...

    async def outbox(self) -> list[tuple[str, str, str, int | None, dict[str, Any]]]: ...

    async def policy_body(self, version: str) -> str | None: ...

    async def quarantined(self, run_id: int) -> list[tuple[int, str, str, str]]: ...

    async def run_summary(self, run_id: int) -> dict[str, Any] | None: ...


class MemoryPeek:
    def __init__(self, factory: InMemoryUnitOfWorkFactory) -> None:
        self._store = factory.store

    async def audit_events(self) -> list[tuple[str, int | None]]:
        return [(e.event, e.item_id) for e in self._store.audit]

    async def outbox(self) -> list[tuple[str, str, str, int | None, dict[str, Any]]]:
        queued = [(key, q.notification) for key, q in self._store.outbox.items()]
        return [
            (
                key,
                n.kind.value,
                n.target,
                n.item_id,
                encode(n.payload, Links(thread_of=n.thread_of, update_of=n.update_of)),
            )
            for key, n in queued
        ]

    async def policy_body(self, version: str) -> str | None:
        return self._store.policies.get(version)

    async def quarantined(self, run_id: int) -> list[tuple[int, str, str, str]]:
        return [
            (q.error.line, q.error.field, q.error.error, q.raw)
            for q in self._store.quarantine
            if q.run_id == run_id
        ]

    async def run_summary(self, run_id: int) -> dict[str, Any] | None:
        run = self._store.runs.get(run_id)
        return run.summary if run else None


class SqlPeek:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def _rows(self, stmt: Any) -> list[Any]:
        async with self._db.reader.connect() as conn:
            return list((await conn.execute(stmt)).all())

    async def audit_events(self) -> list[tuple[str, int | None]]:
        rows = await self._rows(
            select(audit_records.c.event, audit_records.c.item_id).order_by(audit_records.c.seq)
        )
        return [(r.event, r.item_id) for r in rows]

    async def outbox(self) -> list[tuple[str, str, str, int | None, dict[str, Any]]]:
        rows = await self._rows(
            select(
                outbox.c.dedupe_key,
                outbox.c.kind,
                outbox.c.target,
                outbox.c.item_id,
                outbox.c.payload,
            ).order_by(outbox.c.id)
        )
        return [tuple(r) for r in rows]

    async def policy_body(self, version: str) -> str | None:
        rows = await self._rows(
            select(policy_versions.c.body).where(policy_versions.c.version == version)
        )
        return rows[0].body if rows else None

    async def quarantined(self, run_id: int) -> list[tuple[int, str, str, str]]:
        rows = await self._rows(
            select(quarantine.c.line, quarantine.c.field, quarantine.c.error, quarantine.c.raw)
            .where(quarantine.c.run_id == run_id)
            .order_by(quarantine.c.id)
        )
        return [tuple(r) for r in rows]

    async def run_summary(self, run_id: int) -> dict[str, Any] | None:
        rows = await self._rows(select(ingest_runs.c.summary).where(ingest_runs.c.id == run_id))
        return rows[0].summary if rows else None


@dataclass(frozen=True, slots=True)
class Store:
    """One backend under test: its unit-of-work factory and its read-back."""

    name: str
    uows: UnitOfWorkFactory
    peek: Peek


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The same empty store on each backend."""
    name = str(request.param)
    skip_without_postgres(name)
    if name == "memory":
        factory = InMemoryUnitOfWorkFactory()
        yield Store(name, factory, MemoryPeek(factory))
        return
    async with open_database(name, tmp_path) as db:
        await upgrade(db)
        signer = load_or_create_signing_key(tmp_path / "audit.pem")
        async with db.writer.begin() as conn:
            await init_audit(conn, signer=signer, now=T0)
        uows = SqlUnitOfWorkFactory(database=db, signer=signer, anchors=None)
        yield Store(name, uows, SqlPeek(db))


def new_item(ext: str, **overrides: Any) -> Item:
    """An item not stored yet, ingested as ``bank-feed``/``ext``."""
    source = overrides.pop("source", "bank-feed")
    prepared_by = overrides.pop("prepared_by", None)
    facts = make_facts(source=source, external_id=ext, prepared_by=prepared_by)
    return make_item(id=None, facts=facts, **overrides)


async def add(store: Store, *items: Item) -> list[Item]:
    """Stores the items in one committed unit of work; returns them with their ids."""
    async with store.uows() as uow:
        stored = [await uow.items.add(i) for i in items]
        await uow.commit()
    return stored


def ids(items: Sequence[Item]) -> list[int | None]:
    return [i.id for i in items]


# --- items: add, get, reserve, update ------------------------------------------------


async def test_add_gives_ascending_ids_and_get_reads_back_the_same_item(store: Store) -> None:
    first, second = await add(
        store,
        new_item("A", priority=5, reasons=("one", "two")),
        new_item("B", state=S.ASSIGNED, assignee="U0ALICE", claim_expires_at=T0),
    )
    assert first.id is not None and second.id is not None and first.id < second.id
    async with store.uows(read_only=True) as uow:
        assert await uow.items.get(first.id) == first
        assert await uow.items.get(second.id) == second
        assert await uow.items.get(second.id + 100) is None


async def test_source_and_external_id_are_unique(store: Store) -> None:
    await add(store, new_item("A"))
    with pytest.raises(DUPLICATE):
        async with store.uows() as uow:
            await uow.items.add(new_item("A"))
    (other,) = await add(store, new_item("A", source="ledger"))
    assert other.facts.source == "ledger"


async def test_get_by_external_finds_items_of_one_source(store: Store) -> None:
    a, b, _ = await add(store, new_item("A"), new_item("B"), new_item("A", source="ledger"))
    async with store.uows(read_only=True) as uow:
        assert await uow.items.get_by_external("bank-feed", "A") == a
        assert await uow.items.get_by_external("bank-feed", "Z") is None
        found = await uow.items.get_many_by_external("bank-feed", ["B", "A", "Z", "A"])
        assert found == {"A": a, "B": b}
        assert await uow.items.get_many_by_external("bank-feed", []) == {}


async def test_reserved_ids_take_add_many_and_later_adds_come_after(store: Store) -> None:
    (before,) = await add(store, new_item("A"))
    assert before.id is not None
    async with store.uows() as uow:
        assert await uow.items.reserve_ids(0) == []
        assert await uow.items.reserve_ids(-1) == []
        reserved = await uow.items.reserve_ids(3)
        assert reserved == sorted(set(reserved)) and len(reserved) == 3
        assert min(reserved) > before.id
        batch = [
            dataclasses.replace(new_item(f"R{n}"), id=item_id) for n, item_id in enumerate(reserved)
        ]
        await uow.items.add_many(batch)
        await uow.commit()
    (after,) = await add(store, new_item("B"))
    assert after.id is not None and after.id > max(reserved)
    async with store.uows(read_only=True) as uow:
        assert [await uow.items.get(i) for i in reserved] == batch


async def test_add_many_refuses_an_existing_key(store: Store) -> None:
    await add(store, new_item("A"))
    with pytest.raises(DUPLICATE):
        async with store.uows() as uow:
            (item_id,) = await uow.items.reserve_ids(1)
            await uow.items.add_many([dataclasses.replace(new_item("A"), id=item_id)])


async def test_update_writes_only_over_the_expected_version(store: Store) -> None:
    (item,) = await add(store, new_item("A"))
    assert item.id is not None
    claimed = dataclasses.replace(item, state=S.ASSIGNED, assignee="U0ALICE", version=2)
    async with store.uows() as uow:
        assert await uow.items.update(claimed, expected_version=1)
        stale = dataclasses.replace(item, state=S.REJECTED, version=2)
        assert not await uow.items.update(stale, expected_version=1)
        ghost = dataclasses.replace(item, id=item.id + 100, version=2)
        assert not await uow.items.update(ghost, expected_version=1)
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert await uow.items.get(item.id) == claimed


async def test_update_many_writes_all_current_items_and_names_the_stale_ones(
    store: Store,
) -> None:
    items = await add(store, new_item("A"), new_item("B"), new_item("C"))
    async with store.uows() as uow:
        assert await uow.items.update_many([]) == []
        bumped = [dataclasses.replace(i, priority=99, version=2) for i in items]
        assert await uow.items.update_many([(i, 1) for i in bumped]) == []
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert [await uow.items.get(i.id or 0) for i in items] == bumped
    a, b, c = bumped
    async with store.uows() as uow:
        again = [dataclasses.replace(i, priority=7, version=3) for i in (a, b, c)]
        # b's caller read version 1, but it is at 2 now.
        stale = await uow.items.update_many([(again[0], 2), (again[1], 1), (again[2], 2)])
        assert stale == [b.id]


async def test_writes_reach_the_store_on_commit_only(store: Store) -> None:
    async with store.uows() as uow:
        dropped = await uow.items.add(new_item("A"))
    assert dropped.id is not None
    async with store.uows(read_only=True) as uow:
        assert await uow.items.get(dropped.id) is None
        assert await uow.items.get_by_external("bank-feed", "A") is None
        assert await uow.items.count() == 0
    (kept,) = await add(store, new_item("A"))
    async with store.uows(read_only=True) as uow:
        assert await uow.items.get(kept.id or 0) == kept


# --- items: queues and counts --------------------------------------------------------


async def _queue(store: Store) -> dict[str, Item]:
    """Items of two teams in several states and priorities, by external id."""
    stored = await add(
        store,
        new_item("low", priority=10),
        new_item("high", priority=500),
        new_item("high-2", priority=500),
        new_item("mid", priority=200, prepared_by="U0BOB"),
        new_item("mine", priority=300, state=S.ASSIGNED, assignee="U0ALICE"),
        new_item("ap", priority=600, team="ap"),
        new_item("done", priority=900, state=S.APPROVED, assignee="U0ALICE"),
        new_item("nobody", priority=900, team=None, state=S.DEAD_LETTER),
    )
    return {i.facts.external_id: i for i in stored}


async def test_claimable_is_pending_items_of_the_teams_by_priority_then_id(store: Store) -> None:
    q = await _queue(store)
    async with store.uows(read_only=True) as uow:
        found = await uow.items.claimable(teams=["treasury"], limit=10)
        assert ids(found) == ids([q["high"], q["high-2"], q["mid"], q["low"]])
        both = await uow.items.claimable(teams=["treasury", "ap"], limit=2)
        assert ids(both) == ids([q["ap"], q["high"]])
        page = await uow.items.claimable(teams=["treasury"], limit=2, offset=1)
        assert ids(page) == ids([q["high-2"], q["mid"]])
        assert await uow.items.claimable(teams=[], limit=10) == []


async def test_claimable_leaves_out_what_one_user_prepared(store: Store) -> None:
    q = await _queue(store)
    async with store.uows(read_only=True) as uow:
        found = await uow.items.claimable(teams=["treasury"], limit=10, exclude_prepared_by="U0BOB")
        assert ids(found) == ids([q["high"], q["high-2"], q["low"]])
        # Items nobody prepared stay claimable for everyone.
        other = await uow.items.claimable(teams=["treasury"], limit=10, exclude_prepared_by="U0X")
        assert len(other) == 4


async def test_claimable_goes_by_the_pending_state_not_the_assignee_field(store: Store) -> None:
    """A pending item is unassigned by its state: SQL never looks at the assignee column."""
    (item,) = await add(store, new_item("A", assignee="U0ALICE"))
    async with store.uows(read_only=True) as uow:
        assert ids(await uow.items.claimable(teams=["treasury"], limit=10)) == [item.id]


async def test_count_matches_every_given_filter(store: Store) -> None:
    await _queue(store)
    async with store.uows(read_only=True) as uow:
        assert await uow.items.count() == 8
        assert await uow.items.count(states=[]) == 8
        assert await uow.items.count(states=[S.PENDING]) == 5
        assert await uow.items.count(states=[S.PENDING, S.ASSIGNED], teams=["treasury"]) == 5
        assert await uow.items.count(teams=[]) == 0
        assert await uow.items.count(assignee="U0ALICE") == 2
        assert await uow.items.count(assignee="U0ALICE", states=[S.ASSIGNED]) == 1
        assert await uow.items.count(assignee="") == 8


async def test_query_filters_orders_by_priority_then_id_and_pages(store: Store) -> None:
    q = await _queue(store)
    async with store.uows(read_only=True) as uow:
        everything = await uow.items.query()
        assert ids(everything) == ids(
            [
                q["done"],
                q["nobody"],
                q["ap"],
                q["high"],
                q["high-2"],
                q["mine"],
                q["mid"],
                q["low"],
            ]
        )
        assert ids(await uow.items.query(limit=3, offset=2)) == ids(everything[2:5])
        assert ids(await uow.items.query(team="ap")) == [q["ap"].id]
        assert ids(await uow.items.query(team="")) == ids(everything)
        assert ids(await uow.items.query(teams=["ap"], states=[S.PENDING])) == [q["ap"].id]
        assert await uow.items.query(teams=[]) == []
        mine = await uow.items.query(assignee="U0ALICE", states=[S.ASSIGNED, S.APPROVED])
        assert ids(mine) == ids([q["done"], q["mine"]])
        assert ids(await uow.items.query(states=[S.DEAD_LETTER])) == [q["nobody"].id]


async def test_summary_counts_bands_states_and_overdue(store: Store) -> None:
    old, new = T0 - timedelta(days=3), T0
    await add(
        store,
        new_item("h", priority=400, sla_started_at=old),
        new_item("m", priority=150, sla_started_at=new),
        new_item("l", priority=149, sla_started_at=old),
        new_item("2nd", state=S.AWAITING_SECOND_APPROVAL, sla_started_at=old),
        new_item("disp", state=S.DISPUTED, sla_started_at=old),
        new_item("dead", state=S.DEAD_LETTER, sla_started_at=old),
        new_item("ok", state=S.POSTED, sla_started_at=old),
        new_item("ap", priority=999, team="ap", sla_started_at=old),
    )
    async with store.uows(read_only=True) as uow:
        everyone = await uow.items.summary(teams=None, overdue_before=T0 - timedelta(days=1))
        treasury = await uow.items.summary(teams=["treasury"], overdue_before=T0)
        nobody = await uow.items.summary(teams=[], overdue_before=T0)
    assert everyone == {
        "pending_high": 2,
        "pending_medium": 1,
        "pending_low": 1,
        "overdue": 5,  # h, l, 2nd, dead, ap: never the disputed or the settled
        "awaiting_second_approval": 1,
        "open_disputes": 1,
        "dead_lettered": 1,
        "state:pending": 4,
        "state:awaiting_second_approval": 1,
        "state:disputed": 1,
        "state:dead_letter": 1,
        "state:posted": 1,
    }
    assert treasury["pending_high"] == 1 and treasury["state:pending"] == 3
    assert treasury["overdue"] == 4  # overdue_before is strict: m started at T0
    assert "state:posted" in treasury and "state:assigned" not in treasury
    assert nobody == {
        key: 0
        for key in (
            "pending_high",
            "pending_medium",
            "pending_low",
            "overdue",
            "awaiting_second_approval",
            "open_disputes",
            "dead_lettered",
        )
    }


async def test_expired_claims_are_assigned_items_whose_lease_ended_before_now(
    store: Store,
) -> None:
    claimed = {"state": S.ASSIGNED, "assignee": "U0ALICE"}
    q = await add(
        store,
        new_item("late", claim_expires_at=T0 - timedelta(minutes=5), **claimed),
        new_item("later", claim_expires_at=T0 - timedelta(minutes=1), **claimed),
        new_item("earliest", claim_expires_at=T0 - timedelta(hours=1), **claimed),
        new_item("now", claim_expires_at=T0, **claimed),
        new_item("future", claim_expires_at=T0 + timedelta(minutes=1), **claimed),
        new_item("no-lease", **claimed),
        new_item("released", claim_expires_at=T0 - timedelta(hours=2)),
    )
    async with store.uows(read_only=True) as uow:
        found = await uow.items.expired_claims(now=T0, limit=10)
        assert ids(found) == ids([q[2], q[0], q[1]])
        assert ids(await uow.items.expired_claims(now=T0, limit=1)) == [q[2].id]


async def test_due_for_ladder_is_by_next_rung_time_then_id(store: Store) -> None:
    q = await add(
        store,
        new_item("b", sla_next_at=T0 - timedelta(minutes=1)),
        new_item("due-now", sla_next_at=T0),
        new_item("a", sla_next_at=T0 - timedelta(minutes=1)),
        new_item("first", sla_next_at=T0 - timedelta(hours=1), state=S.ESCALATED),
        new_item("later", sla_next_at=T0 + timedelta(seconds=1)),
        new_item("none"),
    )
    async with store.uows(read_only=True) as uow:
        due = await uow.items.due_for_ladder(now=T0, limit=10)
        assert ids(due) == ids([q[3], q[0], q[2], q[1]])
        assert ids(await uow.items.due_for_ladder(now=T0, limit=2)) == ids([q[3], q[0]])


async def test_open_after_skips_settled_items_in_id_order(store: Store) -> None:
    q = await add(
        store,
        *(new_item(state.value, state=state, priority=n) for n, state in enumerate(ReviewState)),
    )
    settled = {S.APPROVED, S.POSTED, S.REJECTED, S.MATCHED}
    open_ids = [i.id for i in q if i.state not in settled]
    async with store.uows(read_only=True) as uow:
        assert ids(await uow.items.open_after(after_id=0, limit=100)) == open_ids
        assert ids(await uow.items.open_after(after_id=open_ids[1] or 0, limit=2)) == open_ids[2:4]


async def test_open_outside_is_open_items_of_other_teams_or_none_by_priority_then_id(
    store: Store,
) -> None:
    q = await add(
        store,
        new_item("ours", team="treasury", state=S.ESCALATED, ladder_level=2, priority=900),
        new_item("theirs", team="ap", state=S.ESCALATED, ladder_level=2, priority=100),
        new_item("nobody's", team=None, state=S.DEAD_LETTER, ladder_level=3, priority=500),
        new_item("fresh", team="ap", priority=700),
        new_item("decided", team="ap", state=S.APPROVED, ladder_level=2, priority=800),
        new_item("theirs-2", team="ap", state=S.ESCALATED, ladder_level=2, priority=100),
    )
    async with store.uows(read_only=True) as uow:
        escalated = await uow.items.open_outside(teams=["treasury"], min_ladder_level=2)
        assert ids(escalated) == ids([q[2], q[1], q[5]])
        every = await uow.items.open_outside(teams=["treasury"])
        assert ids(every) == ids([q[3], q[2], q[1], q[5]])
        assert ids(await uow.items.open_outside(teams=[])) == ids([q[0], q[3], q[2], q[1], q[5]])


# --- journal -------------------------------------------------------------------------


def _entry(item: Item, key: str, memo: str = "") -> JournalEntry:
    assert item.id is not None
    return JournalEntry(
        idempotency_key=key,
        ledger_ref=f"JE-{key}",
        item_id=item.id,
        currency="USD",
        lines=(
            JournalLine(account="1000", debit_minor=12500),
            JournalLine(account="2000", credit_minor=12500),
        ),
        memo=memo or key,
        created_at=T0,
    )


async def test_journal_keeps_entries_by_unique_key_in_insertion_order(store: Store) -> None:
    a, b = await add(store, new_item("A"), new_item("B"))
    first, second, third = _entry(a, "k2"), _entry(a, "k1"), _entry(b, "k3")
    async with store.uows() as uow:
        await uow.journal.add(first)
        await uow.journal.add_many([second, third])
        await uow.journal.add_many([])
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert await uow.journal.get_by_key("k1") == second
        assert await uow.journal.get_by_key("nope") is None
        assert await uow.journal.for_item(a.id or 0) == [first, second]
        assert await uow.journal.for_item(b.id or 0) == [third]
        assert await uow.journal.for_item(0) == []
    with pytest.raises(DUPLICATE):
        async with store.uows() as uow:
            await uow.journal.add(_entry(b, "k1", memo="again"))


async def test_ledger_status_reads_a_closed_breaker_and_counts_undelivered_entries(
    store: Store,
) -> None:
    """No breaker stored reads closed; entries without a delivery row are pending, or
    held when their hold is set (the states a relay writes are tested in
    test_ledger_status.py, on SQL, where that relay's rows live)."""
    a, b = await add(store, new_item("A"), new_item("B"))
    async with store.uows() as uow:
        assert await uow.ledger_status.delivery_counts() == DeliveryCounts()
        await uow.journal.add(_entry(a, "k1"))
        await uow.journal.add(dataclasses.replace(_entry(b, "k2"), hold="no account mapping"))
        assert await uow.ledger_status.delivery_counts() == DeliveryCounts(pending=1, held=1)
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert await uow.ledger_status.breaker(LEDGER_BREAKER) == BreakerStatus(name=LEDGER_BREAKER)
        assert await uow.ledger_status.delivery_counts() == DeliveryCounts(pending=1, held=1)


async def test_corrective_entries_keep_their_links_and_list_by_item(store: Store) -> None:
    a, b, c = await add(store, new_item("A"), new_item("B"), new_item("C"))
    original = dataclasses.replace(_entry(a, "item-a-write_off"), kind=EntryKind.WRITE_OFF)
    original = dataclasses.replace(original, dispute_id="D-1-2", hold="no account mapping")
    reversal = build_reversal(original, seq=1, now=T0, item=a)
    adjustment = dataclasses.replace(
        _entry(b, "item-b-adjustment-1"), kind=EntryKind.ADJUSTMENT, dispute_id="D-2-1"
    )
    async with store.uows() as uow:
        await uow.journal.add(original)
        await uow.journal.add_many([adjustment, reversal])
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert await uow.journal.get_by_key(reversal.idempotency_key) == reversal
        assert await uow.journal.for_items([a.id or 0, b.id or 0, c.id or 0, a.id or 0]) == {
            a.id: [original, reversal],
            b.id: [adjustment],
        }
        assert await uow.journal.for_items([]) == {}
    assert (reversal.kind, reversal.reverses, reversal.dispute_id, reversal.hold) == (
        EntryKind.REVERSAL,
        "item-a-write_off",
        "D-1-2",
        "no account mapping",
    )


async def test_for_items_reads_more_items_than_one_chunk(store: Store) -> None:
    many = await add(store, *(new_item(f"X{n}") for n in range(520)))  # past one chunk of 500
    async with store.uows() as uow:
        await uow.journal.add_many([_entry(i, f"k-{i.id}") for i in many])
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        found = await uow.journal.for_items([i.id or 0 for i in many])
    assert sorted(found) == sorted(i.id or 0 for i in many)
    assert all(entries == [_entry(i, f"k-{i.id}")] for i in many for entries in [found[i.id or 0]])


# --- intake --------------------------------------------------------------------------


async def test_intake_records_runs_their_rejected_rows_and_summary(store: Store) -> None:
    async with store.uows() as uow:
        run = await uow.intake.start_run(
            source="bank-feed", file_name="items.csv", policy_version="pol-1", now=T0
        )
        rows = [(RowError(line=3, field="amount", error="not a number"), "x,abc")]
        await uow.intake.quarantine(run_id=run, rows=rows, now=T0)
        await uow.intake.quarantine(run_id=run, rows=[], now=T0)
        await uow.intake.finish_run(run_id=run, summary={"inserted": 2, "rejected": 1}, now=T0)
        await uow.commit()
    async with store.uows() as uow:
        second = await uow.intake.start_run(
            source="bank-feed", file_name="more.csv", policy_version="pol-1", now=T0
        )
        await uow.commit()
    assert second > run
    assert await store.peek.quarantined(run) == [(3, "amount", "not a number", "x,abc")]
    assert await store.peek.quarantined(second) == []
    assert await store.peek.run_summary(run) == {"inserted": 2, "rejected": 1}
    assert await store.peek.run_summary(second) is None


async def test_finishing_an_unknown_run_writes_nothing(store: Store) -> None:
    async with store.uows() as uow:
        await uow.intake.finish_run(run_id=404, summary={"inserted": 0}, now=T0)
        await uow.commit()
    assert await store.peek.run_summary(404) is None


async def test_the_first_text_of_a_policy_version_is_kept(store: Store) -> None:
    async with store.uows() as uow:
        await uow.intake.remember_policy(version="pol-1", body="first", now=T0)
        await uow.intake.remember_policy(version="pol-1", body="second", now=T0)
        await uow.commit()
    async with store.uows() as uow:
        await uow.intake.remember_policy(version="pol-1", body="third", now=T0)
        await uow.intake.remember_policy(version="pol-2", body="other", now=T0)
        await uow.commit()
    assert await store.peek.policy_body("pol-1") == "first"
    assert await store.peek.policy_body("pol-2") == "other"


# --- views ---------------------------------------------------------------------------


async def test_the_home_page_each_user_chose_is_kept(store: Store) -> None:
    async with store.uows() as uow:
        assert await uow.views.home_page("U0ALICE") == 0
        await uow.views.set_home_page("U0ALICE", 2, now=T0)
        await uow.views.set_home_page("U0BOB", 1, now=T0)
        assert await uow.views.home_page("U0ALICE") == 2
        await uow.commit()
    async with store.uows() as uow:
        await uow.views.set_home_page("U0ALICE", 3, now=T0)
        await uow.commit()
    async with store.uows() as uow:
        await uow.views.set_home_page("U0BOB", 5, now=T0)  # rolled back
    async with store.uows(read_only=True) as uow:
        assert await uow.views.home_page("U0ALICE") == 3
        assert await uow.views.home_page("U0BOB") == 1


# --- digests -------------------------------------------------------------------------


async def test_digest_candidates_are_pending_digest_items_not_yet_in_a_window(
    store: Store,
) -> None:
    q = await add(
        store,
        new_item("t2"),
        new_item("t1"),
        new_item("ap", team="ap"),
        new_item("now", route=Route.IMMEDIATE),
        new_item("taken", state=S.ASSIGNED, assignee="U0ALICE"),
        new_item("nobody", team=None),
    )
    async with store.uows(read_only=True) as uow:
        assert await uow.digests.candidate_teams() == ["ap", "treasury"]
        assert ids(await uow.digests.candidates(team="treasury", limit=10)) == ids(q[:2])
        assert ids(await uow.digests.candidates(team="treasury", limit=1)) == [q[0].id]
        assert await uow.digests.candidates(team="ops", limit=10) == []


async def test_marking_claims_unclaimed_items_for_one_window_only(store: Store) -> None:
    a, b, c = await add(store, new_item("A"), new_item("B"), new_item("C", team="ap"))
    assert a.id and b.id and c.id
    async with store.uows() as uow:
        assert await uow.digests.mark(item_ids=[a.id, b.id, a.id, 9999], window="w1") == 2
        assert await uow.digests.mark(item_ids=[b.id, c.id], window="w2") == 1
        assert await uow.digests.candidate_teams() == []
        # Later changes to an item keep it in its window.
        assert await uow.items.update(dataclasses.replace(a, version=2), expected_version=1)
        await uow.commit()
    async with store.uows() as uow:
        assert await uow.digests.candidates(team="treasury", limit=10) == []
        assert await uow.digests.mark(item_ids=[a.id], window="w3") == 0
    (d,) = await add(store, new_item("D"))
    async with store.uows() as uow:
        assert await uow.digests.mark(item_ids=[d.id or 0], window="w4") == 1
    # A mark rolled back with its unit of work leaves the item a candidate.
    async with store.uows(read_only=True) as uow:
        assert ids(await uow.digests.candidates(team="treasury", limit=10)) == [d.id]


async def test_clusters_are_stored_found_by_window_and_closed_once(store: Store) -> None:
    a, b = await add(store, new_item("A"), new_item("B"))
    assert a.id and b.id
    async with store.uows() as uow:
        assert not await uow.digests.window_posted(team="treasury", window="w1")
        first = await uow.digests.add_cluster(
            window="w1",
            team="treasury",
            key="Globex Corp|USD",
            items=[ClusterMember(a.id, 1, a.content_hash), ClusterMember(b.id, 3, "h" * 64)],
            apart=False,
            now=T0,
        )
        second = await uow.digests.add_cluster(
            window="w1", team="treasury", key="apart", items=[], apart=True, now=T0
        )
        await uow.commit()
    assert second > first
    async with store.uows() as uow:
        assert await uow.digests.window_posted(team="treasury", window="w1")
        assert not await uow.digests.window_posted(team="treasury", window="w2")
        assert not await uow.digests.window_posted(team="ap", window="w1")
        cluster = await uow.digests.get_cluster(first)
        assert cluster is not None
        assert (cluster.id, cluster.window, cluster.team, cluster.key) == (
            first,
            "w1",
            "treasury",
            "Globex Corp|USD",
        )
        assert cluster.items == ((a.id, 1), (b.id, 3))
        assert cluster.hashes == (a.content_hash, "h" * 64)
        assert (cluster.apart, cluster.state, cluster.decided_by) == (False, "open", None)
        apart = await uow.digests.get_cluster(second)
        assert apart is not None and apart.apart and apart.items == ()
        assert await uow.digests.get_cluster(second + 100) is None
        assert await uow.digests.close_cluster(
            first, state=ClusterState.APPROVED, actor="U0ALICE", now=T0
        )
        assert not await uow.digests.close_cluster(
            first, state=ClusterState.REJECTED, actor="U0BOB", now=T0
        )
        assert not await uow.digests.close_cluster(
            second + 100, state=ClusterState.REJECTED, actor="U0", now=T0
        )
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        closed = await uow.digests.get_cluster(first)
        assert closed is not None
        assert (closed.state, closed.decided_by) == ("approved", "U0ALICE")


# --- outbox and audit sinks ----------------------------------------------------------


def _note(key: str, target: str = "C0TREASURY", **payload: Any) -> Notification:
    return Notification.stored(kind=NoticeKind.ALERT, target=target, dedupe_key=key, data=payload)


async def test_the_outbox_keeps_each_dedupe_key_once(store: Store) -> None:
    async with store.uows() as uow:
        await uow.outbox.enqueue([], now=T0)
        await uow.outbox.enqueue(
            [_note("a", text="first"), _note("b"), _note("a", text="last in the batch")],
            now=T0,
        )
        await uow.outbox.enqueue([_note("b", text="later in the transaction")], now=T0)
        await uow.commit()
    async with store.uows() as uow:
        await uow.outbox.enqueue([_note("a", text="next transaction"), _note("c")], now=T0)
        await uow.commit()
    async with store.uows() as uow:
        await uow.outbox.enqueue([_note("d")], now=T0)  # rolled back
    assert await store.peek.outbox() == [
        ("a", "alert", "C0TREASURY", None, {"text": "last in the batch"}),
        ("b", "alert", "C0TREASURY", None, {}),
        ("c", "alert", "C0TREASURY", None, {}),
    ]


async def test_queued_tells_a_key_enqueued_before_or_in_this_transaction(store: Store) -> None:
    async with store.uows() as uow:
        await uow.outbox.enqueue([_note("a")], now=T0)
        assert await uow.outbox.queued("a")
        assert not await uow.outbox.queued("b")
        await uow.commit()
    async with store.uows() as uow:
        await uow.outbox.enqueue([_note("b")], now=T0)  # rolled back
    async with store.uows() as uow:
        assert await uow.outbox.queued("a")
        assert not await uow.outbox.queued("b")


async def test_audit_entries_commit_or_vanish_with_the_unit_of_work(store: Store) -> None:
    def entry(event: str, item_id: int | None = None) -> AuditEntry:
        return AuditEntry(time=T0, event=event, actor="system", item_id=item_id, data={"n": 1})

    async with store.uows() as uow:
        await uow.audit.append([])
        await uow.audit.append([entry("item.ingested", 1), entry("item.claimed", 1)])
        await uow.audit.append([entry("ingest.completed")])
        await uow.commit()
    async with store.uows() as uow:
        await uow.audit.append([entry("item.approved", 1)])  # rolled back
    assert await store.peek.audit_events() == [
        ("item.ingested", 1),
        ("item.claimed", 1),
        ("ingest.completed", None),
    ]


# --- once-keys and threads ---------------------------------------------------------------


async def test_a_once_key_is_first_only_once_and_only_when_committed(store: Store) -> None:
    async with store.uows() as uow:
        assert await uow.once.first_time("thread:C1:1.0:posted", item_id=None, now=T0)
        # not committed: gone with the transaction
    async with store.uows() as uow:
        assert await uow.once.first_time("thread:C1:1.0:posted", item_id=7, now=T0)
        assert not await uow.once.first_time("thread:C1:1.0:posted", item_id=7, now=T0)
        await uow.commit()
    async with store.uows() as uow:
        assert not await uow.once.first_time("thread:C1:1.0:posted", item_id=7, now=T0)
        assert await uow.once.first_time("thread:C1:1.0:edited:2.0", item_id=7, now=T0)
        await uow.commit()


async def test_a_thread_the_desk_did_not_start_belongs_to_no_item(store: Store) -> None:
    async with store.uows(read_only=True) as uow:
        assert await uow.threads.item_of_thread(channel="C1", thread_ts="1.000001") is None


# --- bank statements ---------------------------------------------------------------------


def _day(n: int) -> str:
    return f"2025-03-{n:02d}"


def _stmt(n: int, **raw: Any) -> Statement:
    """Day ``n``'s EUR statement of the test account (opening 1000 + 200 - 50 = 1150)."""
    fields: dict[str, Any] = {"statement_id": f"STMT-{n}", "start": _day(n), "end": _day(n)}
    fields.update(raw)
    return make_statement(statement(**fields))


async def test_a_statement_and_all_its_lines_read_back_the_same(store: Store) -> None:
    lines = [
        stmt_line("200.00", "2025-03-03", reference="INV-1", counterparty="Globex",
                  description="payment", value_date="2025-03-04"),
        stmt_line("-50.00", None),
    ]  # fmt: skip
    new = _stmt(3, lines=lines, control_total="250.00", control_count=2, closing="1150.00")
    new = dataclasses.replace(
        new,
        lines=(new.lines[0], dataclasses.replace(new.lines[1], removed=True, edited=True)),
    )
    async with store.uows() as uow:
        stored = await uow.statements.add(new)
        await uow.commit()
    assert stored.id is not None and stored == dataclasses.replace(new, id=stored.id)
    async with store.uows(read_only=True) as uow:
        assert await uow.statements.get(stored.id) == stored
        assert await uow.statements.get_by_key(new.key) == stored
        head = await uow.statements.get(stored.id, with_lines=False)
        assert head == dataclasses.replace(stored, lines=())
        assert await uow.statements.get(stored.id + 100) is None
        other = dataclasses.replace(new.key, sequence="2")
        assert await uow.statements.get_by_key(other) is None
        assert await uow.statements.line_counts([stored.id, stored.id + 100]) == {
            stored.id: 1,
            stored.id + 100: 0,
        }


async def test_a_statement_identity_is_unique(store: Store) -> None:
    async with store.uows() as uow:
        await uow.statements.add(_stmt(3))
        await uow.commit()
    async with store.uows() as uow:
        with pytest.raises(StaleItem, match="imported by someone else at the same moment"):
            await uow.statements.add(_stmt(3, closing="1150.00"))


async def test_a_statement_of_many_lines_is_stored_whole(store: Store) -> None:
    many = [stmt_line("0.01", None) for _ in range(12_345)]
    big = _stmt(3, lines=many, opening="0.00", closing="123.45")
    async with store.uows() as uow:
        stored = await uow.statements.add(big)
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert stored.id is not None
        again = await uow.statements.get(stored.id)
        assert again is not None and len(again.lines) == 12_345
        assert [ln.number for ln in again.lines] == list(range(1, 12_346))


async def test_statement_updates_are_version_checked_and_rewrite_the_lines_named(
    store: Store,
) -> None:
    async with store.uows() as uow:
        stored = await uow.statements.add(_stmt(3))
        await uow.commit()
    edited = dataclasses.replace(
        stored,
        version=2,
        stage1_status=Stage1Status.APPROVED,
        lines=(dataclasses.replace(stored.lines[0], reference="FIXED", edited=True),),
    )
    async with store.uows() as uow:
        assert not await uow.statements.update(edited, expected_version=5, lines=[1])
        assert await uow.statements.update(edited, expected_version=1, lines=[1])
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert stored.id is not None
        now = await uow.statements.get(stored.id)
        assert now is not None and now.stage1_status is Stage1Status.APPROVED
        assert [(ln.number, ln.reference, ln.edited) for ln in now.lines] == [
            (1, "FIXED", True),
            (2, "FEE", False),
        ]
    revised = dataclasses.replace(
        now, version=3, revision=2, lines=now.lines[1:], stage1_status=Stage1Status.PENDING_REVIEW
    )
    async with store.uows() as uow:
        assert await uow.statements.update(revised, expected_version=2, lines=None)
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert await uow.statements.get(stored.id) == revised


async def test_line_totals_are_summed_in_the_store_over_the_lines_that_count(
    store: Store,
) -> None:
    async with store.uows() as uow:
        stored = await uow.statements.add(_stmt(4))
        await uow.commit()
    assert stored.id is not None
    lines = (
        dataclasses.replace(stored.lines[0], removed=True),  # the 200.00 credit
        *stored.lines[1:],
        dataclasses.replace(stored.lines[1], number=3, amount=Decimal("75.25"), added=True),
        dataclasses.replace(stored.lines[1], number=4, amount=Decimal("-0.01"), added=True),
    )
    edited = dataclasses.replace(stored, version=2, lines=lines)
    async with store.uows() as uow:
        assert await uow.statements.update(edited, expected_version=1, lines=[1, 3, 4])
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        totals = await uow.statements.line_totals(stored.id, "EUR")
        whole = await uow.statements.get(stored.id)
        empty = await uow.statements.line_totals(stored.id + 100, "EUR")
    assert whole is not None and totals == whole.totals()
    assert (totals.counted, totals.removed) == (3, 1)
    assert (totals.credits, totals.debits) == (Decimal("75.25"), Decimal("50.01"))
    assert (empty.counted, empty.removed, empty.credits, empty.debits) == (0, 0, 0, 0)
    async with store.uows(read_only=True) as uow:
        page = await uow.statements.lines_page(stored.id, "EUR", offset=1, limit=2)
        past = await uow.statements.lines_page(stored.id, "EUR", offset=9, limit=2)
    assert page == whole.lines[1:3] and past == ()
    async with store.uows(read_only=True) as uow:
        third = await uow.statements.line(stored.id, "EUR", 3)
        removed = await uow.statements.line(stored.id, "EUR", 1)
        missing = await uow.statements.line(stored.id, "EUR", 99)
    assert third == whole.lines[2] and missing is None
    assert removed is not None and removed.removed


async def test_statements_are_counted_and_listed_by_status_and_team(store: Store) -> None:
    async with store.uows() as uow:
        for n in (5, 6, 7):
            await uow.statements.add(_stmt(n))
        await uow.commit()
    pending = Stage1Status.PENDING_REVIEW
    async with store.uows(read_only=True) as uow:
        assert await uow.statements.count(status=pending) == 3
        assert await uow.statements.count(status=pending, teams=["treasury"]) == 3
        assert await uow.statements.count(status=pending, teams=["ap-europe"]) == 0
        assert await uow.statements.count(status=Stage1Status.APPROVED) == 0
        assert len(await uow.statements.query(teams=["treasury"], limit=2)) == 2
        assert await uow.statements.query(teams=[]) == []


async def test_the_previous_statement_is_the_latest_that_started_before(store: Store) -> None:
    async with store.uows() as uow:
        first = await uow.statements.add(_stmt(1))
        second = await uow.statements.add(_stmt(2))
        await uow.statements.add(_stmt(4))
        await uow.statements.add(
            make_statement(statement(account=USD_ACCOUNT, currency="USD", start=_day(2),
                                     end=_day(2)))
        )  # fmt: skip
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        found = await uow.statements.previous(
            account=EUR_ACCOUNT, currency="EUR", before=date(2025, 3, 3), exclude_id=None
        )
        assert found is not None and (found.id, found.lines) == (second.id, ())
        found = await uow.statements.previous(
            account=EUR_ACCOUNT, currency="EUR", before=date(2025, 3, 3), exclude_id=second.id
        )
        assert found is not None and found.id == first.id
        assert (
            await uow.statements.previous(
                account=EUR_ACCOUNT, currency="EUR", before=date(2025, 3, 1), exclude_id=None
            )
            is None
        )


async def test_statements_are_listed_by_account_and_period_and_filtered(store: Store) -> None:
    async with store.uows() as uow:
        later = await uow.statements.add(_stmt(4))
        usd = await uow.statements.add(
            make_statement(statement(account=USD_ACCOUNT, currency="USD"))
        )
        earlier = await uow.statements.add(
            dataclasses.replace(_stmt(2), stage1_status=Stage1Status.REJECTED)
        )
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        every = await uow.statements.query()
        assert [s.id for s in every] == [usd.id, earlier.id, later.id]
        assert all(s.lines == () for s in every)
        assert [s.id for s in await uow.statements.query(status=Stage1Status.REJECTED)] == [
            earlier.id
        ]
        assert [s.id for s in await uow.statements.query(account=EUR_ACCOUNT)] == [
            earlier.id,
            later.id,
        ]
        assert [s.id for s in await uow.statements.query(limit=1, offset=1)] == [earlier.id]


async def test_lines_of_approved_statements_are_read_in_order_after_a_mark(store: Store) -> None:
    approved = Stage1Status.APPROVED
    async with store.uows() as uow:
        one = await uow.statements.add(dataclasses.replace(_stmt(1), stage1_status=approved))
        await uow.statements.add(_stmt(2))
        three = _stmt(3, lines=[stmt_line("1.00"), stmt_line("2.00"), stmt_line("3.00")])
        three = dataclasses.replace(
            three,
            stage1_status=approved,
            lines=(
                three.lines[0],
                dataclasses.replace(three.lines[1], removed=True),
                three.lines[2],
            ),
        )
        three = await uow.statements.add(three)
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        got = await uow.statements.approved_lines()
        assert [(s.id, ln.number) for s, ln in got] == [
            (one.id, 1), (one.id, 2), (three.id, 1), (three.id, 3),
        ]  # fmt: skip
        assert got[0][0] == dataclasses.replace(one, lines=())
        assert got[0][1].match_status is MatchStatus.UNMATCHED
        assert one.id is not None
        after = await uow.statements.approved_lines(after=(one.id, 2), limit=1)
        assert [(s.id, ln.number) for s, ln in after] == [(three.id, 1)]
        assert await uow.statements.approved_lines(match_status=None, limit=0) == []


async def test_an_original_file_is_kept_once_and_only_when_committed(store: Store) -> None:
    kept = Original.of(b"<a/>")
    async with store.uows() as uow:
        await uow.statements.keep_original(file_name="x", original=Original.of(b"<a/>"), now=T0)
        await uow.statements.add(_stmt(1))
        # not committed
    async with store.uows() as uow:
        assert await uow.statements.original(kept.sha256) is None
        assert await uow.statements.query() == []
        await uow.statements.keep_original(file_name="a.xml", original=kept, now=T0)
        await uow.statements.keep_original(file_name="b.xml", original=kept, now=T0)
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert await uow.statements.original(kept.sha256) == ("a.xml", b"<a/>")
        assert await uow.statements.original("b" * 64) is None


async def test_a_big_original_is_kept_compressed_and_given_back_byte_for_byte(
    store: Store,
) -> None:
    text = b"".join(b"<Ntry><Amt Ccy='EUR'>%d.00</Amt></Ntry>\n" % i for i in range(20_000))
    async with store.uows() as uow:
        await uow.statements.keep_original(file_name="c.xml", original=Original.of(text), now=T0)
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert await uow.statements.original(hashlib.sha256(text).hexdigest()) == ("c.xml", text)
    if isinstance(store.peek, SqlPeek):
        (size, kept), *_ = await store.peek._rows(
            select(statement_originals.c.size, func.length(statement_originals.c.data))
        )
        assert size == len(text) and kept < len(text) // 4  # the driver moved a small copy


async def test_the_following_statement_is_the_first_that_starts_after(store: Store) -> None:
    async with store.uows() as uow:
        await uow.statements.add(_stmt(1))
        third = await uow.statements.add(_stmt(3))
        fourth = await uow.statements.add(_stmt(4))
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        found = await uow.statements.following(
            account=EUR_ACCOUNT, currency="EUR", after=date(2025, 3, 1), exclude_id=None
        )
        assert found is not None and (found.id, found.lines) == (third.id, ())
        found = await uow.statements.following(
            account=EUR_ACCOUNT, currency="EUR", after=date(2025, 3, 1), exclude_id=third.id
        )
        assert found is not None and found.id == fourth.id
        for account, currency, after in ((EUR_ACCOUNT, "EUR", date(2025, 3, 4)),
                                         (USD_ACCOUNT, "USD", date(2025, 3, 1))):  # fmt: skip
            assert (
                await uow.statements.following(
                    account=account, currency=currency, after=after, exclude_id=None
                )
                is None
            )


# --- ledger entries and FX rates -------------------------------------------------------


def ledger_entry(entry_id: str, **overrides: Any) -> LedgerEntry:
    values: dict[str, Any] = {
        "entry_id": entry_id,
        "account": "1100",
        "booked_on": date(2026, 12, 4),
        "amount": Decimal("-1250.50"),
        "currency": "EUR",
        "reference": "INV-7",
        "counterparty": "Initech",
        "description": "wire",
    }
    values.update(overrides)
    return LedgerEntry(**values)


async def test_ledger_entries_read_back_exactly_at_version_one_unmatched(store: Store) -> None:
    a = ledger_entry("JE-1")
    b = ledger_entry("JE-1", account="1200", amount=Decimal("7"), currency="JPY", reference=None)
    async with store.uows() as uow:
        await uow.gl.add_many([a, b], run_id=None, now=T0)
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        found = await uow.gl.get_many([a.key, b.key, ("JE-2", "1100"), a.key])
    assert set(found) == {a.key, b.key}
    assert found[a.key].entry == a and found[b.key].entry == b
    assert found[a.key].version == 1 and found[a.key].match_status is MatchStatus.UNMATCHED
    assert found[a.key].content_hash == a.content_hash()
    with pytest.raises(DUPLICATE):
        async with store.uows() as uow:
            await uow.gl.add_many([ledger_entry("JE-1")], run_id=None, now=T0)


async def test_a_ledger_revision_checks_the_version_and_never_touches_a_matched_entry(
    store: Store,
) -> None:
    first = ledger_entry("JE-1")
    async with store.uows() as uow:
        await uow.gl.add_many([first, ledger_entry("JE-2")], run_id=None, now=T0)
        await uow.commit()
    changed = dataclasses.replace(first, amount=Decimal("-1250.00"))
    async with store.uows() as uow:
        assert not await uow.gl.revise(changed, expected_version=2, run_id=None, now=T0)
        assert await uow.gl.revise(changed, expected_version=1, run_id=None, now=T0)
        assert await uow.gl.set_match_status(("JE-2", "1100"), MatchStatus.MATCHED, now=T0)
        assert not await uow.gl.set_match_status(("JE-9", "1100"), MatchStatus.MATCHED, now=T0)
        await uow.commit()
    async with store.uows() as uow:
        stored = await uow.gl.get_many([first.key, ("JE-2", "1100")])
        assert stored[first.key].entry == changed and stored[first.key].version == 2
        assert stored[first.key].content_hash == changed.content_hash()
        matched = stored[("JE-2", "1100")]
        assert matched.match_status is MatchStatus.MATCHED
        other = dataclasses.replace(matched.entry, description="rewritten")
        assert not await uow.gl.revise(other, expected_version=1, run_id=None, now=T0)


def fx(day: int, currency: str, rate: str, *, source: str = "ECB", base: str = "EUR") -> FxRate:
    return FxRate(
        on=date(2026, 12, day), base=base, currency=currency, rate=Decimal(rate), source=source
    )


async def test_fx_rates_keep_their_exact_digits_and_a_new_rate_replaces_the_key(
    store: Store,
) -> None:
    rates = [fx(3, "USD", "1.08500"), fx(4, "USD", "1.0861"), fx(4, "USD", "1.09", source="csv")]
    async with store.uows() as uow:
        await uow.fx.add_many(rates, now=T0)
        await uow.commit()
    with pytest.raises(DUPLICATE):
        async with store.uows() as uow:
            await uow.fx.add_many([fx(3, "USD", "2")], now=T0)
    async with store.uows() as uow:
        found = await uow.fx.get_many([r.key for r in rates] + [fx(5, "USD", "1").key])
        assert found == {r.key: r for r in rates}
        assert str(found[rates[0].key].rate) == "1.085"  # stored canonical, same value
        assert await uow.fx.replace(fx(4, "USD", "1.0871"), now=T0)
        assert not await uow.fx.replace(fx(9, "USD", "1.0871"), now=T0)
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        found = await uow.fx.get_many([rates[1].key])
    assert found[rates[1].key].rate == Decimal("1.0871")


async def test_the_book_query_gives_the_range_and_the_latest_rate_before_it(store: Store) -> None:
    async with store.uows() as uow:
        await uow.fx.add_many(
            [
                fx(1, "USD", "1.01"),
                fx(2, "USD", "1.02"),
                fx(2, "USD", "1.10", source="csv"),
                fx(5, "USD", "1.05"),
                fx(8, "USD", "1.08"),
                fx(2, "GBP", "0.82"),
                fx(5, "JPY", "160"),  # a currency not asked for
                fx(5, "USD", "0.9", base="GBP", source="csv"),
            ],
            now=T0,
        )
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        got = await uow.fx.for_book(
            currencies={"EUR", "USD", "GBP"}, since=date(2026, 12, 4), until=date(2026, 12, 6)
        )
    keys = sorted((r.on.day, r.base, r.currency, r.source, str(r.rate)) for r in got)
    assert keys == [
        (2, "EUR", "GBP", "ECB", "0.82"),
        (2, "EUR", "USD", "ECB", "1.02"),
        (2, "EUR", "USD", "csv", "1.1"),
        (5, "EUR", "USD", "ECB", "1.05"),
        (5, "GBP", "USD", "csv", "0.9"),
    ]
