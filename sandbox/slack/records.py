"""The records the stand-in keeps: who is in the workspace and everything that happened.

Plain mutable dataclasses, no I/O: people and conversations, messages and their
revisions, views, minted triggers and response_urls, and the Socket Mode traffic
(envelopes, acks, connections). :class:`~sandbox.slack.state.StandInState` holds them;
tests assert on them.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from .blocks import button_labels, iter_texts

__all__ = [
    "JSON",
    "Ack",
    "ApiCall",
    "Channel",
    "ConnectionRecord",
    "Envelope",
    "Ephemeral",
    "Message",
    "MessageRevision",
    "ResponsePost",
    "ResponseUrl",
    "Trigger",
    "User",
    "View",
]

JSON = dict[str, Any]


@dataclass
class User:
    """A workspace member."""

    id: str
    name: str
    tz: str = "America/New_York"
    is_bot: bool = False

    def to_api(self, team_id: str) -> JSON:
        """This user as ``users.info`` returns it (``tz_offset`` computed for today)."""
        try:
            zone = zoneinfo.ZoneInfo(self.tz)
            now = dt.datetime.now(zone)
            offset = now.utcoffset() or dt.timedelta(0)
            tz_label = now.tzname() or self.tz
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            offset, tz_label = dt.timedelta(0), self.tz
        profile = {"real_name": self.name, "display_name": self.name, "team": team_id}
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.name,
            "deleted": False,
            "tz": self.tz,
            "tz_label": tz_label,
            "tz_offset": int(offset.total_seconds()),
            "is_bot": self.is_bot,
            "is_app_user": False,
            "is_admin": False,
            "is_owner": False,
            "profile": profile,
        }


@dataclass
class Channel:
    """A conversation: public/private channel or a DM (``is_im``) with the bot."""

    id: str
    name: str
    members: set[str] = field(default_factory=set)
    bot_is_member: bool = True
    archived: bool = False
    is_private: bool = False
    is_im: bool = False
    im_user: str | None = None

    @property
    def channel_type(self) -> str:
        """The ``channel_type`` of message events here: ``channel``, ``group`` or ``im``."""
        if self.is_im:
            return "im"
        return "group" if self.is_private else "channel"

    @property
    def message_event(self) -> str:
        """The subscription that delivers this conversation's ``message`` events."""
        return {"channel": "message.channels", "group": "message.groups", "im": "message.im"}[
            self.channel_type
        ]

    @property
    def payload_name(self) -> str:
        """The ``channel_name`` Slack sends in payloads for this conversation."""
        if self.is_im:
            return "directmessage"
        return "privategroup" if self.is_private else self.name

    def to_api(self) -> JSON:
        """This conversation as ``conversations.info`` returns it."""
        if self.is_im:
            return {"id": self.id, "is_im": True, "user": self.im_user, "is_open": True}
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_private": self.is_private,
            "is_im": False,
            "is_archived": self.archived,
            "is_member": self.bot_is_member,
            "num_members": len(self.members),
        }


@dataclass
class ApiCall:
    """One Web API request the bot made, and how the stand-in answered."""

    method: str
    params: JSON
    response: JSON
    status: int
    when: float  # time.monotonic()
    token: str | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the call succeeded (HTTP 200 and ``ok: true``)."""
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        """Slack's error string, if the call failed."""
        value = self.response.get("error")
        return str(value) if value is not None else None


@dataclass
class MessageRevision:
    """One earlier state of a message, kept when it is updated."""

    text: str | None
    blocks: list[JSON] | None
    replaced_at: float  # time.monotonic()
    by: str  # "chat.update" | "response_url" | ...


@dataclass
class Message:
    """A message visible in a conversation (posted by the bot unless ``user`` says otherwise).

    ``history`` holds the earlier revisions (oldest first); ``text``/``blocks`` are current.
    """

    channel: str
    ts: str
    text: str | None
    blocks: list[JSON] | None
    user: str
    bot_id: str | None
    team_id: str
    thread_ts: str | None = None
    attachments: list[JSON] | None = None
    metadata: JSON | None = None
    source: str = "chat.postMessage"
    history: list[MessageRevision] = field(default_factory=list)
    deleted: bool = False
    edited_ts: str | None = None

    @property
    def is_reply(self) -> bool:
        """True for a thread reply (``thread_ts`` set and different from ``ts``)."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    def button_labels(self) -> list[str]:
        """Labels of the buttons in this message."""
        return button_labels(self.blocks)

    def all_text(self) -> str:
        """``text`` plus every text in the blocks, newline-joined, for substring assertions."""
        parts = [self.text or ""]
        parts.extend(iter_texts(self.blocks or []))
        return "\n".join(p for p in parts if p)

    def to_payload(self) -> JSON:
        """This message as Slack includes it in API responses and ``block_actions``."""
        out: JSON = {"type": "message", "user": self.user, "text": self.text or "", "ts": self.ts}
        out["team"] = self.team_id
        if self.bot_id:
            out["bot_id"] = self.bot_id
            out["app_id"] = "A0STANDIN"
        if self.blocks is not None:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.attachments is not None:
            out["attachments"] = copy.deepcopy(self.attachments)
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
        if self.metadata is not None:
            out["metadata"] = copy.deepcopy(self.metadata)
        if self.edited_ts is not None:
            out["edited"] = {"user": self.user, "ts": self.edited_ts}
        return out


@dataclass
class Ephemeral:
    """An ephemeral message shown only to ``user``.

    ``source`` is ``"chat.postEphemeral"``, ``"response_url"`` or ``"ack"`` (a slash
    command acknowledged with a message body).
    """

    channel: str
    user: str
    ts: str
    text: str | None
    blocks: list[JSON] | None
    source: str
    thread_ts: str | None = None
    history: list[MessageRevision] = field(default_factory=list)
    deleted: bool = False

    def button_labels(self) -> list[str]:
        """Labels of the buttons in this ephemeral message."""
        return button_labels(self.blocks)

    def all_text(self) -> str:
        """``text`` plus every text in the blocks, newline-joined."""
        parts = [self.text or ""]
        parts.extend(iter_texts(self.blocks or []))
        return "\n".join(p for p in parts if p)


@dataclass
class View:
    """A modal or home-tab view as Slack stores it.

    ``spec`` is the normalized view the bot sent (block/action ids filled in);
    ``state_values`` is the ``state.values`` Slack would send; ``history`` keeps each
    earlier ``spec``. ``closed`` is set when the view leaves the user's stack.
    """

    id: str
    user: str
    type: str
    spec: JSON
    hash: str
    team_id: str
    root_view_id: str
    previous_view_id: str | None = None
    state_values: JSON = field(default_factory=dict)
    history: list[JSON] = field(default_factory=list)
    closed: bool = False

    @property
    def blocks(self) -> list[JSON]:
        """The view's blocks."""
        return list(self.spec.get("blocks") or [])

    @property
    def title(self) -> str:
        """The modal title text ('' for home tabs)."""
        return str((self.spec.get("title") or {}).get("text", ""))

    @property
    def callback_id(self) -> str:
        """The view's callback_id ('' when unset)."""
        return str(self.spec.get("callback_id") or "")

    @property
    def private_metadata(self) -> str:
        """The view's private_metadata ('' when unset)."""
        return str(self.spec.get("private_metadata") or "")

    @property
    def external_id(self) -> str:
        """The view's external_id ('' when unset)."""
        return str(self.spec.get("external_id") or "")

    def input_labels(self) -> list[str]:
        """Labels of the input blocks, in order."""
        return [
            str((b.get("label") or {}).get("text", ""))
            for b in self.blocks
            if b.get("type") == "input"
        ]

    def button_labels(self) -> list[str]:
        """Labels of the buttons in this view."""
        return button_labels(self.blocks)

    def all_text(self) -> str:
        """Title plus every text in the blocks, newline-joined."""
        return "\n".join([self.title, *iter_texts(self.blocks)])

    def to_payload(self, *, app_id: str, bot_id: str) -> JSON:
        """The full view object Slack sends in payloads and ``views.*`` responses."""
        spec = self.spec
        return {
            "id": self.id,
            "team_id": self.team_id,
            "type": self.type,
            "blocks": copy.deepcopy(spec.get("blocks") or []),
            "private_metadata": spec.get("private_metadata") or "",
            "callback_id": spec.get("callback_id") or "",
            "state": {"values": copy.deepcopy(self.state_values)},
            "hash": self.hash,
            "title": copy.deepcopy(spec.get("title")),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": copy.deepcopy(spec.get("close")),
            "submit": copy.deepcopy(spec.get("submit")),
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id,
            "app_id": app_id,
            "external_id": spec.get("external_id") or "",
            "app_installed_team_id": self.team_id,
            "bot_id": bot_id,
        }


@dataclass
class Trigger:
    """A minted trigger_id; single use, valid for ``LIMITS.trigger_ttl_s`` after minting."""

    id: str
    user: str
    minted_at: float  # stand-in clock
    source: str
    exchanged_by: str | None = None  # the views.* method that used it


@dataclass
class ResponseUrl:
    """A minted response_url and the context it answers to."""

    id: str
    url: str
    user: str
    channel: str
    minted_at: float  # stand-in clock
    origin: str  # "slash_commands" | "block_actions"
    message_ts: str | None = None
    message_is_ephemeral: bool = False
    uses: int = 0


@dataclass
class ResponsePost:
    """One POST the bot made to a response_url, and its effect."""

    url_id: str
    body: JSON
    status: int
    error: str | None
    when: float  # time.monotonic()

    @property
    def response_type(self) -> str:
        """``in_channel`` or ``ephemeral`` (Slack's default)."""
        return str(self.body.get("response_type") or "ephemeral")

    @property
    def replace_original(self) -> bool:
        """Whether the post asked to replace the originating message."""
        return _truthy(self.body.get("replace_original"))

    @property
    def delete_original(self) -> bool:
        """Whether the post asked to delete the originating message."""
        return _truthy(self.body.get("delete_original"))

    @property
    def text(self) -> str | None:
        """The posted text, if any."""
        value = self.body.get("text")
        return str(value) if value is not None else None

    @property
    def blocks(self) -> list[JSON] | None:
        """The posted blocks, if any."""
        value = self.body.get("blocks")
        return value if isinstance(value, list) else None


@dataclass
class Ack:
    """An acknowledgement received over Socket Mode.

    ``latency_ms`` is measured with ``time.monotonic`` from the moment the envelope
    was written to the socket. ``late`` acks arrived after Slack's 3 s deadline and
    had no effect; ``duplicate`` acks repeat an envelope already acked; ``unknown``
    acks name no envelope the stand-in sent.
    """

    envelope_id: str
    payload: JSON | None
    received_at: float
    latency_ms: float | None
    envelope_type: str | None
    connection_id: int
    late: bool = False
    duplicate: bool = False
    unknown: bool = False
    error: str | None = None  # Slack rejected the ack's content (e.g. invalid view)


@dataclass
class Envelope:
    """An envelope the stand-in sent over Socket Mode."""

    envelope_id: str
    type: str
    payload: JSON
    accepts_response_payload: bool
    retry_attempt: int
    retry_reason: str
    sent_at: float  # time.monotonic()
    connection_id: int
    done: asyncio.Future[Ack | None]
    ack: Ack | None = None
    timed_out: bool = False
    redelivery_of: str | None = None

    def to_wire(self) -> JSON:
        """The JSON written to the WebSocket."""
        out: JSON = {
            "envelope_id": self.envelope_id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api" or self.retry_attempt:
            out["retry_attempt"] = self.retry_attempt
            out["retry_reason"] = self.retry_reason
        return out


@dataclass
class ConnectionRecord:
    """One Socket Mode WebSocket connection and its lifecycle."""

    id: int
    ticket: str
    opened_at: float
    closed_at: float | None = None
    close_reason: str | None = None  # "client" | "dropped" | "refresh" | "stop"
    refresh_requested: bool = False


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)
