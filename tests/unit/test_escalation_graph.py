"""Escalation tiers as a graph: validation (cycles named, unreachable tiers), the default
graph, traversal per item, the ladder's deadlines along it, and tier permissions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain import sla
from domain.errors import NotAuthorized, PolicyError
from domain.escalation import check_tier_permits, members, tier_of, walk
from domain.items import ItemKind, ReviewState
from domain.permissions import check_can_act
from domain.policy import TierRole, default_escalation
from domain.sla import Rung
from tests.builders import T0, make_facts, make_item, make_policy

TIERS = [
    {"name": "reviewers", "role": "reviewer"},
    {"name": "leads", "role": "lead", "approve_up_to": "50000.00"},
    {"name": "controllers", "members": ["U0CTRL"], "write_off": False},
    {"name": "compliance", "role": "compliance_officer", "channel": "C0COMPLIANCE"},
]
EDGES = [
    {"from": "reviewers", "to": "leads", "after": "48h", "when": {"min_amount": "20000.00"}},
    {"from": "reviewers", "to": "controllers", "after": "30h"},
    {"from": "leads", "to": "compliance", "after": "72h"},
    {"from": "controllers", "to": "compliance", "after": "60h", "when": {"kinds": ["batch"]}},
]


def graph_policy(tiers: Any = TIERS, edges: Any = EDGES, **more: Any) -> Any:
    return make_policy(escalation={"tiers": tiers, "edges": edges}, **more).policy


def problems(**escalation: Any) -> str:
    with pytest.raises(PolicyError) as caught:
        make_policy(escalation=escalation)
    return " | ".join(caught.value.problems)


def test_an_absent_graph_is_todays_ladder() -> None:
    policy = make_policy().policy
    graph = policy.ladder
    assert graph == default_escalation(policy.sla)
    assert [t.name for t in graph.tiers] == ["reviewers", "leads", "compliance"]
    assert [(e.source, e.target, e.after) for e in graph.edges] == [
        ("reviewers", "leads", timedelta(hours=48)),
        ("leads", "compliance", timedelta(hours=72)),
    ]
    assert [sla.threshold(r, policy, make_item()) for r in Rung] == [
        timedelta(hours=h) for h in (24, 48, 72)
    ]


@pytest.mark.parametrize(
    ("escalation", "expected"),
    [
        (
            {
                "tiers": [
                    {"name": "a", "role": "reviewer"},
                    {"name": "b", "role": "lead"},
                    {"name": "c", "members": ["U0X"]},
                ],
                "edges": [
                    {"from": "a", "to": "b", "after": "30h"},
                    {"from": "b", "to": "c", "after": "40h"},
                    {"from": "c", "to": "b", "after": "50h"},
                ],
            },
            "escalation: edges: cycle b -> c -> b",
        ),
        (
            {
                "tiers": [{"name": "a", "role": "reviewer"}, {"name": "island", "role": "lead"}],
                "edges": [],
            },
            "tier 'island' cannot be reached from 'a'",
        ),
        (
            {
                "tiers": [{"name": "a", "role": "reviewer"}],
                "edges": [{"from": "a", "to": "nowhere", "after": "30h"}],
            },
            "edges[0].to: no tier named 'nowhere'",
        ),
        (
            {"tiers": [{"name": "a", "role": "reviewer", "members": ["U0X"]}]},
            "give either members or a role (exactly one)",
        ),
        (
            {"tiers": [{"name": "a", "role": "reviewer"}, {"name": "a", "role": "lead"}]},
            "names must be unique; repeated: a",
        ),
        (
            {
                "tiers": [
                    {"name": "a", "role": "reviewer"},
                    {"name": "b", "role": "lead"},
                    {"name": "c", "members": ["U0X"]},
                ],
                "edges": [
                    {"from": "a", "to": "b", "after": "50h"},
                    {"from": "b", "to": "c", "after": "40h"},
                ],
            },
            "b -> c must come after a -> b (50h)",
        ),
        (
            {
                "tiers": [{"name": "a", "role": "reviewer"}, {"name": "b", "role": "lead"}],
                "edges": [{"from": "a", "to": "b", "after": "1h"}],
            },
            "escalation.edges[0].after: must be after sla.remind_after (1d)",
        ),
    ],
)
def test_validation_names_the_problem(escalation: dict[str, Any], expected: str) -> None:
    assert expected in problems(**escalation)


def test_times_must_grow_along_every_path_however_long() -> None:
    tiers = [{"name": n, "role": "reviewer"} for n in "abcd"]
    edges = [
        {"from": "a", "to": "b", "after": "30h"},
        {"from": "b", "to": "c", "after": "40h"},
        {"from": "c", "to": "d", "after": "35h"},
    ]
    assert "c -> d must come after b -> c (40h)" in problems(tiers=tiers, edges=edges)
    edges[2]["after"] = "50h"
    graph_policy(tiers=tiers, edges=edges)  # three edges after the reminder are fine


def test_each_item_follows_the_first_edge_that_holds_for_it() -> None:
    policy = graph_policy()
    big = make_facts(amount="25000.00")
    small = make_facts(amount="500.00")
    batch = make_facts(amount="500.00", kind=ItemKind.BATCH)
    assert [(e.source, e.target) for e in walk(policy, big)] == [
        ("reviewers", "leads"),
        ("leads", "compliance"),
    ]
    assert [e.target for e in walk(policy, small)] == ["controllers"]
    assert [e.target for e in walk(policy, batch)] == ["controllers", "compliance"]
    # The ladder's deadlines follow the path; no edge, no rung.
    item = make_item(facts=small, state=ReviewState.PENDING)
    assert sla.threshold(Rung.ESCALATE, policy, item) == timedelta(hours=30)
    assert sla.deadline(item, Rung.DEAD_LETTER, policy) is None
    assert sla.deadline(make_item(facts=big), Rung.ESCALATE, policy) == T0 + timedelta(hours=48)
    assert sla.due_step(item, policy, T0 + timedelta(hours=100)) == sla.LadderStep(
        rung=Rung.ESCALATE, skipped=(Rung.REMIND,)
    )


def test_the_tier_an_item_sits_in_and_who_is_in_it() -> None:
    policy = graph_policy(people=[{"id": "U0BOSS", "roles": ["controller"]}])
    small = make_item(facts=make_facts(amount="500.00"))
    assert tier_of(policy, small).name == "reviewers"
    escalated = make_item(facts=small.facts, state=ReviewState.ESCALATED, ladder_level=2)
    assert tier_of(policy, escalated).name == "controllers"
    assert members(policy, tier_of(policy, escalated), "treasury") == {"U0CTRL"}
    leads = policy.ladder.tier("leads")
    assert leads is not None and members(policy, leads, "treasury") == {"U0LEAD"}
    ctrl = policy.ladder.tiers[2].model_copy(update={"members": [], "role": TierRole.CONTROLLER})
    assert members(policy, ctrl, "treasury") == {"U0BOSS"}


def test_tier_permissions_cap_approvals_and_write_offs() -> None:
    policy = graph_policy()
    huge = make_item(
        facts=make_facts(amount="60000.00"), state=ReviewState.ESCALATED, ladder_level=2
    )
    with pytest.raises(NotAuthorized, match=r"approves up to 50000\.00 USD"):
        check_tier_permits(policy, huge, "U0LEAD", "approve")
    with pytest.raises(NotAuthorized, match=r"approves up to 50000\.00 USD"):
        check_can_act(policy, huge, "U0LEAD", "approve")
    check_tier_permits(policy, huge, "U0LEAD", "reject")  # only approvals are capped
    fine = make_item(
        facts=make_facts(amount="40000.00"), state=ReviewState.ESCALATED, ladder_level=2
    )
    check_can_act(policy, fine, "U0LEAD", "approve")
    with pytest.raises(NotAuthorized, match="may not write off"):
        check_tier_permits(policy, fine, "U0CTRL", "write_off")
    check_tier_permits(policy, fine, "U0ALICE", "write_off")
    # Someone in no tier is left to the usual rules.
    check_tier_permits(policy, huge, "U0NOBODY", "approve")


def test_the_default_graph_changes_no_permission() -> None:
    policy = make_policy().policy
    huge = make_item(
        facts=make_facts(amount="9000000.00"), state=ReviewState.ESCALATED, ladder_level=2
    )
    check_can_act(policy, huge, "U0LEAD", "approve")
    with pytest.raises(NotAuthorized, match="only its team's leads"):
        check_can_act(policy, huge, "U0ALICE", "approve")


def test_a_read_only_tier_decides_nothing() -> None:
    tiers = [{"name": "reviewers", "role": "reviewer", "read_only": True}]
    policy = graph_policy(tiers=tiers, edges=[])
    with pytest.raises(NotAuthorized, match=r"tier \(reviewers\) is read-only"):
        check_can_act(policy, make_item(), "U0ALICE", "approve")
