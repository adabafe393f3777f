"""Walking the escalation graph (:class:`domain.policy.Escalation`) for one item. Pure.

An item starts in the graph's first tier. Its walk (:func:`walk`) follows, from each
tier, the first edge out of it (in file order) whose condition holds for the item, to
the end of the graph. The SLA ladder (:mod:`domain.sla`) takes the walk's edges in
turn, each when its ``after`` has run: the first escalates the item (``ladder_level``
2), the last of a walk of two or more dead-letters it (3), and any in between move it
on to the next tier while it stays escalated. The item records the tier the ladder
moved it into (``Item.escalation_tier``); :func:`tier_of` reads it (or derives it where
unset, e.g. for an item a person escalated).

A tier's permissions apply on every decision path through :func:`check_tier_permits`
(called by :func:`domain.permissions.check_can_act`): a member of the tier the item
sits in has that tier's permissions and no other tier's; members from outside the
item's team see and act on it while it sits there. Someone in no tier of the graph is
left to the other rules (today's roles), so the default graph changes nothing.
"""

from __future__ import annotations

from decimal import Decimal

from domain.errors import NotAuthorized
from domain.items import Item, ItemFacts
from domain.money import quantize
from domain.policy import Edge, Escalation, PersonRole, Policy, Tier, TierRole

#: ``ladder_level`` once escalated (rung 2; 3 is the dead letter).
_ESCALATED = 2

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


def walk(policy: Policy, facts: ItemFacts) -> tuple[Edge, ...]:
    """The item's whole way through the graph: from the first tier, the first edge out of
    each tier (in file order) whose condition holds, until a tier has none. The graph
    is acyclic (validation), so the walk ends."""
    graph = policy.ladder
    amount = reporting_amount(facts, policy)
    edges: list[Edge] = []
    edge = _first_edge(graph, graph.tiers[0].name, facts, amount)
    while edge is not None:
        edges.append(edge)
        edge = _first_edge(graph, edge.target, facts, amount)
    return tuple(edges)


def position(policy: Policy, item: Item) -> int:
    """How many edges of its walk the item has taken: none before it is escalated; the
    one leading to its recorded tier when that tier is on the walk; else (an item a
    person escalated, or one stored before tiers were recorded) the first edge while
    escalated and the whole walk once dead-lettered."""
    if item.ladder_level < _ESCALATED:
        return 0
    edges = walk(policy, item.facts)
    if item.escalation_tier is not None:
        for index, edge in enumerate(edges):
            if edge.target == item.escalation_tier:
                return index + 1
    if item.ladder_level > _ESCALATED:
        return len(edges)
    return min(1, len(edges))


def tier_of(policy: Policy, item: Item) -> Tier:
    """The tier the item sits in now: the one the ladder recorded while the graph still
    has it, else the end of the edges it has taken along its walk."""
    graph = policy.ladder
    if item.ladder_level >= _ESCALATED and item.escalation_tier is not None:
        recorded = graph.tier(item.escalation_tier)
        if recorded is not None:
            return recorded
    taken = position(policy, item)
    name = walk(policy, item.facts)[taken - 1].target if taken else graph.tiers[0].name
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
    """Refuses ``action`` when the tier that binds ``user`` for this item forbids it:
    read-only tiers decide nothing, ``approve_up_to`` caps approvals (an amount without
    a rate exceeds any cap), ``write_off: false`` forbids write-offs.

    A member of the tier the item sits in has exactly that tier's permissions, whatever
    other tiers they are in. Someone acting on the item from outside its tier (a lead of
    its team stepping in on an item still with the reviewers) keeps the most generous of
    the tiers they are in; someone in no tier is left to the other rules.

    Raises:
        NotAuthorized: naming the tier(s) and the limit.
    """
    _check_tiers(
        policy,
        _binding_tiers(policy, tier_of(policy, item), item.team, user),
        action,
        amount=reporting_amount(item.facts, policy),
        what=item.human_id,
    )


def check_statement_tier_permits(
    policy: Policy, *, team: str | None, user: str, action: str, amount: Decimal | None, what: str
) -> None:
    """:func:`check_tier_permits` for a Stage 1 statement review of ``team``, and for the
    Stage 2 decisions on its matches and checks: a statement never escalates, nor do they,
    so it sits in the first tier; ``amount`` is the size in the reporting currency (None
    without a rate: above any cap); ``what`` names it."""
    root = policy.ladder.tiers[0]
    _check_tiers(policy, _binding_tiers(policy, root, team, user), action, amount, what)


def _binding_tiers(policy: Policy, current: Tier, team: str | None, user: str) -> list[Tier]:
    """The tiers whose permissions bind ``user`` on something sitting in ``current``."""
    if user in members(policy, current, team):
        return [current]
    return [t for t in policy.ladder.tiers if user in members(policy, t, team)]


def _check_tiers(
    policy: Policy, tiers: list[Tier], action: str, amount: Decimal | None, what: str
) -> None:
    if not tiers:
        return
    deciding = [t for t in tiers if not t.read_only]
    if not deciding:
        names = ", ".join(t.name for t in tiers)
        raise NotAuthorized(f"your escalation tier ({names}) is read-only")
    if action in APPROVING:
        caps = [t.approve_up_to for t in deciding]
        if None in caps:
            return
        limit = max(c for c in caps if c is not None)
        if amount is None or abs(amount) > limit:
            shown = f"{amount} {policy.reporting_currency}" if amount is not None else "unknown"
            raise NotAuthorized(
                f"{what} is {shown}; your escalation tier approves up to "
                f"{limit} {policy.reporting_currency}"
            )
    if action in WRITING_OFF and not any(t.write_off for t in deciding):
        raise NotAuthorized("your escalation tier may not write off")


def tiers_beyond_teams(policy: Policy, user: str) -> tuple[Tier, ...]:
    """The tiers ``user`` is in whatever an item's team (named members, controllers,
    compliance officers): the ones through which other teams' items may reach them (a
    team's reviewer or lead tier holds only that team's items, which they see anyway)."""
    return tuple(t for t in policy.ladder.tiers if user in members(policy, t, None))


def in_current_tier(policy: Policy, item: Item, user: str) -> bool:
    """Whether ``user`` is a member of the tier ``item`` sits in (whatever their team)."""
    return user in members(policy, tier_of(policy, item), item.team)
