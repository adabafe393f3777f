"""The escalation graph: tiers, the edges between them (a DAG rooted at the first tier),
its validation, and today's ladder as the default graph."""

from __future__ import annotations

import functools
from collections import Counter
from decimal import Decimal
from enum import StrEnum

from pydantic import ConfigDict, Field, model_validator

from domain.items import ItemKind, RiskTier
from domain.policy.fields import Dec, Duration, StrictModel, format_duration
from domain.policy.schedule import Sla


class TierRole(StrEnum):
    """Who is in a tier, when the tier names a role rather than its members."""

    REVIEWER = "reviewer"  # the item's team's reviewers
    LEAD = "lead"  # the item's team's leads
    CONTROLLER = "controller"  # people with the controller role
    COMPLIANCE_OFFICER = "compliance_officer"  # compliance.officers


class Tier(StrictModel):
    """One escalation tier: who is in it, what they may do, where they hear of an item."""

    name: str = Field(min_length=1)
    members: list[str] = Field(default_factory=list, description="Slack user ids.")
    role: TierRole | None = Field(default=None, description="Or: everyone holding this role.")
    approve_up_to: Dec | None = Field(
        default=None,
        description="Most (reporting amount) this tier approves; no limit when absent.",
    )
    write_off: bool = Field(default=True, description="Whether this tier may write off.")
    read_only: bool = Field(default=False, description="Sees, decides nothing.")
    channel: str | None = Field(
        default=None, description="Slack channel also told when an item reaches the tier."
    )

    @model_validator(mode="after")
    def _who(self) -> Tier:
        if bool(self.members) == (self.role is not None):
            raise ValueError("give either members or a role (exactly one)")
        return self


class EdgeCondition(StrictModel):
    """When an edge applies: every condition given must hold (none: always)."""

    min_amount: Dec | None = None
    risk_tiers: list[RiskTier] = Field(default_factory=list)
    kinds: list[ItemKind] = Field(default_factory=list)

    def holds(
        self, *, reporting_amount: Decimal | None, risk_tier: RiskTier | None, kind: ItemKind
    ) -> bool:
        """Whether an item with these facts meets the condition (an amount without a
        rate meets any ``min_amount``)."""
        if self.min_amount is not None and (
            reporting_amount is not None and abs(reporting_amount) < self.min_amount
        ):
            return False
        if self.risk_tiers and risk_tier not in self.risk_tiers:
            return False
        return not (self.kinds and kind not in self.kinds)


class Edge(StrictModel):
    """An item in tier ``source`` moves to ``target`` once ``after`` of SLA time has run
    (counted from when review started, like the ladder), if ``when`` holds."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str = Field(alias="from", min_length=1)
    target: str = Field(alias="to", min_length=1)
    after: Duration
    when: EdgeCondition = Field(default_factory=EdgeCondition)


class Escalation(StrictModel):
    """The escalation tiers and the edges between them: a DAG rooted at the first tier.

    The ladder follows it: an item starts in the first tier; from each tier, the first
    edge out of it (in file order) whose condition holds takes it on. The first edge
    escalates the item, the last of a path of two or more dead-letters it, and those
    between move it from tier to tier while it stays escalated
    (:mod:`domain.escalation`).
    """

    tiers: list[Tier] = Field(min_length=1)
    edges: list[Edge] = Field(default_factory=list)

    @model_validator(mode="after")
    def _graph(self) -> Escalation:
        check_graph(self)
        return self

    def tier(self, name: str) -> Tier | None:
        """The tier with that name."""
        for tier in self.tiers:
            if tier.name == name:
                return tier
        return None


def check_graph(graph: Escalation) -> None:
    """Validates tiers and edges: unique names, known ends, no cycle (named), every tier
    reachable from the first, times growing along every path.

    Raises:
        ValueError: naming the tier or edge and the reason.
    """
    names = [t.name for t in graph.tiers]
    dupes = sorted(n for n, seen in Counter(names).items() if seen > 1)
    if dupes:
        raise ValueError(f"tiers: names must be unique; repeated: {', '.join(dupes)}")
    known = set(names)
    out: dict[str, list[Edge]] = {n: [] for n in names}
    for index, edge in enumerate(graph.edges):
        for end, value in (("from", edge.source), ("to", edge.target)):
            if value not in known:
                raise ValueError(f"edges[{index}].{end}: no tier named {value!r}")
        out[edge.source].append(edge)
    cycle = _find_cycle(names, out)
    if cycle:
        raise ValueError(f"edges: cycle {' -> '.join(cycle)}")
    root = names[0]
    reached = {root}
    frontier = [root]
    while frontier:
        current = frontier.pop()
        for edge in out[current]:
            if edge.target not in reached:
                reached.add(edge.target)
                frontier.append(edge.target)
    for index, name in enumerate(names):
        if name not in reached:
            raise ValueError(f"tiers[{index}]: tier {name!r} cannot be reached from {root!r}")
    for edge in graph.edges:
        for second in out[edge.target]:
            if second.after <= edge.after:
                raise ValueError(
                    f"edges: {edge.target} -> {second.target} must come after "
                    f"{edge.source} -> {edge.target} ({format_duration(edge.after)})"
                )


def _find_cycle(names: list[str], out: dict[str, list[Edge]]) -> list[str] | None:
    """A cycle as tier names (first repeated at the end), or None. Depth-first, in file
    order, so the same graph always names the same cycle."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for edge in out[name]:
            nxt = edge.target
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return None

    for name in names:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


@functools.lru_cache(maxsize=64)
def default_escalation(sla: Sla) -> Escalation:
    """Today's ladder as a graph: reviewers, then leads at ``escalate_after``, then
    compliance at ``dead_letter_after`` (the reminder stays ``remind_after``)."""
    return Escalation(
        tiers=[
            Tier(name="reviewers", role=TierRole.REVIEWER),
            Tier(name="leads", role=TierRole.LEAD),
            Tier(name="compliance", role=TierRole.COMPLIANCE_OFFICER),
        ],
        edges=[
            Edge(source="reviewers", target="leads", after=sla.escalate_after),
            Edge(source="leads", target="compliance", after=sla.dead_letter_after),
        ],
    )
