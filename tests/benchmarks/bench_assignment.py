"""Benchmark: automatic assignment's cost on a real SQLite store.

Usage:
    python -m tests.benchmarks.bench_assignment [--items 2000] [--decisions 200000] [--runs 5]

Part 1: the accuracy query (one grouped count over ``reviewer_decisions`` by
``(user_id, decided_at)``) for 20 reviewers, with ``--decisions`` rows spread over 50
reviewers and a year; median of ``--runs`` runs, in ms, with its query plan.

Part 2: ingesting ``--items`` immediate items into a team in ``pull`` mode and the same
into a team in ``auto`` mode (20 reviewers, capacity enough for all), in fresh stores;
median wall time of ``--runs`` runs each, and the difference per item.

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from domain.intake import IntakeRow
from domain.policy import LoadedPolicy
from domain.usecases import UseCases
from store.audit.anchors import AnchorFile
from store.audit.log import init_audit
from store.audit.signer import load_or_create_signing_key
from store.engine import Database, create_database
from store.migrate import upgrade
from store.people import SqlPeopleRepository
from store.tables import reviewer_decisions
from store.uow import SqlUnitOfWorkFactory
from tests.builders import make_facts, make_policy, policy_data

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
REVIEWERS = [f"U0R{n:03d}" for n in range(20)]


def _policy(mode: str) -> LoadedPolicy:
    teams = policy_data()["teams"]
    teams[0] = {**teams[0], "reviewers": REVIEWERS, "assignment": mode}
    return make_policy(
        teams=teams,
        people=[{"id": u, "teams": ["treasury"], "capacity": 100_000} for u in REVIEWERS],
    )


async def _fresh(tmp: Path) -> Database:
    db = create_database(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    await upgrade(db)
    return db


async def accuracy_query(tmp: Path, decisions: int, runs: int) -> None:
    db = await _fresh(tmp)
    rng = random.Random(7)
    users = [f"U0R{n:03d}" for n in range(50)]
    rows = [
        {
            "item_id": n,
            "user_id": rng.choice(users),
            "verdict": rng.choice(["approved", "rejected"]),
            "decided_at": NOW - timedelta(minutes=rng.randrange(365 * 24 * 60)),
            "overturned_at": NOW if rng.random() < 0.03 else None,
        }
        for n in range(decisions)
    ]
    async with db.writer.begin() as conn:
        for start in range(0, len(rows), 10_000):
            await conn.execute(insert(reviewer_decisions), rows[start : start + 10_000])
    times = []
    async with db.reader.connect() as conn:
        people = SqlPeopleRepository(conn)
        for _ in range(runs):
            t0 = time.perf_counter()
            found = await people.accuracy(REVIEWERS, since=NOW - timedelta(days=90))
            times.append((time.perf_counter() - t0) * 1000)
        plan = await conn.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT user_id, count(*), count(overturned_at) FROM "
                "reviewer_decisions WHERE user_id IN ('a','b') AND decided_at >= '2026-01-01' "
                "GROUP BY user_id"
            )
        )
        shown = "; ".join(str(r[-1]) for r in plan)
    await db.dispose()
    print(
        f"accuracy query, {decisions:,} decisions, 20 of 50 reviewers: "
        f"median {statistics.median(times):.1f} ms ({len(found)} reviewers with decisions)"
    )
    print(f"  plan: {shown}")


async def ingest(tmp: Path, mode: str, items: int) -> float:
    db = await _fresh(tmp)
    signer = load_or_create_signing_key(tmp / "audit.pem")
    async with db.writer.begin() as conn:
        await init_audit(conn, signer=signer, now=NOW)
    loaded = _policy(mode)
    factory = SqlUnitOfWorkFactory(database=db, signer=signer, anchors=AnchorFile(tmp / "a.jsonl"))
    uc = UseCases.over(uow=factory, policy=lambda: loaded)
    rows = [
        IntakeRow(line=n + 2, facts=make_facts(external_id=f"E{n}", amount="20000.00"))
        for n in range(items)
    ]
    t0 = time.perf_counter()
    await uc.intake.ingest(rows, now=NOW)
    elapsed = time.perf_counter() - t0
    await db.dispose()
    return elapsed


async def main(items: int, decisions: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await accuracy_query(Path(tmp), decisions, runs)
    results: dict[str, list[float]] = {"pull": [], "auto": []}
    for _ in range(runs):
        for mode in results:
            with tempfile.TemporaryDirectory() as tmp:
                results[mode].append(await ingest(Path(tmp), mode, items))
    pull, auto = (statistics.median(results[m]) for m in ("pull", "auto"))
    print(
        f"ingest {items:,} immediate items: pull {pull * 1000:.0f} ms, auto {auto * 1000:.0f} ms "
        f"(+{(auto - pull) / items * 1000:.2f} ms per item assigned)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.items, args.decisions, args.runs))
