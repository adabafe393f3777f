"""Benchmark: the counterparties' historical match rate read for routing's priority.

Usage:
    python -m tests.benchmarks.bench_match_history --items 10000 --counterparties 200

Builds a SQLite store (migrated, as ``recon-bot init`` does) holding approved statements
with ``--lines`` bank lines spread over ``--counterparties`` names inside the history
window, about 70% of them covered by a match scoring 90; then ingests ``--items`` items
naming those counterparties through the intake use case, in one batch, as ``recon-bot
ingest`` does per batch. Prints the time of one history query for every counterparty
of the batch, the whole ingest's time, and how many history queries the ingest sent
(counted on the engine: one per batch, never one per item).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from domain.intake import IntakeRow
from domain.matching.records import Band
from domain.matching.stored import LedgerKey, MatchRecord, MatchState
from domain.statements.records import Stage1Status
from domain.usecases import UseCases
from domain.usecases.rates import load_history
from store.audit.log import init_audit
from store.audit.signer import load_or_create_signing_key
from store.engine import create_database
from store.migrate import upgrade
from store.uow import SqlUnitOfWorkFactory
from tests.builders import make_facts, make_policy
from tests.fakes import T0
from tests.statement_files import line, make_statement, statement, statement_policy_overrides

PER_STATEMENT = 500


async def _bench(args: argparse.Namespace, folder: Path) -> None:
    rng = random.Random(args.seed)
    names = [f"Counterparty {n:03d}" for n in range(args.counterparties)]
    db = create_database(f"sqlite+aiosqlite:///{folder / 'recon.db'}")
    await upgrade(db)
    signer = load_or_create_signing_key(folder / "audit.pem")
    async with db.writer.begin() as conn:
        await init_audit(conn, signer=signer, now=T0)
    uows = SqlUnitOfWorkFactory(database=db, signer=signer, anchors=None)
    loaded = make_policy(**statement_policy_overrides())
    seeded = time.perf_counter()
    for first in range(0, args.lines, PER_STATEMENT):
        count = min(PER_STATEMENT, args.lines - first)
        body = [
            line("10.00", f"2025-0{rng.choice((1, 2, 3))}-0{rng.randint(1, 9)}",
                 counterparty=rng.choice(names))
            for _ in range(count)
        ]  # fmt: skip
        raw = statement(lines=body, statement_id=f"STMT-{first}", sequence=str(first), closing=None)
        async with uows() as uow:
            stored = await uow.statements.add(
                dataclasses.replace(make_statement(raw), stage1_status=Stage1Status.APPROVED)
            )
            assert stored.id is not None
            for number in range(1, count + 1):
                if rng.random() < 0.7:
                    await uow.matches.add(_match(stored.id, number))
            await uow.commit()
    seeded = time.perf_counter() - seeded

    queries = 0

    def counted(_conn: Any, _cursor: Any, statement_text: str, *_: Any) -> None:
        nonlocal queries
        if "statement_lines" in statement_text and "match_sides" in statement_text:
            queries += 1

    event.listen(db.writer.sync_engine, "before_cursor_execute", counted)
    timings = []
    for _ in range(5):  # the first also opens the reader's connection
        async with uows(read_only=True) as uow:
            start = time.perf_counter()
            history = await load_history(uow, names, loaded, today=T0.date())
            timings.append(time.perf_counter() - start)
    one_query = min(timings)
    rows = [
        IntakeRow(
            line=n + 2,
            facts=make_facts(external_id=f"B-{n}", counterparty=names[n % len(names)]),
        )
        for n in range(args.items)
    ]
    usecases = UseCases.over(uow=uows, policy=lambda: loaded)
    queries = 0
    start = time.perf_counter()
    result = await usecases.intake.ingest(rows, now=T0)
    ingest = time.perf_counter() - start
    await db.dispose()
    known = sum(1 for n in names if history.knows(n))
    print(
        f"store: {args.lines} bank lines over {args.counterparties} counterparties "
        f"({known} with history), seeded in {seeded:.1f} s"
    )
    print(f"one history query for {len(names)} counterparties: {one_query * 1000:.1f} ms "
          f"(best of 5; first {timings[0] * 1000:.1f} ms)")  # fmt: skip
    rate = result.inserted / ingest
    print(f"ingest of {result.inserted} items in one batch: {ingest:.2f} s "
          f"({rate:,.0f} items/s); history queries sent: {queries}")  # fmt: skip


def _match(statement_id: int, number: int) -> MatchRecord:
    return MatchRecord(
        id=None,
        key=f"m:{statement_id}#{number}",
        band=Band.AUTO_ACCEPTED,
        score=90,
        state=MatchState.AUTO_ACCEPTED,
        components={},
        statement_id=statement_id,
        bank_lines=((statement_id, number),),
        ledger_entries=(LedgerKey(entry_id=f"E-{statement_id}-{number}", account="1100"),),
        sides_digest="d" * 64,
        held=None,
        created_at=T0,
        updated_at=T0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--counterparties", type=int, default=200)
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_bench(args, Path(folder)))


if __name__ == "__main__":
    main()
