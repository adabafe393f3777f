"""What the stand-in remembers: the workspace directory and a record of everything.

This module is pure (no I/O). :class:`StandInState` is the base of
:class:`~tests.slack_standin.server.SlackStandIn`; its public query helpers
(``messages_in``, ``home_of``, ``ack_latencies_ms`` ...) are what tests assert on. The
records it keeps live in :mod:`sandbox.slack.records` and the Block Kit readers in
:mod:`sandbox.slack.blocks`; both are re-exported here, where they were first defined.
So are the clock (:mod:`sandbox.slack.clock`) and the manifest reader
(:mod:`sandbox.slack.manifest`).
"""

from __future__ import annotations

import asyncio
import copy
import random
import secrets
import time
from collections.abc import Iterable
from typing import Any

from .blocks import button_labels, iter_buttons, iter_texts
from .blocks import element_state as element_state
from .clock import Clock as Clock
from .clock import ManualClock as ManualClock
from .limits import LIMITS, SlackLimits
from .manifest import MANIFEST as MANIFEST
from .manifest import manifest_bot_events as manifest_bot_events
from .records import (
    JSON,
    Ack,
    ApiCall,
    Channel,
    ConnectionRecord,
    Envelope,
    Ephemeral,
    Message,
    MessageRevision,
    ResponsePost,
    ResponseUrl,
    Trigger,
    User,
    View,
)
from .records import _truthy as _truthy

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
