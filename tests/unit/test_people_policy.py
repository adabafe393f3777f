"""People in the policy: attributes, defaults, membership merged into the team lists."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml

from domain.errors import PolicyError
from domain.items import ItemKind, RiskTier
from domain.policy import (
    DEFAULT_CAPACITY,
    DEFAULT_CERTIFICATION,
    AssignmentMode,
    PersonRole,
    Policy,
    policy_version,
)
from tests.builders import make_policy, policy_text


def test_an_existing_policy_loads_unchanged_with_pull_teams_and_default_people() -> None:
    before = make_policy()
    policy = before.policy
    assert all(t.assignment is AssignmentMode.PULL for t in policy.teams)
    assert policy.people == []
    alice = policy.person("U0ALICE")
    assert (alice.certification, alice.capacity) == (DEFAULT_CERTIFICATION, DEFAULT_CAPACITY)
    # No certification rule: every item needs level 0.
    needed = policy.assignment.level_needed(
        reporting_amount=Decimal("1e9"), risk_tier=RiskTier.CRITICAL, kind=ItemKind.BATCH
    )
    assert needed == 0


def test_people_add_to_team_and_compliance_lists() -> None:
    policy = make_policy(
        people=[
            {"id": "U0NEW", "teams": ["treasury"], "certification": 3, "capacity": 4},
            {"id": "U0BOSS", "teams": ["ap"], "roles": ["lead"]},
            {"id": "U0ALICE", "teams": ["treasury"], "certification": 2},
            {"id": "U0CO", "roles": ["compliance_officer"]},
            {"id": "U0EXT", "roles": ["auditor"]},
        ]
    ).policy
    treasury = policy.team("treasury")
    ap = policy.team("ap")
    assert treasury is not None and ap is not None
    assert treasury.reviewers == ["U0ALICE", "U0BOB", "U0CAROL", "U0NEW"]  # no duplicate
    assert ap.leads == ["U0LEAD2", "U0BOSS"]
    assert "U0BOSS" not in ap.reviewers
    assert "U0CO" in policy.compliance.officers
    assert policy.compliance.auditors == ["U0EXT"]
    assert policy.person("U0NEW").capacity == 4
    assert policy.person("U0ALICE").certification == 2
    assert policy.person("U0BOB").certification == DEFAULT_CERTIFICATION


@pytest.mark.parametrize(
    ("people", "expected"),
    [
        ([{"id": "U0X", "teams": ["nope"]}], "people[0].teams[0]: no team named 'nope'"),
        ([{"id": "U0X"}, {"id": "U0X"}], "people: each person is listed once; repeated: U0X"),
        ([{"id": "U0X", "capacity": 0}], "people[0].capacity: Input should be greater than"),
        ([{"id": "U0X", "roles": ["boss"]}], "people[0].roles[0]: Input should be 'reviewer'"),
        (
            [{"id": "U0X", "teams": ["ap"], "roles": ["controller"]}],
            "people[0].roles: U0X is in teams but neither reviewer nor lead",
        ),
    ],
)
def test_validation_names_the_field_and_the_reason(people: object, expected: str) -> None:
    with pytest.raises(PolicyError) as caught:
        make_policy(people=people)
    problems = " | ".join(caught.value.problems)
    assert expected in problems, problems


def test_certification_rules_take_the_highest_matching_level() -> None:
    assignment = make_policy(
        assignment={
            "certification": [
                {"level": 2, "min_amount": "10000.00"},
                {"level": 3, "risk_tiers": ["critical"]},
                {"level": 4, "kinds": ["batch"], "min_amount": "1000000"},
            ]
        }
    ).policy.assignment
    assert (
        assignment.level_needed(
            reporting_amount=Decimal("9999.99"), risk_tier=None, kind=ItemKind.UNMATCHED
        )
        == 0
    )
    assert (
        assignment.level_needed(
            reporting_amount=Decimal("-10000.00"), risk_tier=RiskTier.LOW, kind=ItemKind.MATCH
        )
        == 2
    )
    assert (
        assignment.level_needed(
            reporting_amount=Decimal("5"), risk_tier=RiskTier.CRITICAL, kind=ItemKind.MATCH
        )
        == 3
    )
    assert (
        assignment.level_needed(
            reporting_amount=Decimal("2000000"), risk_tier=None, kind=ItemKind.BATCH
        )
        == 4
    )
    # An amount without a rate may be any size: it needs the amount rules' levels.
    assert assignment.level_needed(reporting_amount=None, risk_tier=None, kind=ItemKind.BATCH) == 4


def test_auto_mode_and_the_people_section_change_the_version_but_not_an_old_policy() -> None:
    assert make_policy().version == make_policy().version
    auto = make_policy(teams=[{**t, "assignment": "auto"} for t in _teams()])
    assert auto.version != make_policy().version
    assert all(t.assignment is AssignmentMode.AUTO for t in auto.policy.teams)
    assert PersonRole("controller") is PersonRole.CONTROLLER


def _teams() -> list[dict[str, object]]:
    data = yaml.safe_load(policy_text())
    teams: list[dict[str, object]] = data["teams"]
    return teams


def test_people_and_a_graph_survive_the_policy_cache_round_trip() -> None:
    loaded = make_policy(
        people=[{"id": "U0NEW", "teams": ["treasury"], "capacity": 3}],
        escalation={
            "tiers": [{"name": "r", "role": "reviewer"}, {"name": "l", "role": "lead"}],
            "edges": [{"from": "r", "to": "l", "after": "30h", "when": {"min_amount": "5"}}],
        },
    )
    again = Policy.model_validate(loaded.policy.model_dump(mode="json"))
    assert again == loaded.policy
    assert policy_version(again) == loaded.version
    treasury = again.team("treasury")
    assert treasury is not None and treasury.reviewers.count("U0NEW") == 1
