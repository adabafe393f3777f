"""The circuit breaker around an outside system (the ledger): a pure state machine.

``closed``: calls go through; consecutive failures (timeouts, 5xx, refused connections)
are counted, and the ``threshold``-th opens the breaker. ``open``: nothing is sent until
``probe_at`` (``opened_at`` + the cooldown). Then one caller takes the probe
(:func:`take_probe` moves it to ``half_open``); the probe's success closes it, its
failure opens it again for another cooldown. A ``half_open`` breaker whose probe never
reported (its process died) lets another probe through after a further cooldown.

Answers that say the ledger is up (2xx, 409, and 4xx refusals of one entry) count as
successes here: the breaker is about the ledger being reachable, not about one entry.

The state is stored (``store.breakers``) so every process sees the same breaker; every
function here takes the breaker as it is stored and returns the one to store, with what
changed (:class:`Change`), so the caller alerts exactly once per opening.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

#: Consecutive failures that open a closed breaker.
THRESHOLD = 5
#: How long an open breaker waits before letting one probe through.
COOLDOWN = timedelta(seconds=30)
#: The name of the breaker around the ledger sink.
LEDGER = "ledger"


class BreakerState(StrEnum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Change(StrEnum):
    """What a step did to the breaker (besides counting)."""

    NONE = "none"
    OPENED = "opened"
    CLOSED = "closed"
    PROBING = "probing"


@dataclass(frozen=True, slots=True, kw_only=True)
class Breaker:
    """One breaker as stored."""

    name: str
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: datetime | None = None
    probe_at: datetime | None = None
    last_error: str | None = None

    @property
    def is_closed(self) -> bool:
        """Calls go through freely."""
        return self.state is BreakerState.CLOSED


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """A breaker after one step, and what changed."""

    breaker: Breaker
    change: Change = Change.NONE


def may_send(breaker: Breaker, now: datetime) -> bool:
    """Whether a call may go out now: closed, or open with its probe due."""
    if breaker.state is BreakerState.CLOSED:
        return True
    return breaker.probe_at is not None and now >= breaker.probe_at


def take_probe(breaker: Breaker, now: datetime, *, cooldown: timedelta = COOLDOWN) -> Step:
    """Takes the one probe an open (or stuck half-open) breaker allows at ``now``.

    Returns the breaker in ``half_open`` with its next probe a cooldown away (so a probe
    whose process dies does not hold it half-open forever), and ``PROBING``; or the
    breaker unchanged (``NONE``) when no probe is due (closed, or not yet time).
    """
    if breaker.state is BreakerState.CLOSED or not may_send(breaker, now):
        return Step(breaker=breaker)
    return Step(
        breaker=dataclasses.replace(breaker, state=BreakerState.HALF_OPEN, probe_at=now + cooldown),
        change=Change.PROBING,
    )


def succeeded(breaker: Breaker) -> Step:
    """The ledger answered: the breaker closes (``CLOSED`` if it was not already)."""
    closed = dataclasses.replace(
        breaker,
        state=BreakerState.CLOSED,
        failures=0,
        opened_at=None,
        probe_at=None,
        last_error=None,
    )
    if breaker.state is BreakerState.CLOSED:
        return Step(breaker=closed)
    return Step(breaker=closed, change=Change.CLOSED)


def failed(
    breaker: Breaker,
    now: datetime,
    *,
    error: str,
    threshold: int = THRESHOLD,
    cooldown: timedelta = COOLDOWN,
) -> Step:
    """A timeout, 5xx or refused connection: counted; the ``threshold``-th consecutive
    failure opens a closed breaker (``OPENED``), and a failed probe re-opens a half-open
    one for another cooldown (``NONE``: it was never closed, compliance already knows).
    A failure reported while open (a call that left before it opened) only counts."""
    failures = breaker.failures + 1
    if breaker.state is BreakerState.HALF_OPEN:
        return Step(
            breaker=dataclasses.replace(
                breaker,
                state=BreakerState.OPEN,
                failures=failures,
                opened_at=now,
                probe_at=now + cooldown,
                last_error=error,
            )
        )
    if breaker.state is BreakerState.CLOSED and failures >= threshold:
        return Step(
            breaker=dataclasses.replace(
                breaker,
                state=BreakerState.OPEN,
                failures=failures,
                opened_at=now,
                probe_at=now + cooldown,
                last_error=error,
            ),
            change=Change.OPENED,
        )
    return Step(breaker=dataclasses.replace(breaker, failures=failures, last_error=error))
