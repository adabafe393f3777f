"""What a reviewer's App Home shows: counts and short lists, one page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.delegation import Delegation
from domain.items import Item
from domain.ledger_status import LedgerHealth


class PriorityBand(StrEnum):
    """Coarse priority for counts and badges."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


HIGH_PRIORITY = 400
MEDIUM_PRIORITY = 150


def priority_band(priority: int) -> PriorityBand:
    """The band of a routing priority (0..999)."""
    if priority >= HIGH_PRIORITY:
        return PriorityBand.HIGH
    if priority >= MEDIUM_PRIORITY:
        return PriorityBand.MEDIUM
    return PriorityBand.LOW


@dataclass(frozen=True, slots=True, kw_only=True)
class Dashboard:
    """One user's view of the desk at ``refreshed_at``."""

    user: str
    teams: tuple[str, ...]
    refreshed_at: datetime
    pending_by_band: dict[PriorityBand, int]
    overdue: int
    awaiting_second_approval: int
    open_disputes: int
    dead_lettered: int
    my_items: tuple[Item, ...]
    my_items_total: int
    unclaimed: tuple[Item, ...]
    unclaimed_total: int
    page: int
    page_size: int
    #: The ledger's breaker and unposted entries: compliance officers' only (None else).
    ledger: LedgerHealth | None = None
    #: An auditor's dashboard: every team, and no decision to offer (only Details).
    read_only: bool = False
    #: Bank statements of the user's teams waiting for Stage 1 review.
    statements_awaiting: int = 0
    #: Matches (Stage 2) of the viewer's teams waiting for a person.
    matches_awaiting: int = 0
    #: Who of the user's teams is away, and to whom their work goes (policy order).
    away: tuple[Delegation, ...] = ()
    #: Open items of other teams (or none) sitting in an escalation tier the user is in:
    #: theirs to act on through the tier (this page of them, and how many there are).
    in_my_tiers: tuple[Item, ...] = ()
    in_my_tiers_total: int = 0

    @property
    def pages(self) -> int:
        """How many pages the longest of the lists fills (at least one)."""
        longest = max(self.my_items_total, self.unclaimed_total, self.in_my_tiers_total)
        return page_count(longest, self.page_size)


def page_count(rows: int, page_size: int) -> int:
    """Pages of ``page_size`` that ``rows`` fill (at least one, also for no rows)."""
    return max(1, -(-rows // max(1, page_size)))
