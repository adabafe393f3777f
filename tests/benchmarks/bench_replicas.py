"""Benchmark: ``recon-bot serve`` replicas on PostgreSQL, and audited transitions on
PostgreSQL and on SQLite, in one run (issue 13).

1. Interactions: 1 and then 3 real ``serve`` processes on a fresh PostgreSQL database,
   against the Slack stand-in and the HTTP ledger stand-in. ``--interactions`` slash
   commands (``/recon approve R-n``, ``--concurrency`` in flight, as many people
   typing at once) spread over the replicas' connections. Interactions/s: from the
   first envelope sent until every approval is committed; ack p99: the stand-in's
   ack latencies.
2. Audited transitions: ``--transitions`` approvals through the use cases, as ``serve``
   wires them (batched checkpoints), ``--concurrency`` at once, on a fresh PostgreSQL
   database and on a SQLite file. Each is one transaction: the item's new state, its
   audit record, its journal entry and its outbox rows.

Each measurement runs ``--rounds`` times, interleaved; medians and ratios of this run
are printed. Needs ``RECON_TEST_POSTGRES_URL``.

Usage::

    RECON_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        python -m tests.benchmarks.bench_replicas --interactions 300 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import func, select

from bot.container import Container
from bot.settings import Settings
from bot.setup import initialize
from domain.intake import IntakeRow
from domain.items import Item
from store.tables import audit_records
from tests.builders import make_facts
from tests.conftest import POSTGRES_ENV, fresh_postgres_database, postgres_url
from tests.e2e.conftest import MATERIAL, ingest_rows, percentile
from tests.e2e.replicas import Replicas, add_people, replica_policy, replica_settings
from tests.ledger_standin import LedgerStandIn
from tests.slack_standin import SlackStandIn


def _rows(prefix: str, n: int) -> list[IntakeRow]:
    return [
        IntakeRow(line=i + 1, facts=make_facts(**(MATERIAL | {"external_id": f"{prefix}-{i}"})))
        for i in range(n)
    ]


async def _approvals(container: Container) -> int:
    async with container.database.reader.connect() as conn:
        found = await conn.execute(
            select(func.count())
            .select_from(audit_records)
            .where(audit_records.c.event == "item.approved")
        )
        return int(found.scalar() or 0)


async def interactions(url: str, replicas_n: int, n: int, concurrency: int) -> tuple[float, float]:
    """Interactions/s and ack p99 (ms) with ``replicas_n`` replicas."""
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            fresh_postgres_database(url) as database_url,
            SlackStandIn() as slack,
            LedgerStandIn() as ledger,
        ):
            add_people(slack)
            settings = replica_settings(Path(tmp), slack, database_url, remind_after="1h")
            await initialize(settings)
            container = await Container.open(settings)
            replicas = Replicas(
                settings=settings, slack=slack, ledger_url=ledger.url, cwd=Path(tmp)
            )
            try:
                items = await ingest_rows(container, _rows("b", n))
                await replicas.start(replicas_n)
                gate = asyncio.Semaphore(concurrency)

                async def approve(item: Item) -> float:
                    async with gate:
                        done = await slack.slash_command("U0ALICE", f"approve {item.human_id}")
                        return done.latency_ms or 0.0

                began = time.perf_counter()
                latencies = await asyncio.gather(*(approve(i) for i in items))

                async def committed() -> bool:
                    await asyncio.sleep(0.05)
                    return await _approvals(container) >= n

                await slack.wait_for(committed, timeout=600, message="every approval committed")
                elapsed = time.perf_counter() - began
            finally:
                await replicas.stop()
                await container.close()
    return n / elapsed, percentile(list(latencies), 0.99)


async def transitions(database_url: str, tmp: Path, n: int, concurrency: int) -> float:
    """Audited approvals per second through the use cases (as ``serve`` wires them)."""
    policy = tmp / "policy.yml"
    policy.write_text(replica_policy(remind_after="1h"))
    policy.chmod(0o600)
    settings = Settings(
        database_url=database_url,
        policy=policy,
        audit_key=tmp / "audit.pem",
        audit_anchors=tmp / "anchors.jsonl",
        slack_bot_token=SecretStr("xoxb-bench"),
        slack_app_token=SecretStr("xapp-bench"),
    )
    await initialize(settings)
    container = await Container.open(settings, batch_seals=True)
    try:
        items = await ingest_rows(container, _rows("t", n))
        gate = asyncio.Semaphore(concurrency)

        async def approve(item: Item) -> None:
            async with gate:
                await container.usecases.decisions.approve(
                    item_id=item.id or 0, actor="U0ALICE", now=container.clock.now()
                )

        began = time.perf_counter()
        await asyncio.gather(*(approve(i) for i in items))
        elapsed = time.perf_counter() - began
        assert await _approvals(container) == n
    finally:
        await container.close()
    return n / elapsed


async def _transitions_on(backend: str, url: str, n: int, concurrency: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "sqlite":
            return await transitions(
                f"sqlite+aiosqlite:///{tmp}/recon.db", Path(tmp), n, concurrency
            )
        async with fresh_postgres_database(url) as database_url:
            return await transitions(database_url, Path(tmp), n, concurrency)


async def _main(args: argparse.Namespace) -> None:
    url = postgres_url()
    if url is None:
        sys.exit(f"{POSTGRES_ENV} is not set: this benchmark needs PostgreSQL")
    rates: dict[str, list[float]] = {}
    p99s: dict[str, list[float]] = {}
    for round_no in range(1, args.rounds + 1):
        for count in (1, 3):
            rate, p99 = await interactions(url, count, args.interactions, args.concurrency)
            rates.setdefault(f"{count} replica(s)", []).append(rate)
            p99s.setdefault(f"{count} replica(s)", []).append(p99)
        for backend in ("postgres", "sqlite"):
            rate = await _transitions_on(backend, url, args.transitions, args.concurrency)
            rates.setdefault(f"transitions {backend}", []).append(rate)
        print(f"round {round_no}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()))
    med = {k: statistics.median(v) for k, v in rates.items()}
    acks = {k: statistics.median(v) for k, v in p99s.items()}
    print(f"\nmedians of {args.rounds} round(s), {args.interactions} interactions:")
    for key in ("1 replica(s)", "3 replica(s)"):
        print(f"  {key}: {med[key]:.1f} interactions/s, ack p99 {acks[key]:.1f} ms")
    print(f"  3 vs 1 replica: x{med['3 replica(s)'] / med['1 replica(s)']:.2f} interactions/s")
    print(f"  audited transitions/s: PostgreSQL {med['transitions postgres']:.0f}, ", end="")
    print(f"SQLite {med['transitions sqlite']:.0f}", end="")
    ratio = med["transitions postgres"] / med["transitions sqlite"]
    print(f" (PostgreSQL/SQLite x{ratio:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interactions", type=int, default=300)
    parser.add_argument("--transitions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
