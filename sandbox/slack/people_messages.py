"""People's own messages: posting, replying, editing, deleting and joining channels."""

from __future__ import annotations

from .deliveries import DeliveryResult, UserMessage
from .driver_base import DriverBase
from .state import JSON, Channel, Message

__all__ = ["PeopleMessages"]


class PeopleMessages(DriverBase):
    """Messages people post, and the ``message`` events Slack sends about them."""

    def _postable_by(self, user: str, channel: str) -> Channel:
        self._require_user(user)
        chan = self._require_channel(channel)
        if chan.archived:
            raise AssertionError(f"{chan.id} is archived; nobody can post there")
        if not chan.is_im and user not in chan.members:
            raise AssertionError(f"{user} is not a member of {chan.id} (not_in_channel)")
        return chan

    def _own_message(self, user: str, channel: str, ts: str) -> tuple[Channel, Message]:
        chan = self._postable_by(user, channel)
        msg = self.message(chan.id, ts)
        if msg is None or msg.deleted:
            raise AssertionError(f"no message {ts} in {chan.id} (message_not_found)")
        if msg.user != user or msg.bot_id is not None:
            # Slack lets people edit and delete only their own messages.
            raise AssertionError(f"{user} cannot change {ts}: not theirs (cant_update_message)")
        return chan, msg

    async def _message_event(
        self, chan: Channel, event: JSON, *, require_ack: bool
    ) -> DeliveryResult | None:
        """Delivers a ``message`` event if the app subscribes to that conversation's kind."""
        if not self.subscribes(chan.message_event):
            return None
        return await self.deliver_event(
            {**event, "channel": chan.id, "channel_type": chan.channel_type},
            require_ack=require_ack,
        )

    def _user_message_payload(self, msg: Message) -> JSON:
        """A person's message as message events carry it (``client_msg_id`` included)."""
        payload = msg.to_payload()
        payload["client_msg_id"] = f"cm-{msg.channel}-{msg.ts}"
        if msg.thread_ts is not None and msg.is_reply:
            parent = self.message(msg.channel, msg.thread_ts)
            if parent is not None:
                payload["parent_user_id"] = parent.user
        return payload

    async def post_reply(
        self,
        user: str,
        channel: str,
        thread_ts: str,
        text: str,
        *,
        require_ack: bool = True,
    ) -> UserMessage:
        """Replies as ``user`` in the thread of the message at ``thread_ts``.

        The reply is stored in the channel (``conversations.replies`` shows it) and, when
        the app subscribes to the conversation's message events (``message.channels``,
        ``message.groups``, ``message.im``), a ``message`` event is delivered. Naming a
        reply as ``thread_ts`` replies in its thread, as Slack's clients do.
        """
        chan = self._postable_by(user, channel)
        parent = self.message(chan.id, thread_ts)
        if parent is None or parent.deleted:
            raise AssertionError(f"no message {thread_ts} in {chan.id} to reply to")
        root = parent.thread_ts if parent.is_reply and parent.thread_ts else parent.ts
        msg = self.record_message(
            chan, text=text, blocks=None, thread_ts=root, source="user", user=user
        )
        payload = self._user_message_payload(msg)
        event: JSON = {**payload, "event_ts": msg.ts}
        return UserMessage(msg, await self._message_event(chan, event, require_ack=require_ack))

    async def post_message(
        self, user: str, channel: str, text: str, *, require_ack: bool = True
    ) -> UserMessage:
        """Posts a top-level message as ``user`` (not in any thread)."""
        chan = self._postable_by(user, channel)
        msg = self.record_message(chan, text=text, blocks=None, source="user", user=user)
        event: JSON = {**self._user_message_payload(msg), "event_ts": msg.ts}
        return UserMessage(msg, await self._message_event(chan, event, require_ack=require_ack))

    async def edit_message(
        self, user: str, channel: str, ts: str, text: str, *, require_ack: bool = True
    ) -> UserMessage:
        """Edits ``user``'s own message: a ``message_changed`` event with ``message`` (as it
        is now, with ``edited``) and ``previous_message`` (as it was)."""
        chan, msg = self._own_message(user, channel, ts)
        previous = self._user_message_payload(msg)
        self.revise_message(msg, text=text, blocks=None, by="user")
        assert msg.edited_ts is not None
        event: JSON = {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "message": self._user_message_payload(msg),
            "previous_message": previous,
            "ts": msg.edited_ts,
            "event_ts": msg.edited_ts,
        }
        return UserMessage(msg, await self._message_event(chan, event, require_ack=require_ack))

    async def delete_message(
        self, user: str, channel: str, ts: str, *, require_ack: bool = True
    ) -> UserMessage:
        """Deletes ``user``'s own message: a ``message_deleted`` event with ``deleted_ts``
        and ``previous_message``; the message leaves history and replies."""
        chan, msg = self._own_message(user, channel, ts)
        previous = self._user_message_payload(msg)
        msg.deleted = True
        self._changed()
        at = self._next_ts()
        event: JSON = {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "deleted_ts": msg.ts,
            "previous_message": previous,
            "ts": at,
            "event_ts": at,
        }
        return UserMessage(msg, await self._message_event(chan, event, require_ack=require_ack))

    async def join_channel(self, user: str, channel: str, *, require_ack: bool = True) -> None:
        """``user`` joins ``channel``: Slack posts a ``channel_join`` message there."""
        self._require_user(user)
        chan = self._require_channel(channel)
        chan.members.add(user)
        msg = self.record_message(
            chan, text=f"<@{user}> has joined the channel", blocks=None, source="user", user=user
        )
        event: JSON = {
            **self._user_message_payload(msg),
            "subtype": "channel_join",
            "event_ts": msg.ts,
        }
        event.pop("client_msg_id", None)
        await self._message_event(chan, event, require_ack=require_ack)
