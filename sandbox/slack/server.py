"""The stand-in's network face: Slack's Web API, response_urls and Socket Mode, on 127.0.0.1.

Point slack_sdk at :attr:`SlackStandIn.api_url` (``AsyncWebClient(base_url=...)``) and the
unmodified SDK, Socket Mode client and Bolt handler talk to it as they would to Slack.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web

from .driver import SlackDriver
from .faults import FaultPlan, Hold
from .limits import LIMITS, SlackLimits, validate_message, validate_view
from .state import (
    JSON,
    Ack,
    ApiCall,
    Channel,
    ConnectionRecord,
    Envelope,
    Ephemeral,
    Message,
    ResponsePost,
    ResponseUrl,
    View,
    _truthy,
)

__all__ = ["SlackStandIn"]

_HOST = "127.0.0.1"
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")
Handler = Callable[[JSON], JSON]


def _err(error: str, **extra: Any) -> JSON:
    return {"ok": False, "error": error, **extra}


def _content_error(code: str, errors: list[str]) -> JSON:
    if code == "invalid_blocks":
        return _err(
            code, errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
        )
    return _err(code)


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


@dataclass
class _Conn:
    record: ConnectionRecord
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    ready: bool = False
    draining: bool = False


@dataclass
class _Request:
    params: JSON
    bad_json: set[str] = field(default_factory=set)


class SlackStandIn(SlackDriver):
    """A faithful local Slack: Web API + Socket Mode + response_urls, bound to 127.0.0.1.

    Args:
        bot_token: The only token accepted for Web API methods.
        app_token: The only token accepted by ``apps.connections.open``.
        team_id: Workspace id.
        bot_user_id: The bot's user id.
        clock: Monotonic clock (seconds) for trigger_id expiry, response_url expiry and
            rate-limit windows. Defaults to ``time.monotonic``. Ack latencies and ack
            deadlines always use real time.
        limits: Limit table (Slack's by default).
        ack_timeout: Seconds before an unacked envelope is recorded as timed out
            (default ``limits.ack_timeout_s``, Slack's 3 s).
        redeliver_unacked: Redeliver timed-out ``events_api`` envelopes with
            ``retry_attempt + 1`` / ``retry_reason: "timeout"``, up to 3 retries (as Slack does).
        redeliver_on_close: When a Socket Mode connection closes with envelopes it never
            acked (the client died or dropped it), deliver each again on another live
            connection (``retry_attempt + 1``, ``retry_reason: "connection_closed"``), as
            Slack does. The first envelope's ``done`` then resolves with the retry's ack.
        refresh_grace: Seconds after ``request_refresh`` before the stand-in closes
            connections the client did not replace.
        connect_timeout: How long deliveries wait for a Socket Mode connection.
        bot_events: The bot events the app subscribes to (default: ``manifest.yml``'s).
        echo_bot_messages: Deliver the bot's own ``chat.postMessage`` posts as ``message``
            events where it subscribes to them, as Slack does. Off by default so that
            tests counting envelopes see only people's; the thread-log tests turn it on.

    Use as ``async with SlackStandIn() as slack:`` or call :meth:`start`/:meth:`stop`.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        team_id: str = "T0TEST",
        bot_user_id: str = "U0BOT",
        clock: Callable[[], float] | None = None,
        limits: SlackLimits = LIMITS,
        ack_timeout: float | None = None,
        redeliver_unacked: bool = False,
        redeliver_on_close: bool = True,
        refresh_grace: float = 5.0,
        connect_timeout: float = 10.0,
        bot_events: Iterable[str] | None = None,
        echo_bot_messages: bool = False,
    ) -> None:
        self.echo_bot_messages = echo_bot_messages
        super().__init__(
            team_id=team_id,
            bot_user_id=bot_user_id,
            clock=clock,
            limits=limits,
            bot_events=bot_events,
        )
        self.bot_token = bot_token
        self.app_token = app_token
        self.faults = FaultPlan(self.now)
        self.ack_timeout = limits.ack_timeout_s if ack_timeout is None else ack_timeout
        self.redeliver_unacked = redeliver_unacked
        self.redeliver_on_close = redeliver_on_close
        self._stopping = False
        self._turn = 0  # round robin over the live connections
        self.refresh_grace = refresh_grace
        self.connect_timeout = connect_timeout
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._tickets: set[str] = set()
        self._conns: dict[int, _Conn] = {}
        self._ack_timers: dict[str, asyncio.TimerHandle] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._held: list[Hold] = []
        # Cleared while Slack is unreachable (see ``unreachable``).
        self._reachable = asyncio.Event()
        self._reachable.set()
        self._methods: dict[str, Handler] = {
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

    # ================================================================= lifecycle

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("SlackStandIn is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{_HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL for slack_sdk's ``base_url`` (ends with ``/api/``)."""
        return f"{self.base_url}/api/"

    async def start(self) -> None:
        """Binds an ephemeral port on 127.0.0.1 and starts serving."""
        if self._runner is not None:
            raise RuntimeError("already started")
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/link/", self._handle_link)
        app.router.add_get("/link", self._handle_link)
        app.router.add_post("/response/{url_id}", self._handle_response_url)
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((_HOST, 0))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._port = int(sock.getsockname()[1])
        self._runner = runner

    async def stop(self) -> None:
        """Closes every connection, cancels pending work and releases the port."""
        self.reachable()
        self._stopping = True
        for timer in [*self._timers, *self._ack_timers.values()]:
            timer.cancel()
        self._timers.clear()
        self._ack_timers.clear()
        for hold in [*self._held, *self.faults.holds]:
            hold.release()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in list(self._conns.values()):
            await self._close_conn(conn, "stop")
        for env in self.envelopes:
            if not env.done.done():
                env.done.set_result(None)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> SlackStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            callback()

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

    # ================================================================= faults

    def unreachable(self) -> None:
        """Slack stops answering, as behind a network partition: Web API calls,
        ``response_url`` posts and new Socket Mode connections get no answer, and what
        the bot sends on an open connection goes unread (a close handshake, a ping or an
        ack gets no answer). :meth:`reachable` (or :meth:`stop`) ends it."""
        self._reachable.clear()
        for conn in self._conns.values():
            if conn.transport is not None:
                conn.transport.pause_reading()

    def reachable(self) -> None:
        """Slack answers again (held calls are answered now); see :meth:`unreachable`."""
        self._reachable.set()
        for conn in self._conns.values():
            if conn.transport is not None and not conn.transport.is_closing():
                conn.transport.resume_reading()

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: float | None = None,
        times: int = 1,
        channel: str | None = None,
    ) -> None:
        """Makes the next ``times`` calls to ``method`` fail; see :meth:`FaultPlan.fail_next`.

        ``method`` may be ``"*"`` (any Web API method) or ``"response_url"``.
        """
        self.faults.fail_next(
            method,
            error=error,
            status=status,
            retry_after=retry_after,
            times=times,
            channel=channel,
        )

    def rate_limit(
        self, method: str, per_channel_per_second: float = 1.0, *, burst: int = 1
    ) -> None:
        """Answers 429 + ``Retry-After`` beyond the per-channel rate (stand-in clock)."""
        self.faults.rate_limit(method, per_channel_per_second, burst=burst)

    def delay(self, method: str, seconds: float) -> None:
        """Answers ``method`` (``"*"``: every method) only after ``seconds`` of real time."""
        self.faults.delay(method, seconds)

    def hold_response(self, method: str, *, channel: str | None = None) -> Hold:
        """Does the next successful ``method`` call (on ``channel``) but holds its answer.

        ``await hold.reached.wait()`` returns once Slack's side is done (the message is
        stored); the HTTP answer leaves at ``hold.release()`` (or :meth:`stop`). Kill the
        caller in between and it never learns that Slack accepted the call.
        """
        return self.faults.hold(method, channel=channel)

    def drop_response(self, method: str, *, channel: str | None = None) -> Hold:
        """Does the next successful ``method`` call (on ``channel``), then drops the line.

        Slack's side is done (``hold.reached`` is set) but the caller gets no answer: its
        connection is closed, as when a proxy or the network fails mid-call.
        """
        return self.faults.hold(method, channel=channel, drop=True)

    # ================================================================= Web API

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

    # ================================================================= response_url

    def mint_response_url(
        self,
        *,
        user: str,
        channel: str,
        origin: str,
        message_ts: str | None = None,
        ephemeral: bool = False,
    ) -> str:
        """Mints a response_url answering to ``user`` in ``channel``.

        Args:
            user: Who sees ephemeral responses.
            channel: Where responses go.
            origin: ``"slash_commands"`` or ``"block_actions"``.
            message_ts: The originating message (for ``replace_original``/``delete_original``).
            ephemeral: Whether that originating message is an ephemeral one.

        Returns:
            ``http://127.0.0.1:PORT/response/<id>``; usable 5 times within 30 minutes.
        """
        url_id = secrets.token_urlsafe(12)
        url = f"{self.base_url}/response/{url_id}"
        self.response_urls[url_id] = ResponseUrl(
            url_id, url, user, channel, self.now(), origin, message_ts, ephemeral
        )
        return url

    def _origin_of(self, rurl: ResponseUrl) -> Message | Ephemeral | None:
        if rurl.message_ts is None:
            return None
        if rurl.message_is_ephemeral:
            for eph in self.ephemerals:
                if eph.ts == rurl.message_ts and eph.user == rurl.user and not eph.deleted:
                    return eph
            return None
        msg = self.message(rurl.channel, rurl.message_ts)
        return None if msg is None or msg.deleted else msg

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        await self._reachable.wait()
        url_id = request.match_info["url_id"]
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        status, error = self._respond(url_id, body)
        self.response_posts.append(ResponsePost(url_id, body, status, error, time.monotonic()))
        self._changed()
        return web.Response(status=status, text=error or "ok", content_type="text/plain")

    def _respond(self, url_id: str, body: JSON) -> tuple[int, str | None]:
        rurl = self.response_urls.get(url_id)
        if rurl is None:
            return 404, "no_service"
        fault = self.faults.check("response_url", rurl.channel)
        if fault is not None:
            return fault.status, str(fault.body.get("error"))
        if not body:
            return 400, "invalid_payload"
        if self.now() - rurl.minted_at > self.limits.response_url_ttl_s:
            return 404, "expired_url"
        if rurl.uses >= self.limits.response_url_uses:
            return 404, "used_url"
        rurl.uses += 1
        origin = self._origin_of(rurl)
        if _truthy(body.get("delete_original")):
            if origin is None:
                return 404, "message_not_found"
            origin.deleted = True
            return 200, None
        text, blocks = _str_or_none(body.get("text")), body.get("blocks")
        code, _errors = validate_message(text, blocks, body.get("attachments"), limits=self.limits)
        if code:
            return 400, code
        if _truthy(body.get("replace_original")) and origin is not None:
            self.revise_message(origin, text=text, blocks=blocks, by="response_url")
        elif body.get("response_type") == "in_channel":
            channel = self.channels[rurl.channel]
            self.record_message(
                channel,
                text=text,
                blocks=blocks,
                thread_ts=_str_or_none(body.get("thread_ts")),
                source="response_url",
            )
        else:
            self.record_ephemeral(
                rurl.channel, rurl.user, text=text, blocks=blocks, source="response_url"
            )
        return 200, None

    # ================================================================= Socket Mode

    @property
    def live_connections(self) -> int:
        """Open Socket Mode connections that receive envelopes (not draining)."""
        return sum(1 for c in self._conns.values() if c.ready and not c.draining)

    def _pick_connection(self) -> _Conn | None:
        """The next live connection in turn: Slack spreads an app's envelopes over all of
        its connections (up to ``limits.socket_connections``), not only the newest."""
        live = [c for c in self._conns.values() if c.ready and not c.draining and not c.ws.closed]
        if not live:
            return None
        self._turn += 1
        return live[self._turn % len(live)]

    async def wait_connected(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - mirrors wait_for
    ) -> None:
        """Waits until a Socket Mode connection is ready to receive envelopes.

        Raises:
            AssertionError: None within ``timeout`` (default ``connect_timeout``).
        """
        await self._await_connection(self.connect_timeout if timeout is None else timeout)

    async def _await_connection(self, within: float) -> _Conn:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            conn = self._pick_connection()
            if conn is not None:
                return conn
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no Socket Mode connection within {within:g}s "
                    f"(connections so far: {len(self.connections)})"
                )
            change = self._change_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(change, min(remaining, 0.05))

    async def _handle_link(self, request: web.Request) -> web.StreamResponse:
        await self._reachable.wait()
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.json_response(_err("invalid_auth"), status=401)
        ws = web.WebSocketResponse(timeout=1.0)
        await ws.prepare(request)
        record = ConnectionRecord(len(self.connections) + 1, ticket, time.monotonic())
        transport = request.transport
        conn = _Conn(record, ws, transport if isinstance(transport, asyncio.Transport) else None)
        self.connections.append(record)
        self._conns[record.id] = conn
        try:
            hello = {
                "type": "hello",
                "num_connections": sum(1 for c in self._conns.values() if not c.draining),
                "debug_info": {
                    "host": "applink-standin",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
            await ws.send_str(json.dumps(hello))
            conn.ready = True
            self._changed()
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_client_text(conn, str(msg.data))
        except ConnectionError:
            pass
        finally:
            conn.ready = False
            self._conns.pop(record.id, None)
            record.closed_at = time.monotonic()
            record.close_reason = record.close_reason or "client"
            self._carry_over_unacked(record.id)
            self._changed()
        return ws

    def _carry_over_unacked(self, connection_id: int) -> None:
        """Redelivers, on another connection, what a closed connection never acked."""
        if self._stopping or not self.redeliver_on_close:
            return
        for envelope_id in list(self._ack_timers):
            env = self._envelopes_by_id.get(envelope_id)
            if env is None or env.connection_id != connection_id or env.ack is not None:
                continue
            self._ack_timers.pop(envelope_id).cancel()
            self._spawn(self._carry_over(env))

    async def _carry_over(self, env: Envelope) -> None:
        retry = await self.redeliver(env.envelope_id, reason="connection_closed")

        def settle(done: asyncio.Future[Ack | None]) -> None:
            if not env.done.done():
                env.done.set_result(None if done.cancelled() else done.result())

        retry.done.add_done_callback(settle)

    async def _close_conn(self, conn: _Conn, reason: str) -> None:
        conn.ready = False
        conn.record.close_reason = conn.record.close_reason or reason
        try:
            await asyncio.wait_for(conn.ws.close(code=1001), 2.0)
        except (TimeoutError, ConnectionError):
            if conn.transport is not None:
                conn.transport.abort()

    def _closer(self, conn: _Conn, reason: str) -> Callable[[], None]:
        def close() -> None:
            if conn.record.closed_at is None:
                self._spawn(self._close_conn(conn, reason))

        return close

    async def deliver(
        self,
        envelope_type: str,
        payload: JSON,
        *,
        accepts_response_payload: bool,
        retry_attempt: int = 0,
        retry_reason: str = "",
        redelivery_of: str | None = None,
    ) -> Envelope:
        """Sends an envelope to the newest ready connection (waiting for one if needed).

        Args:
            envelope_type: ``slash_commands``, ``interactive`` or ``events_api``.
            payload: The payload, exactly as Slack would send it.
            accepts_response_payload: Whether the ack may carry a response payload.
            retry_attempt: Retry number (0 for first delivery).
            retry_reason: Slack's reason for a retry (e.g. ``timeout``).
            redelivery_of: Envelope id this is a redelivery of.

        Returns:
            The envelope; await ``envelope.done`` for its ack (None on timeout).
        """
        loop = asyncio.get_running_loop()
        while True:
            conn = await self._await_connection(self.connect_timeout)
            env = Envelope(
                envelope_id=str(uuid.uuid4()),
                type=envelope_type,
                payload=payload,
                accepts_response_payload=accepts_response_payload,
                retry_attempt=retry_attempt,
                retry_reason=retry_reason,
                sent_at=time.monotonic(),
                connection_id=conn.record.id,
                done=loop.create_future(),
                redelivery_of=redelivery_of,
            )
            self._envelopes_by_id[env.envelope_id] = env
            try:
                await conn.ws.send_str(json.dumps(env.to_wire()))
            except (ConnectionError, RuntimeError):
                self._envelopes_by_id.pop(env.envelope_id, None)
                conn.ready = False
                continue
            break
        self.envelopes.append(env)
        self._ack_timers[env.envelope_id] = loop.call_later(
            self.ack_timeout, self._on_ack_timeout, env
        )
        self._changed()
        return env

    async def redeliver(self, envelope_id: str, *, reason: str = "timeout") -> Envelope:
        """Delivers an earlier envelope's payload again (new envelope id, ``retry_attempt + 1``).

        Useful to test duplicate-delivery handling of any envelope type.
        """
        original = self._envelopes_by_id.get(envelope_id)
        if original is None:
            raise AssertionError(f"unknown envelope {envelope_id!r}")
        return await self.deliver(
            original.type,
            original.payload,
            accepts_response_payload=original.accepts_response_payload,
            retry_attempt=original.retry_attempt + 1,
            retry_reason=reason,
            redelivery_of=envelope_id,
        )

    def _on_ack_timeout(self, env: Envelope) -> None:
        self._ack_timers.pop(env.envelope_id, None)
        if env.ack is not None:
            return
        env.timed_out = True
        self.ack_timeouts.append(env)
        if not env.done.done():
            env.done.set_result(None)
        if (
            self.redeliver_unacked
            and env.type == "events_api"
            and env.retry_attempt < self.limits.events_max_retries
        ):
            self._spawn(self.redeliver(env.envelope_id, reason="timeout"))
        self._changed()

    def _on_client_text(self, conn: _Conn, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict) or "envelope_id" not in message:
            return
        envelope_id = str(message["envelope_id"])
        payload = message.get("payload")
        env = self._envelopes_by_id.get(envelope_id)
        now = time.monotonic()
        ack = Ack(
            envelope_id=envelope_id,
            payload=payload if isinstance(payload, dict) else None,
            received_at=now,
            latency_ms=(now - env.sent_at) * 1000.0 if env else None,
            envelope_type=env.type if env else None,
            connection_id=conn.record.id,
            late=bool(env and env.timed_out),
            duplicate=bool(env and env.ack is not None),
            unknown=env is None,
        )
        self.acks.append(ack)
        if env is not None and env.ack is None:
            env.ack = ack
            if not env.timed_out:
                timer = self._ack_timers.pop(envelope_id, None)
                if timer is not None:
                    timer.cancel()
                ack.error = self._apply_ack(env, ack.payload or {})
                if not env.done.done():
                    env.done.set_result(ack)
        self._changed()

    def _apply_ack(self, env: Envelope, payload: JSON) -> str | None:
        """Applies an in-time ack's payload as Slack would; returns Slack's complaint, if any."""
        if env.type == "slash_commands":
            if not any(k in payload for k in ("text", "blocks", "attachments")):
                return None
            text, blocks = _str_or_none(payload.get("text")), payload.get("blocks")
            code, errors = validate_message(
                text, blocks, payload.get("attachments"), limits=self.limits
            )
            if code:
                return f"{code}: {errors}" if errors else code
            channel_id, user = str(env.payload["channel_id"]), str(env.payload["user_id"])
            if payload.get("response_type") == "in_channel" and channel_id in self.channels:
                self.record_message(
                    self.channels[channel_id], text=text, blocks=blocks, source="ack"
                )
            else:
                self.record_ephemeral(channel_id, user, text=text, blocks=blocks, source="ack")
            return None
        if env.type == "interactive" and env.payload.get("type") == "view_submission":
            return self._apply_submission_ack(env.payload, payload)
        return None

    def _apply_submission_ack(self, submission: JSON, payload: JSON) -> str | None:
        user = str(submission["user"]["id"])
        view = self.views.get(str(submission["view"]["id"]))
        if view is None or view.closed:
            return "the submitted view is no longer open"
        action = payload.get("response_action")
        if action == "errors":
            errors = payload.get("errors")
            if not isinstance(errors, dict) or not errors:
                return "response_action errors needs a non-empty errors object"
            input_ids = {b.get("block_id") for b in view.blocks if b.get("type") == "input"}
            unknown = sorted(str(k) for k in errors if k not in input_ids)
            if unknown:
                return f"errors name block_ids that are not input blocks: {unknown}"
            return None
        if action in ("update", "push"):
            spec = payload.get("view")
            check = validate_view(spec, expected_type="modal", limits=self.limits)
            if check.error or not isinstance(spec, dict):
                return f"{check.error}: {list(check.messages)}"
            if action == "update":
                self.replace_view(view, spec)
                return None
            stack = self.modal_stacks.setdefault(user, [])
            if len(stack) >= self.limits.modal_stack_depth:
                return "push_limit_reached"
            pushed = self.create_view(
                user,
                spec,
                root_view_id=stack[0] if stack else None,
                previous=stack[-1] if stack else None,
            )
            stack.append(pushed.id)
            return None
        if action == "clear":
            self.close_views(user, all_views=True)
            return None
        if action is None:
            stack = self.modal_stacks.get(user) or []
            if view.id in stack:
                if view.spec.get("clear_on_close"):
                    self.close_views(user, all_views=True)
                else:
                    # closes the submitted view and any view pushed above it
                    for view_id in stack[stack.index(view.id) :]:
                        self.views[view_id].closed = True
                    del stack[stack.index(view.id) :]
                    self._changed()
            return None
        return f"unknown response_action {action!r}"

    async def drop_sockets(self, connection_id: int | None = None) -> int:
        """Kills every Socket Mode connection (or the one ``connection_id`` names)
        abruptly (TCP abort, no close frame), as when the process holding it dies.

        Returns:
            How many connections were dropped. The client notices on its own schedule
            (slack_sdk's aiohttp client: within ``ping_interval``) and reconnects.
        """
        dropped = 0
        for conn in list(self._conns.values()):
            if connection_id is not None and conn.record.id != connection_id:
                continue
            conn.ready = False
            conn.record.close_reason = "dropped"
            if conn.transport is not None:
                conn.transport.abort()
            self._carry_over_unacked(conn.record.id)  # its handler may notice late
            dropped += 1
        self._changed()
        await asyncio.sleep(0)
        return dropped

    async def request_refresh(self, reason: str = "refresh_requested") -> int:
        """Sends ``{"type": "disconnect", "reason": reason}`` on every live connection.

        Those connections stop receiving envelopes at once (new envelopes wait for the
        client's replacement connection) and are closed ``refresh_grace`` seconds later
        if the client has not closed them.

        Returns:
            How many connections were asked to refresh.
        """
        asked = 0
        message = json.dumps(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-standin"}}
        )
        for conn in list(self._conns.values()):
            if not conn.ready or conn.draining:
                continue
            conn.draining = True
            conn.record.refresh_requested = True
            try:
                await conn.ws.send_str(message)
            except (ConnectionError, RuntimeError):
                continue
            asked += 1
            self._later(self.refresh_grace, self._closer(conn, "refresh"))
        self._changed()
        return asked
