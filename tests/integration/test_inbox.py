"""The durable inbox (``store.inbox``) on SQLite (its own file beside the desk's) and,
with RECON_TEST_POSTGRES_URL, on PostgreSQL: stored before the ack, recorded with the
first audited change, adopted from a dead process only, and committed once whichever
process commits first."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select, update

from domain.audit.records import AuditEntry
from domain.errors import TakenOver
from store import inbox as store_inbox
from store.audit.log import init_audit
from store.audit.signer import Ed25519Signer
from store.engine import Database
from store.inbox import (
    KEEP_DONE,
    MAX_ATTEMPTS,
    SqlInbox,
    inbox_status,
    interaction_key,
    open_inbox_store,
)
from store.tables import audit_records, inbox, once_keys, replicas
from store.uow import SqlUnitOfWorkFactory
from tests.conftest import open_database

T = TypeVar("T")
TIMEOUT = timedelta(seconds=10)


def click(trigger: str = "t-1", **extra: Any) -> dict[str, Any]:
    """A block_actions body as Socket Mode hands it over."""
    return {"type": "block_actions", "trigger_id": trigger, "user": {"id": "U0ALICE"}, **extra}


@dataclass
class Clock:
    now: datetime = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Desk:
    db: Database
    store: Database  # where the inbox's rows live
    uow: SqlUnitOfWorkFactory
    clock: Clock
    seen: list[tuple[str, str]] = field(default_factory=list)

    def process(self, name: str) -> SqlInbox:
        return SqlInbox(
            self.store,
            desk=self.db,
            owner=name,
            host="test",
            pid=1,
            timeout=TIMEOUT,
            now=self.clock,
            observe=lambda event, kind: self.seen.append((event, kind)),
        )

    async def dies(self, name: str) -> None:
        """``name`` stops beating, long enough ago to be taken for dead (on PostgreSQL the
        beats are compared on the database's clock, which the test cannot move)."""
        async with self.store.writer.begin() as conn:
            await conn.execute(
                update(replicas)
                .where(replicas.c.id == name)
                .values(seen_at=datetime(2000, 1, 1, tzinfo=UTC))
            )

    async def audited_change(self, what: str = "item.approved") -> None:
        async with self.uow() as uow:
            entry = AuditEntry(time=self.clock(), event=what, actor="U0ALICE", data={})
            await uow.audit.append([entry])
            await uow.commit()

    async def rows(self) -> list[Any]:
        async with self.store.reader.connect() as conn:
            return list((await conn.execute(select(inbox).order_by(inbox.c.id))).all())

    async def happened(self) -> list[str]:
        """The interaction keys the desk holds (their changes committed)."""
        async with self.db.reader.connect() as conn:
            keys = await conn.execute(
                select(once_keys.c.key).where(once_keys.c.key.startswith("interaction:"))
            )
            return [str(k[0]) for k in keys]

    async def records(self) -> int:
        async with self.db.reader.connect() as conn:
            count = await conn.execute(
                select(func.count()).where(audit_records.c.event == "item.approved")
            )
            return int(count.scalar_one())


@pytest.fixture
async def desk(backend: str, tmp_path: Path) -> AsyncIterator[Desk]:
    from store.migrate import upgrade

    async with open_database(backend, tmp_path) as db:
        await upgrade(db)
        signer = Ed25519Signer.generate()
        clock = Clock()
        async with db.writer.begin() as conn:
            await init_audit(conn, signer=signer, now=clock())
        store = await open_inbox_store(db)
        assert (store is db) == (backend == "postgres")  # SQLite: a file of its own
        yield Desk(
            db=db,
            store=store,
            uow=SqlUnitOfWorkFactory(database=db, signer=signer, anchors=None),
            clock=clock,
        )
        if store is not db:
            await store.dispose()


async def in_listener(work: Callable[[], Awaitable[T]]) -> T:
    """Runs ``work`` as a listener runs: in a task with a context of its own."""
    return await asyncio.create_task(_call(work), context=contextvars.copy_context())


async def _call(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


async def test_an_interaction_is_stored_recorded_with_its_first_change_and_then_done(
    desk: Desk,
) -> None:
    a = desk.process("a")
    await a.beat()

    async def listener() -> None:
        assert await a.receive(click())
        (row,) = await desk.rows()
        assert row.owner == "a" and row.body["trigger_id"] == "t-1" and row.done_at is None
        await desk.audited_change()
        assert await desk.happened() == ["interaction:trigger_id:t-1"]  # with the change
        await desk.audited_change()  # a second change in the same listener: no check
        await a.finish()
        await a.settled()
        (row,) = await desk.rows()
        assert row.done_at is not None and row.body is None

    await in_listener(listener)
    assert await desk.records() == 2
    assert ("stored", "block_actions") in desk.seen


async def test_a_listener_that_changes_nothing_audited_is_done_when_it_ends(desk: Desk) -> None:
    a = desk.process("a")
    await a.beat()

    async def listener() -> None:
        assert await a.receive(click())
        await a.finish()
        await a.settled()

    await in_listener(listener)
    (row,) = await desk.rows()
    assert row.done_at is not None and row.body is None


async def test_what_a_dead_process_acked_is_adopted_once_and_only_from_the_dead(
    desk: Desk,
) -> None:
    dead, live = desk.process("dead"), desk.process("live")
    await dead.beat()
    await live.beat()
    await in_listener(lambda: dead.receive(click("t-dead")))  # acked, then SIGKILL
    assert await live.adopt() == []  # still beating a moment ago

    await desk.dies("dead")
    (adopted,) = await live.adopt()
    assert adopted.body["trigger_id"] == "t-dead" and adopted.receipt.replayed
    assert await live.adopt() == []  # taken: not adopted twice
    (row,) = await desk.rows()
    assert row.owner == "live" and row.attempts == 1
    assert ("adopted", "block_actions") in desk.seen

    async def replay() -> None:
        SqlInbox.bind(adopted.receipt)
        assert live.resume() and adopted.receipt.started
        await desk.audited_change()
        await live.finish()
        await live.settled()

    await in_listener(replay)
    assert adopted.receipt.finished.is_set()
    (row,) = await desk.rows()
    assert row.done_at is not None


async def test_a_process_never_adopts_its_own_rows_even_when_its_beat_is_late(
    desk: Desk,
) -> None:
    a = desk.process("a")
    await a.beat()
    await in_listener(lambda: a.receive(click()))
    desk.clock.now += TIMEOUT * 3  # its loop stalled: no beat for a while
    assert await a.adopt() == []


async def test_a_process_that_leaves_has_its_rows_adopted_at_once(desk: Desk) -> None:
    a, b = desk.process("a"), desk.process("b")
    await a.beat()
    await b.beat()
    await in_listener(lambda: a.receive(click()))
    await a.leave()
    (adopted,) = await b.adopt()
    assert adopted.receipt.owner == "b"


async def test_a_slow_process_whose_interaction_was_adopted_rolls_its_change_back(
    desk: Desk,
) -> None:
    slow, other = desk.process("slow"), desk.process("other")
    await slow.beat()
    await other.beat()
    started, adopted_now = asyncio.Event(), asyncio.Event()

    async def slow_listener() -> None:
        assert await slow.receive(click())
        started.set()
        await adopted_now.wait()  # meanwhile taken for dead and adopted
        await desk.audited_change()

    task = asyncio.create_task(slow_listener(), context=contextvars.copy_context())
    await started.wait()
    await desk.dies("slow")
    (adopted,) = await other.adopt()

    async def replay() -> None:
        SqlInbox.bind(adopted.receipt)
        await desk.audited_change()
        await other.finish()
        await other.settled()

    await in_listener(replay)
    adopted_now.set()
    with pytest.raises(TakenOver):
        await task
    assert await desk.records() == 1  # once, by the adopter


async def test_nothing_is_adopted_once_the_slow_process_committed(desk: Desk) -> None:
    slow, other = desk.process("slow"), desk.process("other")
    await slow.beat()
    await other.beat()

    async def slow_listener() -> None:
        assert await slow.receive(click())
        await desk.audited_change()  # committed, then it died before it finished

    await in_listener(slow_listener)
    await desk.dies("slow")
    assert await other.adopt() == []  # its change is in: marked done, not run again
    (row,) = await desk.rows()
    assert row.done_at is not None
    assert await desk.records() == 1


async def test_a_copy_slack_delivers_again_runs_only_when_the_first_is_dead_and_undone(
    desk: Desk,
) -> None:
    a, b = desk.process("a"), desk.process("b")
    await a.beat()
    await b.beat()
    await in_listener(lambda: a.receive(click("t-9")))
    # a lives: the copy is acked and dropped
    assert not await in_listener(lambda: b.receive(click("t-9")))
    assert ("duplicate", "block_actions") in desk.seen

    await desk.dies("a")  # it died before its ack (so Slack sent the copy)

    async def copy() -> bool:
        taken = await b.receive(click("t-9", actions=[{"action_id": "again"}]))
        await b.finish()
        await b.settled()
        return taken

    assert await in_listener(copy)
    (row,) = await desk.rows()
    assert row.owner == "b" and row.done_at is not None
    # Once done, a later copy is dropped whoever is alive.
    assert not await in_listener(lambda: b.receive(click("t-9")))


async def test_an_interaction_adopted_too_often_is_given_up(desk: Desk) -> None:
    await in_listener(lambda: desk.process("gone").receive(click()))
    for n in range(MAX_ATTEMPTS):
        taker = desk.process(f"p{n}")
        await taker.beat()
        adopted = await taker.adopt()
        await desk.dies(f"p{n}")
        if n < MAX_ATTEMPTS - 1:
            assert len(adopted) == 1  # and its process dies running it
        else:
            assert adopted == []
    (row,) = await desk.rows()
    assert row.done_at is not None and row.body is None
    assert ("abandoned", "block_actions") in desk.seen


async def test_done_rows_and_silent_processes_are_forgotten(desk: Desk) -> None:
    a = desk.process("a")
    await a.beat()

    async def listener() -> None:
        await a.receive(click())
        await desk.audited_change()
        await a.finish()
        await a.settled()

    await in_listener(listener)
    async with desk.store.writer.begin() as conn:
        await conn.execute(update(replicas).values(seen_at=desk.clock.now - timedelta(days=2)))
    # (the key is stamped by the unit of work, with the time it reads itself)
    desk.clock.now = datetime.now(UTC) + KEEP_DONE + timedelta(seconds=1)
    await a.forget()
    assert await desk.rows() == []
    assert await desk.happened() == []
    async with desk.store.reader.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(replicas))).scalar() == 0


async def test_an_interaction_runs_unstored_when_the_store_is_away(desk: Desk) -> None:
    a = desk.process("a")
    a._db = _Broken()  # type: ignore[assignment]  # every connection fails

    async def listener() -> bool:
        taken = await a.receive(click())
        assert a.current() is None  # nothing to mark done later
        return taken

    assert await in_listener(listener)
    assert desk.seen == [("unstored", "block_actions")]


class _Broken:
    @property
    def writer(self) -> Any:
        raise OSError("database away")


def test_an_interaction_is_named_by_its_trigger_or_event_id() -> None:
    assert interaction_key({"trigger_id": "1.2"}) == "trigger_id:1.2"
    assert interaction_key({"event_id": "Ev1", "type": "event_callback"}) == "event_id:Ev1"
    assert interaction_key({"type": "block_actions"}) is None


async def test_status_shows_the_live_processes_and_what_is_not_finished(desk: Desk) -> None:
    desk.clock.now = datetime.now(UTC)  # status reads the time itself (a CLI process)
    a = desk.process("a")
    await a.beat()
    await in_listener(lambda: a.receive(click()))
    seen = await inbox_status(desk.store, silent_for=TIMEOUT)
    assert seen.live == ["a"] and seen.waiting == 1 and seen.oldest_waiting_at == desk.clock()
    await desk.dies("a")
    seen = await inbox_status(desk.store, silent_for=TIMEOUT)
    assert seen.live == [] and seen.waiting == 1


async def test_interactions_arriving_together_are_stored_and_a_copy_among_them_refused(
    desk: Desk,
) -> None:
    a = desk.process("a")
    await a.beat()
    triggers = ["t-1", "t-2", "t-3", "t-2"]  # the last: a copy, in the same batch
    taken = await asyncio.gather(
        *(in_listener(lambda t=t: a.receive(click(t))) for t in triggers)  # type: ignore[misc]
    )
    assert taken == [True, True, True, False]
    rows = await desk.rows()
    assert [r.key for r in rows] == ["trigger_id:t-1", "trigger_id:t-2", "trigger_id:t-3"]
    assert desk.seen.count(("stored", "block_actions")) == 3


class _SlowCommit:
    """The inbox's store, whose commits take ``delay`` seconds (a busy disk)."""

    def __init__(self, db: Database, delay: float) -> None:
        self._db, self._delay = db, delay
        self.writer = self
        self.reader = db.reader

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[Any]:
        async with self._db.writer.begin() as conn:
            yield conn
            await asyncio.sleep(self._delay)  # before the commit


async def test_a_row_stored_after_its_listener_stopped_waiting_is_done_at_once(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = desk.process("a")
    await a.beat()
    monkeypatch.setattr(store_inbox, "STORE_WITHIN_S", 0.05)
    a._db = _SlowCommit(desk.store, delay=0.3)  # type: ignore[assignment]
    assert await in_listener(lambda: a.receive(click()))  # ran unstored: the ack waited enough
    assert desk.seen == [("unstored", "block_actions")]
    await asyncio.sleep(0.4)  # the commit lands after all
    await a.settled()
    (row,) = await desk.rows()
    assert row.done_at is not None  # not left to be run again once this process is gone
