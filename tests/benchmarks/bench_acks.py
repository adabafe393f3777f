"""Benchmark: ack latency under load, recon-bot vs a bare Bolt app, in one run.

Usage:
    python -m tests.benchmarks.bench_acks [--interactions 500] [--in-flight 50]
    python -m tests.benchmarks.bench_acks --inbox [--rounds 3]

Both apps run over Socket Mode against the local Slack stand-in. The load is the same
for both: half button clicks (Approve / Claim on real item cards) and half slash
commands (``/recon show``, ``/recon queue``, ``/recon claim``), at most 50 in flight.
The bare app's listeners only ack. Prints p50/p99 ack latency for each and the ratio
(target: recon-bot p99 <= 2x the bare p99, and far under Slack's 3 s). Then times App
Home publishing for a reviewer with 10,000 open items in their teams.

``--inbox`` measures what the durable inbox costs the ack instead: the same load on a
fresh desk with the inbox and on one whose inbox stores nothing (``receive`` answers at
once, as when the store is away), alternating, ``--rounds`` times each; medians of the
rounds' p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers import blocks
from handlers.context import InFlight
from handlers.home import publish_home
from store.inbox import SqlInbox
from tests.e2e.conftest import CHANNELS, PEOPLE, TREASURY, Desk, e2e_settings, start_desk, stop_desk
from tests.slack_standin import SlackStandIn

REVIEWERS = ("U0ALICE", "U0BOB")


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _post_cards(desk: Desk, count: int) -> list[tuple[str, int]]:
    """Ingests items and posts their real cards straight to the stand-in (no pacing)."""
    items = await desk.ingest(count, amount=Decimal("1500.00"))
    client = AsyncWebClient(token=desk.slack.bot_token, base_url=desk.slack.api_url)
    posted = []
    policy = desk.container.policy.current().policy
    now = desk.container.clock.now()
    for item in items:
        card = blocks.item_card(item, policy=policy, now=now)
        response = await client.chat_postMessage(
            channel=TREASURY, text=card.text, blocks=card.blocks
        )
        posted.append((str(response["ts"]), item.id or 0))
    await client.close() if hasattr(client, "close") else None
    return posted


def _load(
    slack: SlackStandIn, cards: list[tuple[str, int]], interactions: int
) -> list[Callable[[], Awaitable[object]]]:
    calls: list[Callable[[], Awaitable[object]]] = []
    for n in range(interactions):
        user = REVIEWERS[n % 2]
        if n % 2 == 0:
            ts, _ = cards[(n // 2) % len(cards)]
            label = "Approve" if n % 4 == 0 else "Claim"

            async def click(user: str = user, ts: str = ts, label: str = label) -> object:
                try:
                    return await slack.click(user, label, channel=TREASURY, ts=ts)
                except AssertionError:  # the card changed (approved): click its details
                    return await slack.slash_command(user, "queue", channel=TREASURY)

            calls.append(click)
        else:
            _, item_id = cards[(n // 2) % len(cards)]
            text = (f"show R-{item_id}", "queue", "claim")[n % 3]

            async def command(user: str = user, text: str = text) -> object:
                return await slack.slash_command(user, text, channel=TREASURY)

            calls.append(command)
    return calls


async def _drive(
    slack: SlackStandIn, calls: list[Callable[[], Awaitable[object]]], in_flight: int
) -> list[float]:
    before = len(slack.acks)
    gate = asyncio.Semaphore(in_flight)

    async def one(call: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(c) for c in calls))
    latencies = [
        a.latency_ms
        for a in slack.acks[before:]
        if a.latency_ms is not None and not a.duplicate and not a.unknown
    ]
    timeouts = sum(1 for e in slack.envelopes if e.timed_out)
    if timeouts:
        print(f"  WARNING: {timeouts} envelope(s) were not acked within 3 s")
    return latencies


async def _bare_app(slack: SlackStandIn) -> tuple[AsyncSocketModeHandler, AsyncWebClient]:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])
    app = AsyncApp(client=client, process_before_response=False)

    async def just_ack(ack: AsyncAck) -> None:
        await ack()

    app.command("/recon")(just_ack)
    app.action(re.compile(r"^recon\..*"))(just_ack)
    handler = AsyncSocketModeHandler(app, slack.app_token, web_client=client, ping_interval=5)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    await slack.wait_connected(timeout=10)
    return handler, client


async def _home_publish(desk: Desk, items: int) -> list[float]:
    for start in range(0, items, 2000):
        await desk.ingest(min(2000, items - start), amount=Decimal("1500.00"))
    from bot.app import make_deps

    deps = make_deps(desk.container, InFlight())
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        await publish_home(desk.server.client, deps, user="U0ALICE")
        timings.append((time.perf_counter() - started) * 1000)
    view = desk.slack.home_of("U0ALICE")
    assert view is not None and len(view.blocks) <= 100, "home view over 100 blocks"
    print(f"  home view: {len(view.blocks)} blocks")
    return timings


async def main(interactions: int, in_flight: int, quiet_relay: bool = False) -> None:
    """Runs both loads and prints the comparison."""
    work = Path(tempfile.mkdtemp(prefix="recon-acks-"))
    async with SlackStandIn() as slack:
        for user, name in PEOPLE.items():
            slack.add_user(user, name)
        for channel, name in CHANNELS.items():
            slack.add_channel(channel, name, members=tuple(PEOPLE))
        desk = await start_desk(slack, e2e_settings(work, slack))
        cards = await _post_cards(desk, interactions // 4)
        calls = _load(slack, cards, interactions)
        await stop_desk(desk)

        handler, _client = await _bare_app(slack)
        bare = await _drive(slack, _load(slack, cards, interactions), in_flight)
        await handler.close_async()  # type: ignore[no-untyped-call]

        desk = await start_desk(slack, e2e_settings(work, slack))
        if quiet_relay:  # diagnosis: no background Slack deliveries during the load
            desk.server.relay.wake = lambda: None  # type: ignore[method-assign,union-attr]
            if desk.server.scheduler is not None:
                desk.server.scheduler.pause()
        ours = await _drive(slack, calls, in_flight)
        print(f"{interactions} interactions (half clicks, half /recon), {in_flight} in flight")
        for name, values in (("bare Bolt app", bare), ("recon-bot", ours)):
            print(
                f"  {name:14s} p50 {statistics.median(values):7.1f} ms   "
                f"p99 {_percentile(values, 99):7.1f} ms   max {max(values):7.1f} ms   "
                f"(n={len(values)})"
            )
        print(
            f"  ratio p99 recon-bot / bare: {_percentile(ours, 99) / _percentile(bare, 99):.2f}x "
            "(target <= 2x)"
        )
        for name, values in (("bare Bolt app", bare), ("recon-bot", ours)):
            tenths = [
                values[i : i + len(values) // 10] for i in range(0, len(values), len(values) // 10)
            ]
            print(
                f"  {name:14s} max per tenth of the run (ms): "
                + " ".join(f"{max(t):.0f}" for t in tenths if t)
            )
        timings = await _home_publish(desk, 10_000)
        print(
            "App Home publish with 10,000+ open items: "
            f"median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms "
            "(dashboard query + render + views.publish)"
        )
        await stop_desk(desk)


@contextmanager
def _unstored() -> Iterator[None]:
    """Every interaction runs unstored: the inbox without its insert."""
    stored = SqlInbox.receive

    async def receive(self: SqlInbox, body: Mapping[str, Any]) -> bool:
        return True

    SqlInbox.receive = receive  # type: ignore[method-assign]
    try:
        yield
    finally:
        SqlInbox.receive = stored  # type: ignore[method-assign]


async def inbox_cost(interactions: int, in_flight: int, rounds: int) -> None:
    """The same load with and without the inbox's insert, alternating on fresh desks."""
    results: dict[str, list[tuple[float, float]]] = {"with the inbox": [], "unstored": []}
    async with SlackStandIn() as slack:
        for user, name in PEOPLE.items():
            slack.add_user(user, name)
        for channel, name in CHANNELS.items():
            slack.add_channel(channel, name, members=tuple(PEOPLE))
        for n in range(rounds * 2):
            name = ("with the inbox", "unstored")[n % 2]
            work = Path(tempfile.mkdtemp(prefix="recon-inbox-"))
            with _unstored() if name == "unstored" else contextlib.nullcontext():
                desk = await start_desk(slack, e2e_settings(work, slack))
                cards = await _post_cards(desk, interactions // 4)
                values = await _drive(slack, _load(slack, cards, interactions), in_flight)
                await stop_desk(desk)
            results[name].append((statistics.median(values), _percentile(values, 99)))
    print(f"{interactions} interactions x {rounds} rounds each, {in_flight} in flight (SQLite)")
    for name, rows in results.items():
        p50 = statistics.median(r[0] for r in rows)
        p99 = statistics.median(r[1] for r in rows)
        print(f"  {name:15s} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   (rounds: {rows})")
    ratio = statistics.median(r[1] for r in results["with the inbox"]) / statistics.median(
        r[1] for r in results["unstored"]
    )
    print(f"  ratio p99 with / without the insert: {ratio:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interactions", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument(
        "--quiet-relay", action="store_true", help="diagnosis: no deliveries during the load"
    )
    parser.add_argument("--inbox", action="store_true", help="the durable inbox's cost")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.inbox:
        asyncio.run(inbox_cost(args.interactions, args.in_flight, args.rounds))
    else:
        asyncio.run(main(args.interactions, args.in_flight, args.quiet_relay))
