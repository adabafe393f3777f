"""Which Slack messages a state change causes: pure rules, written to the outbox.

A notification is data, not Block Kit: ``kind`` and ``payload`` say what to tell whom; the
notifier in ``handlers/`` renders it when the relay delivers it. Every notification has a
dedupe key, so the same change can never enqueue the same message twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.items import Item, ReviewState, Route
from domain.policy import Policy
from domain.states import Event


class NoticeKind(StrEnum):
    """What the notifier does with a row."""

    CARD = "card"  # post the item's card, or update it in place when it exists
    ALERT = "alert"  # a message to a channel (compliance alerts, escalations)
    DM = "dm"  # a direct message to a user
    HOME = "home"  # refresh a user's App Home (coalesced by the relay)


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One message to send after commit."""

    kind: NoticeKind
    target: str  # channel id, or user id for DM and HOME
    dedupe_key: str
    item_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


#: States in which a digest item earns a card of its own (someone must look at it now).
_CARD_WORTHY = frozenset(
    {ReviewState.ASSIGNED, ReviewState.ESCALATED, ReviewState.DEAD_LETTER, ReviewState.DISPUTED}
)


def card(item: Item, policy: Policy, *, force_post: bool = False) -> Notification | None:
    """The card post/update for the item's current version, if it has a channel.

    ``force_post`` posts a card even for a digest item (someone asked to review it).
    """
    team = policy.team(item.team) if item.team else None
    channel = team.channel if team else policy.compliance.channel
    assert item.id is not None
    post_if_missing = force_post or item.route is Route.IMMEDIATE or item.state in _CARD_WORTHY
    return Notification(
        kind=NoticeKind.CARD,
        target=channel,
        dedupe_key=f"card:{item.id}:v{item.version}" + (":review" if force_post else ""),
        item_id=item.id,
        payload={"version": item.version, "post_if_missing": post_if_missing},
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
            payload={"not_before": window.isoformat()},
        )
        for user in dict.fromkeys(u for u in users if u and u != "system")
    ]


def lead_dms(item: Item, policy: Policy, *, key: str) -> list[Notification]:
    """A DM to each lead of the item's team that it was escalated to them.

    ``key`` is the dedupe key with a ``{lead}`` placeholder.
    """
    assert item.id is not None
    team = policy.team(item.team) if item.team else None
    return [
        Notification(
            kind=NoticeKind.DM,
            target=lead,
            dedupe_key=key.format(lead=lead),
            item_id=item.id,
            payload={"template": "escalated"},
        )
        for lead in (team.leads if team else [])
    ]


def for_change(
    before: Item | None, after: Item, events: Sequence[Event], policy: Policy, now: datetime
) -> list[Notification]:
    """Every message one committed change of ``after`` causes."""
    out = messages_for_change(before, after, events, policy)
    if after.route is Route.AUTO_ACCEPTED and before is None:
        return out
    out.extend(home_refreshes(home_users(before, after, events, policy), now))
    return out


def messages_for_change(
    before: Item | None, after: Item, events: Sequence[Event], policy: Policy
) -> list[Notification]:
    """The cards, alerts and DMs of one change: :func:`for_change` without App Home.

    A bulk change (an ingest batch) collects :func:`home_users` over all its items and
    refreshes each user's Home once, instead of building the same refresh per item.
    """
    assert after.id is not None
    out: list[Notification] = []
    if after.route is Route.AUTO_ACCEPTED and before is None:
        return out  # accepted by policy at intake: nothing for a human to see
    notice = card(after, policy)
    # A new item has no card to update: one that would not be posted (a digest item)
    # is not enqueued at all, rather than rendered and skipped by the relay.
    if notice is not None and (before is not None or notice.payload["post_if_missing"]):
        out.append(notice)
    names = {e.name for e in events}
    if "item.dead_lettered" in names:
        out.append(
            Notification(
                kind=NoticeKind.ALERT,
                target=policy.compliance.channel,
                dedupe_key=f"alert:dead_letter:{after.id}:v{after.version}",
                item_id=after.id,
                payload={"template": "dead_letter", "severity": "high"},
            )
        )
    if "item.escalated" in names:
        key = f"dm:escalated:{after.id}:{{lead}}:v{after.version}"
        out.extend(lead_dms(after, policy, key=key))
    if "item.assigned" in names and after.assignee:
        actor = next(e.actor for e in events if e.name == "item.assigned")
        if actor != after.assignee:
            out.append(
                Notification(
                    kind=NoticeKind.DM,
                    target=after.assignee,
                    dedupe_key=f"dm:assigned:{after.id}:v{after.version}",
                    item_id=after.id,
                    payload={"template": "assigned", "by": actor},
                )
            )
    return out


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
        # and compliance officers' dashboards count every team.
        users += [*team.reviewers, *team.leads, *policy.compliance.officers]
    return users


def ladder_notices(
    item: Item, level: int, policy: Policy, now: datetime, *, state_changed: bool = True
) -> list[Notification]:
    """The reminder (level 1) or the team-channel escalation post (level 2) of the SLA ladder.

    When the rung's state change did not apply (a disputed item is already with a
    person), the people the state change would have told are told anyway: the leads at
    level 2, compliance at level 3. Otherwise ``for_change`` already does that.
    The dedupe key names the clock's start, so a ladder restarted by an amendment or a
    resolved dispute reminds again, while a repeated sweep never does.
    """
    assert item.id is not None
    clock = item.sla_started_at.isoformat()
    team = policy.team(item.team) if item.team else None
    channel = team.channel if team else policy.compliance.channel
    out: list[Notification] = []
    if level == 3:
        if state_changed:
            return out
        return [
            Notification(
                kind=NoticeKind.ALERT,
                target=policy.compliance.channel,
                dedupe_key=f"sla:dead_letter:{item.id}:{clock}",
                item_id=item.id,
                payload={"template": "dead_letter", "severity": "high"},
            )
        ]
    if level == 1:
        if item.assignee:
            return [
                Notification(
                    kind=NoticeKind.DM,
                    target=item.assignee,
                    dedupe_key=f"sla:remind:{item.id}:{clock}",
                    item_id=item.id,
                    payload={"template": "reminder"},
                )
            ]
        return [
            Notification(
                kind=NoticeKind.ALERT,
                target=channel,
                dedupe_key=f"sla:remind:{item.id}:{clock}",
                item_id=item.id,
                payload={"template": "reminder_unclaimed"},
            )
        ]
    if level == 2:
        out.append(
            Notification(
                kind=NoticeKind.ALERT,
                target=channel,
                dedupe_key=f"sla:escalate:{item.id}:{clock}",
                item_id=item.id,
                payload={"template": "sla_escalated"},
            )
        )
        if not state_changed:
            out.extend(lead_dms(item, policy, key=f"sla:escalate:{item.id}:{{lead}}:{clock}"))
    return out
