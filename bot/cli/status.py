"""``recon-bot status``: what an operator checks first, in one read.

The circuit breakers (the ledger's above all), the outbox (Slack messages and ledger
entries waiting or dead), the journal entries by delivery state, the open items, the
live ``serve`` processes and the interactions their inbox has not finished, the schema
revision and the policy version.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from bot.cli.root import main, out, print_json, run_coroutine, with_container

if TYPE_CHECKING:
    from bot.container import Container
    from store.inbox import InboxStatus


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def _serving(c: Container) -> InboxStatus:
    from store.inbox import InboxStatus, inbox_file, inbox_status, open_inbox_store

    side = inbox_file(c.settings.database_url)
    if side is not None and not side.exists():  # no serve yet: nothing to open
        return InboxStatus(live=[], waiting=0, oldest_waiting_at=None)
    store = await open_inbox_store(c.database)
    try:
        return await inbox_status(store, silent_for=timedelta(seconds=c.settings.replica_timeout))
    finally:
        if store is not c.database:
            await store.dispose()


async def _status(c: Container) -> dict[str, Any]:
    from domain.usecases.queries import OPEN_STATES
    from store.ledger_status import LedgerStatusStore
    from store.migrate import current_revision

    now = c.clock.now()
    store = LedgerStatusStore(c.database)
    breakers = await store.breakers()
    outbox = await store.outbox_counts()
    ledger = await store.delivery_counts()
    serving = await _serving(c)
    loaded = c.policy.current()
    async with c.uow(read_only=True) as uow:
        items = await uow.items.summary(
            teams=None, overdue_before=now - loaded.policy.sla.remind_after
        )
    return {
        "schema": await current_revision(c.database),
        "checked_at": now.isoformat(),
        "breakers": {b.name: b.state.value for b in breakers},
        "breaker_details": {
            b.name: {
                "state": b.state.value,
                "failures": b.failures,
                "opened_at": _iso(b.opened_at),
                "probe_at": _iso(b.probe_at),
                "last_error": b.last_error,
                "last_error_class": b.last_error_class,
                "updated_at": _iso(b.updated_at),
            }
            for b in breakers
        },
        "outbox": {
            "pending": outbox.pending,
            "dead": outbox.dead,
            "sent": outbox.sent,
            "oldest_pending_at": _iso(outbox.oldest_pending_at),
        },
        "ledger": {
            "pending": ledger.pending,
            "sent": ledger.sent,
            "dead": ledger.dead,
            "held": ledger.held,
        },
        "items": {
            "open": sum(items.get(f"state:{s.value}", 0) for s in OPEN_STATES),
            "overdue": items["overdue"],
            "awaiting_second_approval": items["awaiting_second_approval"],
            "open_disputes": items["open_disputes"],
            "dead_lettered": items["dead_lettered"],
        },
        "serve": {
            "live": serving.live,
            "inbox_waiting": serving.waiting,
            "oldest_waiting_at": _iso(serving.oldest_waiting_at),
        },
        "policy": {"version": loaded.version},
    }


@main.command(short_help="Breakers, outbox, ledger delivery, open items, schema.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Show the desk's health: breakers, outbox, ledger delivery, open items, schema.

    `breakers` holds each circuit breaker's state (closed, open, half_open; the ledger's
    is closed until it first trips). `outbox` counts rows of every kind: pending is
    waiting or in flight. `ledger` counts journal entries: pending (waiting to be sent),
    sent, dead (refused; see `recon-bot outbox --dead`), held (may not leave yet, e.g. no
    account mapping); the four add up to every entry. `serve` lists the `serve` processes
    that beat within RECON_REPLICA_TIMEOUT and the interactions stored before their ack
    and not finished yet (in flight, or waiting for a live process to run them again).

    \b
    Examples:
      recon-bot status
      recon-bot status --json
    """
    data = run_coroutine(with_container(_status))
    if as_json:
        print_json(data)
        return
    out.print(f"schema    {data['schema']}    policy {data['policy']['version']}", markup=False)
    for name, detail in data["breaker_details"].items():
        line = f"breaker   {name}: {detail['state']}"
        if detail["state"] != "closed":
            line += f" since {detail['opened_at'] or '?'} ({detail['failures']} failures"
            if detail["probe_at"]:
                line += f"; next probe {detail['probe_at']}"
            line += ")"
        if detail["last_error"]:
            line += f"; last error: {detail['last_error'][:120]}"
        out.print(line, markup=False)
    ledger = data["ledger"]
    out.print(
        f"ledger    {ledger['pending']:,} pending, {ledger['sent']:,} sent, "
        f"{ledger['dead']:,} dead, {ledger['held']:,} held",
        markup=False,
    )
    box = data["outbox"]
    oldest = f" (oldest {box['oldest_pending_at']})" if box["oldest_pending_at"] else ""
    out.print(
        f"outbox    {box['pending']:,} pending{oldest}, {box['dead']:,} dead, {box['sent']:,} sent",
        markup=False,
    )
    if ledger["dead"] or box["dead"]:
        out.print(
            "          dead letters: see `recon-bot journal --unposted` and "
            "`recon-bot outbox --dead`",
            markup=False,
        )
    serving = data["serve"]
    waiting = serving["inbox_waiting"]
    since = f" (oldest {serving['oldest_waiting_at']})" if waiting else ""
    out.print(
        f"serve     {len(serving['live'])} live process(es); inbox: {waiting:,} not finished"
        f"{since}",
        markup=False,
    )
    items = data["items"]
    out.print(
        f"items     {items['open']:,} open, {items['overdue']:,} overdue, "
        f"{items['awaiting_second_approval']:,} awaiting a second approval, "
        f"{items['open_disputes']:,} disputed, {items['dead_lettered']:,} dead-lettered",
        markup=False,
    )
