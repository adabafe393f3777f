"""The notifier: one outbox message -> one attempt at the Slack Web API, classified.

It never retries and never sleeps: its client has no retry handlers (slack_sdk's default
connection-error retry could post twice), and every retry decision belongs to the relay.
"""

from __future__ import annotations

import logging
from datetime import datetime

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from domain.delivery import (
    Failed,
    MessageLocation,
    OutboxMessage,
    Outcome,
    RateLimited,
    Sent,
    Skipped,
    classify_error,
)
from domain.errors import ItemNotFound
from domain.items import Item
from domain.notifications import NoticeKind
from domain.templates import (
    CardUpdate,
    DigestCluster,
    DigestClusterDecided,
    DigestSummary,
    HomeRefresh,
)
from handlers import blocks
from handlers.blocks.alerts import alert_message
from handlers.blocks.digest import digest_cluster, digest_summary
from handlers.blocks.message import Message
from handlers.context import Deps
from handlers.home import publish_home

log = logging.getLogger(__name__)


def make_client(*, token: str, base_url: str, timeout: int = 10) -> AsyncWebClient:
    """A Web API client that never retries by itself (the relay decides)."""
    return AsyncWebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


class SlackNotifier:
    """Implements ``domain.ports.Notifier`` over the Slack Web API."""

    def __init__(self, *, client: AsyncWebClient, deps: Deps) -> None:
        self._client = client
        self._deps = deps

    async def deliver(
        self, message: OutboxMessage, *, card: MessageLocation | None, now: datetime
    ) -> Outcome:
        """Sends one message; see the module docstring."""
        try:
            return await self._send(message, card=card, now=now)
        except SlackApiError as exc:
            return _classify(exc)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return Failed(error=f"network: {exc.__class__.__name__}", permanent=False)
        except ItemNotFound as exc:
            return Skipped(reason=str(exc))

    async def _item(self, message: OutboxMessage) -> Item | None:
        if message.item_id is None:
            return None
        return await self._deps.usecases.queries.get(message.item_id)

    async def _send(
        self, message: OutboxMessage, *, card: MessageLocation | None, now: datetime
    ) -> Outcome:
        policy = self._deps.policy().policy
        if message.kind is NoticeKind.HOME:
            await publish_home(self._client, self._deps, user=message.target)
            return Sent()
        item = await self._item(message)
        if isinstance(message.payload, CardUpdate):
            assert item is not None
            if card is None and not message.payload.post_if_missing:
                return Skipped(reason="the item has no card to update")
            rendered = blocks.item_card(item, policy=policy, now=now)
            if card is not None:
                channel, ts = card
                await self._client.chat_update(
                    channel=channel, ts=ts, text=rendered.text, blocks=rendered.blocks
                )
                return Sent(channel=channel, ts=ts)
            response = await self._client.chat_postMessage(
                channel=message.target, text=rendered.text, blocks=rendered.blocks
            )
            return Sent(channel=str(response["channel"]), ts=str(response["ts"]))
        rendered = await self._render(message, item, now)
        if card is not None:  # a message to edit in place (e.g. a decided digest group)
            channel, ts = card
            await self._client.chat_update(
                channel=channel, ts=ts, text=rendered.text, blocks=rendered.blocks
            )
            return Sent(channel=channel, ts=ts)
        channel = message.target
        if message.kind is NoticeKind.DM:
            opened = await self._client.conversations_open(users=message.target)
            channel = str(opened["channel"]["id"])
        response = await self._client.chat_postMessage(
            channel=channel,
            text=rendered.text,
            blocks=rendered.blocks,
            thread_ts=message.thread_ts or None,
        )
        return Sent(channel=str(response["channel"]), ts=str(response["ts"]))

    async def _render(self, message: OutboxMessage, item: Item | None, now: datetime) -> Message:
        policy = self._deps.policy().policy
        payload = message.payload
        match payload:
            case DigestSummary():
                return digest_summary(payload, policy=policy, now=now)
            case DigestCluster():
                items = [await self._deps.usecases.queries.get(i) for i in payload.item_ids]
                return digest_cluster(payload, items=items, policy=policy, now=now)
            case DigestClusterDecided():
                return digest_cluster(payload, items=[], policy=policy, now=now)
            case CardUpdate() | HomeRefresh():
                raise AssertionError(f"a {message.kind.value} row is not rendered as an alert")
            case _:
                # Every other template (and a row no template describes) is one alert;
                # alert_message matches them exhaustively.
                return alert_message(payload, item=item, policy=policy, now=now)


def _classify(exc: SlackApiError) -> Outcome:
    response = exc.response
    status = response.status_code
    if status == 429:
        raw = response.headers.get("Retry-After") or response.headers.get("retry-after")
        try:
            retry_after = float(raw) if raw is not None else 1.0
        except ValueError:
            retry_after = 1.0
        return RateLimited(retry_after=retry_after)
    error = str(response.get("error") or f"http_{status}")
    if status >= 500:
        return Failed(error=error, permanent=False)
    return Failed(error=error, permanent=classify_error(error))
