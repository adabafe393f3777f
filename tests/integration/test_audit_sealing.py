"""Batched checkpoints on a real SQLite store: the merge delay, the stop path, a crash.

The clock is a :class:`tests.fakes.FixedClock`: the tests move time by hand, so "within
the merge delay" is checked against the times the desk itself records.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import Server
from bot.container import Container
from bot.settings import Settings
from bot.setup import initialize
from domain.audit.records import AuditEntry
from handlers.notifier import make_client
from store.audit.anchors import AnchorFile
from store.audit.bundle import export_bundle, verify_bundle
from store.audit.log import init_audit, latest_checkpoint, unsealed_tail
from store.audit.sealer import AuditSealer
from store.audit.signer import Ed25519Signer
from store.audit.verification import verify_database
from store.engine import Database, create_database
from store.tables import audit_checkpoints, audit_records, metadata
from store.uow import SqlUnitOfWorkFactory
from tests.fakes import T0, FixedClock

DELAY = timedelta(seconds=1)


def click(clock: FixedClock, n: int) -> AuditEntry:
    return AuditEntry(
        time=clock.now(),
        event="item.approved",
        actor="U0REVIEWER",
        item_id=n,
        item=f"R-{n}",
        from_state="assigned",
        to_state="approved",
        policy_version="sha256:abc",
        data={"note": f"click {n}"},
    )


@dataclass
class Desk:
    db: Database
    signer: Ed25519Signer
    anchors: AnchorFile
    clock: FixedClock
    sealer: AuditSealer
    uow: SqlUnitOfWorkFactory
    clicks: int = 0

    async def click(self, records: int = 1) -> None:
        async with self.uow() as work:
            await work.audit.append([click(self.clock, self.clicks + i) for i in range(records)])
            await work.commit()
        self.clicks += records

    async def checkpoints(self) -> int:
        async with self.db.reader.connect() as conn:
            query = select(func.count()).select_from(audit_checkpoints)
            return int((await conn.execute(query)).scalar_one())

    async def tail(self) -> tuple[int, int] | None:
        async with self.db.reader.connect() as conn:
            return await unsealed_tail(conn)

    def another_process(self) -> AuditSealer:
        """The same store seen by a second process (its own engines and sealer)."""
        return AuditSealer(
            database=create_database(self.db.url),
            signer=self.signer,
            anchors=self.anchors,
            clock=self.clock,
            merge_delay=DELAY,
        )


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'recon.db'}")
    signer = Ed25519Signer.generate()
    clock = FixedClock(T0)
    async with db.writer.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await init_audit(conn, signer=signer, now=clock.now())
    anchors = AnchorFile(tmp_path / "anchors.jsonl")
    sealer = AuditSealer(
        database=db, signer=signer, anchors=anchors, clock=clock, merge_delay=DELAY
    )
    uow = SqlUnitOfWorkFactory(database=db, signer=signer, anchors=anchors, sealer=sealer)
    yield Desk(db=db, signer=signer, anchors=anchors, clock=clock, sealer=sealer, uow=uow)
    await db.dispose()


async def test_a_click_on_an_idle_desk_is_signed_in_its_own_commit(desk: Desk) -> None:
    await desk.click(2)

    assert await desk.checkpoints() == 1
    assert await desk.tail() is None
    assert desk.anchors.read()[-1].size == 2


async def test_clicks_under_load_are_covered_by_one_checkpoint_within_the_delay(
    desk: Desk,
) -> None:
    await desk.click()  # seals itself: the desk was idle
    commits = []
    for _ in range(5):
        desk.clock.advance(timedelta(milliseconds=150))
        commits.append(desk.clock.now())
        await desk.click(2)

    assert await desk.checkpoints() == 1
    assert await desk.tail() == (2, 11)
    desk.clock.set(commits[0] + DELAY - timedelta(milliseconds=1))
    assert await desk.sealer.seal_if_due() is None  # not due yet: nothing signed

    desk.clock.set(commits[0] + DELAY)
    checkpoint = await desk.sealer.seal_if_due()

    assert checkpoint is not None and checkpoint.size == 11
    assert all(checkpoint.time - commit <= DELAY for commit in commits)
    assert await desk.tail() is None
    assert desk.anchors.read()[-1] == checkpoint
    report = await verify_database(desk.db, anchors=desk.anchors)
    assert report.ok and (report.records, report.checkpoints) == (11, 2)


async def test_the_sealer_task_seals_without_being_asked(desk: Desk) -> None:
    fast = AuditSealer(
        database=desk.db,
        signer=desk.signer,
        anchors=desk.anchors,
        clock=desk.clock,
        merge_delay=timedelta(milliseconds=50),
    )
    uow = SqlUnitOfWorkFactory(database=desk.db, signer=desk.signer, anchors=None, sealer=fast)
    desk.uow = uow
    await desk.click()
    desk.clock.advance(timedelta(milliseconds=10))
    await desk.click(3)
    assert await desk.tail() == (2, 4)

    stop = asyncio.Event()
    task = asyncio.create_task(fast.run(stop))
    try:
        async with asyncio.timeout(10):
            for _ in range(500):  # polls the store: the sealer's only trace is its checkpoint
                if await desk.tail() is None:
                    break
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task

    async with desk.db.reader.connect() as conn:
        newest = await latest_checkpoint(conn)
    assert newest is not None and newest.size == 4


async def test_a_pending_tail_is_not_yet_checkpointed_and_an_overdue_one_fails(
    desk: Desk,
) -> None:
    await desk.click()
    desk.clock.advance(timedelta(milliseconds=200))
    await desk.click(2)
    now = desk.clock.now()

    pending = await verify_database(desk.db, anchors=desk.anchors, now=now, merge_delay=DELAY)
    strict = await verify_database(desk.db, anchors=desk.anchors)
    overdue = await verify_database(
        desk.db, anchors=desk.anchors, now=now + timedelta(minutes=5), merge_delay=DELAY
    )

    assert pending.ok and (pending.records, pending.pending) == (3, 2)
    assert "2 newest record(s) (from 2) not yet checkpointed" in pending.summary()
    assert (strict.reason, strict.first_bad_seq) == ("unsigned_tail", 2)
    assert (overdue.reason, overdue.first_bad_seq) == ("unsigned_tail", 2)
    assert overdue.problem is not None
    assert "longer ago than the merge delay (1 s)" in overdue.problem
    assert "stopped without sealing" in overdue.problem


async def test_a_pending_tail_still_shows_tampering_inside_it(desk: Desk) -> None:
    await desk.click()
    desk.clock.advance(timedelta(milliseconds=200))
    await desk.click(2)
    forged = audit_records.update().where(audit_records.c.seq == 3).values(hash="0" * 64)
    async with desk.db.writer.begin() as conn:
        await conn.execute(forged)

    report = await verify_database(
        desk.db, anchors=desk.anchors, now=desk.clock.now(), merge_delay=DELAY
    )

    assert (report.reason, report.first_bad_seq) == ("hash", 3)


async def test_a_crash_before_the_seal_leaves_a_tail_the_next_start_seals(desk: Desk) -> None:
    await desk.click()
    desk.clock.advance(timedelta(milliseconds=100))
    await desk.click(2)
    # The process dies here: no close, no seal. Later, a new process starts.
    desk.clock.advance(timedelta(minutes=10))
    restarted = desk.another_process()
    try:
        before = await verify_database(
            desk.db, anchors=desk.anchors, now=desk.clock.now(), merge_delay=DELAY
        )
        checkpoint = await restarted.seal()
    finally:
        await restarted._database.dispose()

    assert (before.reason, before.first_bad_seq) == ("unsigned_tail", 2)
    assert checkpoint is not None and checkpoint.size == 3
    after = await verify_database(
        desk.db, anchors=desk.anchors, now=desk.clock.now(), merge_delay=DELAY
    )
    assert after.ok and after.pending == 0 and after.anchors == 2


async def test_two_processes_sealing_at_once_sign_one_checkpoint(desk: Desk) -> None:
    await desk.click()
    desk.clock.advance(timedelta(milliseconds=100))
    await desk.click(2)
    other = desk.another_process()
    try:
        signed = await asyncio.gather(desk.sealer.seal(), other.seal())
    finally:
        await other._database.dispose()

    assert sorted(c is None for c in signed) == [False, True]
    assert await desk.checkpoints() == 2
    assert await desk.sealer.seal() is None  # nothing left: no empty checkpoint either


async def test_the_serve_stop_path_seals_what_reviewers_did(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'recon.db'}",
        policy=tmp_path / "policy.yml",
        audit_key=tmp_path / "audit.pem",
        audit_anchors=tmp_path / "anchors.jsonl",
        audit_merge_delay=30.0,
    )
    await initialize(settings)
    clock = FixedClock(T0)
    container = await Container.open(settings, clock=clock, batch_seals=True)
    try:
        for n in range(3):
            async with container.uow() as work:
                await work.audit.append([click(clock, n)])
                await work.commit()
            clock.advance(timedelta(seconds=1))
        async with container.database.reader.connect() as conn:
            assert await unsealed_tail(conn) is not None  # two clicks wait for the sealer
        server = Server(
            container=container,
            app_token="xapp-unused",
            client=make_client(token="xoxb-unused", base_url="http://127.0.0.1:9/api/"),
        )

        await server.shutdown()

        async with container.database.reader.connect() as conn:
            assert await unsealed_tail(conn) is None
        report = await verify_database(container.database, anchors=container.anchors)
        assert report.ok, report.problem
    finally:
        await container.close()


async def test_appends_stay_one_chain_when_the_cached_head_is_stale(desk: Desk) -> None:
    """The unit of work skips reading the head row it wrote last; another process's
    append or a rolled-back transaction makes that hint stale, and the chain must hold."""
    other_db = create_database(desk.db.url)
    other = SqlUnitOfWorkFactory(database=other_db, signer=desk.signer, anchors=desk.anchors)
    try:
        await desk.click(2)
        async with other() as work:  # another process appends behind this one's back
            await work.audit.append([click(desk.clock, 100)])
            await work.commit()
        async with desk.uow() as work:  # this one appends, then rolls back
            await work.audit.append([click(desk.clock, 200)])
        await desk.click(3)
        async with other() as work:
            await work.audit.append([click(desk.clock, 300)])
            await work.commit()
        await desk.click()
        await desk.sealer.seal()
    finally:
        await other_db.dispose()

    report = await verify_database(desk.db, anchors=desk.anchors)
    assert report.ok, report.problem
    assert report.records == 2 + 1 + 3 + 1 + 1


async def test_an_export_leaves_a_pending_tail_out_but_not_an_overdue_one(
    desk: Desk, tmp_path: Path
) -> None:
    await desk.click()
    desk.clock.advance(timedelta(milliseconds=200))
    await desk.click(2)
    now = desk.clock.now()

    busy = await export_bundle(
        desk.db, tmp_path / "busy", anchors=desk.anchors, now=now, merge_delay=DELAY
    )
    late = await export_bundle(
        desk.db,
        tmp_path / "late",
        anchors=desk.anchors,
        now=now + timedelta(minutes=5),
        merge_delay=DELAY,
    )

    assert (busy.records, busy.pending) == (1, 2)
    assert verify_bundle(tmp_path / "busy").ok
    assert (late.records, late.pending) == (3, 0)
    assert verify_bundle(tmp_path / "late").reason == "unsigned_tail"


async def test_the_next_start_seals_the_tail_a_crashed_serve_left(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'recon.db'}",
        policy=tmp_path / "policy.yml",
        audit_key=tmp_path / "audit.pem",
        audit_anchors=tmp_path / "anchors.jsonl",
        audit_merge_delay=30.0,
    )
    await initialize(settings)
    clock = FixedClock(T0)
    crashed = await Container.open(settings, clock=clock, batch_seals=True)
    for n in range(2):
        async with crashed.uow() as work:
            await work.audit.append([click(clock, n)])
            await work.commit()
        clock.advance(timedelta(seconds=1))
    await crashed.database.dispose()  # killed: no shutdown, no close, no seal
    clock.advance(timedelta(minutes=5))

    restarted = await Container.open(settings, clock=clock)
    try:
        async with restarted.database.reader.connect() as conn:
            assert await unsealed_tail(conn) is None
        report = await verify_database(
            restarted.database, anchors=restarted.anchors, now=clock.now(), merge_delay=DELAY
        )
        assert report.ok and report.pending == 0, report.problem
    finally:
        await restarted.close()
