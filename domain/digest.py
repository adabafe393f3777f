"""Digests: low-risk items arrive as one calm summary per team and window (pure rules).

Items routed to the digest are grouped by a deterministic cluster key (counterparty,
currency, variance bucket, kind). Each cluster can be approved or rejected in bulk,
all or nothing; items that need dual control, are at or above materiality, or need a
step-up to approve are never in a bulk action: they are listed apart, each with its own buttons.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from domain.fx import RateBook
from domain.items import Item
from domain.policy import LoadedPolicy
from domain.routing import applied_rate, item_rate_day, to_reporting
from domain.step_up import needs_step_up

#: Variance buckets (fraction of matched value), for batches.
_VARIANCE_EDGES = (Decimal("0"), Decimal("0.0001"), Decimal("0.001"), Decimal("0.01"))
#: At most this many items are listed in one cluster reply (the rest are counted).
MAX_LISTED = 15


def variance_bucket(item: Item) -> str:
    """A coarse, stable bucket of a batch's relative variance; ``-`` for other kinds."""
    facts = item.facts
    if facts.variance is None or not facts.matched_value:
        return "-"
    ratio = abs(facts.variance) / abs(facts.matched_value)
    if ratio == 0:
        return "0"
    for edge in _VARIANCE_EDGES[1:]:
        if ratio < edge:
            return f"<{edge * 100}%"
    return f">={_VARIANCE_EDGES[-1] * 100}%"


def cluster_key(item: Item) -> str:
    """Counterparty, currency, variance bucket and kind: items a reviewer judges together."""
    facts = item.facts
    counterparty = (facts.counterparty or "(no counterparty)").strip()
    return "|".join((counterparty, facts.currency, variance_bucket(item), item.kind.value))


def needs_individual_review(
    item: Item, loaded: LoadedPolicy, *, rates: RateBook | None = None
) -> bool:
    """Dual control, at/above materiality, or a step-up to approve: never decided in bulk.

    The amount converts as routing converted it: at the dated rate of the item's day
    (``rates``), else the policy's static rate.
    """
    if item.required_approvals > 1 or needs_step_up(item, loaded):
        return True
    rate = applied_rate(item.facts.currency, loaded, rates=rates, on=item_rate_day(item))
    amount = to_reporting(item.facts.amount, item.facts.currency, loaded, rate=rate)
    return amount is None or abs(amount) >= loaded.policy.routing.materiality


@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    """One group of a digest: items that may be decided together, by key."""

    key: str
    item_ids: tuple[int, ...]
    totals: dict[str, Decimal]  # per currency

    @property
    def size(self) -> int:
        """Items in the cluster."""
        return len(self.item_ids)


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestPlan:
    """A team's digest for one window."""

    team: str
    window: str
    clusters: tuple[Cluster, ...]
    apart: tuple[int, ...]  # items listed individually (dual control / materiality)
    count: int
    totals: dict[str, Decimal]
    oldest_at: datetime | None


def plan_digest(
    team: str,
    window: str,
    items: Sequence[Item],
    loaded: LoadedPolicy,
    *,
    rates: RateBook | None = None,
) -> DigestPlan:
    """Groups one team's digest items for a window (deterministic for the same input);
    ``rates`` are the dated FX rates of the items' days."""
    grouped: dict[str, list[Item]] = defaultdict(list)
    apart: list[int] = []
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for item in sorted(items, key=lambda i: i.id or 0):
        assert item.id is not None
        totals[item.facts.currency] += item.facts.amount
        if needs_individual_review(item, loaded, rates=rates):
            apart.append(item.id)
        else:
            grouped[cluster_key(item)].append(item)
    clusters = []
    for key in sorted(grouped, key=lambda k: (-len(grouped[k]), k)):
        members = grouped[key]
        cluster_totals: dict[str, Decimal] = defaultdict(Decimal)
        for member in members:
            cluster_totals[member.facts.currency] += member.facts.amount
        clusters.append(
            Cluster(
                key=key,
                item_ids=tuple(m.id for m in members if m.id is not None),
                totals=dict(cluster_totals),
            )
        )
    return DigestPlan(
        team=team,
        window=window,
        clusters=tuple(clusters),
        apart=tuple(apart),
        count=len(items),
        totals=dict(totals),
        oldest_at=min((i.created_at for i in items), default=None),
    )


class ClusterState(StrEnum):
    """Where a digest group stands: open until someone decides it whole."""

    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"


class ClusterMember(NamedTuple):
    """An item of a digest group as the digest showed it."""

    item_id: int
    version: int
    content_hash: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterRecord:
    """A stored cluster: what a bulk button acts on."""

    id: int
    window: str
    team: str
    key: str
    items: tuple[tuple[int, int], ...]  # (item id, version at digest time)
    hashes: tuple[str, ...] = ()  # each item's content hash at digest time
    apart: bool
    state: ClusterState
    decided_by: str | None = None
