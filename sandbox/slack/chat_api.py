"""Slack's ``chat.*`` Web API methods: posting, editing, deleting and linking messages.

``chat.postMessage``/``chat.update`` echo the bot's own message back as a ``message``
event when the app subscribes to it (``echo_bot_messages``), as Slack does.
"""

from __future__ import annotations

from typing import Any

from .limits import validate_message
from .network import NetworkBase, _err, _str_or_none
from .records import JSON, Channel, Message

__all__ = ["ChatApi"]


def _content_error(code: str, errors: list[str]) -> JSON:
    if code == "invalid_blocks":
        return _err(
            code, errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
        )
    return _err(code)


class ChatApi(NetworkBase):
    """The ``chat.*`` methods of :class:`~sandbox.slack.webapi.WebApi`.

    ``echo_bot_messages`` is ``SlackStandIn``'s argument of the same name (see there).
    """

    echo_bot_messages: bool

    def _postable(self, ref: Any) -> tuple[Channel | None, JSON | None]:
        if not ref:
            return None, _err("channel_not_found")
        channel = self.find_channel(str(ref))
        if channel is None:
            return None, _err("channel_not_found")
        if channel.archived:
            return None, _err("is_archived")
        if not channel.is_im and not channel.bot_is_member:
            return None, _err("not_in_channel")
        return channel, None

    def _m_chat_post_message(self, params: JSON) -> JSON:
        channel, error = self._postable(params.get("channel"))
        if channel is None:
            return error or _err("channel_not_found")
        text, blocks = _str_or_none(params.get("text")), params.get("blocks")
        code, errors = validate_message(text, blocks, params.get("attachments"), limits=self.limits)
        if code:
            return _content_error(code, errors)
        msg = self.record_message(
            channel,
            text=text,
            blocks=blocks,
            thread_ts=_str_or_none(params.get("thread_ts")),
            attachments=params.get("attachments"),
            metadata=params.get("metadata") if isinstance(params.get("metadata"), dict) else None,
        )
        self._echo(channel, {**msg.to_payload(), "event_ts": msg.ts})
        return {"ok": True, "channel": channel.id, "ts": msg.ts, "message": msg.to_payload()}

    def _echo(self, channel: Channel, event: JSON) -> None:
        """Sends the bot its own post or edit as a ``message`` event, as Slack does when
        the app subscribes to the conversation's message events (``echo_bot_messages``)."""
        if self.echo_bot_messages and self.subscribes(channel.message_event):
            event = {**event, "channel": channel.id, "channel_type": channel.channel_type}
            self._spawn(self.deliver_event(event, require_ack=False))

    def _find_message(self, params: JSON, ts_key: str = "ts") -> tuple[Message | None, JSON | None]:
        ref = params.get("channel")
        channel = self.find_channel(str(ref)) if ref else None
        if channel is None:
            return None, _err("channel_not_found")
        msg = self.message(channel.id, str(params.get(ts_key) or ""))
        if msg is None or msg.deleted:
            return None, _err("message_not_found")
        if channel.archived:
            return None, _err("is_archived")
        return msg, None

    def _m_chat_update(self, params: JSON) -> JSON:
        msg, error = self._find_message(params)
        if msg is None:
            return error or _err("message_not_found")
        if msg.user != self.bot_user_id:
            return _err("cant_update_message")
        text = _str_or_none(params["text"]) if "text" in params else msg.text
        blocks = params["blocks"] if "blocks" in params else msg.blocks
        code, errors = validate_message(text, blocks, msg.attachments, limits=self.limits)
        if code:
            return _content_error(code, errors)
        previous = msg.to_payload()
        self.revise_message(msg, text=text, blocks=blocks, by="chat.update")
        channel = self.find_channel(msg.channel)
        if channel is not None and msg.edited_ts is not None:
            self._echo(
                channel,
                {
                    "type": "message",
                    "subtype": "message_changed",
                    "hidden": True,
                    "message": msg.to_payload(),
                    "previous_message": previous,
                    "ts": msg.edited_ts,
                    "event_ts": msg.edited_ts,
                },
            )
        return {
            "ok": True,
            "channel": msg.channel,
            "ts": msg.ts,
            "text": msg.text or "",
            "message": msg.to_payload(),
        }

    def _m_chat_delete(self, params: JSON) -> JSON:
        msg, error = self._find_message(params)
        if msg is None:
            return error or _err("message_not_found")
        if msg.user != self.bot_user_id:
            return _err("cant_delete_message")
        msg.deleted = True
        self._changed()
        return {"ok": True, "channel": msg.channel, "ts": msg.ts}

    def _m_chat_get_permalink(self, params: JSON) -> JSON:
        msg, error = self._find_message(params, ts_key="message_ts")
        if msg is None:
            return error or _err("message_not_found")
        stamp = msg.ts.replace(".", "")
        link = f"https://{self.team_domain}.slack.com/archives/{msg.channel}/p{stamp}"
        return {"ok": True, "channel": msg.channel, "permalink": link}

    def _m_chat_post_ephemeral(self, params: JSON) -> JSON:
        channel, error = self._postable(params.get("channel"))
        if channel is None:
            return error or _err("channel_not_found")
        user = _str_or_none(params.get("user"))
        if user is None or user not in self.users:
            return _err("user_not_found")
        in_channel = channel.im_user == user if channel.is_im else user in channel.members
        if not in_channel:
            return _err("user_not_in_channel")
        text, blocks = _str_or_none(params.get("text")), params.get("blocks")
        code, errors = validate_message(text, blocks, params.get("attachments"), limits=self.limits)
        if code:
            return _content_error(code, errors)
        eph = self.record_ephemeral(
            channel.id,
            user,
            text=text,
            blocks=blocks,
            source="chat.postEphemeral",
            thread_ts=_str_or_none(params.get("thread_ts")),
        )
        return {"ok": True, "message_ts": eph.ts}
