"""The real bot (``bot.app.Server``) against the Slack stand-in, on a real SQLite store.

``desk`` starts the stand-in with the example policy's people and channels, initialises a
store exactly as ``recon-bot init`` does, and runs the bot over Socket Mode until the test
ends. Tests drive it as people would: slash commands, clicks by label, modals by label.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
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
from domain.items import Item, ItemFacts, ItemKind
from domain.policy import RiskTier
from handlers.notifier import make_client
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
            facts = ItemFacts(
                source="bank",
                external_id=f"e2e-{self._seq}",
                kind=ItemKind.UNMATCHED,
                entity="ACME-US",
                currency="USD",
                amount=Decimal("2500.00"),
                counterparty="Globex Ltd",
                risk_tier=RiskTier.HIGH,
                aging_days=1,
                confidence=Decimal("0.95"),
            )
            facts = dataclasses.replace(facts, **overrides)
            rows.append(IntakeRow(line=self._seq, facts=facts))
        service = self.container.service
        await service.ingest(rows, now=self.container.clock.now())
        items = []
        for row in rows:
            async with self.container.uow(read_only=True) as uow:
                item = await uow.items.get_by_external(row.facts.source, row.facts.external_id)
            assert item is not None
            items.append(item)
        return items

    async def item(self, item_id: int) -> Item:
        """The item as stored now."""
        return await self.container.service.get(item_id)

    async def card(self, item: Item, *, where: str = TREASURY) -> Any:
        """Waits for the item's card to be posted and returns the stand-in's message."""

        def find() -> Any:
            for message in self.slack.messages_in(where):
                if f"{item.human_id}" in message.all_text():
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

        await self.slack.wait_for(idle, timeout=10, message="outbox drained")

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


async def start_desk(slack: SlackStandIn, settings: Settings) -> Desk:
    """Initialises the store (if needed) and starts the bot; returns once it is connected."""
    await initialize(settings)
    container = await Container.open(settings)
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


@pytest.fixture
async def desk(slack: SlackStandIn, tmp_path: Path) -> AsyncIterator[Desk]:
    """A running bot against the stand-in."""
    running = await start_desk(slack, e2e_settings(tmp_path, slack))
    try:
        yield running
    finally:
        await stop_desk(running)
