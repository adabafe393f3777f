"""One reading of the desk's gauges (:class:`domain.gauges.DeskGauges`) in three small
grouped queries: open items by priority band and state, outbox rows by kind and state,
and the breakers table. The serve process runs it on a timer, off the scrape path."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select

from domain.dashboard import HIGH_PRIORITY, MEDIUM_PRIORITY, PriorityBand
from domain.gauges import DeskGauges, FinishedRun, run_rows
from domain.items import ReviewState
from domain.ledger_status import LEDGER_BREAKER, BreakerState
from store.engine import Database
from store.outbox_sink import RowState
from store.tables import breakers, ingest_runs, items, outbox

#: The states of an item still on the desk (its review is not over).
OPEN_STATES = tuple(
    s.value
    for s in ReviewState
    if s
    not in (ReviewState.APPROVED, ReviewState.POSTED, ReviewState.REJECTED, ReviewState.MATCHED)
)

_BAND = case(
    (items.c.priority >= HIGH_PRIORITY, PriorityBand.HIGH.value),
    (items.c.priority >= MEDIUM_PRIORITY, PriorityBand.MEDIUM.value),
    else_=PriorityBand.LOW.value,
)


async def read_gauges(database: Database) -> DeskGauges:
    """The queue, outbox and breakers as stored now (the ledger breaker reads closed
    when it has no row)."""
    waiting = (RowState.PENDING.value, RowState.SENDING.value)
    async with database.reader.connect() as conn:
        band = _BAND.label("band")
        queue_rows = await conn.execute(
            select(band, items.c.state, func.count())
            .where(items.c.state.in_(OPEN_STATES))
            .group_by(band, items.c.state)
        )
        queue = {(str(b), str(s)): int(n) for b, s, n in queue_rows.all()}
        outbox_rows = await conn.execute(
            select(outbox.c.kind, outbox.c.state, func.count())
            .where(outbox.c.state.in_((*waiting, RowState.DEAD.value)))
            .group_by(outbox.c.kind, outbox.c.state)
        )
        depth: dict[str, int] = {}
        dead: dict[str, int] = {}
        for kind, state, n in outbox_rows.all():
            target = dead if state == RowState.DEAD.value else depth
            target[str(kind)] = target.get(str(kind), 0) + int(n)
        routed_rows = await conn.execute(
            select(items.c.route, items.c.kind, func.count()).group_by(items.c.route, items.c.kind)
        )
        routed = {(str(r), str(k)): int(n) for r, k, n in routed_rows.all()}
        breaker_rows = await conn.execute(select(breakers.c.name, breakers.c.state))
        states = {str(name): BreakerState(state) for name, state in breaker_rows.all()}
    states.setdefault(LEDGER_BREAKER, BreakerState.CLOSED)
    return DeskGauges(queue=queue, outbox=depth, dead=dead, breakers=states, routed=routed)


async def finished_runs(database: Database, *, since: datetime) -> list[FinishedRun]:
    """Ingest and import runs finished at or after ``since``, with their rows by outcome."""
    async with database.reader.connect() as conn:
        rows = await conn.execute(
            select(ingest_runs.c.id, ingest_runs.c.source, ingest_runs.c.summary)
            .where(ingest_runs.c.finished_at >= since)
            .order_by(ingest_runs.c.id)
        )
        return [
            FinishedRun(id=int(run_id), source=str(source), rows=run_rows(str(source), summary))
            for run_id, source, summary in rows.all()
        ]
