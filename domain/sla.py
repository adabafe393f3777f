"""The SLA ladder: when an item is due, and which rung of the ladder it has reached."""

from __future__ import annotations

from datetime import datetime

from domain.items import DisputeState, Item, ReviewState
from domain.policy import Policy

#: States in which nobody owes a decision any more.
SETTLED = frozenset({ReviewState.APPROVED, ReviewState.POSTED, ReviewState.REJECTED})


def sla_due_at(item: Item, policy: Policy) -> datetime | None:
    """When a decision is due (the first rung, ``remind_after``); None once settled.

    A dispute awaiting the counterparty has no due time: its clock is paused.
    """
    if item.state in SETTLED:
        return None
    if item.dispute is not None and item.dispute.state is DisputeState.AWAITING_COUNTERPARTY:
        return None
    return item.sla_started_at + policy.sla.remind_after


def is_overdue(item: Item, policy: Policy, now: datetime) -> bool:
    """Whether the item is past its due time."""
    due = sla_due_at(item, policy)
    return due is not None and now >= due
