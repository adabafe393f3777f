"""Who may act on an item, decided from the policy alone.

Reviewers and leads of the item's team act on their team's items; leads also act on
escalated items; dead-lettered items belong to compliance officers (and to leads when
the policy says so). Maker-checker and dual control are enforced by the state machine.
"""

from __future__ import annotations

from collections.abc import Set
from enum import StrEnum

from domain.errors import NotAuthorized, User
from domain.items import Item, ReviewState
from domain.policy import Policy
from domain.sla import SETTLED, Rung


class Role(StrEnum):
    """What a user is, for the items of one team (a user may hold several)."""

    REVIEWER = "reviewer"  # a reviewer of the item's team
    LEAD = "lead"  # a lead of the item's team
    COMPLIANCE = "compliance"  # a compliance officer (every team)


#: Roles that may step in on someone else's claim and act on escalated items.
OVERSEERS = frozenset({Role.LEAD, Role.COMPLIANCE})


def roles_of(policy: Policy, user: str, team_name: str | None) -> frozenset[Role]:
    """The roles ``user`` holds for an item of ``team_name``."""
    roles: set[Role] = set()
    team = policy.team(team_name) if team_name else None
    if team is not None:
        if user in team.reviewers:
            roles.add(Role.REVIEWER)
        if user in team.leads:
            roles.add(Role.LEAD)
    if user in policy.compliance.officers:
        roles.add(Role.COMPLIANCE)
    return frozenset(roles)


def check_can_act(policy: Policy, item: Item, user: str) -> frozenset[Role]:
    """Raises NotAuthorized unless ``user`` may decide on ``item`` now; returns the roles."""
    roles = roles_of(policy, user, item.team)
    # A dead letter stays compliance's even while someone holds a claim on it.
    if item.state is ReviewState.DEAD_LETTER or (
        item.ladder_level >= Rung.DEAD_LETTER and item.state not in SETTLED
    ):
        leads_too = policy.compliance.leads_resolve_dead_letters
        allowed = OVERSEERS if leads_too else frozenset({Role.COMPLIANCE})
        if not roles & allowed:
            raise NotAuthorized(
                f"{item.human_id} is dead-lettered; only compliance officers"
                + (" or team leads" if leads_too else "")
                + " may act on it"
            )
        return roles
    if item.state is ReviewState.ESCALATED and not roles & OVERSEERS:
        raise NotAuthorized(f"{item.human_id} is escalated; only its team's leads may act on it")
    if not roles:
        team = item.team or "no team"
        raise NotAuthorized(f"you are not a reviewer of {team}, which owns {item.human_id}")
    return roles


def check_not_someone_elses_claim(item: Item, user: str, roles: Set[Role]) -> None:
    """A claimed item is its assignee's; leads and compliance may still step in."""
    assignee = item.assignee
    if (
        item.state is ReviewState.ASSIGNED
        and assignee is not None
        and assignee != user
        and not roles & OVERSEERS
    ):
        raise NotAuthorized(f"{item.human_id} is claimed by ", User(assignee))
