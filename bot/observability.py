"""Wiring of the ``telemetry`` adapter into the serve process: the metrics, the
decision spans, a Slack Web API client that times every call, Socket Mode reconnects,
the periodic reading of the store's gauges and the readiness checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from sqlalchemy import text

from bot.settings import Settings
from domain.gauges import STATEMENT_RUNS
from store.audit.anchors import AnchorFile
from store.audit.verification import verify_database
from store.engine import Database, create_database
from store.gauges import finished_runs, read_gauges
from store.migrate import SchemaOutOfDate, check_current
from telemetry.listener import Check
from telemetry.metrics import Metrics
from telemetry.tracing import OtelTelemetry

log = logging.getLogger("recon_bot")


@dataclass(slots=True, kw_only=True)
class Observability:
    """The process's metrics and span telemetry (one of each)."""

    metrics: Metrics = field(default_factory=Metrics)
    telemetry: OtelTelemetry | None = None

    def __post_init__(self) -> None:
        if self.telemetry is None:
            self.telemetry = OtelTelemetry(metrics=self.metrics)

    def shutdown(self) -> None:
        """Flushes spans and stops the meter provider."""
        if self.telemetry is not None:
            self.telemetry.shutdown()
        self.metrics.shutdown()


class MeasuredWebClient(AsyncWebClient):
    """An ``AsyncWebClient`` counting and timing every call by method and outcome
    (``ok``, Slack's error code, or the exception's class; never a payload)."""

    metrics: Metrics | None = None

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        metrics = self.metrics
        if metrics is None:
            return await super().api_call(api_method, **kwargs)
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            outcome = str(error) if isinstance(error, str) and error else "error"
            raise
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            metrics.slack_call(
                method=api_method, outcome=outcome, seconds=time.perf_counter() - started
            )


def measured_client(
    *, token: str, base_url: str, metrics: Metrics, timeout: int = 10
) -> AsyncWebClient:
    """The serve process's Web API client (as ``handlers.notifier.make_client``: no
    retries of its own), measured."""
    client = MeasuredWebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])
    client.metrics = metrics
    return client


def count_reconnects(client: AsyncBaseSocketModeClient, metrics: Metrics) -> None:
    """Counts each Socket Mode ``hello`` after the first: a connection opened again."""
    hellos = 0

    async def on_message(_client: Any, message: Mapping[str, Any], _raw: str | None) -> None:
        nonlocal hellos
        if message.get("type") == "hello":
            hellos += 1
            if hellos > 1:
                metrics.reconnects.add(1)

    client.message_listeners.append(on_message)


async def collect_gauges(
    *, database: Database, metrics: Metrics, interval: float, stop: asyncio.Event, since: datetime
) -> None:
    """Reads the store's gauges now and every ``interval`` seconds until ``stop``, and
    counts the rows of ingest and statement-import runs that finished from ``since`` on
    (each run once: the CLI's imports too, which run in processes of their own).

    A reading is a few grouped queries on the reader engine; a scrape shows the last
    one, so a slow database slows this task, never ``/metrics``.
    """
    counted: set[int] = set()
    while not stop.is_set():
        try:
            metrics.update(await read_gauges(database))
            for run in await finished_runs(database, since=since):
                if run.id in counted:
                    continue
                counted.add(run.id)
                if run.source == STATEMENT_RUNS:  # statements, counted one by one
                    for outcome, n in run.rows.items():
                        metrics.import_rows(source="statement", outcome=outcome, rows=n)
                else:
                    metrics.ingested(run.rows)
        except Exception:
            log.warning("could not read the gauges", exc_info=True, extra={"event": "gauges"})
        try:
            async with asyncio.timeout(interval):
                await stop.wait()
        except TimeoutError:
            pass


def _verify_once(settings: Settings) -> bool:
    """Verifies the whole audit log as ``recon-bot audit verify`` does (anchors
    included), on an event loop and engine of this thread's own."""

    async def verify() -> bool:
        database = create_database(settings.database_url)
        try:
            report = await verify_database(
                database,
                anchors=AnchorFile(settings.audit_anchors),
                now=datetime.now(UTC),
                merge_delay=timedelta(seconds=settings.audit_merge_delay),
            )
        finally:
            await database.dispose()
        return report.ok

    return asyncio.run(verify())


def _settle(done: asyncio.Future[bool], outcome: bool | BaseException) -> None:
    if done.cancelled():
        return
    if isinstance(outcome, BaseException):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)


async def verify_in_thread(settings: Settings) -> bool:
    """:func:`_verify_once` in a daemon thread: hashing a long log would otherwise hold
    the loop that acks Slack for seconds, and a stop must not wait for a verification
    to finish (it only reads).

    Raises:
        Exception: what the verification raised (e.g. the database is unreachable).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bool] = loop.create_future()

    def run() -> None:
        try:
            outcome: bool | BaseException = _verify_once(settings)
        except Exception as exc:  # handed to the loop, never raised in this thread
            outcome = exc
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
            loop.call_soon_threadsafe(_settle, done, outcome)

    threading.Thread(target=run, name="audit-verify", daemon=True).start()
    return await done


async def verify_periodically(*, settings: Settings, metrics: Metrics, stop: asyncio.Event) -> None:
    """Verifies the audit log now and every ``RECON_AUDIT_VERIFY_INTERVAL`` seconds
    until ``stop`` (at least once); each success sets the last-verified time, each
    failure logs an error (``audit_verify_failed``)."""
    interval = settings.audit_verify_interval
    if interval <= 0:
        return
    while True:
        try:
            if await verify_in_thread(settings):
                metrics.audit_verified(time.time())
            else:
                log.error(
                    "the audit log did not verify; run `recon-bot audit verify`",
                    extra={"event": "audit_verify_failed"},
                )
        except Exception:
            log.warning(
                "could not verify the audit log", exc_info=True, extra={"event": "audit_verify"}
            )
        try:
            async with asyncio.timeout(interval):
                await stop.wait()
            return
        except TimeoutError:
            pass


def readiness(*, database: Database, connected: Callable[[], Awaitable[bool]]) -> dict[str, Check]:
    """``/readyz``: the database answers, its schema is current, Socket Mode is up."""

    async def database_reachable() -> str | None:
        try:
            async with asyncio.timeout(2):
                async with database.reader.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except (TimeoutError, OSError) as exc:
            return f"unreachable ({type(exc).__name__})"
        return None

    async def schema_current() -> str | None:
        try:
            async with asyncio.timeout(2):
                await check_current(database)
        except SchemaOutOfDate:
            return "out of date; run `recon-bot db upgrade`"
        return None

    async def socket_connected() -> str | None:
        if not await connected():
            return "not connected"
        return None

    return {
        "database": database_reachable,
        "schema": schema_current,
        "socket_mode": socket_connected,
    }


__all__ = [
    "Observability",
    "collect_gauges",
    "count_reconnects",
    "measured_client",
    "readiness",
    "verify_periodically",
]
