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
