"""The ledger sink and relay, built from the settings (``RECON_LEDGER_*``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Protocol

from bot.container import Container, SetupError
from bot.settings import Settings
from domain.items import JournalEntry
from domain.ledger import Outcome
from domain.notifications import NoticeKind
from ledger.file import FileLedgerSink
from ledger.http import HttpLedgerSink
from scheduler.ledger_relay import LedgerRelay
from store.breakers import BreakerStore
from store.journal import JournalReader
from store.outbox import OutboxStore


class ClosableSink(Protocol):
    """A ledger sink the process closes at shutdown."""

    async def send(self, entry: JournalEntry) -> Outcome:
        """See :class:`domain.ports.LedgerSink`."""
        ...

    async def close(self) -> None:
        """Releases connections."""
        ...


def make_sink(settings: Settings, container: Container) -> ClosableSink:
    """The sink ``RECON_LEDGER_SINK`` names.

    Raises:
        SetupError: the http sink without ``RECON_LEDGER_URL``.
    """
    if settings.ledger_sink == "http":
        if not settings.ledger_url:
            raise SetupError("RECON_LEDGER_SINK=http needs RECON_LEDGER_URL (the ledger's URL)")
        return HttpLedgerSink(url=settings.ledger_url, timeout=settings.ledger_timeout)
    return FileLedgerSink(directory=settings.ledger_directory(), today=container.clock.now)


def make_relay(
    container: Container,
    sink: ClosableSink,
    *,
    alerted: Hook,
    cutoff: asyncio.Event | None = None,
    abort: asyncio.Event | None = None,
) -> LedgerRelay:
    """The ledger relay over the container's store, woken after each commit that
    enqueued an entry; ``alerted`` wakes the Slack relay for the alerts it enqueues;
    ``cutoff`` and ``abort`` are the process's stop (:class:`LedgerRelay`)."""
    database = container.database
    policy = container.policy
    relay = LedgerRelay(
        outbox=OutboxStore(database),
        journal=JournalReader(database),
        breakers=BreakerStore(database),
        deliveries=container.usecases.ledger,
        sink=sink,
        clock=container.clock,
        compliance_channel=lambda: policy.current().policy.compliance.channel,
        alerted=alerted,
        cooldown=timedelta(seconds=container.settings.ledger_cooldown),
        cutoff=cutoff,
        abort=abort,
    )
    container.uow.on_commit(relay.wake, kinds=frozenset({NoticeKind.LEDGER}))
    return relay


class Hook(Protocol):
    """A cheap callback (e.g. a relay's ``wake``)."""

    def __call__(self) -> None: ...
