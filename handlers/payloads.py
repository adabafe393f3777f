"""Slack payloads parsed at the edge into small pydantic models (nothing past here digs in dicts).

Only the fields the bot uses are modelled; everything else Slack sends is ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.usecases.dispute_log import MessageChange, ThreadMessage


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SlashCommand(_Model):
    """A ``/recon`` invocation."""

    user_id: str
    channel_id: str = ""
    text: str = ""
    trigger_id: str = ""
    response_url: str = ""
    command: str = ""


class _Id(_Model):
    id: str


class _Container(_Model):
    type: str = ""
    channel_id: str | None = None
    message_ts: str | None = None
    view_id: str | None = None


class _Action(_Model):
    action_id: str
    block_id: str = ""
    value: str = ""


class BlockAction(_Model):
    """A button click in a message, a modal or the App Home."""

    user: _Id
    actions: list[_Action] = Field(min_length=1)
    trigger_id: str = ""
    response_url: str | None = None
    container: _Container = _Container()
    channel: _Id | None = None

    @property
    def action(self) -> _Action:
        """The clicked element."""
        return self.actions[0]

    @property
    def channel_id(self) -> str | None:
        """The channel of the message clicked, if any."""
        return self.container.channel_id or (self.channel.id if self.channel else None)

    @property
    def message_ts(self) -> str | None:
        """The ts of the message clicked, if any."""
        return self.container.message_ts

    @property
    def in_view(self) -> bool:
        """Whether the click came from a modal or the App Home."""
        return self.container.type == "view"


class _View(_Model):
    id: str = ""
    callback_id: str = ""
    private_metadata: str = ""
    hash: str = ""
    state: dict[str, Any] = Field(default_factory=dict)


class ViewSubmission(_Model):
    """A modal's submit."""

    user: _Id
    view: _View

    @property
    def values(self) -> dict[str, dict[str, Any]]:
        """``view.state.values``: block_id -> action_id -> element state."""
        values = self.view.state.get("values", {})
        return values if isinstance(values, dict) else {}


class AppHomeOpened(_Model):
    """The ``app_home_opened`` event."""

    user: str
    tab: str = "home"


class _Edited(_Model):
    ts: str = ""


class _Message(_Model):
    """A message as a ``message`` event carries it (itself, or inside a change)."""

    user: str | None = None
    bot_id: str | None = None
    subtype: str | None = None
    text: str = ""
    ts: str = ""
    thread_ts: str | None = None
    edited: _Edited | None = None

    def is_reply(self) -> bool:
        """A reply in a thread (not the thread's parent, not a top-level message)."""
        return bool(self.thread_ts) and self.thread_ts != self.ts

    def by_person(self, bot_user: str | None) -> str | None:
        """The person who wrote it; None for the bot's (or any app's) messages."""
        if self.bot_id or not self.user or self.user == bot_user:
            return None
        return self.user


class _MessageEvent(_Message):
    channel: str = ""
    message: _Message | None = None
    previous_message: _Message | None = None
    deleted_ts: str | None = None


class _Authorization(_Model):
    user_id: str | None = None


#: Subtypes of a message a person posts (a reply also sent to the channel, a file).
_POSTED_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


class MessageCallback(_Model):
    """An Events API ``message`` event (``message.channels``, ``message.groups``)."""

    event: _MessageEvent
    authorizations: list[_Authorization] = Field(default_factory=list)

    @property
    def bot_user(self) -> str | None:
        """The bot's own user id, as the event names it."""
        return self.authorizations[0].user_id if self.authorizations else None

    def thread_change(self) -> ThreadMessage | None:
        """The change of a person's thread reply this event tells of, else None.

        None for the bot's own messages, top-level messages, thread parents, edits that
        leave the text as it was (Slack also sends ``message_changed`` for link
        previews), and every other subtype (joins, topics...).
        """
        event, bot = self.event, self.bot_user
        if event.subtype in _POSTED_SUBTYPES:
            return _change(event, event, bot, MessageChange.POSTED)
        if event.subtype == "message_changed" and event.message is not None:
            now, before = event.message, event.previous_message
            if before is not None and before.text == now.text:
                return None
            edited_ts = now.edited.ts if now.edited and now.edited.ts else event.ts
            return _change(event, now, bot, MessageChange.EDITED, edited_ts=edited_ts)
        if event.subtype == "message_deleted" and event.previous_message is not None:
            gone = event.previous_message
            if event.deleted_ts and not gone.ts:
                gone = gone.model_copy(update={"ts": event.deleted_ts})
            return _change(event, gone, bot, MessageChange.DELETED)
        return None


def _change(
    event: _MessageEvent,
    message: _Message,
    bot_user: str | None,
    change: MessageChange,
    *,
    edited_ts: str | None = None,
) -> ThreadMessage | None:
    user = message.by_person(bot_user)
    if user is None or not message.is_reply() or not event.channel or not message.thread_ts:
        return None
    return ThreadMessage(
        channel=event.channel,
        thread_ts=message.thread_ts,
        ts=message.ts,
        user=user,
        text=message.text,
        change=change,
        edited_ts=edited_ts,
    )
