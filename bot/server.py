"""``Server``: the running bot (Socket Mode, the relays, the scheduler) and its stop.

Every interaction a listener acks is stored first (the durable inbox, ``store.inbox``),
and the process beats so that another one (or the next start) runs again what it acked
and never finished if it dies (``scheduler.inbox``).

Lifecycle: connect (one log line when connected), serve; on SIGTERM/SIGINT stop, within
a bound (issue 13): take no new work (the scheduler stops; the Socket Mode connection
closes, dropped without the handshake when Slack does not answer within
``SOCKET_CLOSE_S``), let in-flight listeners finish (at most ``LISTENER_GRACE_S``),
leave the live processes (what the listeners could not finish is adopted at once), let
the relays deliver what the last listeners decided for up to ``DELIVERY_GRACE_S`` (the
cutoff: then no call starts and pacing waits end), give calls already under way
``CALL_GRACE_S`` more (the abort: then they are given up), leave every undelivered row
due now for the next start (released, not waiting for its lease to run out; in doubt
where a call was cut short), sign a checkpoint over every audited commit (checkpoints are
batched within ``RECON_AUDIT_MERGE_DELAY``), then close the database. A second signal
during the stop exits at once (see :func:`bot.app.serve`). Slack reconnects (refresh requests,
dropped sockets) are handled by slack_sdk's Socket Mode client.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import socket
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.bolt_app import create_app, dispatcher, make_deps
from bot.container import Container
from bot.ledger import ClosableSink, make_relay, make_sink
from bot.observability import (
    Observability,
    collect_gauges,
    count_reconnects,
    readiness,
    verify_periodically,
)
from bot.redaction import install_log_redaction
from bot.slack_access import reach_slack
from handlers.context import InFlight
from handlers.notifier import SlackNotifier
from scheduler.inbox import InboxKeeper
from scheduler.jobs import Jobs
from scheduler.ledger_relay import LedgerRelay
from scheduler.matching import MatchTrigger
from scheduler.relay import OutboxRelay
from scheduler.setup import build_scheduler
from scheduler.stopping import Interrupted, until
from scheduler.timescale import TimeScale
from store.engine import Database
from store.inbox import SqlInbox, open_inbox_store
from store.outbox import SLACK_KINDS, OutboxStore
from telemetry.listener import Listener

log = logging.getLogger("recon_bot")

#: How long a stop waits for listeners still doing their post-ack work.
LISTENER_GRACE_S = 3.0
#: How long a stop lets the relays deliver (after the listeners finished): the last
#: decisions' ledger entries and card updates go out; the rest of a backlog waits.
DELIVERY_GRACE_S = 1.5
#: How long after that calls already sent to Slack or the ledger may take to come back;
#: then they are given up and their rows left for the next start (in doubt).
CALL_GRACE_S = 1.0
#: How long closing Socket Mode may wait for Slack's side of the close handshake.
SOCKET_CLOSE_S = 1.0
#: The last resort for a relay that does not end once its calls are given up.
RELAY_JOIN_S = 3.0


@dataclass(slots=True, kw_only=True)
class Server:
    """The running bot: Socket Mode handler, outbox relay, and their shutdown."""

    container: Container
    app_token: str
    client: AsyncWebClient
    relay_interval: float = 5.0
    ping_interval: float = 10.0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set ``DELIVERY_GRACE_S`` after the listeners finished: no delivery starts.
    cutoff: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set ``CALL_GRACE_S`` after the cutoff: calls under way to Slack or the ledger give up.
    abort: asyncio.Event = field(default_factory=asyncio.Event)
    inflight: InFlight = field(default_factory=InFlight)
    relay: OutboxRelay | None = None
    ledger_relay: LedgerRelay | None = None
    ledger_sink: ClosableSink | None = None
    handler: AsyncSocketModeHandler | None = None
    scheduler: AsyncIOScheduler | None = None
    jobs: Jobs | None = None
    #: Runs matching after each Stage 1 approval (in the background) and periodically.
    matcher: MatchTrigger | None = None
    http: aiohttp.ClientSession | None = None
    refresh_task: asyncio.Task[int] | None = None
    seal_task: asyncio.Task[None] | None = None
    observability: Observability | None = None
    listener: Listener | None = None
    gauges_task: asyncio.Task[None] | None = None
    verify_task: asyncio.Task[None] | None = None
    #: The durable inbox (interactions stored before their ack) and its keeper.
    inbox: SqlInbox | None = None
    #: Where the inbox's rows live: the desk's database, or on SQLite a file of its own.
    inbox_store: Database | None = None
    keeper: InboxKeeper | None = None
    #: The sandbox's ``--speed``: the digest schedule runs in the bot's faster time.
    time_scale: TimeScale | None = None

    async def start(self) -> None:
        """Connects to Slack and starts the relay.

        Raises:
            SlackUnreachable: Slack's Web API could not be reached (nothing is left open).
        """
        install_log_redaction()
        await self._listen()
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self.inbox = await self._open_inbox()
        deps = make_deps(self.container, self.inflight, self.http, self.inbox)
        app = create_app(client=self.client, deps=deps)
        policy = self.container.policy
        self.relay = OutboxRelay(
            store=OutboxStore(self.container.database),
            notifier=SlackNotifier(client=self.client, deps=deps),
            clock=self.container.clock,
            compliance_channel=lambda: policy.current().policy.compliance.channel,
            cutoff=self.cutoff,
            abort=self.abort,
        )
        self.container.uow.on_commit(self.relay.wake, kinds=SLACK_KINDS)
        self.ledger_sink = make_sink(self.container.settings, self.container)
        self.ledger_relay = make_relay(
            self.container,
            self.ledger_sink,
            alerted=self.relay.wake,
            cutoff=self.cutoff,
            abort=self.abort,
        )
        settings = self.container.settings
        self.matcher = MatchTrigger(usecases=self.container.usecases, clock=self.container.clock)
        self.jobs = Jobs(
            usecases=self.container.usecases,
            clock=self.container.clock,
            relay=self.relay,
            database=self.container.database,
            anchors=self.container.anchors,
            policy=policy,
            sealer=self.container.sealer,
            matcher=self.matcher,
        )
        # A Stage 1 approval runs matching for its statement, after its commit.
        self.container.usecases.statements.on_approved(self.matcher.approved)
        auth = await reach_slack(self.client)
        # Alive before the first envelope: no other process may adopt what it stores.
        await self.inbox.beat()
        self.keeper = InboxKeeper(inbox=self.inbox, dispatch=dispatcher(app))
        self.handler = AsyncSocketModeHandler(
            app, self.app_token, web_client=self.client, ping_interval=self.ping_interval
        )
        if self.observability is not None:
            count_reconnects(self.handler.client, self.observability.metrics)
        await self.handler.connect_async()  # type: ignore[no-untyped-call]
        digest = policy.current().policy.digest
        self.scheduler = build_scheduler(
            self.jobs,
            sweep_interval=settings.sweep_interval,
            relay_interval=self.relay_interval,
            anchor_interval=settings.anchor_interval,
            policy_reload_interval=settings.policy_reload_interval,
            digest_cron=digest.cron,
            digest_timezone=digest.timezone,
            time_scale=self.time_scale,
            match_interval=settings.match_interval,
        )
        self.scheduler.start()
        # Everything built so far (imported modules, the app, caches) lives as long as the
        # process: move it out of the collector's sight. Full collections otherwise rescan
        # it all and stall the event loop for ~100 ms, long enough to delay Slack acks.
        gc.collect()
        gc.freeze()
        # Items stored before this release, or under another policy, get their deadlines.
        # In the background: start-up must not grow with the queue (about 5 s per 100,000
        # open items), and each write is a version compare-and-set, so it never clobbers
        # a decision made meanwhile.
        self.refresh_task = asyncio.create_task(
            self.container.usecases.ladder.refresh_deadlines(now=self.container.clock.now())
        )
        log.info(
            "connected to Slack over Socket Mode as %s in team %s",
            auth.get("user"),
            auth.get("team_id"),
            extra={"event": "connected"},
        )

    async def _open_inbox(self) -> SqlInbox:
        host = socket.gethostname()
        metrics = self.observability.metrics if self.observability is not None else None
        self.inbox_store = await open_inbox_store(self.container.database)
        return SqlInbox(
            self.inbox_store,
            desk=self.container.database,
            owner=f"{host[:60]}:{os.getpid()}:{secrets.token_hex(4)}",
            host=host,
            pid=os.getpid(),
            timeout=timedelta(seconds=self.container.settings.replica_timeout),
            observe=metrics.inbox_event if metrics is not None else None,
        )

    async def _listen(self) -> None:
        """Starts ``/metrics``, ``/healthz`` and ``/readyz`` (before Slack, so ``/readyz``
        says "not connected" meanwhile) and the gauges' reader, unless turned off."""
        addr = self.container.settings.metrics_addr
        if self.observability is None or not addr:
            return
        metrics = self.observability.metrics
        database = self.container.database

        async def connected() -> bool:
            handler = self.handler
            return handler is not None and bool(await handler.client.is_connected())

        self.listener = Listener(
            metrics=metrics, checks=readiness(database=database, connected=connected)
        )
        try:
            await self.listener.start(addr)
        except OSError as exc:
            # The desk matters more than its metrics: serve without them, and say so
            # (``/readyz`` never answering tells an orchestrator as much).
            log.error(
                "could not open the metrics listener on %s: %s",
                addr,
                exc,
                extra={"event": "metrics_listener_failed"},
            )
            self.listener = None
            return
        self.gauges_task = asyncio.create_task(
            collect_gauges(
                database=database,
                metrics=metrics,
                interval=self.container.settings.gauge_interval,
                stop=self.stop,
                since=self.container.clock.now(),
            )
        )
        self.verify_task = asyncio.create_task(
            verify_periodically(settings=self.container.settings, metrics=metrics, stop=self.stop)
        )

    async def run(self) -> None:
        """Serves until ``stop`` is set, then shuts down cleanly."""
        try:
            await until(self.stop, self.start())  # a signal during start-up ends it too
        except Interrupted:
            await self._abandon_start()
            log.info("stopped while starting", extra={"event": "stopped"})
            return
        except BaseException:
            await self._abandon_start()
            raise
        assert self.relay is not None
        relay_task = asyncio.create_task(self.relay.run(self.stop, interval=self.relay_interval))
        sealer = self.container.uow.sealer
        self.seal_task = asyncio.create_task(sealer.run(self.stop)) if sealer is not None else None
        assert self.ledger_relay is not None
        ledger_task = asyncio.create_task(self.ledger_relay.run(self.stop))
        assert self.keeper is not None
        keeper_task = asyncio.create_task(self.keeper.run(self.stop))
        try:
            await self.stop.wait()
        finally:
            await self.shutdown(relay_task, ledger_task, keeper_task)

    async def _abandon_start(self) -> None:
        # A start that failed half-way: close what it opened, deliver nothing.
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self._close_socket_mode()
        if self.http is not None:
            await self.http.close()
        if self.ledger_sink is not None:
            await self.ledger_sink.close()
        await self._stop_listening()
        await self._close_inbox_store()

    async def _close_inbox_store(self) -> None:
        if self.inbox_store is not None and self.inbox_store is not self.container.database:
            await self.inbox_store.dispose()

    async def _stop_listening(self) -> None:
        for task in (self.gauges_task, self.verify_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.listener is not None:
            await self.listener.stop()

    async def shutdown(
        self,
        relay_task: asyncio.Task[None] | None = None,
        ledger_task: asyncio.Task[None] | None = None,
        keeper_task: asyncio.Task[None] | None = None,
    ) -> None:
        """Stops taking work, drains listeners, delivers what they decided (bounded), and
        leaves every other undelivered row due now for the next start.

        Bounded (module docstring): with Slack and the ledger answering, the last
        decisions' deliveries plus at most ``DELIVERY_GRACE_S`` of a backlog; when they
        do not answer, ``max(SOCKET_CLOSE_S, listeners) + DELIVERY_GRACE_S +
        CALL_GRACE_S``, the listeners taking at most ``LISTENER_GRACE_S``.
        """
        log.info("shutting down", extra={"event": "shutdown"})
        self.stop.set()  # the relays' loops end after their pass; the scheduler, below
        loop = asyncio.get_running_loop()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.refresh_task is not None and not self.refresh_task.done():
            self.refresh_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.refresh_task
        _, drained = await asyncio.gather(
            self._close_socket_mode(), self.inflight.drained(LISTENER_GRACE_S)
        )
        if self.matcher is not None:
            await self.matcher.drain(LISTENER_GRACE_S)  # a run commits or rolls back whole
        if not drained:
            log.warning(
                "listeners still running at shutdown",
                extra={"event": "shutdown_inflight", "count": self.inflight.count},
            )
        await self._leave_inbox(keeper_task)
        cutoff = loop.call_later(DELIVERY_GRACE_S, self.cutoff.set)
        abort = loop.call_later(DELIVERY_GRACE_S + CALL_GRACE_S, self.abort.set)
        try:
            # The last decisions' ledger entries first (their postings enqueue the card
            # updates and replies), then Slack: a Slack pass waiting on pacing must not
            # hold the ledger's last pass until the cutoff.
            await self._join_relay(ledger_task)
            if self.ledger_relay is not None and not self.cutoff.is_set():
                await self._last_pass(self.ledger_relay.run_once())
            if self.relay is not None:
                self.relay.wake()
            await self._join_relay(relay_task)
            if self.relay is not None and not self.cutoff.is_set():
                await self._last_pass(self.relay.run_once())
        finally:
            cutoff.cancel()
            abort.cancel()
        await self._seal_audit_log()
        if self.http is not None:
            await self.http.close()
        if self.ledger_sink is not None:
            await self.ledger_sink.close()
        await self._stop_listening()
        await self._close_inbox_store()
        log.info("stopped", extra={"event": "stopped"})

    async def _leave_inbox(self, keeper_task: asyncio.Task[None] | None) -> None:
        """Leaves the live processes (after the listeners: what they could not finish is
        adopted at once by another process, or by the next start)."""
        if keeper_task is not None:
            with contextlib.suppress(Exception):  # its failures were logged as they came
                await keeper_task
        if self.inbox is None:
            return
        try:
            async with asyncio.timeout(LISTENER_GRACE_S):
                await self.inbox.leave()
        except Exception as exc:
            log.warning(
                "could not leave the live processes (%s); the others wait out the timeout",
                type(exc).__name__,
                extra={"event": "inbox_leave_failed"},
            )

    @staticmethod
    async def _join_relay(task: asyncio.Task[None] | None) -> None:
        """Waits for a relay's loop to end its pass (bounded; cancelled past the bound,
        its rows coming back after their lease)."""
        if task is None:
            return
        try:
            async with asyncio.timeout(DELIVERY_GRACE_S + CALL_GRACE_S + RELAY_JOIN_S):
                await task
        except TimeoutError:
            log.warning("a relay did not stop in time", extra={"event": "shutdown_relay"})
            task.cancel()

    @staticmethod
    async def _last_pass(work: Awaitable[object]) -> None:
        """One last relay pass at shutdown (bounded by the cutoff and abort it honours)."""
        try:
            async with asyncio.timeout(DELIVERY_GRACE_S + CALL_GRACE_S + RELAY_JOIN_S):
                await work
        except Exception:
            log.exception("last delivery pass failed", extra={"event": "shutdown_pass_failed"})

    async def _close_socket_mode(self) -> None:
        """Closes Socket Mode; drops the connection when Slack does not answer the close
        handshake within ``SOCKET_CLOSE_S`` (aiohttp would wait 10 s for it)."""
        if self.handler is None:
            return
        client = self.handler.client
        closing = asyncio.ensure_future(self.handler.close_async())  # type: ignore[no-untyped-call]
        done, _ = await asyncio.wait({closing}, timeout=SOCKET_CLOSE_S)
        if done:
            if not closing.cancelled() and closing.exception() is not None:
                log.warning(
                    "closing Socket Mode failed: %s",
                    closing.exception().__class__.__name__,
                    extra={"event": "socket_mode_close_failed"},
                )
            return
        closing.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await closing
        for task in (
            client.message_processor,
            client.current_session_monitor,
            client.message_receiver,
        ):
            if task is not None:
                task.cancel()
        await client.aiohttp_client_session.close()  # aborts the connection, no handshake
        log.warning(
            "Slack did not answer the Socket Mode close; connection dropped",
            extra={"event": "socket_mode_dropped"},
        )

    async def _seal_audit_log(self) -> None:
        """Signs a checkpoint over every audited commit (after the last listener and job)."""
        if self.seal_task is not None:
            with contextlib.suppress(Exception):  # its failures were logged as they came
                await self.seal_task
        if self.container.uow.sealer is None:
            return  # every commit signed its own checkpoint
        try:
            checkpoint = await self.container.uow.sealer.close()
        except Exception:
            # The next start seals the tail (Container.open); say so rather than hide it.
            log.exception(
                "could not seal the audit log at shutdown",
                extra={"event": "audit_seal_failed"},
            )
            return
        if checkpoint is not None:
            log.info(
                "audit log sealed at shutdown",
                extra={"event": "audit_sealed", "size": checkpoint.size},
            )
