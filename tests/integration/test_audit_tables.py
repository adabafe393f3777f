"""``audit verify --deep`` against the tables people read: the log replayed and compared.

A desk works for real through its use cases (ingest, dual-control approvals and posting,
rejection, escalation, a dispute written off, acceptance by policy, an amendment); then
each test tampers with one table the way someone with database access would, leaving
the signed log alone, and expects the first difference named. Runs on SQLite and, with
RECON_TEST_POSTGRES_URL, on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from domain.intake import IntakeRow
from domain.items import DisputeCategory, DisputeOutcome, ItemFacts, ItemKind, RiskTier
from domain.usecases import UseCases
from ledger.file import FileLedgerSink
from store.audit.anchors import AnchorFile
from store.audit.log import history, init_audit
from store.audit.signer import load_or_create_signing_key
from store.audit.verification import verify_database
from store.engine import Database
from store.tables import audit_records, items, journal_entries
from store.uow import SqlUnitOfWorkFactory
from tests.fakes import FixedClock
from tests.ledger_support import deliver_all, ledger_relay, policy_with_accounts

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _row(n: int, **overrides: Any) -> IntakeRow:
    facts = ItemFacts(
        source="bank",
        external_id=f"u-{n}",
        kind=ItemKind.UNMATCHED,
        entity="ACME-US",
        currency="USD",
        amount=Decimal("20000.00") + n,  # material: immediate review, two approvers
        risk_tier=RiskTier.LOW,
        aging_days=1,
        confidence=Decimal("0.95"),
    )
    return IntakeRow(line=n + 1, facts=dataclasses.replace(facts, **overrides))


@dataclasses.dataclass
class Desk:
    db: Database
    anchors: AnchorFile
    ids: dict[str, int]

    async def verify(self) -> Any:
        return await verify_database(self.db, anchors=self.anchors, deep=True)

    async def run(self, *statements: Any) -> None:
        async with self.db.writer.begin() as conn:
            for statement in statements:
                await conn.execute(statement)

    async def one(self, table: Any, where: Any) -> Any:
        async with self.db.reader.connect() as conn:
            return (await conn.execute(select(table).where(where))).one()

    async def latest_seq(self, item: str) -> int:
        async with self.db.reader.connect() as conn:
            query = select(audit_records.c.seq).where(audit_records.c.item_id == self.ids[item])
            return max((await conn.execute(query)).scalars())

    async def seq_of(self, item: str, event: str) -> int:
        async with self.db.reader.connect() as conn:
            query = select(audit_records.c.seq).where(
                audit_records.c.item_id == self.ids[item], audit_records.c.event == event
            )
            seq = (await conn.execute(query.order_by(audit_records.c.seq))).scalars().first()
            assert seq is not None, f"{item} has no {event} record"
            return int(seq)


@pytest.fixture
async def desk(migrated: Database, tmp_path: Path) -> Desk:
    loaded = policy_with_accounts()
    signer = load_or_create_signing_key(tmp_path / "audit.pem")
    async with migrated.writer.begin() as conn:
        await init_audit(conn, signer=signer, now=NOW)
    anchors = AnchorFile(tmp_path / "anchors.jsonl")
    factory = SqlUnitOfWorkFactory(database=migrated, signer=signer, anchors=anchors)
    usecases = UseCases.over(uow=factory, policy=lambda: loaded)
    rows = [_row(n) for n in range(1, 7)]
    rows.append(_row(7, kind=ItemKind.MATCH, score=95, amount=Decimal("120.00")))
    result = await usecases.intake.ingest(rows, now=NOW)
    ids = dict(
        zip(
            ["posted", "half", "rejected", "written_off", "pending", "amended", "auto"],
            result.changed_items,
            strict=True,
        )
    )
    at = NOW + timedelta(minutes=1)
    decisions, disputes = usecases.decisions, usecases.disputes
    await decisions.approve(item_id=ids["posted"], actor="U0ALICE", now=at)
    await decisions.approve(item_id=ids["posted"], actor="U0BOB", now=at)
    await decisions.approve(item_id=ids["half"], actor="U0ALICE", now=at)
    await decisions.escalate(item_id=ids["half"], actor="U0BOB", now=at, reason="needs a lead")
    await decisions.reject(
        item_id=ids["rejected"], actor="U0BOB", now=at, reason="duplicate of another line"
    )
    await disputes.open_dispute(
        item_id=ids["written_off"],
        actor="U0ALICE",
        now=at,
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="counterparty disputes the whole amount",
    )
    for approver in ("U0BOB", "U0LEAD"):
        await disputes.resolve_dispute(
            item_id=ids["written_off"],
            actor=approver,
            now=at,
            outcome=DisputeOutcome.WRITTEN_OFF,
            note="uncollectable after three reminders",
        )
    changed = _row(6, counterparty="Globex")
    assert (await usecases.intake.ingest([changed], now=at)).amended == 1
    # The ledger accepts the three entries (the file sink): their items are posted.
    clock = FixedClock(at + timedelta(minutes=1))
    sink = FileLedgerSink(directory=tmp_path / "ledger", today=clock.now)
    stats = await deliver_all(ledger_relay(migrated, usecases, sink, clock))
    assert stats.delivered == 3
    return Desk(db=migrated, anchors=anchors, ids=ids)


async def test_a_desk_that_worked_for_real_replays_to_its_tables(desk: Desk) -> None:
    report = await desk.verify()

    assert report.ok, report.problem
    assert (report.items, report.journal_entries) == (7, 3)
    assert "7 items and 3 journal entries match the replayed log" in report.summary()
    posted = await desk.one(items, items.c.id == desk.ids["posted"])
    assert (posted.state, posted.decided_by) == ("posted", "U0BOB")


async def _amount_times_1000(desk: Desk) -> None:
    item_id = desk.ids["posted"]
    entry = await desk.one(journal_entries, journal_entries.c.item_id == item_id)
    lines = [
        {
            **line,
            "debit_minor": line["debit_minor"] * 1000,
            "credit_minor": line["credit_minor"] * 1000,
        }
        for line in entry.lines
    ]
    await desk.run(
        update(items).where(items.c.id == item_id).values(amount_minor=items.c.amount_minor * 1000),
        update(journal_entries).where(journal_entries.c.id == entry.id).values(lines=lines),
    )


async def _lines_only_times_1000(desk: Desk) -> None:
    entry = await desk.one(journal_entries, journal_entries.c.item_id == desk.ids["posted"])
    lines = [{**line, "debit_minor": line["debit_minor"] * 1000} for line in entry.lines[:1]]
    await desk.run(
        update(journal_entries)
        .where(journal_entries.c.id == entry.id)
        .values(lines=lines + list(entry.lines[1:]))
    )


async def _account_changed(desk: Desk) -> None:
    entry = await desk.one(journal_entries, journal_entries.c.item_id == desk.ids["posted"])
    lines = [dict(line) for line in entry.lines]
    lines[1]["account"] = "cash:ACME-US"
    await desk.run(
        update(journal_entries).where(journal_entries.c.id == entry.id).values(lines=lines)
    )


async def _pending_flipped_to_posted(desk: Desk) -> None:
    await desk.run(update(items).where(items.c.id == desk.ids["pending"]).values(state="posted"))


async def _approver_swapped(desk: Desk) -> None:
    item = await desk.one(items, items.c.id == desk.ids["posted"])
    approvals = [dict(a) for a in item.approvals]
    approvals[1]["user"] = "U0LEAD"
    await desk.run(update(items).where(items.c.id == item.id).values(approvals=approvals))


async def _approval_dropped(desk: Desk) -> None:
    await desk.run(update(items).where(items.c.id == desk.ids["half"]).values(approvals=[]))


async def _decided_by_changed(desk: Desk) -> None:
    await desk.run(
        update(items).where(items.c.id == desk.ids["rejected"]).values(decided_by="U0LEAD")
    )


async def _ledger_ref_cleared(desk: Desk) -> None:
    await desk.run(
        update(items).where(items.c.id == desk.ids["written_off"]).values(ledger_ref=None)
    )


async def _currency_changed(desk: Desk) -> None:
    await desk.run(update(items).where(items.c.id == desk.ids["pending"]).values(currency="EUR"))


async def _entry_deleted(desk: Desk) -> None:
    await desk.run(delete(journal_entries).where(journal_entries.c.item_id == desk.ids["auto"]))


async def _content_hash_changed(desk: Desk) -> None:
    await desk.run(
        update(items).where(items.c.id == desk.ids["amended"]).values(content_hash="0" * 64)
    )


Tamper = Callable[[Desk], Awaitable[None]]


@pytest.mark.parametrize(
    ("tamper", "item", "expected"),
    [
        (
            _amount_times_1000,
            "posted",
            "{R}: items.amount is 20001000.00 but the log says 20001.00 (record {seq})",
        ),
        (
            _lines_only_times_1000,
            "posted",
            "journal entry JE-{id:08d}-A: line 1's debit is 20001000.00 but the log says "
            "20001.00 (record {seq})",
        ),
        (
            _account_changed,
            "posted",
            "journal entry JE-{id:08d}-A: line 2's account is 'cash:ACME-US' but the log says "
            "'1999' (record {seq})",
        ),
        (
            _pending_flipped_to_posted,
            "pending",
            "{R}: items.state is 'posted' but the log says 'pending' (record {seq})",
        ),
        (
            _approver_swapped,
            "posted",
            "{R}: items.approvals are by U0ALICE, U0LEAD but the log says U0ALICE, U0BOB "
            "(record {seq})",
        ),
        (
            _approval_dropped,
            "half",
            "{R}: items.approvals are by nobody but the log says U0ALICE (record {seq})",
        ),
        (
            _decided_by_changed,
            "rejected",
            "{R}: items.decided_by is 'U0LEAD' but the log says 'U0BOB' (record {seq})",
        ),
        (
            _ledger_ref_cleared,
            "written_off",
            # The item shows the ledger's reference (the file sink's line).
            "{R}: items.ledger_ref is empty but the log says 'file:2024-05-01.jsonl#",
        ),
        (
            _currency_changed,
            "pending",
            "{R}: items.currency is 'EUR' but the log says 'USD' (record {seq})",
        ),
        (
            _content_hash_changed,
            "amended",
            "{R}: items.content_hash is '" + "0" * 64 + "' but the log says",
        ),
        (
            _entry_deleted,
            "auto",
            "journal entry JE-{id:08d}-A ({R}) was posted in the log (record {seq}) but is not "
            "in the journal_entries table",
        ),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:] if callable(value) else "",
)
async def test_deep_names_the_first_table_that_disagrees_with_the_log(
    desk: Desk, tamper: Tamper, item: str, expected: str
) -> None:
    # Before this change --deep checked the records alone: every one of these passed.
    await tamper(desk)
    item_id = desk.ids[item]
    # The sentence names the item's latest record, or the entry's own for an entry.
    entry = expected.startswith("journal entry")
    seq = await (desk.seq_of(item, "journal.created") if entry else desk.latest_seq(item))

    report = await desk.verify()

    assert (report.ok, report.reason) == (False, "table"), report.summary()
    assert report.problem is not None
    assert report.problem.startswith(expected.format(R=f"R-{item_id}", id=item_id, seq=seq))
    assert report.first_bad_seq == seq
    plain = await verify_database(desk.db, anchors=desk.anchors)
    assert plain.ok  # the log itself is untouched


async def test_an_item_row_deleted_or_added_is_named(desk: Desk) -> None:
    item_id = desk.ids["rejected"]
    row = await desk.one(items, items.c.id == item_id)
    await desk.run(delete(items).where(items.c.id == item_id))

    report = await desk.verify()

    assert report.problem is not None
    assert report.problem.startswith(f"R-{item_id} is in the log (record ")
    assert report.problem.endswith("but not in the items table")
    values = {**row._asdict(), "id": 900, "external_id": "planted"}
    await desk.run(items.insert().values(**values))
    report = await desk.verify()
    assert report.problem == "R-900 is in the items table but no audit record mentions it"


@pytest.mark.parametrize("column", ["item_id", "event"])
async def test_deep_checks_every_audit_rows_columns_against_its_signed_body(
    desk: Desk, column: str
) -> None:
    # Moving the second approval of an item to another item (or renaming its event)
    # leaves the body, its hash and every signature intact: only the columns lie.
    item_id = desk.ids["posted"]
    seq = await desk.seq_of("posted", "item.approved")
    value: Any = desk.ids["pending"] if column == "item_id" else "item.claimed"
    await desk.run(update(audit_records).where(audit_records.c.seq == seq).values({column: value}))
    async with desk.db.reader.connect() as conn:
        shown = [record["event"] for record in await history(conn, item_id)]
    if column == "item_id":
        assert "item.approved" not in shown  # what `recon-bot show` then hides

    report = await desk.verify()

    assert (report.ok, report.reason, report.first_bad_seq) == (False, "row", seq)
    said = f"is {desk.ids['pending']} but its signed body says {item_id}"
    if column == "event":
        said = "is 'item.claimed' but its signed body says 'item.approved'"
    assert report.problem == f"record {seq}: audit_records.{column} {said}"
    assert (await verify_database(desk.db, anchors=desk.anchors)).ok  # not without --deep
