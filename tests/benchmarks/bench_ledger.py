"""Benchmark: delivering approved journal entries to the HTTP ledger stand-in.

Usage:
    python -m tests.benchmarks.bench_ledger --entries 10000 --rounds 3

Each round starts from an empty SQLite desk whose policy maps accounts, ingests
``--entries`` items the policy accepts (each approved with its entry queued for the
ledger; not timed), then times the real ledger relay (``scheduler.ledger_relay``, the
real store, the real ``http`` sink) until every entry is delivered, its reference stored
and its item posted. Two scenarios: a healthy ledger, and one where 20% of requests fail
at random (half answer 500, half never answer: the sink's timeout is short for the run,
``--timeout``). Retries back off as in production (min(2^n + jitter, 30 s)); the breaker
runs with a short cooldown (``--cooldown``) so a run of bad luck does not stall it.
Prints entries/s per round and the median of the rounds; the ledger's duplicates must be
0 and every stored reference must equal the ledger's.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from bot.clock import SystemClock
from domain.intake import IntakeRow
from domain.items import RiskTier
from domain.usecases import UseCases
from ledger.http import HttpLedgerSink
from scheduler.ledger_relay import LedgerRelay
from store.audit.anchors import AnchorFile
from store.audit.log import init_audit
from store.audit.signer import load_or_create_signing_key
from store.breakers import BreakerStore
from store.engine import create_database
from store.journal import JournalReader
from store.migrate import upgrade
from store.outbox import OutboxStore
from store.tables import journal_entries
from store.uow import SqlUnitOfWorkFactory
from tests.builders import make_facts
from tests.ledger_standin import LedgerStandIn
from tests.ledger_support import policy_with_accounts

INGEST_BATCH = 2_000


def _rows(start: int, n: int) -> list[IntakeRow]:
    return [
        IntakeRow(
            line=i + 2,
            facts=make_facts(
                source="bank",
                external_id=f"bench-{i}",
                kind="match",
                score=95,
                amount=Decimal("100.00") + Decimal(i % 5000) / 100,
                counterparty=None,
                risk_tier=RiskTier.LOW,
                confidence="0.95",
                reference=None,
            ),
        )
        for i in range(start, start + n)
    ]


async def _round(
    entries: int, *, failure_rate: float, sink_timeout: float, cooldown: float
) -> float:
    """One round; returns entries/s of the delivery."""
    work = Path(tempfile.mkdtemp(prefix="recon-bench-ledger-"))
    database = create_database(f"sqlite+aiosqlite:///{work / 'recon.db'}")
    try:
        await upgrade(database)
        signer = load_or_create_signing_key(work / "audit.pem")
        now = datetime.now(UTC)
        async with database.writer.begin() as conn:
            await init_audit(conn, signer=signer, now=now)
        factory = SqlUnitOfWorkFactory(
            database=database, signer=signer, anchors=AnchorFile(work / "anchors.jsonl")
        )
        loaded = policy_with_accounts()
        usecases = UseCases.over(uow=factory, policy=lambda: loaded)
        for start in range(0, entries, INGEST_BATCH):
            n = min(INGEST_BATCH, entries - start)
            result = await usecases.intake.ingest(_rows(start, n), now=now)
            assert result.routes["auto_accepted"] == n, result.routes
        async with LedgerStandIn() as ledger:
            if failure_rate:
                ledger.failure_rate(failure_rate, random.Random(42))
            async with HttpLedgerSink(url=ledger.url, timeout=sink_timeout) as sink:
                relay = LedgerRelay(
                    outbox=OutboxStore(database),
                    journal=JournalReader(database),
                    breakers=BreakerStore(database),
                    deliveries=usecases.ledger,
                    sink=sink,
                    clock=SystemClock(),
                    compliance_channel=lambda: "C0COMPLIANCE",
                    cooldown=timedelta(seconds=cooldown),
                    batch_size=128,
                    concurrency=32,
                )
                started = time.perf_counter()
                delivered = 0
                while delivered < entries:
                    stats = await relay.run_once()
                    delivered += stats.delivered
                    if stats.claimed == 0:
                        await asyncio.sleep(0.05)  # retries not due yet
                elapsed = time.perf_counter() - started
            async with database.reader.connect() as conn:
                rows = (await conn.execute(select(journal_entries))).mappings().all()
            stored = {r["idempotency_key"]: r["reference"] for r in rows}
            held = {e.key: e.reference for e in ledger.entries.values()}
            assert ledger.duplicates == 0, f"{ledger.duplicates} duplicates in the ledger"
            assert stored == held, "a stored reference differs from the ledger's"
            print(
                f"  {entries} entries in {elapsed:.1f} s: {entries / elapsed:.0f} entries/s "
                f"({ledger.requests} requests, {ledger.repeats} answered 409, "
                f"duplicates {ledger.duplicates})",
                flush=True,
            )
            return entries / elapsed
    finally:
        await database.dispose()


async def _main(args: argparse.Namespace) -> None:
    for name, rate in (("healthy ledger", 0.0), ("20% of requests failing", 0.2)):
        print(f"{name}:", flush=True)
        rates = [
            await _round(
                args.entries, failure_rate=rate, sink_timeout=args.timeout, cooldown=args.cooldown
            )
            for _ in range(max(1, args.rounds))
        ]
        print(f"  median of {len(rates)}: {statistics.median(rates):.0f} entries/s", flush=True)


def main() -> None:
    """Runs the benchmark and prints the numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=0.5, help="the sink's timeout (s)")
    parser.add_argument("--cooldown", type=float, default=1.0, help="the breaker's cooldown (s)")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
