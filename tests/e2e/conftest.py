"""The real bot (``bot.app.Server``) against the Slack stand-in, on a real SQLite store.

``desk`` starts the stand-in with the example policy's people and channels, initialises a
store exactly as ``recon-bot init`` does, and runs the bot over Socket Mode until the test
ends. Tests drive it as people would: slash commands, clicks by label, modals by label.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app import Server
from bot.container import Container
from bot.settings import Settings
from bot.setup import initialize
from domain.intake import IntakeRow
from domain.items import Item, ReviewState, RiskTier
from domain.ports import Clock
from handlers.notifier import make_client
from tests.builders import make_facts
from tests.conftest import EXAMPLE_POLICY
from tests.e2e.serve_process import STOP_TIMES
from tests.ledger_support import ACCOUNTS_YAML
from tests.slack_standin import SlackStandIn

PEOPLE = {
    "U0ALICE": "alice",
    "U0BOB": "bob",
    "U0CAROL": "carol",
    "U0LEAD": "lead",
    "U0DAN": "dan",
    "U0ERIN": "erin",
    "U0LEAD2": "lead2",
    "U0AUDIT": "audit",
    "U0PREP1": "preparer",
}
CHANNELS = {"C0TREASURY": "treasury", "C0APEU": "ap-europe", "C0COMPLIANCE": "compliance"}
TREASURY = "C0TREASURY"


#: The facts of ``Desk.ingest``'s items: material treasury items (immediate review).
MATERIAL: dict[str, Any] = {
    "source": "bank",
    "external_id": "e2e",
    "amount": "2500.00",
    "counterparty": "Globex Ltd",
    "risk_tier": RiskTier.HIGH,
    "confidence": "0.95",
    "reference": None,
}


async def ingest_rows(container: Container, rows: list[IntakeRow]) -> list[Item]:
    """Ingests ``rows`` as ``recon-bot ingest`` does and returns the stored items."""
    await container.usecases.intake.ingest(rows, now=container.clock.now())
    items = []
    for row in rows:
        async with container.uow(read_only=True) as uow:
            item = await uow.items.get_by_external(row.facts.source, row.facts.external_id)
        assert item is not None
        items.append(item)
    return items


@dataclass(slots=True)
class Desk:
    """A running bot, its store and the Slack stand-in."""

    slack: SlackStandIn
    container: Container
    server: Server
    settings: Settings
    task: asyncio.Task[None] | None = None
    _seq: int = 0

    async def ingest(self, n: int = 1, **overrides: Any) -> list[Item]:
        """Ingests ``n`` treasury items (material, so routed for immediate review)."""
        rows = []
        for _ in range(n):
            self._seq += 1
            facts = make_facts(**(MATERIAL | {"external_id": f"e2e-{self._seq}"} | overrides))
            rows.append(IntakeRow(line=self._seq, facts=facts))
        return await ingest_rows(self.container, rows)

    async def item(self, item_id: int) -> Item:
        """The item as stored now."""
        return await self.container.usecases.queries.get(item_id)

    async def card(self, item: Item, *, where: str = TREASURY) -> Any:
        """Waits for the item's card to be posted and returns the stand-in's message."""

        prefix = f"card.{item.id}.v"

        def find() -> Any:
            # By block id, not text: "R-1" would also match R-10's card.
            for message in self.slack.messages_in(where):
                if any(str(b.get("block_id", "")).startswith(prefix) for b in message.blocks or []):
                    return message
            return None

        return await self.slack.wait_for(find, message=f"card for {item.human_id}")

    def said_to(self, user: str) -> str:
        """Everything shown privately to ``user`` (ephemerals and DMs), newest last."""
        texts = [e.all_text() for e in self.slack.ephemerals_for(user)]
        dm = self.slack.dm_channel(user)
        texts += [m.all_text() for m in self.slack.messages_in(dm.id)]
        return "\n".join(texts)

    async def relay_idle(self) -> None:
        """Waits until the outbox has nothing pending or in flight."""

        async def idle() -> bool:
            counts = await self._outbox_counts()
            return not counts.get("pending") and not counts.get("sending")

        try:
            await self.slack.wait_for(idle, timeout=10, message="outbox drained")
        except AssertionError as failed:
            from store.outbox import OutboxStore, RowState

            rows = await OutboxStore(self.container.database).list_rows(
                states=[RowState.PENDING, RowState.SENDING]
            )
            now = self.container.clock.now()
            held = [
                f"{row.dedupe_key} {row.state.value} due {row.available_at:%H:%M:%S.%f} "
                f"(desk clock {now:%H:%M:%S.%f}), {row.attempts} attempts, {row.last_error}"
                for row in rows
            ]
            raise AssertionError(f"outbox not drained: {held}") from failed

    async def _outbox_counts(self) -> dict[str, int]:
        from store.outbox import OutboxStore

        return await OutboxStore(self.container.database).counts()


def e2e_settings(tmp_path: Path, slack: SlackStandIn) -> Settings:
    """Settings for a bot in ``tmp_path`` talking to ``slack``."""
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'recon.db'}",
        policy=tmp_path / "policy.yml",
        audit_key=tmp_path / "audit.pem",
        audit_anchors=tmp_path / "anchors.jsonl",
        slack_bot_token=SecretStr(slack.bot_token),
        slack_app_token=SecretStr(slack.app_token),
        slack_api_url=slack.api_url,
    )


async def start_desk(
    slack: SlackStandIn, settings: Settings, *, clock: Clock | None = None
) -> Desk:
    """Initialises the store (if needed) and starts the bot; returns once it is connected.

    ``clock`` replaces the system clock for the whole bot (services, jobs, listeners).
    A desk without a policy yet gets the example policy with accounts, so its entries
    leave for the ledger (the default file sink) and approved items get posted.
    """
    if not settings.policy.exists():
        write_policy_with_accounts(settings)
    await initialize(settings)
    container = await Container.open(settings, clock=clock)
    client = make_client(
        token=settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else "",
        base_url=settings.slack_api_url,
    )
    server = Server(
        container=container,
        app_token=slack.app_token,
        client=client,
        relay_interval=0.2,
        ping_interval=0.3,
    )
    desk = Desk(slack=slack, container=container, server=server, settings=settings)
    desk.task = asyncio.create_task(server.run())
    await slack.wait_connected(timeout=10)
    return desk


async def stop_desk(desk: Desk) -> None:
    """Stops the bot the way SIGTERM does and closes the store."""
    desk.server.stop.set()
    if desk.task is not None:
        await desk.task
    await desk.container.close()


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    """The stand-in with the example policy's people and channels."""
    async with SlackStandIn() as standin:
        for user, name in PEOPLE.items():
            standin.add_user(user, name)
        for channel, name in CHANNELS.items():
            standin.add_channel(channel, name, members=tuple(PEOPLE))
        yield standin


def write_policy_with_accounts(settings: Settings) -> None:
    """The example policy with its accounts section on: entries leave for the ledger
    (the default file sink, ``ledger/`` beside the database) and items get posted."""
    settings.policy.write_text(EXAMPLE_POLICY.read_text() + ACCOUNTS_YAML)
    settings.policy.chmod(0o600)


@pytest.fixture
async def desk(slack: SlackStandIn, tmp_path: Path) -> AsyncIterator[Desk]:
    """A running bot against the stand-in."""
    running = await start_desk(slack, e2e_settings(tmp_path, slack))
    try:
        yield running
    finally:
        await stop_desk(running)


# --------------------------------------------------------------------------- helpers
# Added for the end-to-end suite (test_commands, test_buttons, test_modals, test_home,
# test_exactly_once, test_delivery, test_lifecycle). The fixtures above are unchanged.

#: Every first-ack latency (ms) seen by tests that use ``every_envelope_acked``; printed
#: at the end of the run as p50/p99. Tests never assert on time.
ACK_LATENCIES_MS: list[float] = []

#: ``Desk.ingest`` overrides for an item routed to the digest: no card is posted for it
#: (until someone claims, escalates or disputes it), so tests that do not look at cards
#: spend no time on the relay's one-message-per-second-per-channel pacing.
QUIET: dict[str, Any] = {"risk_tier": RiskTier.LOW, "amount": Decimal("100.00")}


def card_block_prefix(item: Item) -> str:
    """The block_id prefix of an item's card blocks (``card.<id>.``)."""
    return f"card.{item.id}."


def is_card_of(message: Any, item: Item) -> bool:
    """Whether a stand-in message is ``item``'s card (by block ids, not by text)."""
    prefix = card_block_prefix(item)
    return any(str(b.get("block_id", "")).startswith(prefix) for b in message.blocks or [])


def cards_of(slack: SlackStandIn, item: Item, where: str = TREASURY) -> list[Any]:
    """Every message in ``where`` that is ``item``'s card (exactly one, when all is well)."""
    return [m for m in slack.messages_in(where) if is_card_of(m, item)]


def card_updates(slack: SlackStandIn, ts: str) -> list[Any]:
    """Successful ``chat.update`` calls on the message at ``ts``, oldest first."""
    return [c for c in slack.calls_to("chat.update") if c.ok and c.params.get("ts") == ts]


def private_lines(desk: Desk, user: str) -> list[str]:
    """What ``user`` was told privately (ephemerals and DMs), one entry per message."""
    texts = [e.all_text() for e in desk.slack.ephemerals_for(user)]
    dm = desk.slack.dm_channel(user)
    texts += [m.all_text() for m in desk.slack.messages_in(dm.id)]
    return texts


def times_told(desk: Desk, user: str, needle: str) -> int:
    """How many private messages to ``user`` contain ``needle``."""
    return sum(needle in text for text in private_lines(desk, user))


async def wait_told(desk: Desk, user: str, needle: str, times: int, *, within: float = 5.0) -> None:
    """Waits until exactly ``times`` private messages to ``user`` contain ``needle``."""
    await desk.slack.wait_for(
        lambda: times_told(desk, user, needle) == times,
        timeout=within,
        message=f"{user} told {needle!r} {times} time(s) (so far {times_told(desk, user, needle)})",
    )


async def wait_said(desk: Desk, user: str, *needles: str, within: float = 5.0) -> str:
    """Waits until everything ``user`` was told privately contains every needle
    (case-insensitive) and returns that text."""
    wanted = [n.lower() for n in needles]

    def told() -> str | None:
        text = desk.said_to(user)
        return text if all(n in text.lower() for n in wanted) else None

    return str(await desk.slack.wait_for(told, timeout=within, message=f"{user} told {needles!r}"))


async def wait_state(desk: Desk, item: Item, state: ReviewState, *, within: float = 5.0) -> Item:
    """Waits until the stored item is in ``state`` and returns it."""
    assert item.id is not None
    item_id = item.id

    async def reached() -> Item | None:
        current = await desk.item(item_id)
        return current if current.state is state else None

    found = await desk.slack.wait_for(reached, timeout=within, message=f"{item.human_id} {state}")
    assert isinstance(found, Item)
    return found


async def wait_card(
    desk: Desk, item: Item, *needles: str, where: str = TREASURY, within: float = 5.0
) -> Any:
    """Waits until ``item``'s card shows every needle and returns the message."""

    def shows() -> Any:
        for message in cards_of(desk.slack, item, where):
            if all(n in message.all_text() for n in needles):
                return message
        return None

    return await desk.slack.wait_for(
        shows, timeout=within, message=f"card of {item.human_id} showing {needles!r}"
    )


async def messages_idle(
    desk: Desk, *, kinds: tuple[str, ...] = ("card", "alert", "dm"), within: float = 10.0
) -> None:
    """Waits until no outbox message of these kinds is pending or in flight.

    Unlike ``Desk.relay_idle`` this does not wait for App Home refreshes, which sit in
    the outbox until their ~2 s debounce window ends.
    """
    from store.outbox import OutboxStore, RowState

    store = OutboxStore(desk.container.database)

    async def idle() -> bool:
        rows = await store.list_rows(states=[RowState.PENDING, RowState.SENDING], limit=10_000)
        return not [r for r in rows if r.kind.value in kinds]

    await desk.slack.wait_for(idle, timeout=within, message=f"{kinds} deliveries drained")


async def cards_idle(desk: Desk, *, within: float = 10.0) -> None:
    """Waits until no card post/update is pending or in flight (Home refreshes may be)."""
    await messages_idle(desk, kinds=("card",), within=within)


async def listeners_idle(desk: Desk, *, within: float = 5.0) -> None:
    """Waits until no listener is running (whatever they were going to say, they said)."""
    await desk.slack.wait_for(
        lambda: desk.server.inflight.count == 0, timeout=within, message="listeners finished"
    )


async def journal_of(desk: Desk, item: Item) -> list[Any]:
    """The item's journal entries as stored."""
    assert item.id is not None
    async with desk.container.uow(read_only=True) as uow:
        return list(await uow.journal.for_item(item.id))


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (non-empty)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@pytest.fixture
def every_envelope_acked(slack: SlackStandIn) -> Iterator[None]:
    """After the test: every envelope the stand-in sent was acked within Slack's 3 s.

    Also records the ack latencies for the end-of-run summary (never asserted on).
    """
    yield
    ACK_LATENCIES_MS.extend(slack.ack_latencies_ms())
    late = [(e.type, e.envelope_id) for e in slack.envelopes if e.timed_out or e.ack is None]
    assert not late, f"envelopes not acked within Slack's deadline: {late}"
    assert not slack.ack_timeouts


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Prints the ack latencies the e2e tests observed (information, not a check)."""
    if ACK_LATENCIES_MS:
        terminalreporter.write_line(
            f"e2e ack latency over {len(ACK_LATENCIES_MS)} acks: "
            f"p50 {percentile(ACK_LATENCIES_MS, 0.50):.1f} ms, "
            f"p99 {percentile(ACK_LATENCIES_MS, 0.99):.1f} ms, "
            f"max {max(ACK_LATENCIES_MS):.1f} ms"
        )
    for situation, seconds in STOP_TIMES.items():
        terminalreporter.write_line(
            f"serve stop time, {situation}: "
            + ", ".join(f"{s:.2f}" for s in seconds)
            + f" s (median {statistics.median(seconds):.2f} s)"
        )
