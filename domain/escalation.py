"""Walking the escalation graph (:class:`domain.policy.Escalation`) for one item. Pure.

An item starts in the graph's first tier. Its escalation is the first edge out of that
tier (in file order) whose condition holds for the item; its dead letter is the first
such edge out of the tier the escalation reached. The ladder's rungs keep their meaning
(``ladder_level`` 2 escalated, 3 dead-lettered); the graph decides when each falls due
and who is in the tier the item sits in.

A tier's permissions apply on every decision path through
:func:`check_tier_permits` (called by :func:`domain.permissions.check_can_act`): someone
who acts on an item only through tiers that may not do it is refused. Someone in no
tier of the graph is left to the other rules (today's roles), so the default graph
changes nothing.
"""

from __future__ import annotations

from decimal import Decimal

from domain.errors import NotAuthorized
from domain.items import Item, ItemFacts
from domain.money import quantize
from domain.policy import Edge, Escalation, PersonRole, Policy, Tier, TierRole

#: Decisions that approve (limited by ``approve_up_to``), and that write off.
APPROVING = frozenset({"approve", "approve_in_bulk"})
WRITING_OFF = frozenset({"write_off"})


def reporting_amount(facts: ItemFacts, policy: Policy) -> Decimal | None:
    """The item's amount in the reporting currency (None without a rate), rounded as
    routing rounds it."""
    rate = policy.rate(facts.currency)
    if rate is None:
        return None
    return quantize(facts.amount * rate, policy.reporting_currency)


def _first_edge(
    graph: Escalation, tier: str, facts: ItemFacts, amount: Decimal | None
) -> Edge | None:
    for edge in graph.edges:
        if edge.source == tier and edge.when.holds(
            reporting_amount=amount, risk_tier=facts.risk_tier, kind=facts.kind
        ):
            return edge
    return None


def path(policy: Policy, facts: ItemFacts) -> tuple[Edge | None, Edge | None]:
    """The item's escalation edge and dead-letter edge (None where no edge applies)."""
    graph = policy.ladder
    amount = reporting_amount(facts, policy)
    first = _first_edge(graph, graph.tiers[0].name, facts, amount)
    second = _first_edge(graph, first.target, facts, amount) if first is not None else None
    return first, second


def tier_of(policy: Policy, item: Item) -> Tier:
    """The tier the item sits in now, by the rungs it has taken."""
    graph = policy.ladder
    first, second = path(policy, item.facts)
    name = graph.tiers[0].name
    if item.ladder_level >= 2 and first is not None:
        name = first.target
    if item.ladder_level >= 3 and second is not None:
        name = second.target
    tier = graph.tier(name)
    assert tier is not None  # validation keeps edges on known tiers
    return tier


def members(policy: Policy, tier: Tier, team_name: str | None) -> frozenset[str]:
    """Who is in ``tier`` for an item of ``team_name``."""
    if tier.members:
        return frozenset(tier.members)
    team = policy.team(team_name) if team_name else None
    match tier.role:
        case TierRole.REVIEWER:
            return frozenset(team.reviewers if team else ())
        case TierRole.LEAD:
            return frozenset(team.leads if team else ())
        case TierRole.COMPLIANCE_OFFICER:
            return frozenset(policy.compliance.officers)
        case TierRole.CONTROLLER:
            return frozenset(p.id for p in policy.people if PersonRole.CONTROLLER in p.roles)
        case None:
            return frozenset()


def check_tier_permits(policy: Policy, item: Item, user: str, action: str) -> None:
    """Refuses ``action`` when every tier ``user`` is in (for this item) forbids it:
    read-only tiers decide nothing, ``approve_up_to`` caps approvals (an amount without
    a rate exceeds any cap), ``write_off: false`` forbids write-offs.

    Raises:
        NotAuthorized: naming the tier(s) and the limit.
    """
    tiers = [t for t in policy.ladder.tiers if user in members(policy, t, item.team)]
    if not tiers:
        return
    deciding = [t for t in tiers if not t.read_only]
    if not deciding:
        names = ", ".join(t.name for t in tiers)
        raise NotAuthorized(f"your escalation tier ({names}) is read-only")
    if action in APPROVING:
        amount = reporting_amount(item.facts, policy)
        caps = [t.approve_up_to for t in deciding]
        if None in caps:
            return
        limit = max(c for c in caps if c is not None)
        if amount is None or abs(amount) > limit:
            shown = f"{amount} {policy.reporting_currency}" if amount is not None else "unknown"
            raise NotAuthorized(
                f"{item.human_id} is {shown}; your escalation tier approves up to "
                f"{limit} {policy.reporting_currency}"
            )
    if action in WRITING_OFF and not any(t.write_off for t in deciding):
        raise NotAuthorized("your escalation tier may not write off")
