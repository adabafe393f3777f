"""Who may see an item and who may act on it, decided from the policy alone.

Seeing: one rule for every read a person makes (show, Details, queues, stats, the App
Home, every form opened from an id). A user sees an item when they review or lead its
team, or are a compliance officer or an auditor (every item). Nothing else lets anyone
see it:

- a user in no team sees nothing, not even an item they prepared: ``prepared_by`` is a
  field of the ingest file, not an identity the desk has checked, so it never grants
  sight (it only forbids approving, maker-checker);
- an item of no team (or of a team the policy no longer has) is compliance's alone;
- someone who leaves a team stops seeing its items, their own claims included.

Someone who may not see an item is told "you cannot see R-5", and the same sentence
when R-5 does not exist, so ids cannot be probed. The operator at the server (the CLI)
is not a Slack user: :data:`OPERATOR` sees everything.

Acting: reviewers and leads of the item's team act on their team's items; leads also
act on escalated items; dead-lettered items belong to compliance officers (and to leads
when the policy says so). Maker-checker and dual control are enforced by the state
machine.

Auditors (``compliance.auditors``) only read: :func:`check_not_read_only` refuses them
every decision, and every decision path goes through it (:func:`check_can_act`, and the
use cases' shared opening before anything else), so a decision surface added later
refuses them without knowing they exist.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from domain.errors import NotAuthorized, NotVisible, User
from domain.escalation import check_tier_permits, in_current_tier
from domain.items import Item, ReviewState, format_human_id
from domain.policy import Policy
from domain.sla import SETTLED, Rung


@dataclass(frozen=True, slots=True)
class Person:
    """Someone in Slack, by user id: sees what their roles in the policy let them see."""

    id: str


@dataclass(frozen=True, slots=True)
class Operator:
    """The operator at the server's command line: not a Slack user; sees every item."""


#: The operator (``recon-bot show``, ``recon-bot queue``...).
OPERATOR = Operator()

#: Who reads: a person in Slack, or the operator.
Viewer = Person | Operator


def visible_teams(policy: Policy, viewer: Viewer) -> tuple[str, ...] | None:
    """The teams whose items ``viewer`` sees, in policy order; None for every item
    (those of no team included): compliance officers and the operator."""
    match viewer:
        case Operator():
            return None
        case Person(id=user):
            if user in policy.compliance.officers or user in policy.compliance.auditors:
                return None
            return tuple(t.name for t in policy.teams_of(user))
        case _:
            assert_never(viewer)


def sees_everything(policy: Policy, viewer: Viewer) -> bool:
    """Whether ``viewer`` sees every item (so may be told that one does not exist)."""
    return visible_teams(policy, viewer) is None


def can_see(policy: Policy, viewer: Viewer, team: str | None) -> bool:
    """Whether ``viewer`` sees an item (or digest group) of ``team`` (None: of no team)."""
    teams = visible_teams(policy, viewer)
    return teams is None or (team is not None and team in teams)


def not_visible(item_id: int) -> NotVisible:
    """The one answer to someone who may not see ``item_id``, whether it exists or not."""
    return NotVisible(f"you cannot see {format_human_id(item_id)}")


def check_can_see(policy: Policy, item: Item, viewer: Viewer) -> None:
    """Raises NotVisible ("you cannot see R-5", nothing more) unless ``viewer`` sees ``item``.

    Besides its team's people (and compliance), the members of the escalation tier the
    item sits in see it, from whichever team they come (:func:`check_can_act`).
    """
    if can_see(policy, viewer, item.team):
        return
    if isinstance(viewer, Person) and in_current_tier(policy, item, viewer.id):
        return
    raise NotVisible(f"you cannot see {item.human_id}")


class Role(StrEnum):
    """What a user is, for the items of one team (a user may hold several)."""

    REVIEWER = "reviewer"  # a reviewer of the item's team
    LEAD = "lead"  # a lead of the item's team
    COMPLIANCE = "compliance"  # a compliance officer (every team)
    AUDITOR = "auditor"  # a read-only auditor (sees every team, decides nothing)
    TIER = "tier"  # a member of the escalation tier the item sits in (any team)


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
    if user in policy.compliance.auditors:
        roles.add(Role.AUDITOR)
    return frozenset(roles)


def is_read_only(policy: Policy, user: str) -> bool:
    """Whether ``user`` is an auditor: sees everything, decides nothing."""
    return user in policy.compliance.auditors


#: What an auditor is told when they try to decide anything.
READ_ONLY_REASON = "you are an auditor: you can see every item but not decide on any"


def check_not_read_only(policy: Policy, user: str) -> None:
    """Raises NotAuthorized when ``user`` is a read-only auditor.

    The one rule for every decision path (buttons, commands, forms, App Home, bulk
    digest actions, and the reviews built later): they all reach it through
    :func:`check_can_act` or the use cases' shared opening, before any state is read
    or any repeat is recognised, so an auditor's attempt never even reads as a repeat.
    """
    if is_read_only(policy, user):
        raise NotAuthorized(READ_ONLY_REASON)


def check_can_act(
    policy: Policy, item: Item, user: str, action: str | None = None
) -> frozenset[Role]:
    """Raises NotAuthorized unless ``user`` may decide on ``item`` now; returns the roles.

    Someone who may not even see the item is told only that (:class:`NotVisible`), so
    a refused decision reveals no more than a refused read. An auditor sees every item
    and is refused every decision (:func:`check_not_read_only`). With an escalation
    graph in the policy, members of the tier the item sits in may act on it (from any
    team: they hold :attr:`Role.TIER`), and the permissions of the item's tier apply to
    ``action`` (:func:`domain.escalation.check_tier_permits`).
    """
    check_can_see(policy, item, Person(user))
    check_not_read_only(policy, user)
    if action is not None:
        check_tier_permits(policy, item, user, action)
    roles = roles_of(policy, user, item.team)
    if (
        policy.escalation is not None
        and item.state not in SETTLED
        and in_current_tier(policy, item, user)
    ):
        # The tier the item sits in acts on it, members from other teams too (within
        # the tier's permissions, checked above; maker-checker is the state machine's).
        roles |= {Role.TIER}
        if item.ladder_level >= Rung.ESCALATE or roles == {Role.TIER}:
            return roles
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
    return roles  # never empty: whoever sees the item (and is no auditor) holds a role for it


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
