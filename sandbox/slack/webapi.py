"""Slack's Web API: ``/api/<method>``, answered as Slack answers, with its errors and limits.

Each method checks its token (bot or app), the fault plan, the request's JSON fields and
then its arguments, and changes the stand-in's state the way Slack would. Every call is
recorded (``calls``) for tests to assert on.

This module owns the request handling (parsing, tokens, faults, dispatch) and the
``api.*``/``auth.*``/``apps.*`` methods; the method families live in
:mod:`~sandbox.slack.chat_api` (``chat.*``), :mod:`~sandbox.slack.conversations_api`
(``conversations.*``, ``users.*``) and :mod:`~sandbox.slack.views_api` (``views.*``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .chat_api import ChatApi
from .chat_api import _content_error as _content_error
from .conversations_api import ConversationsApi
from .network import _HOST, _err, _str_or_none
from .records import JSON, ApiCall
from .socket_mode import SocketMode
from .views_api import ViewsApi

__all__ = ["WebApi"]

_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")
Handler = Callable[[JSON], JSON]


@dataclass
class _Request:
    params: JSON
    bad_json: set[str] = field(default_factory=set)


class WebApi(SocketMode, ChatApi, ConversationsApi, ViewsApi):
    """The Web API methods the bot calls; ``apps.connections.open`` opens Socket Mode.

    ``bot_token``, ``app_token`` and ``echo_bot_messages`` are ``SlackStandIn``'s
    arguments of the same names (see there).
    """

    bot_token: str
    app_token: str
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
