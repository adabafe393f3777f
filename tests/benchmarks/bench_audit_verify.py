"""Benchmark: how fast ``verify_database`` checks an audit log on SQLite.

Writes N realistic records through the unit of work into a temporary SQLite file, one
transaction per batch, with checkpoints batched by :class:`store.audit.sealer.AuditSealer`
within ``--merge-delay`` seconds as the serve process does (``--merge-delay 0``: a signed
checkpoint and an anchor per transaction, as before batching); prints the audited
transactions per second (wall and per CPU second), then times
:func:`store.audit.verification.verify_database` (with the anchors file) and prints the
median of several runs in records per second.

With ``--deep``, the ``items`` table is first filled with the rows the log describes
(as the desk would have written them), so the timing includes the replay of every
record and the comparison of every item row with it.

Batch mixes (``--mix``):

- ``mixed`` (default): about 70 % of the records come from ingest runs (500 items per
  transaction), the rest from reviewer actions of 1 to 3 records per transaction;
- ``ingest``: only ingest runs; ``clicks``: only reviewer actions (with
  ``--merge-delay 0`` one checkpoint per ~2 records, the worst case).

With ``--compare-stock N``: N rounds, each writing the same log into a fresh database
and verifying it three times through :mod:`store.sqlite_driver` (one trip to aiosqlite's thread
per statement) and once through SQLAlchemy's stock adapter, in turn; prints the median
transactions per second and records verified per second of each, and their ratios.

Usage::

    python -m tests.benchmarks.bench_audit_verify --records 100000
    python -m tests.benchmarks.bench_audit_verify --mix clicks --merge-delay 0  # before
    python -m tests.benchmarks.bench_audit_verify --compare-stock 3
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.clock import SystemClock
from domain.audit.records import AuditEntry
from domain.ports import Clock
from store.audit.anchors import AnchorFile
from store.audit.log import init_audit
from store.audit.sealer import AuditSealer
from store.audit.signer import load_or_create_signing_key
from store.audit.verification import verify_database
from store.engine import Database, create_database
from store.tables import audit_checkpoints, items, metadata
from store.uow import SqlUnitOfWorkFactory

INGEST_BATCH = 500
INGEST_SHARE = 0.7  # of the records, in the mixed workload
MEAN_REVIEW_BATCH = 2
# Chance that a transaction is an ingest run, so that INGEST_SHARE of records are ingests.
INGEST_CHANCE = (INGEST_SHARE * MEAN_REVIEW_BATCH) / (
    INGEST_SHARE * MEAN_REVIEW_BATCH + (1 - INGEST_SHARE) * INGEST_BATCH
)
REVIEW_EVENTS = [
    ("item.claimed", "pending", "assigned"),
    ("item.approved", "assigned", "approved"),
    ("item.posted", "approved", "posted"),
    ("item.rejected", "assigned", "rejected"),
    ("sla.reminded", "assigned", "assigned"),
    ("item.escalated", "assigned", "escalated"),
]


def _ingested(rng: random.Random, item_id: int, at: datetime) -> AuditEntry:
    amount = rng.randint(100, 50_000_000)
    return AuditEntry(
        time=at,
        event="item.ingested",
        actor="system:ingest",
        item_id=item_id,
        item=f"R-{item_id}",
        to_state="pending",
        policy_version="sha256:3f9a1c0d5e7b",
        data={
            "source": "bank-eu-01",
            "external_id": f"STMT-2024-05-{item_id:08d}",
            "kind": rng.choice(["unmatched", "match", "batch"]),
            "entity": "ACME-DE",
            "currency": "EUR",
            "amount_minor": amount,
            "amount": f"{amount // 100}.{amount % 100:02d}",
            "counterparty": rng.choice(["Globex GmbH", "Initech AG", "Umbrella SE"]),
            "route": rng.choice(["review", "digest", "auto"]),
            "priority": rng.randint(0, 1000),
            "reasons": ["amount >= materiality 10000.00 EUR", "counterparty risk high"],
            "score": rng.randint(0, 100),
        },
    )


def _review(rng: random.Random, item_id: int, at: datetime) -> AuditEntry:
    event, before, after = rng.choice(REVIEW_EVENTS)
    return AuditEntry(
        time=at,
        event=event,
        actor=f"U0{rng.randint(1000000, 9999999)}",
        item_id=item_id,
        item=f"R-{item_id}",
        from_state=before,
        to_state=after,
        policy_version="sha256:3f9a1c0d5e7b",
        data={"note": "matches remittance advice; approved per policy", "version": 3},
    )


_PLACEHOLDER: dict[str, object] = {
    "source": "bench",
    "external_id": "placeholder",
    "kind": "unmatched",
    "entity": "ACME-DE",
    "currency": "EUR",
    "amount_minor": 0,
    "route": "review",
    "priority": 0,
    "reasons": [],
}


def _track(logged: dict[int, dict[str, object]], batch: list[AuditEntry]) -> None:
    """Keeps each item's row as the desk would have written it after ``batch``."""
    for entry in batch:
        assert entry.item_id is not None and isinstance(entry.data, dict)
        if entry.event == "item.ingested" or entry.item_id not in logged:
            # (A review drawn before the first ingest names item 1 early: any facts do.)
            data = entry.data if entry.event == "item.ingested" else _PLACEHOLDER
            logged[entry.item_id] = {
                "id": entry.item_id,
                "source": data["source"],
                "external_id": data["external_id"],
                "kind": data["kind"],
                "entity": data["entity"],
                "currency": data["currency"],
                "amount_minor": data["amount_minor"],
                "extra": {},
                "content_hash": "0" * 64,
                "state": "pending",
                "route": data["route"],
                "priority": data["priority"],
                "reasons": data["reasons"],
                "policy_version": entry.policy_version,
                "required_approvals": 1,
                "created_at": entry.time,
                "updated_at": entry.time,
                "sla_started_at": entry.time,
                "version": 1,
                "approvals": [],
                "ladder_level": 0,
                "decided_by": None,
            }
            if entry.event == "item.ingested":
                continue
        row = logged[entry.item_id]
        row["state"] = entry.to_state
        row["policy_version"] = entry.policy_version
        if entry.event in ("item.approved", "item.rejected", "item.escalated"):
            row["decided_by"] = entry.actor


def _transactions(records: int, mix: str, seed: int, clock: Clock) -> Iterator[list[AuditEntry]]:
    # Entries carry the wall-clock time of their transaction, as the desk stamps a
    # request with its clock: the merge delay is measured against the same times.
    rng = random.Random(seed)
    written, item_id = 0, 0
    while written < records:
        ingest = mix == "ingest" or (mix == "mixed" and rng.random() < INGEST_CHANCE)
        size = INGEST_BATCH if ingest else rng.randint(1, 3)
        size = min(size, records - written)
        at = clock.now()
        batch = []
        for _ in range(size):
            if ingest:
                item_id += 1
                batch.append(_ingested(rng, item_id, at))
            else:
                batch.append(_review(rng, rng.randint(1, max(item_id, 1)), at))
        written += size
        yield batch


async def _write(
    db: Database, directory: Path, records: int, mix: str, merge_delay: float, deep: bool
) -> tuple[AnchorFile, dict[int, dict[str, object]], tuple[float, float]]:
    """Writes the log the way the serve process does: one unit of work per transaction,
    checkpoints batched by the sealer within ``merge_delay`` (0: one per transaction)."""
    signer = load_or_create_signing_key(directory / "audit_ed25519.pem")
    anchors = AnchorFile(directory / "anchors.jsonl")
    clock = SystemClock()
    async with db.writer.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await init_audit(conn, signer=signer, now=clock.now())
    sealer = (
        AuditSealer(
            database=db,
            signer=signer,
            anchors=anchors,
            clock=clock,
            merge_delay=timedelta(seconds=merge_delay),
        )
        if merge_delay > 0
        else None
    )
    uow = SqlUnitOfWorkFactory(database=db, signer=signer, anchors=anchors, sealer=sealer)
    stop = asyncio.Event()
    sealing = asyncio.create_task(sealer.run(stop)) if sealer is not None else None

    started, cpu = time.perf_counter(), time.process_time()
    transactions = 0
    logged: dict[int, dict[str, object]] = {}
    for batch in _transactions(records, mix, seed=7, clock=clock):
        if deep:
            _track(logged, batch)
        async with uow() as work:
            await work.audit.append(batch)
            await work.commit()
        transactions += 1
    stop.set()
    if sealing is not None and sealer is not None:
        await sealing
        await sealer.close()  # as the serve process does on its way out
    wrote, cpu = time.perf_counter() - started, time.process_time() - cpu
    async with db.reader.connect() as conn:
        count = select(func.count()).select_from(audit_checkpoints)
        checkpoints = (await conn.execute(count)).scalar_one()
    size_mb = (directory / "bench.db").stat().st_size / 1e6
    print(
        f"wrote {records} records in {transactions} transactions (mix={mix}, merge delay "
        f"{merge_delay:g} s) in {wrote:.1f} s wall, {cpu:.1f} s CPU: "
        f"{transactions / wrote:,.0f} transactions/s wall, {transactions / cpu:,.0f} per CPU s "
        f"({records / wrote:,.0f} records/s); {checkpoints} checkpoints; db {size_mb:.1f} MB"
    )
    return anchors, logged, (transactions / wrote, transactions / cpu)


async def _compare(records: int, mix: str, merge_delay: float, rounds: int) -> None:
    writes: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    verifies: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for one_trip in (True, False):
            with tempfile.TemporaryDirectory(prefix="bench_audit_") as tmp:
                directory = Path(tmp)
                db = create_database(
                    f"sqlite+aiosqlite:///{directory / 'bench.db'}", one_trip=one_trip
                )
                print("one trip a statement:" if one_trip else "stock adapter:", end=" ")
                anchors, _, rates = await _write(db, directory, records, mix, merge_delay, False)
                writes[one_trip].append(rates)
                for _ in range(3):  # one verify swings by a third
                    started = time.perf_counter()
                    report = await verify_database(db, anchors=anchors)
                    if not report.ok:
                        raise SystemExit(f"verification failed: {report.summary()}")
                    verifies[one_trip].append(records / (time.perf_counter() - started))
                await db.dispose()
    wall = {key: statistics.median(r[0] for r in found) for key, found in writes.items()}
    cpu = {key: statistics.median(r[1] for r in found) for key, found in writes.items()}
    verify = {key: statistics.median(found) for key, found in verifies.items()}
    print(
        f"medians of {rounds} rounds (mix={mix}): one trip a statement {wall[True]:,.0f} "
        f"transactions/s wall ({cpu[True]:,.0f} per CPU s), stock adapter {wall[False]:,.0f} "
        f"({cpu[False]:,.0f}); ratio {wall[True] / wall[False]:.2f} wall, "
        f"{cpu[True] / cpu[False]:.2f} per CPU s; verify {verify[True]:,.0f} vs "
        f"{verify[False]:,.0f} records/s wall, ratio {verify[True] / verify[False]:.2f}"
    )


async def _run(
    records: int, mix: str, repeat: int, deep: bool, merge_delay: float, directory: Path
) -> None:
    db = create_database(f"sqlite+aiosqlite:///{directory / 'bench.db'}")
    anchors, logged, _ = await _write(db, directory, records, mix, merge_delay, deep)
    if deep:
        rows = list(logged.values())
        async with db.writer.begin() as conn:
            for start in range(0, len(rows), 5000):
                await conn.execute(items.insert(), rows[start : start + 5000])

    timings, cpu_timings = [], []
    for run in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        report = await verify_database(db, anchors=anchors, deep=deep)
        timings.append(time.perf_counter() - started)
        cpu_timings.append(time.process_time() - cpu)
        if not report.ok:
            raise SystemExit(f"verification failed: {report.summary()}")
        print(f"  run {run + 1}: {timings[-1]:.3f} s wall, {cpu_timings[-1]:.3f} s CPU")
    median = statistics.median(timings)
    cpu_median = statistics.median(cpu_timings)
    print(
        f"verify_database{' (deep)' if deep else ''}: {records} records, "
        f"{report.checkpoints} checkpoints, {report.anchors} anchors: median {median:.3f} s "
        f"= {records / median:,.0f} records/s wall ({records / cpu_median:,.0f} per CPU s)"
    )
    await db.dispose()


def main() -> None:
    """Parses arguments and runs the benchmark in a temporary directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--mix", choices=["mixed", "ingest", "clicks"], default="mixed")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--merge-delay",
        type=float,
        default=1.0,
        help="seconds within which a checkpoint covers each commit (0: one per transaction)",
    )
    parser.add_argument(
        "--deep", action="store_true", help="full JSON parse of every body, replay, tables"
    )
    parser.add_argument(
        "--compare-stock",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="time only the writes, through store.sqlite_driver and the stock adapter in turn",
    )
    args = parser.parse_args()
    if args.compare_stock:
        asyncio.run(_compare(args.records, args.mix, args.merge_delay, args.compare_stock))
        return
    with tempfile.TemporaryDirectory(prefix="bench_audit_") as tmp:
        asyncio.run(
            _run(args.records, args.mix, args.repeat, args.deep, args.merge_delay, Path(tmp))
        )


if __name__ == "__main__":
    main()
