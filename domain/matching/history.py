"""A counterparty's historical match rate: routing's fourth priority input (pure).

The rate is the share of a counterparty's bank lines (of Stage-1-approved statements,
booked within the policy's ``matching.history_days`` up to the day an item is routed)
that a live match (accepted or pending, not rejected) scoring at or above the
auto-accept score covers. The use case reads the counts from the store once per batch
(:meth:`domain.ports.MatchRepository.match_history`) and hands them to routing as a
:class:`MatchHistory`, as it hands it the rates: routing itself stays pure.

A counterparty with no line in the window (or an item naming none) has no rate; routing
then uses the stated neutral value :data:`NEUTRAL_MATCH_RATE` (50%), so an unknown
counterparty ranks neither above one that never matches nor below one that always does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

#: The rate routing uses for a counterparty without history (or an item without one).
NEUTRAL_MATCH_RATE = Decimal("0.5")


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchTally:
    """One counterparty's bank lines in the window, and how many of them matched."""

    lines: int
    matched: int


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchRate:
    """One counterparty's historical match rate over ``days`` (see the module doc)."""

    counterparty: str | None
    days: int
    lines: int = 0
    matched: int = 0

    @property
    def rate(self) -> Decimal | None:
        """matched / lines in 0..1; None without lines (no history)."""
        if self.lines <= 0:
            return None
        return Decimal(max(0, min(self.matched, self.lines))) / Decimal(self.lines)

    @property
    def value(self) -> Decimal:
        """The rate routing weighs: the rate, else :data:`NEUTRAL_MATCH_RATE`."""
        rate = self.rate
        return NEUTRAL_MATCH_RATE if rate is None else rate

    def reason(self) -> str:
        """The routing reason that shows the rate and its window."""
        rate = self.rate
        neutral = _percent(NEUTRAL_MATCH_RATE)
        if self.counterparty is None:
            return f"no counterparty: match rate neutral {neutral}"
        if rate is None:
            return f"no match history over {self.days} days: match rate neutral {neutral}"
        noun = "line" if self.lines == 1 else "lines"
        return f"match rate {_percent(rate)} over {self.days} days, {self.lines} {noun}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchHistory:
    """The tallies the shell read for one batch: counterparty (exact name) -> tally."""

    days: int
    tallies: Mapping[str, MatchTally] = field(default_factory=dict)

    def rate_for(self, counterparty: str | None) -> MatchRate:
        """The counterparty's rate (no history when it has no tally)."""
        tally = self.tallies.get(counterparty) if counterparty is not None else None
        if tally is None:
            return MatchRate(counterparty=counterparty, days=self.days)
        return MatchRate(
            counterparty=counterparty, days=self.days, lines=tally.lines, matched=tally.matched
        )

    def knows(self, counterparty: str | None) -> bool:
        """Whether the counterparty has lines in the window (a rate that is not neutral)."""
        tally = self.tallies.get(counterparty) if counterparty is not None else None
        return tally is not None and tally.lines > 0
