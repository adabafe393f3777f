"""Delegation while away: who hands work to whom, and what a delegate may never get. Pure.

``/recon away until DATE delegate @user [note]`` starts a delegation; ``/recon back``
ends it (so does its date passing). While it runs, the person's assigned items, new
assignments and reminders go to the delegate. A delegation never widens what anyone
may do: the delegate must already review every team the person reviews, and an item
the delegate prepared, or already approved once, is never handed to them (it goes
back to the queue instead), so maker-checker and dual control hold through it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.errors import InvalidCommand, User
from domain.items import Item
from domain.notifications import NoticeKind, Notification
from domain.policy import Policy
from domain.sla import desk_zone, end_of_day
from domain.templates import DisputeOverdue, Reminder


@dataclass(frozen=True, slots=True, kw_only=True)
class Delegation:
    """``user`` is away until ``until``; their work goes to ``delegate``."""

    user: str
    delegate: str
    until: datetime
    note: str | None
    started_at: datetime
    ended_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        """Whether the delegation is running at ``now``."""
        return self.ended_at is None and self.started_at <= now < self.until


def check_delegation(
    policy: Policy, *, user: str, delegate: str, until: datetime, now: datetime
) -> None:
    """Refuses a delegation that would be void or would widen anyone's rights.

    Raises:
        InvalidCommand: to oneself, to someone outside the person's teams (every team
            the person reviews must have the delegate as reviewer), from or to an
            auditor, from someone in no team, or ending in the past.
    """
    if delegate == user:
        raise InvalidCommand("you cannot delegate to yourself; name a teammate")
    if until <= now:
        raise InvalidCommand("the away date must be in the future")
    if delegate in policy.compliance.auditors:
        raise InvalidCommand(User(delegate), " is an auditor and cannot take over work")
    teams = [t for t in policy.teams if user in t.reviewers or user in t.leads]
    if not teams:
        raise InvalidCommand("you are not a reviewer or lead of any team: nothing to hand over")
    outside = [t.name for t in teams if delegate not in t.reviewers and delegate not in t.leads]
    if outside:
        raise InvalidCommand(
            User(delegate), f" is not in your team(s) {', '.join(outside)}; delegate to a teammate"
        )


def away_until(day: date, *, now: datetime, policy: Policy) -> datetime:
    """The end of an away period given as a date: the end of that day in the desk's time
    zone (the business calendar's, else the policy's display timezone), so ``until
    2026-12-24`` covers the whole 24th where the team works, not only until midnight UTC."""
    end = end_of_day(day, policy)
    return end if end > now else now


def last_day(until: datetime, policy: Policy) -> date:
    """The last day an away period ending at ``until`` covers, in the desk's time zone
    (the date the person gave to :func:`away_until`)."""
    return (until - timedelta(microseconds=1)).astimezone(desk_zone(policy)).date()


def resolve(user: str, delegations: Iterable[Delegation], now: datetime) -> str:
    """Whom work for ``user`` goes to at ``now``: their delegate's delegate and so on
    (a chain stops at the first person who is here, or where it would loop)."""
    by_user = {d.user: d for d in delegations if d.active(now)}
    seen = {user}
    current = user
    while current in by_user:
        nxt = by_user[current].delegate
        if nxt in seen:
            break
        seen.add(nxt)
        current = nxt
    return current


def may_take(item: Item, delegate: str) -> bool:
    """Whether ``delegate`` may be handed ``item``: never their own, never one they
    already gave an approval (they would be both approvers)."""
    if item.facts.prepared_by is not None and item.facts.prepared_by == delegate:
        return False
    return delegate not in {a.user for a in item.approvals}


def is_reminder(notice: Notification) -> bool:
    """Whether ``notice`` is a reminder DM to a person (what follows a delegation)."""
    return notice.kind is NoticeKind.DM and isinstance(notice.payload, Reminder | DisputeOverdue)


def redirect_reminders(
    notices: Sequence[Notification], delegations: Iterable[Delegation], now: datetime
) -> list[Notification]:
    """The notices with each reminder DM to someone away sent to their delegate instead
    (same dedupe key: it is the same reminder, so it is still sent once)."""
    running = [d for d in delegations if d.active(now)]
    if not running:
        return list(notices)
    out = []
    for notice in notices:
        if is_reminder(notice):
            target = resolve(notice.target, running, now)
            if target != notice.target:
                notice = dataclasses.replace(notice, target=target)
        out.append(notice)
    return out
