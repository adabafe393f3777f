"""Roles are an enum, and the team-or-compliance channel rule lives in the policy."""

from __future__ import annotations

from domain.permissions import Role, roles_of
from domain.policy import LoadedPolicy


def test_roles_are_typed_and_per_team(loaded_policy: LoadedPolicy) -> None:
    policy = loaded_policy.policy
    assert roles_of(policy, "U0ALICE", "treasury") == frozenset({Role.REVIEWER})
    assert roles_of(policy, "U0LEAD", "treasury") == frozenset({Role.LEAD})
    assert roles_of(policy, "U0LEAD", "ap") == frozenset()
    assert roles_of(policy, "U0AUDIT", None) == frozenset({Role.COMPLIANCE})
    assert roles_of(policy, "U0ALICE", "no-such-team") == frozenset()


def test_roles_still_meet_the_role_names_the_service_layer_compares_with(
    loaded_policy: LoadedPolicy,
) -> None:
    # services.py compares with {"lead", "compliance"} until the lead ports it to Role.
    roles = roles_of(loaded_policy.policy, "U0LEAD", "treasury")
    assert roles & {"lead", "compliance"} == {Role.LEAD}
    assert not roles_of(loaded_policy.policy, "U0ALICE", "treasury") & {"lead", "compliance"}


def test_a_team_s_messages_go_to_its_channel_else_to_compliance(
    loaded_policy: LoadedPolicy,
) -> None:
    policy = loaded_policy.policy
    treasury = policy.team("treasury")
    assert treasury is not None
    assert policy.channel_for("treasury") == treasury.channel
    assert policy.channel_for("no-such-team") == policy.compliance.channel
    assert policy.channel_for(None) == policy.compliance.channel
    assert policy.channel_for("") == policy.compliance.channel
