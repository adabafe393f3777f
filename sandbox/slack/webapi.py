"""Slack's Web API: ``/api/<method>``, answered as Slack answers, with its errors and limits.

Each method checks its token (bot or app), the fault plan, the request's JSON fields and
then its arguments, and changes the stand-in's state the way Slack would. Every call is
recorded (``calls``) for tests to assert on.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .limits import validate_message, validate_view
from .network import _HOST, _err, _str_or_none
from .records import JSON, ApiCall, Channel, Message, View, _truthy
from .socket_mode import SocketMode

__all__ = ["WebApi"]

_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")
Handler = Callable[[JSON], JSON]


def _content_error(code: str, errors: list[str]) -> JSON:
    if code == "invalid_blocks":
        return _err(
            code, errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
        )
    return _err(code)


@dataclass
class _Request:
    params: JSON
    bad_json: set[str] = field(default_factory=set)


class WebApi(SocketMode):
    """The Web API methods the bot calls; ``apps.connections.open`` opens Socket Mode.

    ``bot_token``, ``app_token`` and ``echo_bot_messages`` are ``SlackStandIn``'s
    arguments of the same names (see there).
    """

    bot_token: str
    app_token: str
    echo_bot_messages: bool
    _methods: dict[str, Handler]

    def _method_table(self) -> dict[str, Handler]:
        return {
            "api.test": self._m_api_test,
            "auth.test": self._m_auth_test,
            "apps.connections.open": self._m_apps_connections_open,
            "chat.postMessage": self._m_chat_post_message,
            "chat.update": self._m_chat_update,
            "chat.delete": self._m_chat_delete,
            "chat.postEphemeral": self._m_chat_post_ephemeral,
            "chat.getPermalink": self._m_chat_get_permalink,
            "conversations.history": self._m_conversations_history,
            "conversations.replies": self._m_conversations_replies,
            "conversations.open": self._m_conversations_open,
            "conversations.info": self._m_conversations_info,
            "users.info": self._m_users_info,
            "views.open": self._m_views_open,
            "views.push": self._m_views_push,
            "views.update": self._m_views_update,
            "views.publish": self._m_views_publish,
        }

    async def _read_request(self, request: web.Request) -> _Request:
        params: JSON = dict(request.query)
        bad: set[str] = set()
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                body: Any
                try:
                    body = await request.json()
                except ValueError:
                    body = None
                    bad.add("body")
                if isinstance(body, dict):
                    params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, item in form.items():
                    if isinstance(item, str):
                        params[key] = item
        for key in _JSON_FIELDS:
            value = params.get(key)
            if isinstance(value, str):
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    bad.add(key)
        return _Request(params, bad)

    @staticmethod
    def _token_of(request: web.Request, params: JSON) -> str | None:
        in_params = params.pop("token", None)
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer ") :].strip() or None
        return str(in_params) if in_params else None

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        await self._reachable.wait()
        method = request.match_info["method"]
        req = await self._read_request(request)
        token = self._token_of(request, req.params)
        delay = self.faults.delay_for(method)
        if delay:
            await asyncio.sleep(delay)
        status, body, headers = self._answer(method, req, token)
        redacted = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        self.calls.append(
            ApiCall(method, req.params, body, status, time.monotonic(), token, redacted)
        )
        self._changed()
        hold = (
            self.faults.take_hold(method, _str_or_none(req.params.get("channel")))
            if body.get("ok")
            else None
        )
        if hold is not None:
            self._held.append(hold)
            hold.answer = body
            hold.reached.set()
            if hold.drop and request.transport is not None:
                request.transport.close()
                return web.Response()  # (never reaches the caller)
            await hold.released.wait()
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, method: str, req: _Request, token: str | None
    ) -> tuple[int, JSON, dict[str, str]]:
        handler = self._methods.get(method)
        if handler is None:
            return 200, _err("unknown_method", req_method=method), {}
        if token is None:
            return 200, _err("not_authed"), {}
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        other = self.bot_token if method == "apps.connections.open" else self.app_token
        if token == other:
            return 200, _err("not_allowed_token_type"), {}
        if token != wanted:
            return 200, _err("invalid_auth"), {}
        fault = self.faults.check(method, _str_or_none(req.params.get("channel")))
        if fault is not None:
            return fault.status, dict(fault.body), dict(fault.headers)
        if "body" in req.bad_json:
            return 200, _err("invalid_json"), {}
        if "blocks" in req.bad_json:
            return 200, _err("invalid_blocks_format"), {}
        if "attachments" in req.bad_json:
            return 200, _err("invalid_attachments"), {}
        if "view" in req.bad_json:
            return 200, _err("invalid_arguments"), {}
        return 200, handler(req.params), {}

    # ----------------------------------------------------------------- auth / apps

    def _m_api_test(self, params: JSON) -> JSON:
        return {"ok": True, "args": {k: v for k, v in params.items() if isinstance(v, str)}}

    def _m_auth_test(self, params: JSON) -> JSON:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Stand-in Workspace",
            "user": self.users[self.bot_user_id].name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, params: JSON) -> JSON:
        if len(self._conns) >= self.limits.socket_connections:
            # Slack allows an app this many simultaneous connections; the error name is
            # the stand-in's own (Slack's docs give the limit, not the code).
            return _err("too_many_websockets")
        ticket = secrets.token_hex(12)
        self._tickets.add(ticket)
        return {
            "ok": True,
            "url": f"ws://{_HOST}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}",
        }

    # ----------------------------------------------------------------- chat

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

    # ----------------------------------------------------------------- conversations / users

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

    # ----------------------------------------------------------------- views

    def _view_payload(self, view: View) -> JSON:
        return {"ok": True, "view": view.to_payload(app_id=self.app_id, bot_id=self.bot_id)}

    def _check_view(self, view: Any, expected_type: str) -> JSON | None:
        check = validate_view(view, expected_type=expected_type, limits=self.limits)
        if check.error:
            return _err(check.error, response_metadata={"messages": list(check.messages)})
        return None

    def _external_id_taken(self, view: Mapping[str, Any], except_id: str | None = None) -> bool:
        external_id = view.get("external_id")
        if not external_id:
            return False
        return any(
            v.external_id == external_id and not v.closed and v.id != except_id
            for v in self.views.values()
        )

    def _m_views_open(self, params: JSON) -> JSON:
        trigger, error = self.check_trigger(params.get("trigger_id"))
        if trigger is None:
            return _err(error or "invalid_trigger_id")
        spec = params.get("view")
        problem = self._check_view(spec, "modal")
        if problem or not isinstance(spec, dict):
            return problem or _err("invalid_arguments")
        if self._external_id_taken(spec):
            return _err("duplicate_external_id")
        trigger.exchanged_by = "views.open"
        if self.modal_stacks.get(trigger.user):
            self.close_views(trigger.user, all_views=True)
        view = self.create_view(trigger.user, spec)
        self.modal_stacks[trigger.user] = [view.id]
        return self._view_payload(view)

    def _m_views_push(self, params: JSON) -> JSON:
        trigger, error = self.check_trigger(params.get("trigger_id"))
        if trigger is None:
            return _err(error or "invalid_trigger_id")
        spec = params.get("view")
        problem = self._check_view(spec, "modal")
        if problem or not isinstance(spec, dict):
            return problem or _err("invalid_arguments")
        stack = self.modal_stacks.get(trigger.user) or []
        if not stack:
            return _err(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] no open modal to push onto [json-pointer:/view]"]
                },
            )
        if len(stack) >= self.limits.modal_stack_depth:
            return _err("push_limit_reached")
        if self._external_id_taken(spec):
            return _err("duplicate_external_id")
        trigger.exchanged_by = "views.push"
        view = self.create_view(trigger.user, spec, root_view_id=stack[0], previous=stack[-1])
        stack.append(view.id)
        return self._view_payload(view)

    def _m_views_update(self, params: JSON) -> JSON:
        view_id, external_id = (
            _str_or_none(params.get("view_id")),
            _str_or_none(params.get("external_id")),
        )
        if view_id is None and external_id is None:
            return _err(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] view_id or external_id is required"]},
            )
        target: View | None = None
        for view in self.views.values():
            if (view_id and view.id == view_id) or (
                external_id and view.external_id == external_id
            ):
                target = view
        if target is None or target.closed:
            return _err("not_found")
        expected_hash = _str_or_none(params.get("hash"))
        if expected_hash is not None and expected_hash != target.hash:
            return _err("hash_conflict")
        spec = params.get("view")
        problem = self._check_view(spec, target.type)
        if problem or not isinstance(spec, dict):
            return problem or _err("invalid_arguments")
        if self._external_id_taken(spec, except_id=target.id):
            return _err("duplicate_external_id")
        self.replace_view(target, spec)
        return self._view_payload(target)

    def _m_views_publish(self, params: JSON) -> JSON:
        user = _str_or_none(params.get("user_id"))
        if user is None or user not in self.users:
            return _err("user_not_found")
        spec = params.get("view")
        problem = self._check_view(spec, "home")
        if problem or not isinstance(spec, dict):
            return problem or _err("invalid_arguments")
        current = self.home_of(user)
        expected_hash = _str_or_none(params.get("hash"))
        if current is not None and expected_hash is not None and expected_hash != current.hash:
            return _err("hash_conflict")
        if current is None:
            current = self.create_view(user, spec)
            self.homes[user] = current.id
        else:
            self.replace_view(current, spec)
        return self._view_payload(current)
