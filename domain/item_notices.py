"""Which Slack messages a change of an item causes: its card, alerts and DMs, and the
rungs of its SLA ladder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.digest_notices import digest_key
from domain.home_notices import home_refreshes, home_users
from domain.items import Item, ReviewState, Route, dispute_id
from domain.notice import Notification
from domain.policy import Policy
from domain.states import Event
from domain.templates import (
    Assigned,
    CardUpdate,
    DeadLetter,
    DisputeOverdue,
    Escalated,
    NoticeKind,
    Reminder,
    ReminderUnclaimed,
    SlaEscalated,
)

#: States in which a digest item earns a card of its own (someone must look at it now).
_CARD_WORTHY = frozenset(
    {ReviewState.ASSIGNED, ReviewState.ESCALATED, ReviewState.DEAD_LETTER, ReviewState.DISPUTED}
)


def card(item: Item, policy: Policy, *, force_post: bool = False) -> Notification | None:
    """The card post/update for the item's current version, if it has a channel.

    ``force_post`` posts a card even for a digest item (someone asked to review it).
    """
    assert item.id is not None
    post_if_missing = force_post or item.route is Route.IMMEDIATE or item.state in _CARD_WORTHY
    return Notification(
        kind=NoticeKind.CARD,
        target=policy.channel_for(item.team),
        dedupe_key=f"card:{item.id}:v{item.version}" + (":review" if force_post else ""),
        item_id=item.id,
        payload=CardUpdate(version=item.version, post_if_missing=post_if_missing),
    )


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
            payload=Escalated(),
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


def _posts_if_missing(notice: Notification) -> bool:
    return isinstance(notice.payload, CardUpdate) and notice.payload.post_if_missing


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
    if notice is not None and (before is not None or _posts_if_missing(notice)):
        out.append(notice)
    names = {e.name for e in events}
    if "item.dead_lettered" in names:
        out.append(
            Notification(
                kind=NoticeKind.ALERT,
                target=policy.compliance.channel,
                dedupe_key=f"alert:dead_letter:{after.id}:v{after.version}",
                item_id=after.id,
                payload=DeadLetter(),
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
                    payload=Assigned(by=actor),
                )
            )
    return out


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
    channel = policy.channel_for(item.team)
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
                payload=DeadLetter(),
            )
        ]
    if level == 1:
        # A digest item's clock started with its digest's post: its reminder names that
        # digest, and the channel's goes in its thread, beside the group that listed it.
        digest = item.shown_in_digest
        if item.assignee:
            return [
                Notification(
                    kind=NoticeKind.DM,
                    target=item.assignee,
                    dedupe_key=f"sla:remind:{item.id}:{clock}",
                    item_id=item.id,
                    payload=Reminder(digest=digest),
                )
            ]
        return [
            Notification(
                kind=NoticeKind.ALERT,
                target=channel,
                dedupe_key=f"sla:remind:{item.id}:{clock}",
                item_id=item.id,
                payload=ReminderUnclaimed(digest=digest),
                thread_of=(
                    digest_key(item.team, digest) if digest and item.team is not None else None
                ),
            )
        ]
    if level == 2:
        out.append(
            Notification(
                kind=NoticeKind.ALERT,
                target=channel,
                dedupe_key=f"sla:escalate:{item.id}:{clock}",
                item_id=item.id,
                payload=SlaEscalated(),
            )
        )
        if not state_changed:
            out.extend(lead_dms(item, policy, key=f"sla:escalate:{item.id}:{{lead}}:{clock}"))
    return out


def dispute_overdue(item: Item, owner: str) -> Notification:
    """The DM telling a dispute's owner that its expected resolution date has passed.

    Keyed by the dispute's id, so each dispute is reminded once, whatever the sweeps.
    """
    assert item.id is not None and item.dispute is not None
    assert item.dispute.expected_resolution is not None
    dispute = dispute_id(item.id, item.dispute.number)
    return Notification(
        kind=NoticeKind.DM,
        target=owner,
        dedupe_key=f"dispute:overdue:{dispute}",
        item_id=item.id,
        payload=DisputeOverdue(
            dispute=dispute, expected_resolution=item.dispute.expected_resolution
        ),
    )
