"""The stand-in's network face: Slack's Web API, response_urls and Socket Mode, on 127.0.0.1.

Point slack_sdk at :attr:`SlackStandIn.api_url` (``AsyncWebClient(base_url=...)``) and the
unmodified SDK, Socket Mode client and Bolt handler talk to it as they would to Slack.

:class:`SlackStandIn` composes the faces -- :mod:`~sandbox.slack.webapi`,
:mod:`~sandbox.slack.response_urls` and :mod:`~sandbox.slack.socket_mode` -- serves them
from one aiohttp app, and holds the faults that cut across them (unreachable, failures,
rate limits, delays, held answers).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from aiohttp import web

# Each ``import X as X`` re-exports a name this module defined or imported before the Web
# API, response_urls and Socket Mode moved to modules of their own: it stays importable here.
from .driver import SlackDriver as SlackDriver
from .faults import FaultPlan, Hold
from .limits import LIMITS, SlackLimits
from .limits import validate_message as validate_message
from .limits import validate_view as validate_view
from .network import _HOST
from .network import _err as _err
from .network import _str_or_none as _str_or_none
from .records import JSON as JSON
from .records import Ack as Ack
from .records import ApiCall as ApiCall
from .records import Channel as Channel
from .records import ConnectionRecord as ConnectionRecord
from .records import Envelope as Envelope
from .records import Ephemeral as Ephemeral
from .records import Message as Message
from .records import ResponsePost as ResponsePost
from .records import ResponseUrl as ResponseUrl
from .records import View as View
from .records import _truthy as _truthy
from .response_urls import ResponseUrls
from .socket_mode import _Conn as _Conn
from .webapi import _JSON_FIELDS as _JSON_FIELDS
from .webapi import Handler as Handler
from .webapi import WebApi
from .webapi import _content_error as _content_error
from .webapi import _Request as _Request

__all__ = ["SlackStandIn"]


class SlackStandIn(WebApi, ResponseUrls):
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
        self._methods = self._method_table()

    # ================================================================= lifecycle

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
