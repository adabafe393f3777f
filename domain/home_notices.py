"""Which App Homes a change refreshes: debounced per user, one refresh per window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from domain import escalation
from domain.items import Item
from domain.notice import Notification
from domain.policy import Policy
from domain.states import Event
from domain.templates import (
    HomeRefresh,
    NoticeKind,
)

#: App Home refreshes are debounced: one per user per window, sent when the window ends.
HOME_DEBOUNCE = timedelta(seconds=2)
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def home_window_end(now: datetime) -> datetime:
    """The end of the debounce window ``now`` falls in."""
    windows = (now - _EPOCH) // HOME_DEBOUNCE
    return _EPOCH + (windows + 1) * HOME_DEBOUNCE


def home_refreshes(users: Sequence[str | None], now: datetime) -> list[Notification]:
    """App Home refreshes for the users whose lists a change affects.

    The dedupe key names the debounce window, so a burst of changes (a whole ingest
    batch) costs one refresh per user, sent after the window's last change.
    """
    window = home_window_end(now)
    return [
        Notification(
            kind=NoticeKind.HOME,
            target=user,
            dedupe_key=f"home:{user}:{window.isoformat()}",
            payload=HomeRefresh(not_before=window),
        )
        for user in dict.fromkeys(u for u in users if u and u != "system")
    ]


def home_users(
    before: Item | None, after: Item, events: Sequence[Event], policy: Policy
) -> list[str | None]:
    """The users whose App Home one change of ``after`` affects (with repeats)."""
    users: list[str | None] = [e.actor for e in events]
    users += [before.assignee if before else None, after.assignee]
    users += [a.user for a in after.approvals]
    team = policy.team(after.team) if after.team else None
    if team is not None and (before is None or before.state != after.state):
        # Unclaimed lists of the whole team change when an item enters or leaves them,
        # and compliance officers' and auditors' dashboards count every team.
        compliance = policy.compliance
        users += [*team.reviewers, *team.leads, *compliance.officers, *compliance.auditors]
    if policy.escalation is not None:
        # Members of an escalation tier list what sits in it, from other teams too: the
        # tier it left and the one it reached, or the one it sits in when its state moved.
        reached = escalation.tier_of(policy, after)
        if before is None:
            users += escalation.members(policy, reached, after.team)
        else:
            left = escalation.tier_of(policy, before)
            if left.name != reached.name or before.state != after.state:
                users += escalation.members(policy, left, before.team)
                users += escalation.members(policy, reached, after.team)
    return users


def team_home_refreshes(team_name: str, policy: Policy, now: datetime) -> list[Notification]:
    """App Home refreshes of a team's reviewers and leads and of compliance officers
    (whose dashboards count what waits for the team)."""
    team = policy.team(team_name)
    users: list[str | None] = [*(team.reviewers if team else []), *(team.leads if team else [])]
    users += list(policy.compliance.officers)
    return home_refreshes(users, now)
