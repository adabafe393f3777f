"""The outbox and its relay on real databases (SQLite always, PostgreSQL when configured).

Slack is a ``RecordingNotifier`` (scripted outcomes, every call recorded with the card
location it was given); time is a settable wall clock plus a fake monotonic clock whose
``sleep`` advances virtual time, so pacing is checked without waiting. The few tests of
``run()`` use the real event loop with short intervals, always bounded by timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

import store.outbox as outbox_module
from domain.delivery import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    MAX_RETRY_AGE,
    RATE_LIMIT_JITTER,
    Failed,
    MessageLocation,
    OutboxMessage,
    Outcome,
    RateLimited,
    Sent,
    Skipped,
    classify_error,
)
from domain.items import Route
from domain.notifications import NoticeKind, Notification
from domain.templates import DeliveryFailed
from scheduler.relay import OutboxRelay
from store.engine import Database, create_database
from store.outbox import SLACK_KINDS, OutboxStore, RowState
from store.outbox_sink import SqlOutboxSink
from store.repositories import SqlItemRepository
from store.tables import item_cards, outbox
from tests.builders import make_facts, make_item

NOW = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
LEASE = timedelta(seconds=60)
SEED = 20261120
COMPLIANCE = "C0COMPLIANCE"
TEAM = "C0TREASURY"
#: The Slack errors the issue says no retry can fix.
LISTED_PERMANENT = (
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "missing_scope",
    "invalid_blocks",
)


# --- fakes ---------------------------------------------------------------------------------


class FakeClock:
    """The wall clock the relay reads (``Clock`` port); tests set it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def set(self, when: datetime) -> None:
        self.current = when

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class FakeTime:
    """A fake monotonic clock and ``sleep``: sleeping records the wait and moves time on.

    A sleep ends at (its start + the wait), and time never goes back, so two targets that
    sleep side by side (as real ``asyncio.sleep`` calls would) cost one interval, not two.
    ``wall``, when given, moves with it (a long pass takes wall-clock time too).
    """

    def __init__(self, wall: FakeClock | None = None) -> None:
        self.value = 0.0
        self.waits: list[float] = []
        self.wall = wall
        self.on_sleep: Callable[[], Awaitable[None]] | None = None

    def monotonic(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds
        if self.wall is not None:
            self.wall.advance(seconds)

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        wake_at = self.value + seconds
        await asyncio.sleep(0)  # let other targets run meanwhile, as a real sleep would
        if wake_at > self.value:
            self.advance(wake_at - self.value)
        if self.on_sleep is not None:
            await self.on_sleep()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One ``deliver`` call as the notifier saw it."""

    message: OutboxMessage
    card: tuple[str, str] | None
    now: datetime
    at: float  # fake monotonic time of the call


Scripted = Outcome | Exception


class RecordingNotifier:
    """A fake ``domain.ports.Notifier``: scripted outcomes, every call recorded.

    Outcomes come from the target's script first, then from the per-call script, then
    default to ``Sent`` in the target channel with a fresh ``ts``. A scripted exception
    is raised instead of returned. ``latency`` (fake seconds) is how long Slack takes.
    """

    def __init__(
        self,
        *,
        by_target: dict[str, Sequence[Scripted]] | None = None,
        by_call: Sequence[Scripted] = (),
        time: FakeTime | None = None,
        latency: float = 0.0,
    ) -> None:
        self.by_target = {target: list(s) for target, s in (by_target or {}).items()}
        self.by_call = list(by_call)
        self.time = time
        self.latency = latency
        self.calls: list[Call] = []
        self._called = asyncio.Event()

    async def deliver(
        self, message: OutboxMessage, *, card: tuple[str, str] | None, now: datetime
    ) -> Outcome:
        at = self.time.monotonic() if self.time is not None else 0.0
        self.calls.append(Call(message=message, card=card, now=now, at=at))
        self._called.set()
        outcome: Scripted
        if self.by_target.get(message.target):
            outcome = self.by_target[message.target].pop(0)
        elif self.by_call:
            outcome = self.by_call.pop(0)
        else:
            outcome = Sent(channel=message.target, ts=f"1795185000.{len(self.calls):06d}")
        if self.time is not None and self.latency:
            self.time.advance(self.latency)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def keys(self) -> list[str]:
        return [c.message.dedupe_key for c in self.calls]

    def calls_to(self, target: str) -> list[Call]:
        return [c for c in self.calls if c.message.target == target]

    async def wait_for_calls(self, n: int) -> None:
        while len(self.calls) < n:
            self._called.clear()
            await self._called.wait()


class ObservedStore(OutboxStore):
    """The real store; ``first_claim`` is set once the relay has finished a claim."""

    def __init__(self, database: Database, *, fail_first_claims: int = 0) -> None:
        super().__init__(database)
        self.claims = 0
        self.first_claim = asyncio.Event()
        self._fail = fail_first_claims

    async def claim(
        self, *, now: datetime, lease: timedelta, limit: int, kinds=SLACK_KINDS
    ) -> list[OutboxMessage]:
        self.claims += 1
        if self.claims <= self._fail:
            raise ConnectionError("database went away")
        claimed = await super().claim(now=now, lease=lease, limit=limit, kinds=kinds)
        self.first_claim.set()
        return claimed


def make_relay(
    store: OutboxStore,
    notifier: RecordingNotifier,
    clock: FakeClock,
    time: FakeTime | None = None,
    **options: Any,
) -> OutboxRelay:
    time = time or FakeTime()
    return OutboxRelay(
        store=store,
        notifier=notifier,
        clock=clock,
        compliance_channel=lambda: COMPLIANCE,
        rng=random.Random(SEED),
        sleep=time.sleep,
        monotonic=time.monotonic,
        **options,
    )


# --- helpers -------------------------------------------------------------------------------

#: For tests of the relay's own logic (pacing, run(), outcome handling) over store calls
#: that other tests already run on both backends: each PostgreSQL test pays for a schema
#: and its migrations, and the whole suite must stay fast.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


def message(key: str, target: str = TEAM, **payload: Any) -> Notification:
    return Notification.stored(kind=NoticeKind.ALERT, target=target, dedupe_key=key, data=payload)


def card(item_id: int, version: int, target: str = TEAM) -> Notification:
    return Notification.stored(
        kind=NoticeKind.CARD,
        target=target,
        dedupe_key=f"card:{item_id}:v{version}",
        item_id=item_id,
        data={"version": version, "post_if_missing": True},
    )


def home(user: str, window_end: datetime) -> Notification:
    return Notification.stored(
        kind=NoticeKind.HOME,
        target=user,
        dedupe_key=f"home:{user}:{window_end.isoformat()}",
        data={"not_before": window_end.isoformat()},
    )


def ceiling(failures: int) -> timedelta:
    return min(BACKOFF_CAP, BACKOFF_BASE * (1 << min(failures, 30)))


async def add_item(db: Database, external_id: str = "x-1") -> int:
    item = make_item(
        id=None,
        facts=make_facts(
            source="bank",
            external_id=external_id,
            amount="1234.56",
            counterparty=None,
            aging_days=None,
            reference=None,
        ),
        content_hash="h" * 64,
        route=Route.IMMEDIATE,
        priority=120,
        reasons=("amount 1234.56 USD >= materiality 1000",),
        now=NOW,
    )
    async with db.writer.begin() as conn:
        stored = await SqlItemRepository(conn).add(item)
    assert stored.id is not None
    return stored.id


async def outbox_rows(db: Database) -> dict[str, dict[str, Any]]:
    """Every outbox row (all columns), by dedupe key."""
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(outbox).order_by(outbox.c.id))).mappings().all()
    return {r["dedupe_key"]: dict(r) for r in rows}


def compliance_alerts(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows.values() if r["kind"] == "alert" and r["target"] == COMPLIANCE]


def dead_events(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if getattr(r, "event", None) == "delivery_dead" and r.levelno == logging.ERROR
    ]


@contextlib.asynccontextmanager
async def second_process(db: Database) -> AsyncIterator[Database]:
    """Engines of their own on the same database, as another ``recon-bot`` process has."""
    if db.is_sqlite:
        other = create_database(db.url)
    else:
        async with db.reader.connect() as conn:
            schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
        other = create_database(db.url, search_path=schema)
    try:
        yield other
    finally:
        await other.dispose()


# --- enqueue -------------------------------------------------------------------------------


async def test_enqueue_is_idempotent_on_the_dedupe_key(migrated: Database) -> None:
    store = OutboxStore(migrated)
    first = message("alert:x", note="first")
    await store.enqueue([first], now=NOW)
    await store.enqueue(
        [message("alert:x", note="again"), message("alert:y")],
        now=NOW + timedelta(seconds=5),
    )
    async with migrated.writer.begin() as conn:
        await SqlOutboxSink(conn).enqueue([first, first, message("alert:y")], now=NOW)

    rows = await outbox_rows(migrated)
    assert list(rows) == ["alert:x", "alert:y"]
    assert rows["alert:x"]["payload"] == {"note": "first"}
    assert rows["alert:x"]["created_at"] == NOW
    assert rows["alert:x"]["state"] == "pending"
    assert (rows["alert:x"]["attempts"], rows["alert:x"]["failures"]) == (0, 0)
    assert await store.counts() == {"pending": 2}


async def test_enqueued_rows_vanish_with_a_rolled_back_change(migrated: Database) -> None:
    with pytest.raises(RuntimeError, match="state change failed"):
        async with migrated.writer.begin() as conn:
            await SqlOutboxSink(conn).enqueue([message("alert:rolled-back")], now=NOW)
            raise RuntimeError("state change failed")
    assert await outbox_rows(migrated) == {}


async def test_home_refresh_waits_for_its_debounce_window(migrated: Database) -> None:
    store = OutboxStore(migrated)
    window_end = NOW + timedelta(seconds=2)
    await store.enqueue([home("U0ALICE", window_end)], now=NOW)
    assert (await outbox_rows(migrated))[f"home:U0ALICE:{window_end.isoformat()}"][
        "available_at"
    ] == window_end
    assert await store.claim(now=NOW, lease=LEASE, limit=10) == []
    assert len(await store.claim(now=window_end, lease=LEASE, limit=10)) == 1


# --- leases and crash recovery -------------------------------------------------------------


async def test_claim_leases_rows_until_the_lease_expires(migrated: Database) -> None:
    store = OutboxStore(migrated)
    await store.enqueue([message("m1"), message("m2", target="C0OTHER")], now=NOW)

    claimed = await store.claim(now=NOW, lease=LEASE, limit=10)
    assert [(m.dedupe_key, m.attempts, m.failures) for m in claimed] == [
        ("m1", 1, 0),
        ("m2", 1, 0),
    ]
    rows = await outbox_rows(migrated)
    assert {r["state"] for r in rows.values()} == {"sending"}
    assert {r["lease_expires_at"] for r in rows.values()} == {NOW + LEASE}

    async with second_process(migrated) as other_db:
        other = OutboxStore(other_db)
        assert await other.claim(now=NOW, lease=LEASE, limit=10) == []
        assert (
            await store.claim(now=NOW + LEASE - timedelta(seconds=1), lease=LEASE, limit=10) == []
        )
        assert await other.claim(now=NOW + LEASE, lease=LEASE, limit=10) == []

        later = NOW + LEASE + timedelta(seconds=1)
        back = await other.claim(now=later, lease=LEASE, limit=10)
        assert [(m.dedupe_key, m.attempts) for m in back] == [("m1", 2), ("m2", 2)]
        assert await store.claim(now=later, lease=LEASE, limit=10) == []


async def test_crashed_relays_rows_come_back_and_each_is_delivered_once(
    migrated: Database,
) -> None:
    store = OutboxStore(migrated)
    keys = [f"m{i}" for i in range(5)]
    await store.enqueue([message(k, target=f"C0T{i % 3}") for i, k in enumerate(keys)], now=NOW)
    # A relay claims three rows, then its process dies before calling Slack.
    crashed = await store.claim(now=NOW, lease=LEASE, limit=3)
    assert len(crashed) == 3

    clock = FakeClock()
    notifier = RecordingNotifier()
    async with second_process(migrated) as other_db:
        relay = make_relay(OutboxStore(other_db), notifier, clock)
        assert (await relay.run_once()).sent == 2
        assert sorted(notifier.keys()) == ["m3", "m4"]

        clock.advance((LEASE + timedelta(seconds=1)).total_seconds())
        assert (await relay.run_once()).sent == 3
        clock.advance(3600)
        assert (await relay.run_once()).claimed == 0

    assert Counter(notifier.keys()) == dict.fromkeys(keys, 1)
    rows = await outbox_rows(migrated)
    assert {k: (r["state"], r["attempts"]) for k, r in rows.items()} == {
        "m0": ("sent", 2),
        "m1": ("sent", 2),
        "m2": ("sent", 2),
        "m3": ("sent", 1),
        "m4": ("sent", 1),
    }


async def test_a_row_taken_back_from_a_dead_relay_arrives_in_doubt(migrated: Database) -> None:
    store = OutboxStore(migrated)
    await store.enqueue([message("m1"), message("m2", target="C0OTHER")], now=NOW)
    first = await store.claim(now=NOW, lease=LEASE, limit=10)
    assert [m.unsure_since for m in first] == [None, None]  # never attempted before
    # The process dies while sending: it may have reached Slack, it recorded nothing.
    later = NOW + LEASE + timedelta(seconds=1)
    await store.enqueue([message("m3")], now=later)
    back = {m.dedupe_key: m for m in await store.claim(now=later, lease=LEASE, limit=10)}
    assert back["m1"].unsure_since == back["m2"].unsure_since == NOW  # their created_at
    assert back["m3"].unsure_since is None


async def test_a_message_in_doubt_stays_in_doubt_until_its_outcome_is_recorded(
    migrated: Database,
) -> None:
    """A failed lookup (or a failed re-send) must not turn it into a plain pending row."""
    store = OutboxStore(migrated)
    await store.enqueue([message("m1")], now=NOW)
    await store.claim(now=NOW, lease=LEASE, limit=10)  # the relay that died
    clock = FakeClock(NOW + LEASE + timedelta(seconds=1))
    notifier = RecordingNotifier(by_call=[Failed(error="internal_error", permanent=False)])
    relay = make_relay(store, notifier, clock)
    assert (await relay.run_once()).retried == 1
    assert notifier.calls[0].message.unsure_since == NOW
    row = (await outbox_rows(migrated))["m1"]
    assert row["state"] == "sending"  # parked in doubt until the retry time
    assert row["lease_expires_at"] == row["available_at"] > clock.now()

    assert (await relay.run_once()).claimed == 0  # not before its retry time
    clock.set(row["lease_expires_at"] + timedelta(seconds=1))
    assert (await relay.run_once()).sent == 1
    assert notifier.calls[1].message.unsure_since == NOW  # still looked for
    assert (await outbox_rows(migrated))["m1"]["state"] == "sent"


async def test_a_card_post_waits_for_a_live_claim_and_inherits_a_lapsed_ones_doubt(
    migrated: Database,
) -> None:
    """A newer version of a card never posts beside a copy the dead relay may have left."""
    item_id = await add_item(migrated)
    store = OutboxStore(migrated)
    await store.enqueue([card(item_id, 1)], now=NOW)
    await store.claim(now=NOW, lease=LEASE, limit=10)  # v1 in flight when the process died
    later = NOW + timedelta(seconds=5)
    await store.enqueue([card(item_id, 2)], now=later)
    clock = FakeClock(later)
    notifier = RecordingNotifier()
    relay = make_relay(store, notifier, clock)

    assert (await relay.run_once()).sent == 0  # v1's lease is live: v2 waits
    assert notifier.calls == []
    rows = await outbox_rows(migrated)
    assert rows[f"card:{item_id}:v2"]["state"] == "pending"
    assert rows[f"card:{item_id}:v2"]["failures"] == 0

    clock.set(NOW + LEASE + timedelta(seconds=1))  # v1's lease lapsed: both come back
    stats = await relay.run_once()
    assert (stats.sent, stats.superseded) == (1, 1)
    (call,) = notifier.calls
    assert call.message.dedupe_key == f"card:{item_id}:v2"
    assert call.message.unsure_since == NOW  # v1's doubt: look before posting
    assert await store.card_location(item_id) is not None


async def test_another_claim_on_the_same_card_is_live_or_lapsed(migrated: Database) -> None:
    item_id, other_item = await add_item(migrated), await add_item(migrated, "x-2")
    store = OutboxStore(migrated)
    await store.enqueue([card(item_id, 1)], now=NOW)
    await store.claim(now=NOW, lease=LEASE, limit=10)
    await store.enqueue([card(item_id, 2), card(other_item, 1)], now=NOW)
    v2, other = await store.claim(now=NOW, lease=LEASE, limit=10)
    assert await store.card_post_in_flight(other, now=NOW) is None
    live = await store.card_post_in_flight(v2, now=NOW)
    assert live is not None and live.live and live.unsure_since is None
    lapsed = await store.card_post_in_flight(v2, now=NOW + LEASE + timedelta(seconds=1))
    assert lapsed is not None and not lapsed.live and lapsed.unsure_since == NOW


class FinishedMeanwhileStore(OutboxStore):
    """The real store; ``meanwhile`` runs once, right after the relay read a card's
    location (the moment another process may finish that card)."""

    def __init__(self, database: Database, *, meanwhile: Callable[[], Awaitable[None]]) -> None:
        super().__init__(database)
        self._meanwhile: Callable[[], Awaitable[None]] | None = meanwhile

    async def card_location(self, item_id: int) -> MessageLocation | None:
        found = await super().card_location(item_id)
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            await meanwhile()
        return found


async def test_a_card_another_process_finishes_between_the_relays_reads_is_not_posted_again(
    migrated: Database,
) -> None:
    """The replica run's second card: the relay read "no card yet" just before another
    process recorded v1's post, then found no claim in flight, and posted v2 beside it."""
    item_id = await add_item(migrated)
    store = OutboxStore(migrated)
    await store.enqueue([card(item_id, 1)], now=NOW)
    (v1,) = await store.claim(now=NOW, lease=LEASE, limit=10)  # the other process's
    await store.enqueue([card(item_id, 2)], now=NOW)
    theirs = RecordingNotifier()

    async def the_other_process_posts_v1() -> None:
        posted = await theirs.deliver(v1, card=None, now=NOW)
        assert isinstance(posted, Sent)
        await store.mark_sent(v1, now=NOW, channel=posted.channel, ts=posted.ts, card_version=1)

    mine = RecordingNotifier()
    clock = FakeClock()
    pausing = FinishedMeanwhileStore(migrated, meanwhile=the_other_process_posts_v1)
    relay = make_relay(pausing, mine, clock)
    await relay.run_once()
    assert len(theirs.calls) == 1  # the scenario happened
    assert mine.calls == []  # v2 waited for v1 instead of posting a second card

    clock.advance(5)
    assert (await relay.run_once()).sent == 1
    (update,) = mine.calls  # v2 edits the card v1 posted
    assert update.card == (TEAM, "1795185000.000001")


@sqlite_only
async def test_the_live_relay_renews_its_leases_while_it_works(migrated: Database) -> None:
    """Short leases: renewed every third of a lease while held, so a slow call keeps its row."""
    store = OutboxStore(migrated)
    await store.enqueue([message("slow")], now=NOW)
    clock = FakeClock()
    lease = timedelta(seconds=0.3)
    taken: list[list[OutboxMessage]] = []

    class SlowSlack(RecordingNotifier):
        async def deliver(
            self, message: OutboxMessage, *, card: tuple[str, str] | None, now: datetime
        ) -> Outcome:
            async with second_process(migrated) as other_db:
                for _ in range(3):
                    clock.advance(0.2)  # past the first lease, the heartbeat keeps it
                    await asyncio.sleep(0.25)
                    taken.append(
                        await OutboxStore(other_db).claim(now=clock.now(), lease=lease, limit=10)
                    )
            return await super().deliver(message, card=card, now=now)

    relay = make_relay(store, SlowSlack(), clock, lease=lease)
    assert (await relay.run_once()).sent == 1
    assert taken == [[], [], []]
    assert (await outbox_rows(migrated))["slow"]["attempts"] == 1


async def test_two_relays_in_two_processes_deliver_each_row_once(migrated: Database) -> None:
    store = OutboxStore(migrated)
    keys = [f"m{i:02d}" for i in range(24)]
    await store.enqueue([message(k, target=f"C0T{i % 4}") for i, k in enumerate(keys)], now=NOW)
    clock = FakeClock()
    first, second = RecordingNotifier(), RecordingNotifier()
    async with second_process(migrated) as other_db:
        relays = [
            make_relay(store, first, clock, batch_size=5),
            make_relay(OutboxStore(other_db), second, clock, batch_size=5),
        ]
        for _ in range(10):
            stats = await asyncio.gather(*(r.run_once() for r in relays))
            if not any(s.claimed for s in stats):
                break

    assert first.calls and second.calls
    assert Counter(first.keys() + second.keys()) == dict.fromkeys(keys, 1)
    assert await store.counts() == {"sent": len(keys)}


# --- outcomes: sent, card locations, superseding -------------------------------------------


async def test_sent_records_the_result_and_the_card_location(migrated: Database) -> None:
    store = OutboxStore(migrated)
    item_id = await add_item(migrated)
    clock = FakeClock()
    notifier = RecordingNotifier(
        by_call=[
            Sent(channel=TEAM, ts="1795185000.000100"),
            Sent(channel=TEAM, ts="1795185000.000100"),
        ]
    )
    relay = make_relay(store, notifier, clock)

    await store.enqueue([card(item_id, 1)], now=NOW)
    stats = await relay.run_once()
    assert (stats.claimed, stats.sent) == (1, 1)
    assert notifier.calls[0].card is None
    assert notifier.calls[0].now == NOW
    row = (await outbox_rows(migrated))[f"card:{item_id}:v1"]
    assert (row["state"], row["result_channel"], row["result_ts"]) == (
        "sent",
        TEAM,
        "1795185000.000100",
    )
    assert (row["sent_at"], row["lease_expires_at"], row["last_error"]) == (NOW, None, None)
    assert await store.card_location(item_id) == (TEAM, "1795185000.000100")

    # The next version of the card is an in-place update of that message.
    clock.advance(10)
    await store.enqueue([card(item_id, 2)], now=clock.now())
    await relay.run_once()
    assert notifier.calls[1].card == (TEAM, "1795185000.000100")
    async with migrated.reader.connect() as conn:
        saved = (await conn.execute(select(item_cards))).mappings().one()
    assert (saved["item_id"], saved["version"], saved["updated_at"]) == (item_id, 2, clock.now())


@pytest.mark.parametrize("outcome", ["sent", "skipped"])
async def test_marking_a_card_done_queues_its_copies_edits_in_the_same_transaction(
    migrated: Database, outcome: str
) -> None:
    # A sent reminder shows the item's card. When the card's next version is done (sent,
    # or skipped: a digest item has no card), the reminder's in-place edit is queued by
    # the same transaction: there is no moment with nothing left to send while the
    # reminder still offers buttons for the old state, and no crash can lose the edit.
    store = OutboxStore(migrated)
    item_id = await add_item(migrated)
    reminder = dataclasses.replace(message("sla:remind:1:0", template="reminder"), item_id=item_id)
    await store.enqueue([reminder], now=NOW)
    await make_relay(store, RecordingNotifier(), FakeClock()).run_once()
    await store.enqueue([card(item_id, 2)], now=NOW)
    (claimed,) = await store.claim(now=NOW, lease=timedelta(minutes=1), limit=10)
    assert claimed.dedupe_key == f"card:{item_id}:v2"

    if outcome == "sent":
        assert await store.mark_sent(claimed, now=NOW, channel=TEAM, ts="1.2", card_version=2)
    else:
        assert await store.mark_sent(claimed, now=NOW)

    edit = (await outbox_rows(migrated))["copy:1:v2"]
    assert (edit["state"], edit["kind"], edit["item_id"]) == ("pending", "alert", item_id)
    assert edit["payload"] == {"template": "reminder", "update_of": "sla:remind:1:0"}


@sqlite_only
async def test_only_cards_remember_where_they_were_posted(migrated: Database) -> None:
    store = OutboxStore(migrated)
    item_id = await add_item(migrated)
    notifier = RecordingNotifier()
    relay = make_relay(store, notifier, FakeClock())
    await store.enqueue(
        [dataclasses.replace(message("alert:about-item"), item_id=item_id)], now=NOW
    )
    await relay.run_once()
    assert notifier.calls[0].card is None  # only CARD rows get a card location
    row = (await outbox_rows(migrated))["alert:about-item"]
    assert (row["state"], row["result_channel"]) == ("sent", TEAM)
    assert await store.card_location(item_id) is None


@sqlite_only
async def test_skipped_is_done_without_a_result(migrated: Database) -> None:
    store = OutboxStore(migrated)
    item_id = await add_item(migrated)
    notifier = RecordingNotifier(by_call=[Skipped(reason="no card to update")])
    await store.enqueue([card(item_id, 1)], now=NOW)
    stats = await make_relay(store, notifier, FakeClock()).run_once()
    assert (stats.sent, stats.skipped) == (0, 1)
    row = (await outbox_rows(migrated))[f"card:{item_id}:v1"]
    assert (row["state"], row["result_channel"], row["result_ts"]) == ("sent", None, None)
    assert await store.card_location(item_id) is None


async def test_only_the_newest_card_and_home_refresh_are_delivered(migrated: Database) -> None:
    store = OutboxStore(migrated)
    a, b = await add_item(migrated, "a"), await add_item(migrated, "b")
    w1, w2, w3 = (NOW + timedelta(seconds=s) for s in (2, 4, 6))
    await store.enqueue(
        [
            card(a, 1),
            home("U0ALICE", w1),
            card(a, 2),
            card(b, 1),
            home("U0ALICE", w2),
            home("U0BOB", w1),
            card(a, 3),
            home("U0ALICE", w3),
        ],
        now=NOW,
    )
    notifier = RecordingNotifier()
    stats = await make_relay(store, notifier, FakeClock(w3)).run_once()

    newest = {f"card:{a}:v3", f"card:{b}:v1", f"home:U0ALICE:{w3.isoformat()}"}
    newest.add(f"home:U0BOB:{w1.isoformat()}")
    assert sorted(notifier.keys()) == sorted(newest)
    assert (stats.claimed, stats.sent, stats.superseded) == (8, 4, 4)
    rows = await outbox_rows(migrated)
    assert {r["state"] for r in rows.values()} == {"sent"}
    assert {k for k, r in rows.items() if r["result_ts"] is not None} == newest


async def test_a_newer_card_supersedes_an_older_one_waiting_for_a_retry(
    migrated: Database,
) -> None:
    store = OutboxStore(migrated)
    item_id = await add_item(migrated)
    clock = FakeClock()
    notifier = RecordingNotifier(by_call=[RateLimited(retry_after=30)])
    relay = make_relay(store, notifier, clock)
    await store.enqueue([card(item_id, 1)], now=NOW)
    await relay.run_once()  # v1 is rate limited and waits about 30 s

    clock.advance(5)
    await store.enqueue([card(item_id, 2)], now=clock.now())
    stats = await relay.run_once()
    assert stats.superseded == 1
    clock.advance(600)
    assert (await relay.run_once()).claimed == 0

    assert notifier.keys() == [f"card:{item_id}:v1", f"card:{item_id}:v2"]
    rows = await outbox_rows(migrated)
    v1 = rows[f"card:{item_id}:v1"]
    assert (v1["state"], v1["last_error"], v1["result_ts"]) == ("sent", "superseded", None)
    assert rows[f"card:{item_id}:v2"]["result_ts"] is not None


async def test_a_newer_home_refresh_supersedes_an_older_one_waiting_for_a_retry(
    migrated: Database,
) -> None:
    store = OutboxStore(migrated)
    clock = FakeClock()
    notifier = RecordingNotifier(by_call=[RateLimited(retry_after=30)])
    relay = make_relay(store, notifier, clock)
    await store.enqueue([home("U0ALICE", NOW)], now=NOW)
    await relay.run_once()  # rate limited: waits about 30 s

    later = NOW + timedelta(seconds=2)
    clock.set(later)
    await store.enqueue([home("U0ALICE", later)], now=later)
    await relay.run_once()  # the newer refresh goes out
    clock.advance(600)
    await relay.run_once()

    assert notifier.keys() == [
        f"home:U0ALICE:{NOW.isoformat()}",
        f"home:U0ALICE:{later.isoformat()}",
    ]


# --- outcomes: retries ---------------------------------------------------------------------


async def test_rate_limit_reschedules_after_retry_after_without_counting_a_failure(
    migrated: Database,
) -> None:
    store = OutboxStore(migrated)
    clock = FakeClock()
    notifier = RecordingNotifier(
        by_call=[Failed(error="internal_error", permanent=False), RateLimited(retry_after=30)]
    )
    relay = make_relay(store, notifier, clock)
    draws = random.Random(SEED)
    await store.enqueue([message("m")], now=NOW)

    await relay.run_once()  # a 5xx first: one failure
    draws.random()
    row = (await outbox_rows(migrated))["m"]
    assert (row["failures"], row["attempts"]) == (1, 1)

    clock.set(row["available_at"])
    attempt_ended = clock.now()
    stats = await relay.run_once()  # then a 429
    assert stats.retried == 1
    row = (await outbox_rows(migrated))["m"]
    assert row["state"] == "pending"
    assert (row["failures"], row["attempts"]) == (1, 2)  # the 429 is no failure
    assert row["last_error"] == "ratelimited"
    assert row["lease_expires_at"] is None
    due = attempt_ended + timedelta(seconds=30) + RATE_LIMIT_JITTER * draws.random()
    assert row["available_at"] == due
    assert attempt_ended + timedelta(seconds=30) <= due <= attempt_ended + timedelta(seconds=31)

    clock.set(due - timedelta(microseconds=1))
    assert (await relay.run_once()).claimed == 0
    clock.set(due)
    assert (await relay.run_once()).sent == 1
    row = (await outbox_rows(migrated))["m"]
    assert (row["state"], row["attempts"], row["failures"]) == ("sent", 3, 1)
    assert len(notifier.calls) == 3


async def test_server_errors_back_off_exponentially_then_dead_letter(
    migrated: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Transient failures back off with full jitter until the message is a day old."""
    caplog.set_level(logging.WARNING, logger="scheduler.relay")
    store = OutboxStore(migrated)
    clock = FakeClock()
    rounds = 6
    notifier = RecordingNotifier(
        by_target={TEAM: [Failed(error="internal_error", permanent=False)] * (rounds + 1)}
    )
    relay = make_relay(store, notifier, clock)
    draws = random.Random(SEED)
    await store.enqueue([message("m")], now=NOW)

    for failures in range(1, rounds + 1):
        attempt_ended = clock.now()
        stats = await relay.run_once()
        assert stats.retried == 1
        row = (await outbox_rows(migrated))["m"]
        assert (row["state"], row["failures"], row["attempts"]) == ("pending", failures, failures)
        assert row["last_error"] == "internal_error"
        delay = row["available_at"] - attempt_ended
        assert timedelta(0) <= delay <= ceiling(failures - 1)
        assert delay == ceiling(failures - 1) * draws.random()
        clock.set(row["available_at"])

    # A Slack outage longer than a day: the message is dead-lettered and alerted.
    clock.set(NOW + MAX_RETRY_AGE)
    stats = await relay.run_once()
    assert stats.dead == 1
    rows = await outbox_rows(migrated)
    assert rows["m"]["state"] == "dead"
    assert rows["m"]["failures"] == rounds  # the last one is not counted: it is dead
    assert "gave up after retrying for" in rows["m"]["last_error"]
    assert len(compliance_alerts(rows)) == 1
    assert len(dead_events(caplog)) == 1
    retries = [r for r in caplog.records if getattr(r, "event", None) == "delivery_retry"]
    assert len(retries) == rounds


@sqlite_only
async def test_a_notifier_that_raises_counts_as_a_transient_failure(
    migrated: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scheduler.relay")
    store = OutboxStore(migrated)
    notifier = RecordingNotifier(by_call=[RuntimeError("renderer blew up")])
    relay = make_relay(store, notifier, FakeClock())
    await store.enqueue([message("m")], now=NOW)

    stats = await relay.run_once()
    assert (stats.retried, stats.dead) == (1, 0)
    row = (await outbox_rows(migrated))["m"]
    assert (row["state"], row["failures"]) == ("pending", 1)
    assert row["last_error"] == "RuntimeError: renderer blew up"
    assert NOW <= row["available_at"] <= NOW + BACKOFF_BASE
    raised = [r for r in caplog.records if getattr(r, "event", None) == "notifier_raised"]
    assert len(raised) == 1
    assert raised[0].exc_info is not None


# --- outcomes: permanent errors ------------------------------------------------------------


async def test_each_permanent_error_dead_letters_at_once_with_one_alert(
    migrated: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scheduler.relay")
    store = OutboxStore(migrated)
    targets = {code: f"C0BROKEN{i}" for i, code in enumerate(LISTED_PERMANENT)}
    notifier = RecordingNotifier(
        by_target={
            target: [Failed(error=code, permanent=classify_error(code))]
            for code, target in targets.items()
        }
    )
    relay = make_relay(store, notifier, FakeClock())
    await store.enqueue([message(f"m:{code}", target=t) for code, t in targets.items()], now=NOW)

    stats = await relay.run_once()
    assert (stats.dead, stats.retried) == (len(targets), 0)
    rows = await outbox_rows(migrated)
    for code in targets:
        row = rows[f"m:{code}"]
        assert (row["state"], row["last_error"], row["failures"]) == ("dead", code, 0)
    alerts = compliance_alerts(rows)
    assert sorted(a["payload"]["outbox_id"] for a in alerts) == sorted(
        rows[f"m:{code}"]["id"] for code in targets
    )
    for alert in alerts:
        failed = next(r for r in rows.values() if r["id"] == alert["payload"]["outbox_id"])
        assert alert["payload"] == {
            "template": "delivery_failed",
            "outbox_id": failed["id"],
            "kind": "alert",
            "target": failed["target"],
            "error": failed["last_error"],
        }
        assert alert["state"] == "pending"
    assert len(dead_events(caplog)) == len(targets)

    # The alerts go out on the next pass; nothing more is enqueued.
    assert (await relay.run_once()).sent == len(targets)
    rows = await outbox_rows(migrated)
    assert len(rows) == 2 * len(targets)
    assert {r["state"] for r in compliance_alerts(rows)} == {"sent"}
    assert len(notifier.calls) == 2 * len(targets)


async def test_a_failed_alert_is_logged_and_never_alerted_again(
    migrated: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scheduler.relay")
    store = OutboxStore(migrated)
    notifier = RecordingNotifier(
        by_target={
            "C0GONE": [Failed(error="channel_not_found", permanent=True)],
            COMPLIANCE: [Failed(error="not_in_channel", permanent=True)],
        }
    )
    relay = make_relay(store, notifier, FakeClock())
    await store.enqueue([message("m", target="C0GONE")], now=NOW)

    assert (await relay.run_once()).dead == 1  # the message
    assert (await relay.run_once()).dead == 1  # the alert about it
    assert (await relay.run_once()).claimed == 0

    rows = await outbox_rows(migrated)
    assert len(rows) == 2
    (alert,) = compliance_alerts(rows)
    assert {k: r["state"] for k, r in rows.items()} == {"m": "dead", alert["dedupe_key"]: "dead"}
    logged = dead_events(caplog)
    assert [getattr(r, "outbox_id", None) for r in logged] == [rows["m"]["id"], alert["id"]]
    assert getattr(logged[-1], "error", None) == "not_in_channel"
    assert getattr(logged[-1], "target", None) == COMPLIANCE


# --- pacing --------------------------------------------------------------------------------


@sqlite_only
async def test_one_channel_gets_about_one_message_per_second(migrated: Database) -> None:
    store = OutboxStore(migrated)
    time = FakeTime()
    notifier = RecordingNotifier(time=time)
    relay = make_relay(store, notifier, FakeClock(), time)
    await store.enqueue([message(f"m{i}") for i in range(3)], now=NOW)

    await relay.run_once()
    assert notifier.keys() == ["m0", "m1", "m2"]  # in order
    assert time.waits == pytest.approx([1.0, 1.0])
    assert [c.at for c in notifier.calls] == pytest.approx([0.0, 1.0, 2.0])

    # The next pass still respects the last send to that channel.
    await store.enqueue([message("m3")], now=NOW)
    await relay.run_once()
    assert time.waits == pytest.approx([1.0, 1.0, 1.0])
    assert notifier.calls[-1].at == pytest.approx(3.0)


@sqlite_only  # one shared fake clock: another channel's sleep would move time for this one
async def test_different_channels_do_not_wait_for_each_other(migrated: Database) -> None:
    store = OutboxStore(migrated)
    time = FakeTime()
    notifier = RecordingNotifier(time=time)
    relay = make_relay(store, notifier, FakeClock(), time)
    await store.enqueue(
        [
            message("a0", target="C0A"),
            message("a1", target="C0A"),
            message("b0", target="C0B"),
            message("a2", target="C0A"),
            message("c0", target="C0C"),
        ],
        now=NOW,
    )
    await relay.run_once()

    assert [c.at for c in notifier.calls_to("C0A")] == pytest.approx([0.0, 1.0, 2.0])
    assert [c.at for c in notifier.calls_to("C0B")] == [0.0]
    assert [c.at for c in notifier.calls_to("C0C")] == [0.0]
    assert time.value == pytest.approx(2.0)  # the pass took as long as its busiest channel


@sqlite_only
async def test_skipped_messages_do_not_count_against_the_pace(migrated: Database) -> None:
    store = OutboxStore(migrated)
    time = FakeTime()
    notifier = RecordingNotifier(time=time, by_call=[Skipped(reason="no card")])
    relay = make_relay(store, notifier, FakeClock(), time)
    await store.enqueue([message("m0"), message("m1")], now=NOW)
    await relay.run_once()
    assert len(notifier.calls) == 2
    assert time.waits == []


@sqlite_only
async def test_a_rate_limited_channel_is_left_alone_until_retry_after(migrated: Database) -> None:
    store = OutboxStore(migrated)
    time = FakeTime()
    notifier = RecordingNotifier(time=time, by_target={TEAM: [RateLimited(retry_after=30)]})
    relay = make_relay(store, notifier, FakeClock(), time)
    await store.enqueue([message("m0"), message("m1"), message("m2")], now=NOW)

    await relay.run_once()

    assert notifier.keys() == ["m0"]
    rows = await outbox_rows(migrated)
    assert {r["state"] for r in rows.values()} == {"pending"}


# --- run(): wake-ups, timer, stop ----------------------------------------------------------


async def _stop(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait_for(task, timeout=2)


@sqlite_only
async def test_run_returns_promptly_when_stop_is_set(migrated: Database) -> None:
    store = ObservedStore(migrated)
    relay = make_relay(store, RecordingNotifier(), FakeClock(), per_target_interval=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop, interval=30))
    try:
        await asyncio.wait_for(store.first_claim.wait(), timeout=2)
    finally:
        await _stop(stop, task)
    assert store.claims == 1
    assert task.result() is None


@sqlite_only
async def test_wake_triggers_a_pass_before_the_timer(migrated: Database) -> None:
    store = ObservedStore(migrated)
    notifier = RecordingNotifier()
    relay = make_relay(store, notifier, FakeClock(), per_target_interval=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop, interval=30))
    try:
        await asyncio.wait_for(store.first_claim.wait(), timeout=2)
        # The relay is now idle until the timer (30 s) or a wake-up.
        await store.enqueue([message("m")], now=NOW)
        relay.wake()
        await asyncio.wait_for(notifier.wait_for_calls(1), timeout=2)
    finally:
        await _stop(stop, task)
    assert notifier.keys() == ["m"]
    assert store.claims == 2


@sqlite_only
async def test_the_timer_triggers_a_pass_without_a_wake(migrated: Database) -> None:
    store = ObservedStore(migrated)
    notifier = RecordingNotifier()
    relay = make_relay(store, notifier, FakeClock(), per_target_interval=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop, interval=0.02))
    try:
        await asyncio.wait_for(store.first_claim.wait(), timeout=2)
        await store.enqueue([message("m")], now=NOW)
        await asyncio.wait_for(notifier.wait_for_calls(1), timeout=2)
    finally:
        await _stop(stop, task)
    assert notifier.keys() == ["m"]


@sqlite_only
async def test_a_pass_in_progress_finishes_when_stop_is_set(migrated: Database) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    class SlowNotifier(RecordingNotifier):
        async def deliver(
            self, message: OutboxMessage, *, card: tuple[str, str] | None, now: datetime
        ) -> Outcome:
            started.set()
            await release.wait()
            return await super().deliver(message, card=card, now=now)

    store = OutboxStore(migrated)
    await store.enqueue([message("m")], now=NOW)
    notifier = SlowNotifier()
    relay = make_relay(store, notifier, FakeClock(), per_target_interval=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop, interval=30))
    try:
        await asyncio.wait_for(started.wait(), timeout=2)
        stop.set()
        release.set()
    finally:
        await _stop(stop, task)
    assert (await outbox_rows(migrated))["m"]["state"] == "sent"


@sqlite_only
async def test_run_survives_a_failing_pass(
    migrated: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scheduler.relay")
    store = ObservedStore(migrated, fail_first_claims=1)
    await store.enqueue([message("m")], now=NOW)
    notifier = RecordingNotifier()
    relay = make_relay(store, notifier, FakeClock(), per_target_interval=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop, interval=0.02))
    try:
        await asyncio.wait_for(notifier.wait_for_calls(1), timeout=2)
    finally:
        await _stop(stop, task)
    assert [getattr(r, "event", None) for r in caplog.records].count("relay_failed") == 1


@sqlite_only
async def test_an_alert_raised_during_a_pass_goes_out_without_waiting_for_the_timer(
    migrated: Database,
) -> None:
    store = OutboxStore(migrated)
    notifier = RecordingNotifier(
        by_target={"C0GONE": [Failed(error="is_archived", permanent=True)]}
    )
    relay = make_relay(store, notifier, FakeClock(), per_target_interval=0.0)
    await store.enqueue([message("m", target="C0GONE")], now=NOW)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop, interval=30))
    try:
        await asyncio.wait_for(notifier.wait_for_calls(2), timeout=0.5)
    finally:
        await _stop(stop, task)
    assert notifier.calls[1].message.target == COMPLIANCE


# --- design risks that lose or duplicate messages ------------------------------------------


async def test_a_pass_longer_than_the_lease_does_not_deliver_twice(migrated: Database) -> None:
    store = OutboxStore(migrated)
    keys = [f"card-burst-{i:02d}" for i in range(55)]
    await store.enqueue([message(k) for k in keys], now=NOW)
    clock = FakeClock()
    time = FakeTime(wall=clock)
    mine = RecordingNotifier(time=time, latency=0.25)
    theirs = RecordingNotifier()
    relay = make_relay(store, mine, clock, time)  # the defaults: 60 s lease, batch of 50
    async with second_process(migrated) as other_db:
        other = make_relay(OutboxStore(other_db), theirs, clock, per_target_interval=0.0)

        async def the_other_process_runs() -> None:
            if clock.now() > NOW + LEASE and not theirs.calls:
                await other.run_once()

        time.on_sleep = the_other_process_runs
        await relay.run_once()
        await other.run_once()

    assert theirs.calls  # the scenario happened
    assert Counter(mine.keys() + theirs.keys()) == dict.fromkeys(keys, 1)


@sqlite_only
async def test_a_posted_card_is_never_marked_sent_without_its_location(
    migrated: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delivery record and the card location commit together, or neither does."""
    item_id = await add_item(migrated)
    store = OutboxStore(migrated)
    await store.enqueue([card(item_id, 1)], now=NOW)

    async def database_went_away(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(outbox_module, "_save_card_location", database_went_away)
    relay = make_relay(store, RecordingNotifier(), FakeClock())
    with pytest.raises(ConnectionError):
        await relay.run_once()

    row = (await outbox_rows(migrated))[f"card:{item_id}:v1"]
    assert row["state"] != RowState.SENT.value  # rolled back with the location
    assert await store.card_location(item_id) is None


# --- operator replay -----------------------------------------------------------------------


async def test_operators_list_and_replay_dead_rows(migrated: Database) -> None:
    store = OutboxStore(migrated)
    clock = FakeClock()
    notifier = RecordingNotifier(
        by_target={"C0GONE": [Failed(error="channel_not_found", permanent=True)] * 2}
    )
    relay = make_relay(store, notifier, clock)
    await store.enqueue([message("m", target="C0GONE"), message("ok")], now=NOW)

    await relay.run_once()
    assert await store.counts() == {"dead": 1, "sent": 1, "pending": 1}
    (dead,) = await store.list_rows(states=[RowState.DEAD])
    assert (dead.dedupe_key, dead.state, dead.last_error) == (
        "m",
        RowState.DEAD,
        "channel_not_found",
    )
    assert (dead.kind, dead.target, dead.attempts, dead.failures) == (
        NoticeKind.ALERT,
        "C0GONE",
        1,
        0,
    )
    (alert,) = await store.list_rows(states=[RowState.PENDING])
    assert isinstance(alert.payload, DeliveryFailed)
    assert alert.payload.outbox_id == dead.id
    everything = await store.list_rows(states=list(RowState))
    assert [r.id for r in everything] == sorted((r.id for r in everything), reverse=True)
    assert len(everything) == 3
    assert [r.id for r in await store.list_rows(states=list(RowState), limit=1)] == [alert.id]

    ok = (await outbox_rows(migrated))["ok"]
    assert await store.retry(ok["id"], now=clock.now()) is False  # sent rows stay sent
    assert await store.retry(alert.id, now=clock.now()) is False  # pending rows are untouched
    assert await store.retry(10**9, now=clock.now()) is False

    # Replayed, it fails again: dead again, with an alert of its own.
    clock.advance(3600)
    assert await store.retry(dead.id, now=clock.now()) is True
    assert await store.retry(dead.id, now=clock.now()) is False
    row = (await outbox_rows(migrated))["m"]
    assert (row["state"], row["failures"], row["available_at"]) == ("pending", 0, clock.now())
    await relay.run_once()  # the first alert goes out; m dies again
    assert len(compliance_alerts(await outbox_rows(migrated))) == 2

    # The channel is fixed; replayed once more, it goes out.
    assert await store.retry(dead.id, now=clock.now()) is True
    await relay.run_once()
    assert await store.counts() == {"sent": 4}
    assert Counter(notifier.keys())["m"] == 3


async def test_replay_restores_the_whole_retry_budget(migrated: Database) -> None:
    store = OutboxStore(migrated)
    clock = FakeClock()
    transient = Failed(error="service_unavailable", permanent=False)
    notifier = RecordingNotifier(by_target={TEAM: [transient] * 4})
    relay = make_relay(store, notifier, clock)
    await store.enqueue([message("m")], now=NOW)
    for _ in range(2):
        await relay.run_once()
        clock.set(clock.now() + BACKOFF_CAP)
    clock.set(NOW + MAX_RETRY_AGE)  # a day of outage: the retry budget is spent
    await relay.run_once()
    row = (await outbox_rows(migrated))["m"]
    assert (row["state"], row["failures"]) == ("dead", 2)

    assert await store.retry(row["id"], now=clock.now()) is True
    await relay.run_once()  # one more failure: a retry again, not a dead letter
    row = (await outbox_rows(migrated))["m"]
    assert (row["state"], row["failures"]) == ("pending", 1)
