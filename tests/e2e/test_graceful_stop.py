"""``recon-bot serve`` stops within a bound, loses nothing and sends nothing twice (issue 13).

Each test runs the real process against the Slack stand-in (and, for the ledger, the
HTTP ledger stand-in) on 127.0.0.1, puts it in one situation (idle; a backlog of cards
paced and rate-limited; Slack answering 500; Slack unreachable; the ledger failing with
its breaker open), sends SIGTERM and times the exit. The bounds asserted are generous
(a loaded 2-core CI machine); the measured times are printed at the end of the run.

Then a second process starts against a healthy stand-in and must take the rows back at
once: right after the stop no row waits on a lease (every undelivered row is due now,
or scheduled by its own retry backoff or the breaker), and the first delivery follows the
restart well within one lease. Afterwards each card is in Slack exactly once and each
ledger entry in the ledger exactly once.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.container import Container
from bot.settings import Settings
from bot.setup import initialize
from domain import breaker
from domain.intake import IntakeRow
from domain.items import Item, ReviewState
from scheduler.relay import LEASE
from store.audit.verification import verify_database
from store.breakers import BreakerStore
from store.outbox import RowState
from store.tables import outbox
from tests.builders import make_facts
from tests.e2e.conftest import (
    MATERIAL,
    TREASURY,
    cards_of,
    e2e_settings,
    ingest_rows,
    write_policy_with_accounts,
)
from tests.e2e.ladder_support import APEU
from tests.e2e.serve_process import ServeProcess, Stopped, record_stop, start_serve
from tests.e2e.test_ledger_crash import accepted_rows, ledger_env
from tests.ledger_standin import LedgerStandIn
from tests.slack_standin import SlackStandIn

#: Bounds on SIGTERM -> exit, generous for a loaded machine (the targets are 5 s / 10 s).
HEALTHY_BOUND_S = 10.0
WORST_BOUND_S = 15.0


#: Facts that route an item to the ap-europe team (its card goes to that channel).
EUROPE = {"entity": "ACME-DE", "currency": "EUR"}


def _material(prefix: str, n: int, *, spread: bool = False) -> list[IntakeRow]:
    """``n`` material items: each gets a card now, in the treasury channel (or, with
    ``spread``, every other one in ap-europe's: the relay paces each channel apart)."""
    return [
        IntakeRow(
            line=i + 1,
            facts=make_facts(
                **(
                    MATERIAL
                    | {"external_id": f"{prefix}-{i}"}
                    | (EUROPE if spread and i % 2 else {})
                )
            ),
        )
        for i in range(n)
    ]


def _cards(slack: SlackStandIn, item: Item) -> list[Any]:
    """The item's cards in either team channel."""
    return cards_of(slack, item, TREASURY) + cards_of(slack, item, APEU)


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Container]:
    container = await Container.open(settings)
    try:
        yield container
    finally:
        await container.close()


async def _waiting_on_a_lease(container: Container) -> list[str]:
    """Rows held under a lease that has not run out yet (none after a graceful stop)."""
    now = datetime.now(UTC)
    async with container.database.reader.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.dedupe_key, outbox.c.lease_expires_at, outbox.c.available_at).where(
                outbox.c.state == RowState.SENDING.value
            )
        )
        # (A row in doubt waiting for its retry time has its lease end at that time.)
        return [
            f"{key} (leased until {lease})"
            for key, lease, available in rows.all()
            if lease is not None and lease > now and lease != available
        ]


async def _first_post_after(slack: SlackStandIn, since: float, method: str) -> float:
    """Seconds from ``since`` to the first successful ``method`` call after it."""

    def first() -> float | None:
        calls = [c.when for c in slack.calls_to(method) if c.ok and c.when >= since]
        return min(calls) - since if calls else None

    return await slack.wait_for(first, timeout=30, message=f"a {method} after the restart")


@asynccontextmanager
async def _serving(
    settings: Settings, slack: SlackStandIn, tmp_path: Path, *, env: dict[str, str] | None = None
) -> AsyncIterator[ServeProcess]:
    """``serve``, connected to the stand-in; killed on the way out if still running."""
    proc = await start_serve(settings, slack, tmp_path, env=env)
    try:
        await slack.wait_connected(timeout=30)
        yield proc
    finally:
        await proc.kill()


async def _timed_stop(proc: ServeProcess, situation: str, bound: float) -> Stopped:
    """SIGTERM: exit 0 within ``bound`` seconds (the time is noted for the summary)."""
    stopped = await proc.stop()
    record_stop(situation, stopped.seconds)
    assert proc.returncode == 0, stopped.logs
    assert stopped.seconds < bound, stopped.logs
    return stopped


async def _restart_until(
    settings: Settings,
    slack: SlackStandIn,
    tmp_path: Path,
    settled: Callable[[], Awaitable[bool]],
    *,
    env: dict[str, str] | None = None,
    within: float = 60,
) -> None:
    """Starts ``serve`` again, waits until ``settled``, and stops it (exit 0)."""
    async with _serving(settings, slack, tmp_path, env=env) as proc:
        await slack.wait_for(settled, timeout=within, message="deliveries settled after restart")
        logs = (await proc.stop()).logs
    assert proc.returncode == 0, logs


async def _restart_until_carded(
    settings: Settings, slack: SlackStandIn, tmp_path: Path, items: list[Item]
) -> None:
    """After a restart every item has exactly one card, and the first one posted came
    well within one lease: the stopped process's rows were taken back at once."""
    restarted = time.monotonic()

    async def all_posted() -> bool:
        return all(_cards(slack, i) for i in items)

    await _restart_until(settings, slack, tmp_path, all_posted)
    _one_card_each(slack, items)
    pickup = await _first_post_after(slack, restarted, "chat.postMessage")
    assert pickup < LEASE.total_seconds(), pickup


def _one_card_each(slack: SlackStandIn, items: list[Item]) -> None:
    counts = {item.human_id: len(_cards(slack, item)) for item in items}
    assert counts == dict.fromkeys(counts, 1), counts


async def test_an_idle_bot_stops_at_once(slack: SlackStandIn, tmp_path: Path) -> None:
    settings = e2e_settings(tmp_path, slack)
    await initialize(settings)
    async with _serving(settings, slack, tmp_path) as proc:
        stopped = await _timed_stop(proc, "idle, Slack healthy", HEALTHY_BOUND_S)
    assert "Slack did not answer the Socket Mode close" not in stopped.logs


async def test_a_stop_while_connecting_ends_the_start_and_exits_0(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    await initialize(settings)
    hold = slack.hold_response("apps.connections.open")  # Socket Mode cannot connect
    proc = await start_serve(settings, slack, tmp_path)
    try:
        async with asyncio.timeout(30):
            await hold.reached.wait()
        stopped = await _timed_stop(proc, "stopped while connecting", HEALTHY_BOUND_S)
    finally:
        hold.release()
        await proc.kill()
    assert "stopped while starting" in stopped.logs


@pytest.mark.slow  # ~20-27 s: twelve seconds of paced delivery after the restart
async def test_a_backlog_is_left_due_now_and_delivered_once_after_restart(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    await initialize(settings)
    slack.rate_limit("chat.postMessage", 1.0)  # Slack's per-channel pace, as the relay's
    async with _store(settings) as container:
        # 24 cards, 12 per channel: paced at one a second per channel, twelve seconds of
        # delivery that the stop must not wait out (it did: 8.4 s for 10 cards before).
        items = await ingest_rows(container, _material("backlog", 24, spread=True))
        async with _serving(settings, slack, tmp_path) as proc:

            def some_posted() -> bool:
                return sum(len(_cards(slack, i)) for i in items) >= 2

            await slack.wait_for(some_posted, timeout=30, message="the first cards")
            await _timed_stop(proc, "backlog of cards, Slack healthy", HEALTHY_BOUND_S)
        left = sum(1 for i in items if not _cards(slack, i))
        assert left > 0, "the backlog was gone before the stop: nothing tested"
        assert await _waiting_on_a_lease(container) == []
        await _restart_until_carded(settings, slack, tmp_path, items)


async def test_deliveries_failing_with_500s_stop_in_time_and_land_once_after_restart(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    await initialize(settings)
    slack.fail_next("chat.postMessage", status=500, times=10_000)
    async with _store(settings) as container:
        items = await ingest_rows(container, _material("failing", 4, spread=True))
        async with _serving(settings, slack, tmp_path) as proc:

            def failing() -> bool:
                return sum(c.status == 500 for c in slack.calls_to("chat.postMessage")) >= 4

            await slack.wait_for(failing, timeout=30, message="deliveries failing")
            await _timed_stop(proc, "deliveries failing with 500s", WORST_BOUND_S)
        assert not any(_cards(slack, i) for i in items)
        assert await _waiting_on_a_lease(container) == []
        slack.faults.clear()
        await _restart_until_carded(settings, slack, tmp_path, items)


async def test_slack_unreachable_stops_in_time_and_nothing_is_lost_or_doubled(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    """The worst case for Slack: calls hang and the close handshake gets no answer. The
    card whose call was cut short reaches Slack anyway (the stand-in answers it once it
    is reachable again): the restart looks before posting and finds it."""
    settings = e2e_settings(tmp_path, slack)
    await initialize(settings)
    async with _store(settings) as container:
        items = await ingest_rows(container, _material("unreachable", 4, spread=True))
        async with _serving(settings, slack, tmp_path) as proc:

            def one_posted() -> bool:
                return any(_cards(slack, i) for i in items)

            await slack.wait_for(one_posted, timeout=30, message="the first card")
            slack.unreachable()
            await asyncio.sleep(1.5)  # the next paced post is under way, unanswered
            stopped = await _timed_stop(proc, "Slack unreachable", WORST_BOUND_S)
        assert "Slack did not answer the Socket Mode close" in stopped.logs
        assert "outbox rows left for the next start" in stopped.logs
        assert await _waiting_on_a_lease(container) == []
        slack.reachable()
        await _restart_until_carded(settings, slack, tmp_path, items)


async def test_an_open_ledger_breaker_stops_in_time_and_each_entry_lands_once(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    write_policy_with_accounts(settings)
    await initialize(settings)
    async with LedgerStandIn() as ledger, _store(settings) as container:
        env = ledger_env(ledger) | {"RECON_LEDGER_COOLDOWN": "2"}
        ledger.fail_next(10_000, status=503)
        items = await ingest_rows(container, accepted_rows(8))
        breakers = BreakerStore(container.database)
        async with _serving(settings, slack, tmp_path, env=env) as proc:

            async def breaker_open() -> bool:
                return not (await breakers.get(breaker.LEDGER)).is_closed

            await slack.wait_for(breaker_open, timeout=30, message="the ledger breaker open")
            await _timed_stop(proc, "ledger failing, breaker open", WORST_BOUND_S)
        assert not ledger.entries
        assert await _waiting_on_a_lease(container) == []
        ledger.heal()

        async def all_posted() -> bool:
            states = [await container.usecases.queries.get(i.id or 0) for i in items]
            return all(s.state is ReviewState.POSTED for s in states)

        # Within one lease (30 s): the rows were released; only the 2 s cooldown waits.
        await _restart_until(settings, slack, tmp_path, all_posted, env=env, within=25)
        assert len(ledger.entries) == len(items) and ledger.duplicates == 0


async def test_a_second_signal_exits_at_once_and_corrupts_nothing(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    await initialize(settings)
    async with _store(settings) as container:
        await ingest_rows(container, _material("forced", 4))
    async with _serving(settings, slack, tmp_path) as proc:
        await slack.wait_for(lambda: slack.calls_to("chat.postMessage"), timeout=30)
        slack.unreachable()  # the graceful stop now takes a few seconds
        await asyncio.sleep(0.5)
        proc.send(signal.SIGTERM)
        await asyncio.sleep(0.3)
        stopped = await proc.stop(since=proc.send(signal.SIGTERM))
    slack.reachable()
    record_stop("second signal", stopped.seconds)
    assert proc.returncode == 128 + signal.SIGTERM, stopped.logs
    assert "second signal: exiting at once" in stopped.logs
    assert stopped.seconds < 2.5, stopped.logs  # at once, not the graceful bound
    database = tmp_path / "recon.db"
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    async with _store(settings) as container:  # opening seals the unsealed tail
        report = await verify_database(container.database, anchors=container.anchors)
    assert report.ok, report.problem
