"""The relays at a stop (issue 13): the cutoff ends pacing and starts no call, the abort
gives up calls under way; rows go back due now (in doubt when a call was cut short), so
the next start takes them at once and never posts twice. And ``until``, the one wait."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timedelta

import pytest

from domain.delivery import OutboxMessage, Outcome
from scheduler.relay import LEASE, OutboxRelay, RelayStats
from scheduler.stopping import Interrupted, until
from store.engine import Database
from store.outbox import OutboxStore
from tests.integration.test_outbox_relay import (
    COMPLIANCE,
    NOW,
    SEED,
    FakeClock,
    RecordingNotifier,
    message,
    outbox_rows,
    sqlite_only,
)


class HangingNotifier(RecordingNotifier):
    """Records the call, then never answers (Slack unreachable)."""

    async def deliver(
        self, message: OutboxMessage, *, card: tuple[str, str] | None, now: datetime
    ) -> Outcome:
        await super().deliver(message, card=card, now=now)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def _relay(
    store: OutboxStore,
    notifier: RecordingNotifier,
    *,
    interval: float = 0.0,
    cutoff: asyncio.Event,
    abort: asyncio.Event,
) -> OutboxRelay:
    # Real sleeps and a real monotonic clock: the waits cut short here are real ones.
    return OutboxRelay(
        store=store,
        notifier=notifier,
        clock=FakeClock(),
        compliance_channel=lambda: COMPLIANCE,
        rng=random.Random(SEED),
        per_target_interval=interval,
        sleep=asyncio.sleep,
        monotonic=time.monotonic,
        cutoff=cutoff,
        abort=abort,
    )


async def _calls_under_way(
    store: OutboxStore, notifier: RecordingNotifier, *, calls: int
) -> tuple[asyncio.Task[RelayStats], asyncio.Event, asyncio.Event]:
    """A pass started, once ``calls`` calls reached the notifier; with its cutoff and abort."""
    cutoff, abort = asyncio.Event(), asyncio.Event()
    passing = asyncio.create_task(_relay(store, notifier, cutoff=cutoff, abort=abort).run_once())
    await asyncio.wait_for(notifier.wait_for_calls(calls), timeout=2)
    return passing, cutoff, abort


async def test_until_returns_the_result_or_raises_when_the_event_comes_first() -> None:
    event = asyncio.Event()
    assert await until(event, asyncio.sleep(0, result="done")) == "done"
    finished = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            finished.set()

    asyncio.get_running_loop().call_later(0.01, event.set)
    with pytest.raises(Interrupted):
        await until(event, forever())
    assert finished.is_set()  # the work was cancelled, not left running
    with pytest.raises(Interrupted):  # already set: the work never runs
        await until(event, asyncio.sleep(0))


@sqlite_only
async def test_the_cutoff_ends_pacing_and_leaves_the_rest_due_now(migrated: Database) -> None:
    store = OutboxStore(migrated)
    await store.enqueue([message(f"m{i}") for i in range(3)], now=NOW)
    notifier = RecordingNotifier()
    cutoff, abort = asyncio.Event(), asyncio.Event()
    relay = _relay(store, notifier, interval=30.0, cutoff=cutoff, abort=abort)
    passing = asyncio.create_task(relay.run_once())
    await asyncio.wait_for(notifier.wait_for_calls(1), timeout=2)
    cutoff.set()  # the relay is pacing: 30 s before the next message to this channel
    stats = await asyncio.wait_for(passing, timeout=2)

    assert notifier.keys() == ["m0"] and stats.sent == 1
    rows = await outbox_rows(migrated)
    assert rows["m0"]["state"] == "sent"
    for key in ("m1", "m2"):  # due now, not leased, no failure counted, not in doubt
        row = rows[key]
        assert (row["state"], row["lease_expires_at"], row["failures"]) == ("pending", None, 0)
        assert row["available_at"] <= NOW
    again = await store.claim(now=NOW, lease=LEASE, limit=10)
    assert [(m.dedupe_key, m.unsure_since) for m in again] == [("m1", None), ("m2", None)]


@sqlite_only
async def test_a_call_under_way_finishes_after_the_cutoff(migrated: Database) -> None:
    release = asyncio.Event()

    class SlowNotifier(RecordingNotifier):
        async def deliver(
            self, message: OutboxMessage, *, card: tuple[str, str] | None, now: datetime
        ) -> Outcome:
            outcome = await super().deliver(message, card=card, now=now)
            await release.wait()
            return outcome

    store = OutboxStore(migrated)
    await store.enqueue([message("m")], now=NOW)
    passing, cutoff, _ = await _calls_under_way(store, SlowNotifier(), calls=1)
    cutoff.set()
    release.set()
    await asyncio.wait_for(passing, timeout=2)
    assert (await outbox_rows(migrated))["m"]["state"] == "sent"


@sqlite_only
async def test_the_abort_gives_up_a_hanging_call_and_leaves_its_row_in_doubt(
    migrated: Database,
) -> None:
    store = OutboxStore(migrated)
    await store.enqueue([message("m"), message("other", target="C0OTHER")], now=NOW)
    passing, cutoff, abort = await _calls_under_way(store, HangingNotifier(), calls=2)
    cutoff.set()
    abort.set()
    await asyncio.wait_for(passing, timeout=2)

    rows = await outbox_rows(migrated)
    for key in ("m", "other"):  # the call may have reached Slack: in doubt, lease lapsed
        row = rows[key]
        assert (row["state"], row["failures"]) == ("sending", 0)
        assert row["lease_expires_at"] <= NOW
    # The next start takes them back at once (no lease to wait out), knowing to look first.
    again = await store.claim(now=NOW + timedelta(milliseconds=1), lease=LEASE, limit=10)
    assert sorted(m.dedupe_key for m in again) == ["m", "other"]
    assert all(m.unsure_since is not None for m in again)
