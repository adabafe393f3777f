"""Slack's ``conversations.*`` and ``users.*`` Web API methods: reading the workspace.

Opening DMs, paging a conversation's history and a thread's replies, and describing
channels and members, with Slack's cursors, limits and errors.
"""

from __future__ import annotations

import base64
import binascii

from .network import NetworkBase, _err, _str_or_none
from .records import JSON, _truthy

__all__ = ["ConversationsApi"]


class ConversationsApi(NetworkBase):
    """The ``conversations.*`` and ``users.*`` methods of :class:`~sandbox.slack.webapi.WebApi`."""

    def _m_conversations_open(self, params: JSON) -> JSON:
        channel_ref = _str_or_none(params.get("channel"))
        if channel_ref is not None:
            found = self.channels.get(channel_ref)
            if found is None or not found.is_im:
                return _err("channel_not_found")
            return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": found.id}}
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            return _err("users_list_not_supplied")
        if len(users) > 1:
            return _err("not_supported", detail="the stand-in opens 1:1 DMs only")
        if users[0] not in self.users or users[0] == self.bot_user_id:
            return _err("user_not_found")
        existed = users[0] in self._dm_by_user
        channel = self.dm_channel(users[0])
        body: JSON = {"id": channel.id}
        if _truthy(params.get("return_im")):
            body = channel.to_api()
        return {"ok": True, "no_op": existed, "already_open": existed, "channel": body}

    def _m_conversations_history(self, params: JSON) -> JSON:
        """Top-level messages, newest first, paged by ``cursor`` (as Slack does).

        ``oldest``/``latest`` bound the window (exclusive unless ``inclusive``); message
        ``metadata`` is only returned with ``include_all_metadata``.
        """
        ref = _str_or_none(params.get("channel"))
        channel = self.channels.get(ref) if ref else None
        if channel is None:
            return _err("channel_not_found")
        if not channel.is_im and not channel.bot_is_member:
            return _err("not_in_channel")
        try:
            limit = int(params.get("limit") or 100)
            oldest = float(params.get("oldest") or 0)
            latest = float(params["latest"]) if _str_or_none(params.get("latest")) else None
        except (TypeError, ValueError):
            return _err("invalid_arguments")
        if limit < 1:
            return _err("invalid_limit")
        limit = min(limit, self.limits.history_max_limit)
        inclusive = _truthy(params.get("inclusive"))
        before: float | None = None
        cursor = _str_or_none(params.get("cursor"))
        if cursor is not None:
            try:
                before = float(base64.b64decode(cursor, validate=True).decode()[len("next_ts:") :])
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return _err("invalid_cursor")

        def in_window(ts: float) -> bool:
            if ts < oldest or (ts == oldest and not inclusive and oldest):
                return False
            if latest is not None and (ts > latest or (ts == latest and not inclusive)):
                return False
            return before is None or ts < before

        found = [
            m
            for m in reversed(self.messages.get(channel.id, []))
            if not m.deleted and not m.is_reply and in_window(float(m.ts))
        ]
        page, more = found[:limit], len(found) > limit
        messages = []
        for msg in page:
            payload = msg.to_payload()
            if not _truthy(params.get("include_all_metadata")):
                payload.pop("metadata", None)
            messages.append(payload)
        body: JSON = {
            "ok": True,
            "messages": messages,
            "has_more": more,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if more:
            next_cursor = base64.b64encode(f"next_ts:{page[-1].ts}".encode()).decode()
            body["response_metadata"] = {"next_cursor": next_cursor}
        return body

    def _m_conversations_replies(self, params: JSON) -> JSON:
        """A thread, as Slack gives it: the parent first, then its replies oldest first.

        ``ts`` names the parent or any reply in the thread (a message with no replies is
        a thread of one). Paged by ``cursor``/``limit``; message ``metadata`` is only
        returned with ``include_all_metadata``. (``oldest``/``latest`` are not modelled.)
        """
        ref = _str_or_none(params.get("channel"))
        channel = self.channels.get(ref) if ref else None
        if channel is None:
            return _err("channel_not_found")
        if not channel.is_im and not channel.bot_is_member:
            return _err("not_in_channel")
        ts = _str_or_none(params.get("ts"))
        if ts is None:
            return _err("invalid_arguments")
        try:
            limit = int(params.get("limit") or 1000)
        except (TypeError, ValueError):
            return _err("invalid_arguments")
        if limit < 1:
            return _err("invalid_limit")
        limit = min(limit, self.limits.history_max_limit)
        named = self.message(channel.id, ts)
        if named is None or named.deleted:
            return _err("thread_not_found")
        root = named.thread_ts if named.is_reply and named.thread_ts else named.ts
        thread = self.thread(channel.id, root)
        parent = [m for m in thread if m.ts == root]
        replies = sorted((m for m in thread if m.ts != root), key=lambda m: float(m.ts))
        messages = parent + replies
        cursor = _str_or_none(params.get("cursor"))
        if cursor is not None:
            try:
                after = float(base64.b64decode(cursor, validate=True).decode()[len("next_ts:") :])
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return _err("invalid_cursor")
            messages = [m for m in replies if float(m.ts) >= after]
        page, more = messages[:limit], len(messages) > limit
        payloads = []
        for msg in page:
            payload = msg.to_payload()
            if not _truthy(params.get("include_all_metadata")):
                payload.pop("metadata", None)
            payloads.append(payload)
        body: JSON = {"ok": True, "messages": payloads, "has_more": more}
        if more:
            next_cursor = base64.b64encode(f"next_ts:{messages[limit].ts}".encode()).decode()
            body["response_metadata"] = {"next_cursor": next_cursor}
        return body

    def _m_conversations_info(self, params: JSON) -> JSON:
        ref = _str_or_none(params.get("channel"))
        channel = self.channels.get(ref) if ref else None
        if channel is None:
            return _err("channel_not_found")
        return {"ok": True, "channel": channel.to_api()}

    def _m_users_info(self, params: JSON) -> JSON:
        user = self.users.get(str(params.get("user") or ""))
        if user is None:
            return _err("user_not_found")
        return {"ok": True, "user": user.to_api(self.team_id)}
