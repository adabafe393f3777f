"""The ledger relay on a real store, against the HTTP ledger stand-in and the file sink.

Items accepted by policy (or approved) wait approved-not-posted with their entry queued;
the relay delivers each entry once, stores the ledger's reference and posts the item.
The answers: 2xx, 409 (a key the ledger holds), other 4xx (dead letter and one alert),
5xx and timeouts (retry after min(2^n + jitter, 30 s)), and the circuit breaker around
them. Time is a fixed clock the tests move; only the stand-in's timeouts are real (short).
Runs on SQLite and, with RECON_TEST_POSTGRES_URL, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from domain import breaker
from domain.breaker import BreakerState
from domain.intake import IntakeRow
from domain.items import JournalEntry, JournalLine, ReviewState, RiskTier
from domain.ledger import Accepted
from domain.ledger import Outcome as LedgerOutcome
from domain.notifications import NoticeKind
from domain.policy import parse_policy
from domain.usecases import UseCases
from ledger.file import FileLedgerSink
from ledger.http import HttpLedgerSink
from store.audit.anchors import AnchorFile
from store.audit.log import init_audit
from store.audit.signer import load_or_create_signing_key
from store.audit.verification import verify_database
from store.breakers import BreakerStore
from store.engine import Database
from store.journal import JournalReader
from store.outbox import OutboxStore, RowState
from store.tables import audit_records, journal_entries, outbox
from store.uow import SqlUnitOfWorkFactory
from tests.builders import make_facts
from tests.conftest import EXAMPLE_POLICY
from tests.fakes import FixedClock
from tests.ledger_standin import LedgerStandIn
from tests.ledger_support import deliver_all, ledger_relay, policy_with_accounts

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
#: Short on purpose: the stand-in's "timeouts" are real waits.
TIMEOUT = 0.3


@dataclasses.dataclass
class Desk:
    db: Database
    usecases: UseCases
    clock: FixedClock
    tmp: Path

    async def rows(self, kind: NoticeKind) -> list[Any]:
        async with self.db.reader.connect() as conn:
            found = await conn.execute(
                select(outbox).where(outbox.c.kind == kind.value).order_by(outbox.c.id)
            )
            return list(found.mappings())

    async def entries(self) -> list[Any]:
        async with self.db.reader.connect() as conn:
            found = await conn.execute(select(journal_entries).order_by(journal_entries.c.id))
            return list(found.mappings())

    async def events(self, name: str) -> list[Any]:
        async with self.db.reader.connect() as conn:
            found = await conn.execute(select(audit_records).where(audit_records.c.event == name))
            return list(found.mappings())

    async def accept(self, n: int, *, start: int = 0) -> list[int]:
        """Ingests ``n`` items the policy accepts: approved, each entry queued."""
        rows = [
            IntakeRow(
                line=i + 2,
                facts=make_facts(
                    source="bank",
                    external_id=f"auto-{start + i}",
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
        result = await self.usecases.intake.ingest(rows, now=self.clock.now())
        assert result.routes["auto_accepted"] == n
        return result.changed_items


@pytest.fixture
async def desk(migrated: Database, tmp_path: Path) -> Desk:
    loaded = policy_with_accounts()
    signer = load_or_create_signing_key(tmp_path / "audit.pem")
    async with migrated.writer.begin() as conn:
        await init_audit(conn, signer=signer, now=NOW)
    factory = SqlUnitOfWorkFactory(
        database=migrated, signer=signer, anchors=AnchorFile(tmp_path / "anchors.jsonl")
    )
    usecases = UseCases.over(uow=factory, policy=lambda: loaded)
    return Desk(db=migrated, usecases=usecases, clock=FixedClock(NOW), tmp=tmp_path)


@pytest.fixture
async def ledger() -> AsyncIterator[LedgerStandIn]:
    async with LedgerStandIn() as standin:
        yield standin


@pytest.fixture
async def sink(ledger: LedgerStandIn) -> AsyncIterator[HttpLedgerSink]:
    async with HttpLedgerSink(url=ledger.url, timeout=TIMEOUT) as http:
        yield http


async def test_accepted_items_wait_approved_with_one_ledger_row_each(desk: Desk) -> None:
    ids = await desk.accept(2)
    for item_id in ids:
        item = await desk.usecases.queries.get(item_id)
        assert (item.state, item.ledger_ref) == (ReviewState.APPROVED, None)
    rows = await desk.rows(NoticeKind.LEDGER)
    assert [(r["dedupe_key"], r["target"], r["state"]) for r in rows] == [
        (f"ledger:item-{i}-approval", "ledger", "pending") for i in ids
    ]
    # The Slack relay never takes them.
    store = OutboxStore(desk.db)
    claimed = await store.claim(now=NOW, lease=timedelta(seconds=15), limit=100)
    assert all(m.kind is not NoticeKind.LEDGER for m in claimed)


async def test_http_happy_path_posts_each_item_with_the_ledgers_reference(
    desk: Desk, ledger: LedgerStandIn, sink: HttpLedgerSink
) -> None:
    ids = await desk.accept(3)
    stats = await deliver_all(ledger_relay(desk.db, desk.usecases, sink, desk.clock))

    assert (stats.delivered, stats.retried, stats.dead) == (3, 0, 0)
    assert (len(ledger.entries), ledger.repeats, ledger.duplicates) == (3, 0, 0)
    by_key = {e.key: e.reference for e in ledger.entries.values()}
    for item_id in ids:
        item = await desk.usecases.queries.get(item_id)
        key = f"item-{item_id}-approval"
        assert (item.state, item.ledger_ref) == (ReviewState.POSTED, by_key[key])
    stored = {e["idempotency_key"]: e for e in await desk.entries()}
    assert {k: e["reference"] for k, e in stored.items()} == by_key
    assert all(e["delivered_at"] == NOW for e in stored.values())
    assert {r["state"] for r in await desk.rows(NoticeKind.LEDGER)} == {"sent"}
    # The contract: header, content type and body.
    first_id = ids[0]
    body = next(b for b in ledger.bodies if b["idempotency_key"] == f"item-{first_id}-approval")
    assert body["ledger_ref"] == f"JE-{first_id:08d}-A"
    assert (body["item"], body["kind"], body["entity"], body["currency"]) == (
        f"R-{first_id}",
        "approval",
        "ACME-US",
        "USD",
    )
    assert body["lines"] == [
        {"account": "1190", "debit": "120.00", "credit": "0.00"},
        {"account": "1999", "debit": "0.00", "credit": "120.00"},
    ]
    headers = ledger.headers[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == ledger.bodies[0]["idempotency_key"]
    # Posting is audited with the ledger's reference; the log still replays to the tables.
    posted = await desk.events("item.posted")
    assert len(posted) == 3
    report = await verify_database(
        desk.db, anchors=AnchorFile(desk.tmp / "anchors.jsonl"), deep=True
    )
    assert report.ok, report.problem


async def test_file_sink_writes_each_entry_once_even_after_a_lost_record(desk: Desk) -> None:
    ids = await desk.accept(2)
    directory = desk.tmp / "ledger"
    sink = FileLedgerSink(directory=directory, today=desk.clock.now)
    stats = await deliver_all(ledger_relay(desk.db, desk.usecases, sink, desk.clock))
    assert stats.delivered == 2

    (day,) = directory.glob("*.jsonl")
    assert day.name == "2026-12-06.jsonl"
    lines = [json.loads(line) for line in day.read_text().splitlines()]
    assert sorted(line["idempotency_key"] for line in lines) == [f"item-{i}-approval" for i in ids]
    refs = {e["idempotency_key"]: e["reference"] for e in await desk.entries()}
    for number, line in enumerate(lines, 1):
        assert refs[line["idempotency_key"]] == f"file:2026-12-06.jsonl#{number}"

    # A process that died after writing, before recording, sends again tomorrow: a fresh
    # sink (a new process) finds the line and answers with it; nothing is appended.
    desk.clock.set(NOW + timedelta(days=1))
    again = FileLedgerSink(directory=directory, today=desk.clock.now)
    (entry,) = [e for e in await _domain_entries(desk) if e.item_id == ids[0]]
    outcome = await again.send(entry)
    assert outcome == Accepted(reference=refs[entry.idempotency_key], duplicate=True)
    assert [p.name for p in directory.glob("*.jsonl")] == ["2026-12-06.jsonl"]
    assert len(day.read_text().splitlines()) == 2


async def test_a_torn_last_line_is_skipped_and_the_next_entry_starts_a_fresh_line(
    desk: Desk,
) -> None:
    directory = desk.tmp / "ledger"
    directory.mkdir()
    (directory / "2026-12-06.jsonl").write_text('{"idempotency_key": "item-9-appr')
    ids = await desk.accept(1)
    sink = FileLedgerSink(directory=directory, today=desk.clock.now)
    await deliver_all(ledger_relay(desk.db, desk.usecases, sink, desk.clock))
    text = (directory / "2026-12-06.jsonl").read_text().splitlines()
    assert len(text) == 2 and json.loads(text[1])["idempotency_key"] == f"item-{ids[0]}-approval"
    (entry,) = await desk.entries()
    assert entry["reference"] == "file:2026-12-06.jsonl#2"


async def _domain_entries(desk: Desk) -> list[Any]:
    keys = [e["idempotency_key"] for e in await desk.entries()]
    return list((await JournalReader(desk.db).by_keys(keys)).values())


async def test_an_answer_lost_to_a_timeout_is_recovered_by_the_409(
    desk: Desk, ledger: LedgerStandIn, sink: HttpLedgerSink
) -> None:
    (item_id,) = await desk.accept(1)
    ledger.time_out_next(store=True)  # the ledger keeps the entry; its answer is lost
    relay = ledger_relay(desk.db, desk.usecases, sink, desk.clock)

    first = await relay.run_once()
    assert (first.delivered, first.retried) == (0, 1)
    assert (await desk.usecases.queries.get(item_id)).state is ReviewState.APPROVED
    desk.clock.set(NOW + timedelta(seconds=30))
    second = await relay.run_once()

    assert second.delivered == 1
    (held,) = ledger.entries.values()
    assert (ledger.requests, ledger.repeats, ledger.duplicates) == (2, 1, 0)
    item = await desk.usecases.queries.get(item_id)
    assert (item.state, item.ledger_ref) == (ReviewState.POSTED, held.reference)
    (entry,) = await desk.entries()
    assert entry["reference"] == held.reference


async def test_a_refusal_dead_letters_the_entry_and_alerts_compliance_once(
    desk: Desk, ledger: LedgerStandIn, sink: HttpLedgerSink
) -> None:
    (item_id,) = await desk.accept(1)
    ledger.refuse_next(status=422)
    stats = await deliver_all(ledger_relay(desk.db, desk.usecases, sink, desk.clock))

    assert (stats.delivered, stats.dead, ledger.requests) == (0, 1, 1)
    (row,) = await desk.rows(NoticeKind.LEDGER)
    assert row["state"] == RowState.DEAD.value and "HTTP 422" in row["last_error"]
    alerts = [
        r
        for r in await desk.rows(NoticeKind.ALERT)
        if r["payload"]["template"] == "delivery_failed"
    ]
    assert len(alerts) == 1 and alerts[0]["target"] == "C0COMPLIANCE"
    assert alerts[0]["payload"]["kind"] == "ledger"
    assert (await desk.usecases.queries.get(item_id)).state is ReviewState.APPROVED
    (refused,) = await desk.events("journal.refused")
    assert refused["item_id"] == item_id
    # Replayed by an operator once fixed: delivered then.
    assert await OutboxStore(desk.db).retry(row["id"], now=NOW)
    again = await deliver_all(ledger_relay(desk.db, desk.usecases, sink, desk.clock))
    assert again.delivered == 1
    assert (await desk.usecases.queries.get(item_id)).state is ReviewState.POSTED


async def test_unavailable_retries_back_off_exponentially_up_to_30_seconds(
    desk: Desk, ledger: LedgerStandIn, sink: HttpLedgerSink
) -> None:
    (item_id,) = await desk.accept(1)
    ledger.fail_next(7, status=503)
    # A high threshold: this test is about the backoff, not the breaker.
    relay = ledger_relay(desk.db, desk.usecases, sink, desk.clock)
    relay._threshold = 100
    waits: list[float] = []
    for n in range(7):
        now = desk.clock.now()
        stats = await relay.run_once()
        assert stats.retried == 1, n
        (row,) = await desk.rows(NoticeKind.LEDGER)
        assert row["failures"] == n + 1
        wait = (row["available_at"] - now).total_seconds()
        waits.append(wait)
        # Not due before its time: a pass now claims nothing.
        assert (await relay.run_once()).claimed == 0
        desk.clock.set(row["available_at"])
    assert [min(2**n, 30) <= w < min(2**n + 1, 30.0001) for n, w in enumerate(waits)] == [
        True
    ] * 7, waits
    assert waits[-1] == 30
    stats = await relay.run_once()
    assert stats.delivered == 1 and ledger.requests == 8
    assert (await desk.usecases.queries.get(item_id)).state is ReviewState.POSTED


async def test_a_refused_connection_is_retried(desk: Desk) -> None:
    await desk.accept(1)
    # Nothing listens there: connection refused.
    async with LedgerStandIn() as gone:
        url = gone.url
    async with HttpLedgerSink(url=url, timeout=TIMEOUT) as sink:
        stats = await ledger_relay(desk.db, desk.usecases, sink, desk.clock).run_once()
    assert stats.retried == 1
    (row,) = await desk.rows(NoticeKind.LEDGER)
    assert row["state"] == "pending" and row["last_error"].startswith("network:")


async def test_the_breaker_opens_after_five_alerts_once_marks_fallback_and_closes_on_a_probe(
    desk: Desk, ledger: LedgerStandIn, sink: HttpLedgerSink
) -> None:
    ids = await desk.accept(6)
    ledger.fail_next(3, status=500)
    ledger.time_out_next(2)
    relay = ledger_relay(desk.db, desk.usecases, sink, desk.clock, batch_size=1)
    store = BreakerStore(desk.db)

    for n in range(5):
        await relay.run_once()
        state = (await store.get(breaker.LEDGER)).state
        assert state is (BreakerState.OPEN if n == 4 else BreakerState.CLOSED), n
    assert ledger.requests == 5
    opened = [
        r for r in await desk.rows(NoticeKind.ALERT) if r["payload"]["template"] == "ledger_breaker"
    ]
    assert [r["payload"]["state"] for r in opened] == ["open"]

    # While open nothing is sent, however often the relay passes.
    for _ in range(3):
        assert (await relay.run_once()).claimed == 0
    assert ledger.requests == 5

    # Decisions still happen, marked as taken in fallback mode.
    later = await desk.accept(1, start=100)
    (auto,) = [e for e in await desk.events("item.auto_accepted") if e["item_id"] == later[0]]
    assert json.loads(auto["body"])["data"]["fallback_mode"] is True
    early = [e for e in await desk.events("item.auto_accepted") if e["item_id"] == ids[0]]
    assert "fallback_mode" not in json.loads(early[0]["body"])["data"]

    # After the cooldown one probe goes; the ledger answers; the breaker closes.
    desk.clock.set(NOW + timedelta(seconds=31))
    probe = await relay.run_once()
    assert (probe.claimed, probe.delivered) == (1, 1)
    assert (await store.get(breaker.LEDGER)).state is BreakerState.CLOSED
    states = [
        r["payload"]["state"]
        for r in await desk.rows(NoticeKind.ALERT)
        if r["payload"]["template"] == "ledger_breaker"
    ]
    assert states == ["open", "closed"]
    desk.clock.set(NOW + timedelta(minutes=5))
    rest = await deliver_all(relay)
    assert rest.delivered == 6
    for item_id in [*ids, *later]:
        assert (await desk.usecases.queries.get(item_id)).state is ReviewState.POSTED
    assert ledger.duplicates == 0


async def test_a_failed_probe_reopens_the_breaker_without_a_second_alert(
    desk: Desk, ledger: LedgerStandIn, sink: HttpLedgerSink
) -> None:
    await desk.accept(2)
    ledger.fail_next(6, status=502)
    relay = ledger_relay(desk.db, desk.usecases, sink, desk.clock, batch_size=1)
    for n in range(5):  # a minute apart: each row is due again every pass
        desk.clock.set(NOW + timedelta(minutes=n))
        assert (await relay.run_once()).retried == 1
    store = BreakerStore(desk.db)
    assert (await store.get(breaker.LEDGER)).state is BreakerState.OPEN
    probe_time = NOW + timedelta(minutes=4, seconds=30)
    desk.clock.set(probe_time)
    probe = await relay.run_once()
    assert (probe.claimed, probe.retried) == (1, 1)
    reopened = await store.get(breaker.LEDGER)
    assert reopened.state is BreakerState.OPEN
    assert reopened.probe_at == probe_time + timedelta(seconds=30)
    alerts = [
        r for r in await desk.rows(NoticeKind.ALERT) if r["payload"]["template"] == "ledger_breaker"
    ]
    assert len(alerts) == 1


async def test_held_entries_leave_only_on_real_accounts_after_a_policy_reload(
    migrated: Database, tmp_path: Path, ledger: LedgerStandIn, sink: HttpLedgerSink
) -> None:
    without = parse_policy(EXAMPLE_POLICY.read_text())
    current = [without]
    signer = load_or_create_signing_key(tmp_path / "audit.pem")
    async with migrated.writer.begin() as conn:
        await init_audit(conn, signer=signer, now=NOW)
    factory = SqlUnitOfWorkFactory(
        database=migrated, signer=signer, anchors=AnchorFile(tmp_path / "anchors.jsonl")
    )
    usecases = UseCases.over(uow=factory, policy=lambda: current[0])
    desk = Desk(db=migrated, usecases=usecases, clock=FixedClock(NOW), tmp=tmp_path)
    ids = await desk.accept(2)
    assert [e["hold"] for e in await desk.entries()] == ["no account mapping"] * 2
    assert await desk.rows(NoticeKind.LEDGER) == []
    relay = ledger_relay(migrated, usecases, sink, desk.clock)
    assert (await deliver_all(relay)).claimed == 0 and ledger.requests == 0

    current[0] = policy_with_accounts()
    await usecases.policy_events.policy_changed(
        old_version=without.version, new_version=current[0].version, text="", now=NOW
    )
    entries = await desk.entries()
    assert [e["hold"] for e in entries] == [None, None]
    assert [[line["account"] for line in e["lines"]] for e in entries] == [["1190", "1999"]] * 2
    released = await desk.events("journal.released")
    assert sorted(r["item_id"] for r in released) == sorted(ids)
    data = json.loads(released[0]["body"])["data"]
    assert data["old_accounts"] == ["recon-clearing:ACME-US", "suspense:ACME-US"]
    assert data["new_accounts"] == ["1190", "1999"]

    stats = await deliver_all(relay)
    assert stats.delivered == 2
    sent = {line["account"] for body in ledger.bodies for line in body["lines"]}
    assert sent == {"1190", "1999"}  # no placeholder account ever left
    for item_id in ids:
        assert (await usecases.queries.get(item_id)).state is ReviewState.POSTED
    report = await verify_database(
        migrated, anchors=AnchorFile(tmp_path / "anchors.jsonl"), deep=True
    )
    assert report.ok, report.problem


async def test_two_processes_sharing_the_ledger_directory_write_an_entry_once(
    tmp_path: Path,
) -> None:
    entry = JournalEntry(
        idempotency_key="item-7-approval",
        ledger_ref="JE-00000007-A",
        item_id=7,
        currency="EUR",
        lines=(
            JournalLine(account="1190", debit_minor=999),
            JournalLine(account="1999", credit_minor=999),
        ),
        memo="R-7 approval by U0ALICE",
        created_at=NOW,
        entity="ACME-DE",
    )
    clock = FixedClock(NOW)
    # Two sinks: two processes, each with its own index, on one directory.
    one = FileLedgerSink(directory=tmp_path, today=clock.now)
    other = FileLedgerSink(directory=tmp_path, today=clock.now)
    outcomes = await asyncio.gather(*(s.send(entry) for s in (one, other, one, other)))
    assert {o.reference for o in outcomes if isinstance(o, Accepted)} == {"file:2026-12-06.jsonl#1"}
    assert sum(isinstance(o, Accepted) and not o.duplicate for o in outcomes) == 1
    assert len((tmp_path / "2026-12-06.jsonl").read_text().splitlines()) == 1


async def test_timeouts_outlived_by_answers_sent_after_them_do_not_trip_the_breaker(
    desk: Desk, ledger: LedgerStandIn, sink: HttpLedgerSink
) -> None:
    # Six entries at once: five never answered in time, one answered at once. By the
    # time the five time out the ledger has answered a request sent after them: it is
    # up, so they are not five failures in a row.
    await desk.accept(6)
    ledger.time_out_next(5)
    stats = await ledger_relay(desk.db, desk.usecases, sink, desk.clock).run_once()
    assert (stats.claimed, stats.delivered, stats.retried) == (6, 1, 5)
    assert (await BreakerStore(desk.db).get(breaker.LEDGER)).state is BreakerState.CLOSED
    assert [
        r for r in await desk.rows(NoticeKind.ALERT) if r["payload"]["template"] == "ledger_breaker"
    ] == []


class _Watched:
    """A sink that says when ``until`` requests have left (then passes them on)."""

    def __init__(self, inner: HttpLedgerSink, *, until: int) -> None:
        self.inner = inner
        self.sent = 0
        self.until = until
        self.reached = asyncio.Event()

    async def send(self, entry: JournalEntry) -> LedgerOutcome:
        self.sent += 1
        if self.sent >= self.until:
            self.reached.set()
        return await self.inner.send(entry)


async def test_a_stop_gives_up_hanging_requests_and_leaves_every_row_due_now(
    desk: Desk, ledger: LedgerStandIn
) -> None:
    """Issue 13: the ledger does not answer; at the cutoff nothing more is sent, at the
    abort the requests under way are given up. Every row goes back due now, no failure
    counted and the breaker untouched; the next pass delivers each entry exactly once."""
    ids = await desk.accept(4)
    ledger.time_out_next(2)  # never answered (with the sink's 30 s timeout: they hang)
    cutoff, abort = asyncio.Event(), asyncio.Event()
    async with HttpLedgerSink(url=ledger.url, timeout=30) as sink:
        watched = _Watched(sink, until=2)
        relay = ledger_relay(
            desk.db, desk.usecases, watched, desk.clock, batch_size=2, cutoff=cutoff, abort=abort
        )
        passing = asyncio.create_task(relay.run_once())
        await asyncio.wait_for(watched.reached.wait(), timeout=2)
        cutoff.set()
        abort.set()
        stats = await asyncio.wait_for(passing, timeout=2)
        assert (stats.claimed, stats.delivered, stats.retried, stats.held_back) == (2, 0, 0, 2)
        rows = await desk.rows(NoticeKind.LEDGER)
        assert [(r["state"], r["failures"], r["lease_expires_at"]) for r in rows] == [
            ("pending", 0, None)
        ] * 4
        assert all(r["available_at"] <= NOW for r in rows)
        assert (await BreakerStore(desk.db).get(breaker.LEDGER)).is_closed

        next_start = ledger_relay(desk.db, desk.usecases, sink, desk.clock)
        stats = await deliver_all(next_start)
    assert stats.delivered == 4
    assert (len(ledger.entries), ledger.duplicates) == (4, 0)
    for item_id in ids:
        assert (await desk.usecases.queries.get(item_id)).state is ReviewState.POSTED
