"""The store's gauge reading (``store.gauges``) and the metrics it feeds (issue 13).

A real SQLite store: open items by priority band and state, outbox depth and dead
letters by destination, the breakers table (the ledger's read as closed without a row),
routing totals, and ingest runs by outcome; then the exposition of each.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, update

from bot.container import Container
from bot.observability import collect_gauges
from bot.settings import Settings
from bot.setup import initialize
from domain.audit.records import AuditEntry
from domain.dashboard import priority_band
from domain.intake import IntakeRow
from domain.ledger_status import BreakerState
from domain.usecases.statements import ImportReport
from store.gauges import finished_runs, read_gauges
from store.tables import breakers, items, outbox
from telemetry.metrics import Metrics
from tests.builders import make_facts


@pytest.fixture
async def container(tmp_path: Path) -> AsyncIterator[Container]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'recon.db'}",
        policy=tmp_path / "policy.yml",
        audit_key=tmp_path / "audit.pem",
        audit_anchors=tmp_path / "anchors.jsonl",
    )
    await initialize(settings)
    opened = await Container.open(settings)
    yield opened
    await opened.close()


def _values(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.scrape().decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


async def test_a_reading_counts_queue_outbox_breakers_and_routing(container: Container) -> None:
    now = container.clock.now()
    empty = await read_gauges(container.database)
    assert empty.queue == {} and empty.outbox == {} and empty.dead == {}
    assert empty.breakers == {"ledger": BreakerState.CLOSED}

    big = {"amount": "2500.00", "risk_tier": "high"}
    rows = [
        IntakeRow(line=1, facts=make_facts(external_id="a", **big)),
        IntakeRow(line=2, facts=make_facts(external_id="b", **big)),
        IntakeRow(line=3, facts=make_facts(external_id="c")),
    ]
    await container.usecases.intake.ingest(rows, now=now)
    async with container.database.writer.begin() as conn:
        # One item decided (it leaves the queue), one card given up on (a dead letter).
        await conn.execute(update(items).where(items.c.external_id == "a").values(state="rejected"))
        await conn.execute(update(outbox).where(outbox.c.id == 1).values(state="dead"))
        await conn.execute(
            insert(breakers).values(name="ledger", state="open", failures=5, updated_at=now)
        )
        await conn.execute(
            insert(breakers).values(name="erp", state="half_open", failures=1, updated_at=now)
        )

    reading = await read_gauges(container.database)
    async with container.uow(read_only=True) as uow:
        b = await uow.items.get_by_external("bank-feed", "b")
        c = await uow.items.get_by_external("bank-feed", "c")
    assert b is not None and c is not None
    expected_queue: dict[tuple[str, str], int] = {}
    for it in (b, c):
        key = (priority_band(it.priority).value, "pending")
        expected_queue[key] = expected_queue.get(key, 0) + 1
    assert reading.queue == expected_queue
    assert reading.breakers == {"ledger": BreakerState.OPEN, "erp": BreakerState.HALF_OPEN}
    assert sum(reading.dead.values()) == 1
    assert reading.routed == {("immediate", "unmatched"): 2, ("digest", "unmatched"): 1}

    metrics = Metrics()
    try:
        metrics.update(reading)
        values = _values(metrics)
        assert values[("recon_circuit_breaker_state", frozenset({("sink", "ledger")}))] == 2
        assert values[("recon_circuit_breaker_state", frozenset({("sink", "erp")}))] == 1
        routed = frozenset({("route", "immediate"), ("kind", "unmatched")})
        assert values[("recon_routing_decisions_total", routed)] == 2
        (dead_kind,) = reading.dead
        dead = frozenset({("destination", dead_kind)})
        assert values[("recon_outbox_dead_letters", dead)] == 1
        for (band, state), n in expected_queue.items():
            labels = frozenset({("priority", band), ("state", state)})
            assert values[("recon_queue_depth", labels)] == n
    finally:
        metrics.shutdown()


async def test_finished_ingest_runs_count_rows_by_outcome_once(container: Container) -> None:
    start = container.clock.now() - timedelta(seconds=1)
    rows = [
        IntakeRow(line=1, facts=make_facts(external_id="a")),
        IntakeRow(line=2, facts=make_facts(external_id="b")),
    ]
    run = await container.usecases.intake.start_ingest(
        source="bank-feed", file_name="f.csv", policy_text="{}", now=start
    )
    result = await container.usecases.intake.ingest(rows, now=container.clock.now())
    await container.usecases.intake.finish_ingest(
        run_id=run,
        result=result,
        file_sha256="0" * 64,
        file_name="f.csv",
        now=container.clock.now(),
    )
    runs = await finished_runs(container.database, since=start)
    assert [(r.source, r.rows) for r in runs] == [
        ("bank-feed", {"inserted": 2, "unchanged": 0, "amended": 0, "rejected": 0})
    ]
    assert await finished_runs(container.database, since=container.clock.now() + timedelta(1)) == []


def test_audited_records_count_rungs_digests_and_records() -> None:
    metrics = Metrics()
    try:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        entries = [
            AuditEntry(time=now, event="sla.reminded", actor="system", item_id=1),
            AuditEntry(time=now, event="item.escalated", actor="system", item_id=1),
            AuditEntry(time=now, event="item.escalated", actor="U0ALICE", item_id=2),
            AuditEntry(time=now, event="item.dead_lettered", actor="system", item_id=1),
            AuditEntry(time=now, event="digest.posted", actor="system"),
        ]
        metrics.audited(entries)
        values = _values(metrics)
        assert values[("recon_audit_records_appended_total", frozenset())] == 5
        for rung in ("remind", "escalate", "dead_letter"):
            # A person's escalation is a decision, not an SLA rung: one each.
            assert values[("recon_sla_rungs_total", frozenset({("rung", rung)}))] == 1
        assert values[("recon_digests_posted_total", frozenset())] == 1
    finally:
        metrics.shutdown()


async def test_a_statement_import_run_is_counted_by_serve_as_import_rows_once(
    container: Container,
) -> None:
    """A ``statements import`` runs in a process of its own: serve's gauge task counts
    its run from the store, by outcome, once however often it reads."""
    start = container.clock.now() - timedelta(seconds=1)
    report = ImportReport(files=2, statements=5, imported=3, unchanged=1)
    report.reject_file("bad.xml", "not a statement")
    await container.usecases.statements.record_run(
        report=report, file_names=["march.xml", "bad.xml"], started=start, now=start
    )
    (run,) = await finished_runs(container.database, since=start)
    assert (run.source, run.rows) == (
        "statements",
        {"imported": 3, "unchanged": 1, "revised": 0, "rejected": 1},
    )
    metrics = Metrics()
    try:
        stop = asyncio.Event()

        async def three_readings() -> None:
            await asyncio.sleep(0.15)
            stop.set()

        await asyncio.gather(
            collect_gauges(
                database=container.database,
                metrics=metrics,
                interval=0.02,
                stop=stop,
                since=start,
            ),
            three_readings(),
        )
        values = _values(metrics)
        statement = {("source", "statement")}
        assert (
            values[("recon_import_rows_total", frozenset({*statement, ("outcome", "imported")}))]
            == 3
        )
        assert (
            values[("recon_import_rows_total", frozenset({*statement, ("outcome", "rejected")}))]
            == 1
        )
        assert ("recon_ingest_rows_total", frozenset({("outcome", "inserted")})) not in values
    finally:
        metrics.shutdown()
