"""Slack's side of Socket Mode: connections, envelope delivery, acks and redelivery.

``apps.connections.open`` (:mod:`sandbox.slack.webapi`) hands out a ticket; the client
opens a WebSocket on ``/link/?ticket=...`` and gets ``hello``. :meth:`SocketMode.deliver`
spreads envelopes over the live connections; an ack applies its payload as Slack would
(a slash command's reply, a modal's ``response_action``). Unacked envelopes time out after
``ack_timeout``; closed connections hand their unacked envelopes to another connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from .limits import validate_message, validate_view
from .network import NetworkBase, _err, _str_or_none
from .records import JSON, Ack, ConnectionRecord, Envelope

__all__ = ["SocketMode"]


@dataclass
class _Conn:
    record: ConnectionRecord
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    ready: bool = False
    draining: bool = False


class SocketMode(NetworkBase):
    """Socket Mode connections and the envelopes sent over them.

    The settings are ``SlackStandIn``'s arguments of the same names (see there).
    """

    ack_timeout: float
    redeliver_unacked: bool
    redeliver_on_close: bool
    refresh_grace: float
    connect_timeout: float
    _turn: int  # round robin over the live connections
    _tickets: set[str]  # minted by apps.connections.open, each opens one connection
    _conns: dict[int, _Conn]
    _ack_timers: dict[str, asyncio.TimerHandle]

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
