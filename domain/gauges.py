"""What the desk's gauges show at one moment: open queue, outbox and breakers.

The serve process reads these from the store on a timer (never per scrape: a scrape
must not wait on the database) and the metrics adapter exposes the last reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.ledger_status import BreakerState

#: ``recon_circuit_breaker_state``: 0 closed, 1 half-open, 2 open.
BREAKER_LEVEL: dict[BreakerState, int] = {
    BreakerState.CLOSED: 0,
    BreakerState.HALF_OPEN: 1,
    BreakerState.OPEN: 2,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskGauges:
    """One reading of the store.

    ``queue`` counts open items by (priority band, review state); ``outbox`` rows
    waiting or in flight and ``dead`` dead letters, both by destination (the outbox
    row's kind: card, alert, dm, home, ledger); ``breakers`` each breaker's state;
    ``routed`` every stored item by its routing decision (route, kind): a total over
    the store, so items ingested by ``recon-bot ingest`` or another replica count too.
    """

    queue: dict[tuple[str, str], int] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    dead: dict[str, int] = field(default_factory=dict)
    breakers: dict[str, BreakerState] = field(default_factory=dict)
    routed: dict[tuple[str, str], int] = field(default_factory=dict)


#: The row outcomes of an ingest run's summary (``recon_ingest_rows_total{outcome}``).
ROW_OUTCOMES = ("inserted", "unchanged", "amended", "rejected")

#: The ``source`` of a bank-statement import's run; its summary counts statements by
#: these outcomes (``recon_import_rows_total{source="statement",outcome}``).
STATEMENT_RUNS = "statements"
STATEMENT_OUTCOMES = ("imported", "unchanged", "revised", "rejected")


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishedRun:
    """An ingest or import run that finished: its source and its rows by outcome."""

    id: int
    source: str
    rows: dict[str, int]


def run_rows(source: str, summary: object) -> dict[str, int]:
    """A finished run's rows by the outcomes its source counts (missing ones 0)."""
    counts = summary if isinstance(summary, dict) else {}
    outcomes = STATEMENT_OUTCOMES if source == STATEMENT_RUNS else ROW_OUTCOMES
    return {o: int(counts.get(o, 0) or 0) for o in outcomes}
