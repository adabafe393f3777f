"""The store on real databases: schema, mapping, version checks, locking, use cases."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from domain.intake import IntakeRow
from domain.items import (
    Approval,
    Dispute,
    DisputeCategory,
    DisputeState,
    Item,
    ItemKind,
    ReviewState,
    RiskTier,
    Route,
)
from domain.permissions import OPERATOR
from domain.policy import parse_policy
from domain.states import SYSTEM
from domain.usecases import UseCases
from store.audit.anchors import AnchorFile
from store.audit.log import init_audit
from store.audit.signer import load_or_create_signing_key
from store.audit.verification import verify_database
from store.engine import Database, create_database
from store.migrate import (
    HEAD,
    SchemaOutOfDate,
    alembic_config,
    check_current,
    current_revision,
    upgrade,
)
from store.repositories import SqlItemRepository
from store.tables import items, metadata
from store.uow import SqlUnitOfWorkFactory
from store.views import SqlViewStateRepository
from tests.builders import make_facts, make_item
from tests.conftest import EXAMPLE_POLICY

NOW = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


def _item(**facts: object) -> Item:
    base = {"source": "bank", "external_id": "x-1", "amount": "1234.56"}
    unset = {"counterparty": None, "aging_days": None, "reference": None}
    return make_item(
        id=None,
        facts=make_facts(**(base | unset | facts)),
        content_hash="h" * 64,
        route=Route.IMMEDIATE,
        priority=120,
        reasons=("amount 1234.56 USD >= materiality 1000",),
        now=NOW,
    )


async def test_migrations_produce_exactly_the_metadata(migrated: Database) -> None:
    async with migrated.reader.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), metadata
            )
        )
    assert diff == []
    await check_current(migrated)


def test_the_pinned_head_is_the_head_of_the_migration_scripts() -> None:
    # Start-up compares the database with HEAD without importing Alembic.
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


async def test_an_empty_database_has_no_revision_and_fails_the_check(database: Database) -> None:
    assert await current_revision(database) is None
    with pytest.raises(SchemaOutOfDate, match="recon-bot init"):
        await check_current(database)


async def test_upgrade_twice_is_harmless(migrated: Database) -> None:
    assert await upgrade(migrated) == await upgrade(migrated)


def full_item(**facts: object) -> Item:
    """An item with every optional field set, in a disputed state (``facts`` override)."""
    every: dict[str, object] = {
        "kind": ItemKind.BATCH,
        "currency": "KWD",
        "amount": Decimal("-1500.125"),
        "counterparty": "Globex",
        "risk_tier": RiskTier.HIGH,
        "aging_days": 7,
        "booked_on": date(2026, 11, 13),
        "confidence": Decimal("0.73"),
        "matched_value": Decimal("99999.999"),
        "variance": Decimal("-0.005"),
        "record_count": 40,
        "entity_risk_score": Decimal("0.3"),
        "prepared_by": "U0PREP",
        "reference": "INV-1",
        "description": "a batch",
        "extra": {"bank_account": "ACCT-1"},
    }
    return dataclasses.replace(
        _item(**(every | facts)),
        state=ReviewState.DISPUTED,
        approvals=(Approval(user="U0ALICE", at=NOW, note="ok"),),
        assignee="U0BOB",
        claim_expires_at=NOW + timedelta(hours=4),
        dispute=Dispute(
            state=DisputeState.AWAITING_COUNTERPARTY,
            category=DisputeCategory.FX_DIFFERENCE,
            description="rate used was stale",
            opened_by="U0BOB",
            opened_at=NOW,
            counterparty_contact="ap@globex.example",
            expected_resolution=date(2026, 12, 1),
            evidence_links=("https://docs.example/1",),
            proposed_adjustment=Decimal("-12.5"),
        ),
    )


async def test_item_round_trips_every_field(migrated: Database) -> None:
    item = full_item()
    async with migrated.writer.begin() as conn:
        stored = await SqlItemRepository(conn).add(item)
        loaded = await SqlItemRepository(conn).get(stored.id or 0)
    assert loaded == stored
    assert stored.id is not None


async def test_money_is_stored_as_integer_minor_units(migrated: Database) -> None:
    async with migrated.writer.begin() as conn:
        repo = SqlItemRepository(conn)
        await repo.add(_item(external_id="jpy", currency="JPY", amount=Decimal("1500")))
        await repo.add(_item(external_id="kwd", currency="KWD", amount=Decimal("12.345")))
        rows = (await conn.execute(select(items.c.external_id, items.c.amount_minor))).all()
    assert dict(rows) == {"jpy": 1500, "kwd": 12345}
    assert all(isinstance(minor, int) for _, minor in rows)


async def test_update_refuses_a_stale_version(migrated: Database) -> None:
    async with migrated.writer.begin() as conn:
        repo = SqlItemRepository(conn)
        item = await repo.add(_item())
        newer = dataclasses.replace(item, version=2, state=ReviewState.ASSIGNED)
        assert await repo.update(newer, expected_version=1)
        assert not await repo.update(dataclasses.replace(item, version=2), expected_version=1)
        assert (await repo.get(item.id or 0)) == newer


async def test_update_many_writes_every_current_item_and_names_the_stale_ones(
    migrated: Database,
) -> None:
    # One executemany on SQLite (it counts the rows a batch changed), one statement per
    # item on asyncpg (it cannot): the same answer either way.
    async with migrated.writer.begin() as conn:
        repo = SqlItemRepository(conn)
        stored = [await repo.add(_item(external_id=f"u{n}")) for n in range(3)]
        assert await repo.update_many([]) == []
        assigned = [
            dataclasses.replace(i, version=2, state=ReviewState.ASSIGNED, assignee="U0BOB")
            for i in stored
        ]
        assert await repo.update_many([(i, 1) for i in assigned]) == []
        assert [await repo.get(i.id or 0) for i in stored] == assigned

        later = [dataclasses.replace(i, version=3, state=ReviewState.PENDING) for i in assigned]
        expected = [2, 1, 2]  # the second was read before someone else's change
        stale = await repo.update_many(list(zip(later, expected, strict=True)))
        assert stale == [assigned[1].id]
        assert (await repo.get(assigned[1].id or 0)) == assigned[1]


async def test_the_home_page_a_user_chose_is_kept_and_replaced(migrated: Database) -> None:
    async with migrated.writer.begin() as conn:
        views = SqlViewStateRepository(conn)
        assert await views.home_page("U0ALICE") == 0  # never chose one
        await views.set_home_page("U0ALICE", 2, now=NOW)
        await views.set_home_page("U0BOB", 1, now=NOW)
        await views.set_home_page("U0ALICE", 5, now=NOW + timedelta(minutes=1))
    async with migrated.reader.connect() as conn:
        views = SqlViewStateRepository(conn)
        assert (await views.home_page("U0ALICE"), await views.home_page("U0BOB")) == (5, 1)
        rows = (await conn.execute(text("SELECT count(*) FROM home_pages"))).scalar()
    assert rows == 2


async def test_claimable_can_leave_out_what_one_user_prepared(migrated: Database) -> None:
    async with migrated.writer.begin() as conn:
        repo = SqlItemRepository(conn)
        for n, preparer in enumerate(["U0ALICE", None, "U0BOB", "U0ALICE"]):
            await repo.add(_item(external_id=f"c-{n}", prepared_by=preparer))
        every = await repo.claimable(teams=["treasury"], limit=10)
        theirs = await repo.claimable(teams=["treasury"], limit=10, exclude_prepared_by="U0ALICE")
    assert [i.facts.external_id for i in every] == ["c-0", "c-1", "c-2", "c-3"]
    # Items without a preparer (NULL in SQL) are still offered.
    assert [i.facts.external_id for i in theirs] == ["c-1", "c-2"]


async def test_sqlite_writers_in_two_processes_never_hit_database_locked(tmp_path: Path) -> None:
    """Read-then-write transactions from two engines (as from two processes) all succeed.

    With deferred transactions SQLite fails the second writer's lock upgrade at once with
    "database is locked"; BEGIN IMMEDIATE makes it wait its turn instead.
    """
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first, second = create_database(url), create_database(url)
    try:
        await upgrade(first)
        async with first.writer.begin() as conn:
            item = await SqlItemRepository(conn).add(_item())

        async def bump(db: Database, rounds: int) -> None:
            for _ in range(rounds):
                async with db.writer.begin() as conn:
                    repo = SqlItemRepository(conn)
                    current = await repo.get(item.id or 0)
                    assert current is not None
                    await asyncio.sleep(0.001)  # let the other writer interleave
                    ok = await repo.update(
                        dataclasses.replace(current, version=current.version + 1),
                        expected_version=current.version,
                    )
                    assert ok

        await asyncio.gather(bump(first, 25), bump(second, 25))
        async with first.reader.connect() as conn:
            version = (
                await conn.execute(select(items.c.version).where(items.c.id == item.id))
            ).scalar_one()
        assert version == 51
    finally:
        await first.dispose()
        await second.dispose()


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    try:
        async with db.writer.begin() as conn:
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            sync = (await conn.execute(text("PRAGMA synchronous"))).scalar()
            fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
        assert (journal, sync, fks) == ("wal", 2, 1)  # 2 = FULL
    finally:
        await db.dispose()


# --- use cases on a real store ----------------------------------------------------------


async def _service(db: Database, tmp_path: Path) -> UseCases:
    loaded = parse_policy(EXAMPLE_POLICY.read_text())
    signer = load_or_create_signing_key(tmp_path / "audit.pem")
    async with db.writer.begin() as conn:
        await init_audit(conn, signer=signer, now=NOW)
    factory = SqlUnitOfWorkFactory(
        database=db, signer=signer, anchors=AnchorFile(tmp_path / "anchors.jsonl")
    )
    return UseCases.over(uow=factory, policy=lambda: loaded)


def _rows(n: int, **overrides: object) -> list[IntakeRow]:
    rows = []
    for i in range(n):
        facts = {
            "source": "bank",
            "external_id": f"u-{i}",
            "amount": Decimal(20000 + i),  # material: immediate review
            "counterparty": None,
            "risk_tier": RiskTier.LOW,
            "confidence": "0.95",
            "reference": None,
        }
        rows.append(IntakeRow(line=i + 2, facts=make_facts(**(facts | overrides))))
    return rows


async def test_ingest_is_idempotent_and_amends_on_change(
    migrated: Database, tmp_path: Path
) -> None:
    usecases = await _service(migrated, tmp_path)
    first = await usecases.intake.ingest(_rows(5), now=NOW)
    again = await usecases.intake.ingest(_rows(5), now=NOW)
    changed = await usecases.intake.ingest(_rows(5, counterparty="Globex"), now=NOW)
    assert (first.inserted, again.unchanged, changed.amended) == (5, 5, 5)
    queue = await usecases.queries.queue(viewer=OPERATOR, states_=[ReviewState.PENDING])
    assert len(queue) == 5
    assert all(i.facts.counterparty == "Globex" for i in queue)


async def test_rows_with_nul_controls_and_bad_bytes_are_stored_or_quarantined_on_every_backend(
    migrated: Database, tmp_path: Path
) -> None:
    # PostgreSQL text holds no NUL: a NUL in a description failed the whole batch there.
    import io
    import json

    from bot.batches import HashingReader, Job, parse_batches
    from store.intake import list_rejected

    base = {"entity": "ACME-US", "currency": "USD", "amount": "12.00"}
    lines = [
        json.dumps({**base, "external_id": "ok", "description": "a\x00b", "note": "c\x00d"}),
        json.dumps({**base, "external_id": "bad\x00id"}),
        json.dumps({**base, "external_id": "twice", "amount": "1.00"})[:-1] + ', "amount": "2"}',
    ]
    data = (
        "\n".join(lines) + "\n"
    ).encode() + b'{"external_id": "caf\xe9"}\n{"external_id": "raw\x00nul"}\n'
    job = Job(
        path="items.jsonl",
        fmt="jsonl",
        default_source="bank",
        today="2026-11-20",
        batch_size=100,
        policy_text=EXAMPLE_POLICY.read_text(),
    )
    [batch] = parse_batches(
        HashingReader(io.BytesIO(data)), job, parse_policy(EXAMPLE_POLICY.read_text())
    )
    usecases = await _service(migrated, tmp_path)
    run_id = await usecases.intake.start_ingest(
        source="bank", file_name="items.jsonl", policy_text=EXAMPLE_POLICY.read_text(), now=NOW
    )

    result = await usecases.intake.ingest(batch.good, rejected=batch.bad, run_id=run_id, now=NOW)

    assert (result.inserted, result.rejected) == (1, 4)
    [item] = await usecases.queries.queue(viewer=OPERATOR, states_=[ReviewState.PENDING])
    assert item.facts.description == "a\ufffdb"
    assert item.facts.extra == {"note": "c\x00d", "raw:description": "a\x00b"}
    async with migrated.reader.connect() as conn:
        listing = await list_rejected(conn, run_id=run_id, limit=10)
    assert listing is not None
    assert [(r["line"], r["field"]) for r in listing.rows] == [
        (2, "external_id"),
        (3, "amount"),
        (4, "(line)"),
        (5, "(line)"),
    ]
    assert "caf\\xe9" in listing.rows[2]["raw"] and "raw\\x00nul" in listing.rows[3]["raw"]


async def test_an_item_accepted_by_policy_is_stored_approved_with_its_entry(
    migrated: Database, tmp_path: Path
) -> None:
    # Ingest inserts an auto-accepted item directly in its final state (no update).
    usecases = await _service(migrated, tmp_path)
    match = _rows(2, kind=ItemKind.MATCH, score=95, amount=Decimal("120.00"))
    result = await usecases.intake.ingest(match, now=NOW)

    assert result.routes["auto_accepted"] == 2
    events = await _accepted_by_policy(usecases, migrated, result.changed_items, version=2)
    # The acceptances, then the two entries (posted when the ledger accepts them).
    assert events == ["item.ingested", "item.auto_accepted"] * 2 + ["journal.created"] * 2
    anchors = AnchorFile(tmp_path / "anchors.jsonl")
    report = await verify_database(migrated, anchors=anchors, deep=True)
    assert report.ok, report.problem


async def test_an_amendment_accepted_by_policy_gets_its_entry_in_one_write(
    migrated: Database, tmp_path: Path
) -> None:
    usecases = await _service(migrated, tmp_path)
    review = _rows(2, kind=ItemKind.MATCH, score=70, amount=Decimal("120.00"))
    first = await usecases.intake.ingest(review, now=NOW)
    assert first.routes["digest"] + first.routes["immediate"] == 2

    sure = _rows(2, kind=ItemKind.MATCH, score=95, amount=Decimal("120.00"))
    changed = await usecases.intake.ingest(sure, now=NOW + timedelta(minutes=1))

    assert (changed.amended, changed.routes["auto_accepted"]) == (2, 2)
    events = await _accepted_by_policy(usecases, migrated, changed.changed_items, version=3)
    amended = ["item.amended", "item.auto_accepted"]
    assert events == ["item.ingested"] * 2 + amended * 2 + ["journal.created"] * 2


async def _accepted_by_policy(
    usecases: UseCases, migrated: Database, item_ids: list[int], *, version: int
) -> list[str]:
    """Checks each item is approved by the system with one entry waiting for the ledger;
    the audit log's events."""
    for item_id in item_ids:
        item = await usecases.queries.get(item_id)
        expected = (ReviewState.APPROVED, version, SYSTEM)
        assert (item.state, item.version, item.decided_by) == expected
        assert item.ledger_ref is None and item.sla_next_at is None
    async with migrated.reader.connect() as conn:
        refs = (await conn.execute(text("SELECT ledger_ref FROM journal_entries"))).all()
        events = await conn.execute(text("SELECT event FROM audit_records ORDER BY seq"))
        names = list(events.scalars().all())
    assert len(refs) == len(item_ids)
    return names


async def test_concurrent_claims_from_two_processes_never_share_an_item(
    migrated: Database, tmp_path: Path
) -> None:
    usecases = await _service(migrated, tmp_path)
    await usecases.intake.ingest(_rows(6), now=NOW)
    # A second "process": its own engines and unit-of-work factory on the same database.
    other_db = (
        create_database(migrated.url)
        if migrated.is_sqlite
        else migrated  # PostgreSQL: concurrency comes from the connection pool
    )
    other = await _service(other_db, tmp_path)
    try:
        claims = await asyncio.gather(
            *(
                (usecases if n % 2 else other).claims.claim_next(actor=user, now=NOW)
                for n, user in enumerate(["U0ALICE", "U0BOB"] * 3)
            )
        )
    finally:
        if other_db is not migrated:
            await other_db.dispose()
    ids = [c.item.id for c in claims]
    assert len(set(ids)) == 6
    assert {c.item.state for c in claims} == {ReviewState.ASSIGNED}


async def test_approval_posts_one_balanced_entry(migrated: Database, tmp_path: Path) -> None:
    usecases = await _service(migrated, tmp_path)
    await usecases.intake.ingest(_rows(1, amount=Decimal("2500.00")), now=NOW)
    (item,) = await usecases.queries.queue(viewer=OPERATOR)
    outcome = await usecases.decisions.approve(item_id=item.id or 0, actor="U0ALICE", now=NOW)
    repeat = await usecases.decisions.approve(item_id=item.id or 0, actor="U0ALICE", now=NOW)
    assert outcome.item.state is ReviewState.APPROVED  # posted on the ledger's answer
    assert outcome.journal_entry is not None and outcome.journal_entry.balanced
    assert repeat.noop
    entries = await (await _service(migrated, tmp_path)).queries.journal_of(
        item.id or 0, viewer=OPERATOR
    )
    assert len(entries) == 1


async def test_an_anchors_file_failure_does_not_fail_a_committed_change(
    migrated: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The change is committed before the anchor is written; the user must not be told
    it failed. The anchoring job re-appends the latest checkpoint later."""
    loaded = parse_policy(EXAMPLE_POLICY.read_text())
    signer = load_or_create_signing_key(tmp_path / "audit.pem")
    async with migrated.writer.begin() as conn:
        await init_audit(conn, signer=signer, now=NOW)
    unwritable = tmp_path / "anchors-is-a-directory"
    unwritable.mkdir()
    factory = SqlUnitOfWorkFactory(database=migrated, signer=signer, anchors=AnchorFile(unwritable))
    usecases = UseCases.over(uow=factory, policy=lambda: loaded)
    result = await usecases.intake.ingest(_rows(1), now=NOW)
    assert result.inserted == 1
    assert len(await usecases.queries.queue(viewer=OPERATOR)) == 1
    assert any(getattr(r, "event", None) == "anchor_failed" for r in caplog.records)


async def test_a_huge_but_valid_amount_lands_and_its_audit_record_verifies(
    migrated: Database, tmp_path: Path
) -> None:
    """10**16 minor units is past RFC 8785's exact integer range (2**53): the audit record
    must carry it exactly (as decimal text), not fail the whole batch."""
    usecases = await _service(migrated, tmp_path)
    rows = _rows(2)
    huge = dataclasses.replace(rows[0].facts, amount=Decimal("100000000000000.00"))
    result = await usecases.intake.ingest([IntakeRow(line=2, facts=huge), rows[1]], now=NOW)
    assert result.inserted == 2
    report = await verify_database(migrated, anchors=AnchorFile(tmp_path / "anchors.jsonl"))
    assert report.ok, report.problem
