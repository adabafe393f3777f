"""The notifier: one outbox message -> one attempt at the Slack Web API, classified.

It never retries and never sleeps: its client has no retry handlers (slack_sdk's default
connection-error retry could post twice), and every retry decision belongs to the relay.

Every post carries the outbox row's dedupe key (and the card's item) in its message
``metadata``. A message whose earlier attempt may have reached Slack (``unsure_since``:
its process died between Slack's answer and the record, or the call got no answer, which
is reported as ``Failed(in_doubt=True)``) is first looked for in the
conversation's recent history (``conversations.history`` with ``include_all_metadata``,
bounded by ``HISTORY_PAGES`` pages back to ``unsure_since`` less ``CLOCK_SKEW``): the
channel's for a channel post, the DM's (opened first, as for posting) for a direct
message. When found, that message is recorded instead of posting again (a card is then
edited to the item's current state like any update). A thread reply (a digest group
under its summary) is looked for in its thread instead (``conversations.replies`` on the
parent, with ``include_all_metadata``), as replies are not in a conversation's history.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import aiohttp
from pydantic import BaseModel, ConfigDict, Field
from slack_sdk.errors import SlackApiError
from slack_sdk.models.metadata import Metadata
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
from domain.permissions import OPERATOR
from domain.templates import (
    CardUpdate,
    DigestCluster,
    DigestClusterDecided,
    DigestSummary,
    HomeRefresh,
    LedgerPost,
    MatchCard,
    MatchSummary,
    StatementCard,
)
from handlers import blocks
from handlers.blocks.alerts import alert_message
from handlers.blocks.digest import digest_cluster, digest_summary
from handlers.blocks.matches import match_card, match_summary
from handlers.blocks.message import Message
from handlers.blocks.statements import statement_card
from handlers.context import Deps
from handlers.home import publish_home

log = logging.getLogger(__name__)

#: The metadata event type of every message the relay posts (Slack: alphanumeric and _).
POSTED_EVENT = "recon_outbox_message"
#: How far back a post in doubt is looked for: pages of history, and how many a page.
HISTORY_PAGES = 5
HISTORY_PAGE_SIZE = 200
#: Slack's clock and ours may disagree a little: look this much further back.
CLOCK_SKEW = timedelta(minutes=2)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _PostedBy(_Model):
    """What our metadata says about a posted message."""

    dedupe_key: str | None = None
    kind: str | None = None
    item_id: int | None = None


class _Metadata(_Model):
    event_type: str = ""
    event_payload: _PostedBy = Field(default_factory=_PostedBy)


class _HistoryMessage(_Model):
    ts: str
    metadata: _Metadata | None = None


class _Cursor(_Model):
    next_cursor: str = ""


class _HistoryPage(_Model):
    """One page of ``conversations.history`` or ``.replies`` (only what the lookup reads)."""

    messages: list[_HistoryMessage] = Field(default_factory=list)
    has_more: bool = False
    response_metadata: _Cursor = Field(default_factory=_Cursor)


def posted_metadata(message: OutboxMessage) -> Metadata:
    """The metadata a post carries, to find it again after a crash."""
    payload: dict[str, str | int] = {"dedupe_key": message.dedupe_key, "kind": message.kind.value}
    if message.item_id is not None:
        payload["item_id"] = message.item_id
    return Metadata(event_type=POSTED_EVENT, event_payload=payload)


def _is_copy_of(found: _HistoryMessage, message: OutboxMessage) -> bool:
    """Whether a message in the channel is an earlier post of ``message``.

    A card is any card of the same item (a newer version supersedes the one that was
    in flight); anything else is the same outbox row.
    """
    if found.metadata is None or found.metadata.event_type != POSTED_EVENT:
        return False
    posted = found.metadata.event_payload
    if message.kind is NoticeKind.CARD:
        return posted.kind == NoticeKind.CARD.value and posted.item_id == message.item_id
    return posted.dedupe_key == message.dedupe_key


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
        except aiohttp.ClientConnectorError as exc:  # no connection: Slack saw nothing
            return Failed(error=f"network: {exc.__class__.__name__}", permanent=False)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # No answer (a timeout, a dropped connection): the call may have reached
            # Slack, so whatever it posted may be there already.
            return Failed(
                error=f"network: {exc.__class__.__name__}", permanent=False, in_doubt=True
            )
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
            if card is None:  # (a card whose earlier post is in doubt may be in Slack)
                card = await self._posted_before(message, channel=message.target)
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
                channel=message.target,
                text=rendered.text,
                blocks=rendered.blocks,
                metadata=posted_metadata(message),
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
        found = await self._posted_before(message, channel=channel, thread_ts=message.thread_ts)
        if found is not None:
            return Sent(channel=found.channel, ts=found.ts)
        response = await self._client.chat_postMessage(
            channel=channel,
            text=rendered.text,
            blocks=rendered.blocks,
            thread_ts=message.thread_ts or None,
            metadata=posted_metadata(message),
        )
        return Sent(channel=str(response["channel"]), ts=str(response["ts"]))

    async def _page(
        self, *, channel: str, thread_ts: str | None, oldest: str, cursor: str | None
    ) -> _HistoryPage:
        """One page of the conversation's history, or of the thread under ``thread_ts``."""
        if thread_ts:
            # A thread is listed oldest first from its parent: no time bound to give.
            response = await self._client.conversations_replies(
                channel=channel,
                ts=thread_ts,
                limit=HISTORY_PAGE_SIZE,
                include_all_metadata=True,
                cursor=cursor,
            )
        else:
            response = await self._client.conversations_history(
                channel=channel,
                oldest=oldest,
                limit=HISTORY_PAGE_SIZE,
                include_all_metadata=True,
                cursor=cursor,
            )
        return _HistoryPage.model_validate(response.data)

    async def _posted_before(
        self, message: OutboxMessage, *, channel: str, thread_ts: str | None = None
    ) -> MessageLocation | None:
        """The earlier post of a message in doubt, from the conversation's recent history.

        A thread reply (``thread_ts``) is looked for among its thread's replies instead,
        which a conversation's history does not list.

        None when the message is not in doubt, or is not found within the bounds (then
        it is posted: a bounded search cannot prove absence, and losing the message would
        be worse). A history Slack will never give (e.g. ``missing_scope`` on an install
        made before the history scopes were added) is logged and the message posted; a
        transient failure raises, and the relay retries with the doubt kept.
        """
        if message.unsure_since is None:
            return None
        oldest = f"{(message.unsure_since - CLOCK_SKEW).timestamp():.6f}"
        cursor: str | None = None
        try:
            for _ in range(HISTORY_PAGES):
                page = await self._page(
                    channel=channel, thread_ts=thread_ts, oldest=oldest, cursor=cursor
                )
                for found in page.messages:
                    if _is_copy_of(found, message):
                        log.info(
                            "message in doubt found in Slack; recorded, not posted again",
                            extra={"event": "delivery_found", "outbox_id": message.id},
                        )
                        return MessageLocation(channel=channel, ts=found.ts)
                cursor = page.response_metadata.next_cursor
                if not page.has_more or not cursor:
                    return None
        except SlackApiError as exc:
            if thread_ts and exc.response.get("error") == "thread_not_found":
                return None  # the parent is gone, and its replies with it
            outcome = _classify(exc)
            if not isinstance(outcome, Failed) or not outcome.permanent:
                raise
            log.warning(
                "cannot read the conversation's history (or the thread) to check for an "
                "earlier post; posting (the app needs the channels:history, groups:history "
                "and im:history scopes)",
                extra={
                    "event": "delivery_unchecked",
                    "outbox_id": message.id,
                    "error": outcome.error,
                },
            )
            return None
        log.warning(
            "earlier post not found within the history searched; posting",
            extra={"event": "delivery_unchecked", "outbox_id": message.id},
        )
        return None

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
            case StatementCard():
                # Rendered as stored now: a late row never shows an older state.
                statement = await self._deps.usecases.statements.get(
                    payload.statement_id, viewer=OPERATOR
                )
                return statement_card(statement, policy=policy, now=now, revision=payload.revision)
            case MatchSummary():
                # Rendered as stored now, like the statement card: never older than the row.
                overview = await self._deps.usecases.match_review.overview(
                    payload.statement_id, viewer=OPERATOR
                )
                return match_summary(overview, policy=policy, now=now)
            case MatchCard():
                view = await self._deps.usecases.match_review.view(
                    payload.match_id, viewer=OPERATOR
                )
                return match_card(view, policy=policy, now=now)
            case CardUpdate() | HomeRefresh() | LedgerPost():
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
