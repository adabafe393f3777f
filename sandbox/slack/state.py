"""What the stand-in remembers: the workspace directory and a record of everything.

This module is pure (no I/O). :class:`StandInState` is the base of
:class:`~tests.slack_standin.server.SlackStandIn`; its public query helpers
(``messages_in``, ``home_of``, ``ack_latencies_ms`` ...) are what tests assert on.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import random
import secrets
import time
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .limits import LIMITS, SlackLimits

__all__ = [
    "JSON",
    "Ack",
    "ApiCall",
    "Channel",
    "ConnectionRecord",
    "Envelope",
    "Ephemeral",
    "ManualClock",
    "Message",
    "MessageRevision",
    "ResponsePost",
    "ResponseUrl",
    "StandInState",
    "Trigger",
    "User",
    "View",
    "button_labels",
    "iter_buttons",
    "iter_texts",
    "manifest_bot_events",
]

JSON = dict[str, Any]
Clock = Callable[[], float]


def _manifest() -> Path:
    # A built wheel carries the repository's manifest.yml here (setup.py copies it at build
    # time); a source checkout or an editable install has only the top-level one.
    packaged = Path(__file__).resolve().with_name("manifest.yml")
    return packaged if packaged.is_file() else Path(__file__).resolve().parents[2] / "manifest.yml"


#: The app's manifest: its ``bot_events`` decide which events the stand-in delivers.
MANIFEST = _manifest()


def manifest_bot_events(path: Path = MANIFEST) -> frozenset[str]:
    """The bot events ``manifest.yml`` subscribes to (what Slack would deliver)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    events = data["settings"]["event_subscriptions"]["bot_events"]
    return frozenset(str(e) for e in events)


class ManualClock:
    """A hand-driven monotonic clock for deterministic tests.

    Call the instance to read it; :meth:`advance` moves it forward.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward by ``seconds`` (must be >= 0)."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        self.now += seconds


# --------------------------------------------------------------------------- blocks


def iter_buttons(blocks: Any) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Yields ``(block, button_element)`` for every button in a block list.

    Buttons are found in ``actions`` blocks and as ``section`` accessories.
    """
    if not isinstance(blocks, list):
        return
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        candidates: list[Any] = []
        if block.get("type") in ("actions", "context_actions"):
            candidates = list(block.get("elements") or [])
        elif "accessory" in block:
            candidates = [block["accessory"]]
        for element in candidates:
            if isinstance(element, Mapping) and element.get("type") == "button":
                yield block, element


def button_labels(blocks: Any) -> list[str]:
    """The visible labels of every button in a block list, in order."""
    return [str((element.get("text") or {}).get("text", "")) for _, element in iter_buttons(blocks)]


def iter_texts(value: Any) -> Iterator[str]:
    """Yields every human-visible string (``text`` fields of text objects) in a payload."""
    if isinstance(value, Mapping):
        if value.get("type") in ("plain_text", "mrkdwn") and isinstance(value.get("text"), str):
            yield value["text"]
        for key, item in value.items():
            if key in ("text", "type") and isinstance(item, str):
                continue
            yield from iter_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_texts(item)


# --------------------------------------------------------------------------- records


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


# --------------------------------------------------------------------------- state


class StandInState:
    """The workspace directory and the record of everything the bot did.

    Args:
        team_id: Workspace id used in payloads.
        bot_user_id: The bot's user id.
        clock: Monotonic clock (seconds) governing trigger expiry, response_url expiry
            and rate-limit windows; defaults to ``time.monotonic``.
        limits: The limit table to enforce.
        bot_events: The bot events the app subscribes to (default: ``manifest.yml``'s);
            as in Slack, no other event is delivered.
    """

    def __init__(
        self,
        *,
        team_id: str,
        bot_user_id: str,
        clock: Clock | None = None,
        limits: SlackLimits = LIMITS,
        bot_events: Iterable[str] | None = None,
    ) -> None:
        self.bot_events = manifest_bot_events() if bot_events is None else frozenset(bot_events)
        self.team_id = team_id
        self.team_domain = "standin"
        self.bot_user_id = bot_user_id
        self.bot_id = "B0STANDIN"
        self.app_id = "A0STANDIN"
        self.verification_token = "standin-verification-token"
        self.limits = limits
        self._clock: Clock = clock or time.monotonic
        self._rng = random.Random(0)
        self._seq = 0
        self._last_ts_us = 0
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self._dm_by_user: dict[str, str] = {}
        # records
        self.calls: list[ApiCall] = []
        self.messages: dict[str, list[Message]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.modal_stacks: dict[str, list[str]] = {}
        self.homes: dict[str, str] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.response_posts: list[ResponsePost] = []
        self.envelopes: list[Envelope] = []
        self._envelopes_by_id: dict[str, Envelope] = {}
        self.acks: list[Ack] = []
        self.ack_timeouts: list[Envelope] = []
        self.connections: list[ConnectionRecord] = []
        self._waiters: list[asyncio.Future[None]] = []
        self.add_user(bot_user_id, "recon-bot", is_bot=True)

    # ----------------------------------------------------------------- ids & time

    def now(self) -> float:
        """The stand-in clock (injected or ``time.monotonic``)."""
        return self._clock()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0{self._next_seq():06d}{self._rng.randrange(16**4):04X}"

    def _short_id(self) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "".join(self._rng.choice(alphabet) for _ in range(5))

    def _next_ts(self) -> str:
        """A Slack ``ts`` (epoch seconds, 6 decimals), strictly increasing."""
        us = int(time.time() * 1_000_000)
        if us <= self._last_ts_us:
            us = self._last_ts_us + 1
        self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _new_hash(self) -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    # ----------------------------------------------------------------- change feed

    def _changed(self) -> None:
        """Wakes every ``wait_for`` waiter; called after each recorded change."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _change_future(self) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if len(self._waiters) > 64:  # drop waiters whose wait timed out (cancelled)
            self._waiters = [w for w in self._waiters if not w.done()]
        self._waiters.append(future)
        return future

    # ----------------------------------------------------------------- directory

    def add_user(
        self, user_id: str, name: str, *, tz: str = "America/New_York", is_bot: bool = False
    ) -> User:
        """Adds (or replaces) a workspace member and returns it."""
        user = User(user_id, name, tz=tz, is_bot=is_bot)
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: tuple[str, ...] | list[str] | set[str] = (),
        bot_is_member: bool = True,
        archived: bool = False,
        is_private: bool = False,
    ) -> Channel:
        """Adds (or replaces) a channel. Posting needs ``bot_is_member`` and not ``archived``."""
        channel = Channel(
            channel_id,
            name,
            members=set(members),
            bot_is_member=bot_is_member,
            archived=archived,
            is_private=is_private,
        )
        if bot_is_member:
            channel.members.add(self.bot_user_id)
        self.channels[channel_id] = channel
        return channel

    def dm_channel(self, user_id: str) -> Channel:
        """The bot's DM with ``user_id`` (stable ``D...`` id), created on first use."""
        channel_id = self._dm_by_user.get(user_id)
        if channel_id is None:
            channel_id = f"D0{user_id.lstrip('UW')[:9].upper()}{len(self._dm_by_user):02d}"
            self._dm_by_user[user_id] = channel_id
            self.channels[channel_id] = Channel(
                channel_id,
                user_id,
                members={user_id, self.bot_user_id},
                is_im=True,
                im_user=user_id,
            )
        return self.channels[channel_id]

    def find_channel(self, ref: str) -> Channel | None:
        """Resolves a channel reference as ``chat.postMessage`` does.

        Accepts a conversation id, a user id (the bot's DM with that user), or a
        channel name with or without ``#``.
        """
        if ref in self.channels:
            return self.channels[ref]
        if ref in self.users and ref != self.bot_user_id:
            return self.dm_channel(ref)
        name = ref.lstrip("#")
        for channel in self.channels.values():
            if not channel.is_im and channel.name == name:
                return channel
        return None

    def subscribes(self, event: str) -> bool:
        """Whether the app subscribes to the bot event ``event`` (``message.channels``...)."""
        return event in self.bot_events

    # ----------------------------------------------------------------- queries

    def messages_in(self, channel: str, *, include_deleted: bool = False) -> list[Message]:
        """Messages (top-level and thread replies) in ``channel``, oldest first."""
        found = self.find_channel(channel)
        key = found.id if found else channel
        return [m for m in self.messages.get(key, []) if include_deleted or not m.deleted]

    def latest_message(self, channel: str) -> Message | None:
        """The newest non-deleted message (reply or not) in ``channel``, or None."""
        msgs = self.messages_in(channel)
        return msgs[-1] if msgs else None

    def message(self, channel: str, ts: str) -> Message | None:
        """The message at ``ts`` in ``channel`` (deleted ones included), or None."""
        found = self.find_channel(channel)
        key = found.id if found else channel
        for msg in self.messages.get(key, []):
            if msg.ts == ts:
                return msg
        return None

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """The parent and replies of the thread rooted at ``thread_ts``, oldest first."""
        return [
            m for m in self.messages_in(channel) if m.ts == thread_ts or m.thread_ts == thread_ts
        ]

    def home_of(self, user: str) -> View | None:
        """The home tab published for ``user``, or None."""
        view_id = self.homes.get(user)
        return self.views[view_id] if view_id else None

    def modal_stack(self, user: str) -> list[View]:
        """The modals open for ``user``, root first."""
        return [self.views[v] for v in self.modal_stacks.get(user, [])]

    def open_modal(self, user: str) -> View | None:
        """The modal on top of ``user``'s stack (the one they see), or None."""
        stack = self.modal_stacks.get(user) or []
        return self.views[stack[-1]] if stack else None

    def ephemerals_for(self, user: str, channel: str | None = None) -> list[Ephemeral]:
        """Visible ephemerals shown to ``user`` (optionally in one channel), oldest first."""
        found = self.find_channel(channel) if channel else None
        key = found.id if found else channel
        return [
            e
            for e in self.ephemerals
            if e.user == user and not e.deleted and (key is None or e.channel == key)
        ]

    def ack_latencies_ms(self, envelope_type: str | None = None) -> list[float]:
        """Latencies (ms) of first acks, in arrival order, optionally for one envelope type."""
        return [
            a.latency_ms
            for a in self.acks
            if a.latency_ms is not None
            and not a.duplicate
            and not a.unknown
            and (envelope_type is None or a.envelope_type == envelope_type)
        ]

    def calls_to(self, method: str) -> list[ApiCall]:
        """Every recorded call to ``method`` (failed ones included), oldest first."""
        return [c for c in self.calls if c.method == method]

    def envelope(self, envelope_id: str) -> Envelope | None:
        """The envelope with this id, or None."""
        return self._envelopes_by_id.get(envelope_id)

    # ----------------------------------------------------------------- minting

    def mint_trigger(self, user: str, *, source: str = "test") -> str:
        """Mints a trigger_id for ``user``, valid once within ``limits.trigger_ttl_s``."""
        trigger_id = f"{self._next_seq()}.{self._rng.randrange(10**12)}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = Trigger(trigger_id, user, self.now(), source)
        return trigger_id

    def check_trigger(self, trigger_id: Any) -> tuple[Trigger | None, str | None]:
        """Validates a trigger without consuming it: ``(trigger, None)`` or ``(None, error)``."""
        if not isinstance(trigger_id, str) or trigger_id not in self.triggers:
            return None, "invalid_trigger_id"
        trigger = self.triggers[trigger_id]
        if trigger.exchanged_by is not None:
            return None, "exchanged_trigger_id"
        if self.now() - trigger.minted_at > self.limits.trigger_ttl_s:
            return None, "expired_trigger_id"
        return trigger, None

    # ----------------------------------------------------------------- mutations

    def normalize_blocks(self, blocks: list[JSON] | None) -> list[JSON] | None:
        """A deep copy with missing ``block_id``/``action_id`` filled in, as Slack does."""
        if blocks is None:
            return None
        out = copy.deepcopy(blocks)
        for block in out:
            if not isinstance(block, dict):
                continue
            block.setdefault("block_id", self._short_id())
            elements: list[Any] = []
            if isinstance(block.get("elements"), list) and block.get("type") in (
                "actions",
                "context_actions",
            ):
                elements = list(block["elements"])
            for key in ("accessory", "element"):
                if isinstance(block.get(key), dict):
                    elements.append(block[key])
            for element in elements:
                if isinstance(element, dict) and element.get("type") not in (
                    "image",
                    "plain_text",
                    "mrkdwn",
                ):
                    element.setdefault("action_id", self._short_id())
        return out

    def record_message(
        self,
        channel: Channel,
        *,
        text: str | None,
        blocks: list[JSON] | None,
        thread_ts: str | None = None,
        attachments: list[JSON] | None = None,
        metadata: JSON | None = None,
        source: str = "chat.postMessage",
        user: str | None = None,
    ) -> Message:
        """Appends a message to ``channel`` and returns it."""
        msg = Message(
            channel=channel.id,
            ts=self._next_ts(),
            text=text,
            blocks=self.normalize_blocks(blocks),
            user=user or self.bot_user_id,
            bot_id=self.bot_id if (user is None or user == self.bot_user_id) else None,
            team_id=self.team_id,
            thread_ts=thread_ts,
            attachments=copy.deepcopy(attachments),
            metadata=copy.deepcopy(metadata),
            source=source,
        )
        self.messages.setdefault(channel.id, []).append(msg)
        self._changed()
        return msg

    def revise_message(
        self, msg: Message | Ephemeral, *, text: str | None, blocks: list[JSON] | None, by: str
    ) -> None:
        """Replaces a message's content, keeping the old content in ``history``."""
        msg.history.append(MessageRevision(msg.text, msg.blocks, time.monotonic(), by))
        msg.text = text
        msg.blocks = self.normalize_blocks(blocks)
        if isinstance(msg, Message):
            msg.edited_ts = self._next_ts()
        self._changed()

    def record_ephemeral(
        self,
        channel: str,
        user: str,
        *,
        text: str | None,
        blocks: list[JSON] | None,
        source: str,
        thread_ts: str | None = None,
    ) -> Ephemeral:
        """Records an ephemeral message shown to ``user`` and returns it."""
        eph = Ephemeral(
            channel=channel,
            user=user,
            ts=self._next_ts(),
            text=text,
            blocks=self.normalize_blocks(blocks),
            source=source,
            thread_ts=thread_ts,
        )
        self.ephemerals.append(eph)
        self._changed()
        return eph

    def initial_state(self, blocks: list[JSON]) -> JSON:
        """``state.values`` for a fresh view: each input's initial value, as Slack submits it."""
        values: JSON = {}
        for block in blocks:
            if block.get("type") != "input" or not isinstance(block.get("element"), dict):
                continue
            element = block["element"]
            values.setdefault(block["block_id"], {})[element["action_id"]] = element_state(
                element, None
            )
        return values

    def create_view(
        self, user: str, spec: JSON, *, root_view_id: str | None = None, previous: str | None = None
    ) -> View:
        """Stores a new view for ``user`` and returns it (not yet on any stack)."""
        view_id = self._new_id("V")
        normalized = copy.deepcopy(spec)
        normalized["blocks"] = self.normalize_blocks(list(spec.get("blocks") or [])) or []
        view = View(
            id=view_id,
            user=user,
            type=str(spec.get("type")),
            spec=normalized,
            hash=self._new_hash(),
            team_id=self.team_id,
            root_view_id=root_view_id or view_id,
            previous_view_id=previous,
            state_values=self.initial_state(normalized["blocks"]),
        )
        self.views[view_id] = view
        self._changed()
        return view

    def replace_view(self, view: View, spec: JSON) -> None:
        """Replaces a view's content in place (new hash, history kept)."""
        view.history.append(view.spec)
        normalized = copy.deepcopy(spec)
        normalized["blocks"] = self.normalize_blocks(list(spec.get("blocks") or [])) or []
        view.spec = normalized
        view.type = str(spec.get("type", view.type))
        view.hash = self._new_hash()
        # Slack keeps what the user entered in inputs whose block_id/action_id survive.
        fresh = self.initial_state(normalized["blocks"])
        for block_id, actions in fresh.items():
            for action_id, entry in actions.items():
                old = view.state_values.get(block_id, {}).get(action_id)
                if old is not None and old.get("type") == entry.get("type"):
                    actions[action_id] = old
        view.state_values = fresh
        self._changed()

    def close_views(self, user: str, *, all_views: bool) -> None:
        """Pops the top modal of ``user`` (or the whole stack when ``all_views``)."""
        stack = self.modal_stacks.get(user) or []
        doomed = list(stack) if all_views else stack[-1:]
        for view_id in doomed:
            self.views[view_id].closed = True
            stack.remove(view_id)
        self._changed()


def element_state(element: Mapping[str, Any], value: Any) -> JSON:
    """The ``state.values[block][action]`` entry Slack sends for an input element.

    Args:
        element: The input element (its ``type`` selects the shape).
        value: The user's entry already resolved to Slack's shape (string, option
            object, list of option objects, ...), or None to use the element's
            initial value (Slack submits initial values the user left untouched).

    Returns:
        E.g. ``{"type": "plain_text_input", "value": "x"}`` or
        ``{"type": "static_select", "selected_option": None}``.
    """
    kind = str(element.get("type"))
    out: JSON = {"type": kind}
    if kind in ("plain_text_input", "url_text_input", "email_text_input", "number_input"):
        initial = element.get("initial_value")
        out["value"] = value if value is not None else initial
    elif kind in ("static_select", "external_select", "radio_buttons"):
        out["selected_option"] = value if value is not None else element.get("initial_option")
    elif kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        out["selected_options"] = (
            value if value is not None else list(element.get("initial_options") or [])
        )
    elif kind == "datepicker":
        out["selected_date"] = value if value is not None else element.get("initial_date")
    elif kind == "timepicker":
        out["selected_time"] = value if value is not None else element.get("initial_time")
    elif kind == "users_select":
        out["selected_user"] = value if value is not None else element.get("initial_user")
    elif kind == "multi_users_select":
        out["selected_users"] = (
            value if value is not None else list(element.get("initial_users") or [])
        )
    elif kind == "conversations_select":
        out["selected_conversation"] = (
            value if value is not None else element.get("initial_conversation")
        )
    elif kind == "channels_select":
        out["selected_channel"] = value if value is not None else element.get("initial_channel")
    else:
        out["value"] = value
    return out
