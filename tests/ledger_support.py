"""Helpers for tests that deliver journal entries: a policy with accounts, and the real
ledger relay over a store, with a fake clock and a seeded jitter."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import timedelta

from domain.policy import LoadedPolicy, parse_policy
from domain.ports import Clock, LedgerSink
from domain.usecases import UseCases
from scheduler.ledger_relay import LedgerRelay, LedgerStats
from store.breakers import BreakerStore
from store.engine import Database
from store.journal import JournalReader
from store.outbox import OutboxStore
from tests.conftest import EXAMPLE_POLICY

#: The example policy's commented accounts section, switched on.
ACCOUNTS_YAML = """
accounts:
  default: {clearing: "1190", suspense: "1999", variance: "6990", write_off: "6800",
            adjustment: "6810", fx_difference: "6920"}
  entities:
    ACME-DE: {clearing: "DE-1190", suspense: "DE-1999"}
"""


def policy_with_accounts() -> LoadedPolicy:
    """The example policy with real accounts (so entries are not held)."""
    return parse_policy(EXAMPLE_POLICY.read_text() + ACCOUNTS_YAML)


def ledger_relay(
    database: Database,
    usecases: UseCases,
    sink: LedgerSink,
    clock: Clock,
    *,
    compliance: Callable[[], str] = lambda: "C0COMPLIANCE",
    cooldown: timedelta = timedelta(seconds=30),
    batch_size: int = 200,
    cutoff: asyncio.Event | None = None,
    abort: asyncio.Event | None = None,
) -> LedgerRelay:
    """The real relay, as ``serve`` builds it, with a seeded jitter."""
    return LedgerRelay(
        outbox=OutboxStore(database),
        journal=JournalReader(database),
        breakers=BreakerStore(database),
        deliveries=usecases.ledger,
        sink=sink,
        clock=clock,
        compliance_channel=compliance,
        cooldown=cooldown,
        batch_size=batch_size,
        rng=random.Random(7),
        cutoff=cutoff,
        abort=abort,
    )


async def deliver_all(relay: LedgerRelay, *, passes: int = 20) -> LedgerStats:
    """Passes until one claims nothing (at most ``passes``); the summed stats."""
    total = LedgerStats()
    for _ in range(passes):
        stats = await relay.run_once()
        total.claimed += stats.claimed
        total.delivered += stats.delivered
        total.retried += stats.retried
        total.dead += stats.dead
        total.held_back += stats.held_back
        if stats.claimed == 0:
            break
    return total
