"""The SLA ladder: when an item is due, which rung falls due next, and working time.

Each item in review carries its clock: ``sla_started_at`` (when the running segment
began), ``sla_credit_seconds`` (SLA time used before it, e.g. before a pause) and
``ladder_level`` (rungs already taken: 1 reminded, 2 escalated, 3 dead-lettered). From
these, ``next_deadline`` gives the wall-clock time the next rung falls due; the store
keeps it in an indexed column so a sweep reads only what is due, never the whole queue.

Time is wall time, or working time only when the policy has a business calendar. A
dispute awaiting the counterparty pauses the clock.

A digest item's clock starts when the digest that shows it is posted, not at intake:
until then it ``sla_waits`` (no deadline, never overdue). The post's time comes from
the outbox (when Slack accepted the digest's summary), so a Slack outage at digest time
keeps the clock waiting until the digest is really there (:func:`start_clock`). An
item someone acts on before any digest showed it (a claim, an escalation) was seen:
its clock starts at that moment (:func:`start_if_pulled`).

A dispute's expected resolution date follows the same rules: once the date has passed
(midnight after it, in the calendar's timezone, else the policy's display timezone),
its owner is reminded at the next working moment, once; never while the clock is
paused (a dispute awaiting the counterparty is waiting on someone else, and its reminder
comes when it is resumed, if the date has passed by then). ``next_deadline`` is the
earlier of the next rung and that reminder, so one indexed sweep finds both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum
from zoneinfo import ZoneInfo

from domain import escalation
from domain.items import DisputeState, Item, ReviewState
from domain.policy import BusinessCalendar, Edge, Policy

#: States in which nobody owes a decision any more.
SETTLED = frozenset(
    {ReviewState.APPROVED, ReviewState.POSTED, ReviewState.REJECTED, ReviewState.MATCHED}
)

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Enough to cross any realistic run of holidays; a calendar with no working day at all
#: cannot pass validation, so hitting this means a bug, not a user error.
_MAX_DAYS = 3660


class Rung(IntEnum):
    """The ladder's rungs, in order; the value is the ``ladder_level`` after taking it."""

    REMIND = 1
    ESCALATE = 2
    DEAD_LETTER = 3


def threshold(rung: Rung, policy: Policy, item: Item | None = None) -> timedelta | None:
    """SLA time after which ``rung`` falls due (for ``item``: along its walk through the
    escalation graph, its first edge escalating and the last of two or more
    dead-lettering; None when no edge applies to it, so the rung never falls due).

    Without an item, or with the default graph, these are ``sla``'s durations.
    """
    sla = policy.sla
    if rung is Rung.REMIND:
        return sla.remind_after
    if item is None or policy.escalation is None:
        return sla.escalate_after if rung is Rung.ESCALATE else sla.dead_letter_after
    edges = escalation.walk(policy, item.facts)
    if rung is Rung.ESCALATE:
        return edges[0].after if edges else None
    return edges[-1].after if len(edges) >= 2 else None


@dataclass(frozen=True, slots=True)
class _Step:
    """One step still ahead on an item's ladder: the rung it counts as, when it falls
    due (SLA time), and the graph edge it takes (None for the reminder)."""

    rung: Rung
    after: timedelta
    edge: Edge | None


def _steps(item: Item, policy: Policy) -> list[_Step]:
    """The steps still ahead of the item, in order: the reminder, then the rest of its
    walk (the first edge escalates, the last of two or more dead-letters, those between
    move it to the next tier and count as escalations)."""
    if item.state in SETTLED or item.ladder_level >= Rung.DEAD_LETTER:
        return []
    steps: list[_Step] = []
    if item.ladder_level < Rung.REMIND:
        steps.append(_Step(Rung.REMIND, policy.sla.remind_after, None))
    edges = escalation.walk(policy, item.facts)
    for index in range(escalation.position(policy, item), len(edges)):
        last = index > 0 and index == len(edges) - 1
        steps.append(
            _Step(Rung.DEAD_LETTER if last else Rung.ESCALATE, edges[index].after, edges[index])
        )
    return steps


# --- working time ------------------------------------------------------------------------


def _window(day: date, cal: BusinessCalendar, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The working window of ``day`` in UTC, or None on a non-working day."""
    if _WEEKDAYS[day.weekday()] not in cal.weekdays or day in cal.holidays:
        return None
    start = datetime.combine(day, cal.start, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day, cal.end, tzinfo=tz).astimezone(UTC)
    return start, end


def worktime_between(start: datetime, end: datetime, cal: BusinessCalendar | None) -> timedelta:
    """SLA time elapsed from ``start`` to ``end`` (wall time without a calendar)."""
    if end <= start:
        return timedelta(0)
    if cal is None:
        return end - start
    tz = ZoneInfo(cal.timezone)
    total = timedelta(0)
    day = start.astimezone(tz).date() - timedelta(days=1)  # a window may straddle midnight UTC
    last = end.astimezone(tz).date()
    while day <= last:
        window = _window(day, cal, tz)
        if window is not None:
            lo, hi = max(window[0], start), min(window[1], end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total


def add_worktime(start: datetime, amount: timedelta, cal: BusinessCalendar | None) -> datetime:
    """The wall-clock time at which ``amount`` of SLA time has passed since ``start``."""
    if amount <= timedelta(0):
        return start
    if cal is None:
        return start + amount
    tz = ZoneInfo(cal.timezone)
    cursor = start
    day = start.astimezone(tz).date() - timedelta(days=1)
    for _ in range(_MAX_DAYS):
        window = _window(day, cal, tz)
        if window is not None and window[1] > cursor:
            begin = max(window[0], cursor)
            available = window[1] - begin
            if amount <= available:
                return begin + amount
            amount -= available
            cursor = window[1]
        day += timedelta(days=1)
    raise ValueError("the business calendar has no working time within ten years")


def working_from(moment: datetime, cal: BusinessCalendar | None) -> datetime:
    """The first moment at or after ``moment`` that is working time (itself without a
    calendar)."""
    if cal is None:
        return moment
    tz = ZoneInfo(cal.timezone)
    day = moment.astimezone(tz).date() - timedelta(days=1)
    for _ in range(_MAX_DAYS):
        window = _window(day, cal, tz)
        if window is not None and window[1] > moment:
            return max(window[0], moment)
        day += timedelta(days=1)
    raise ValueError("the business calendar has no working time within ten years")


# --- the ladder ----------------------------------------------------------------------------


def is_paused(item: Item) -> bool:
    """A dispute waiting on the counterparty stops the clock."""
    return item.dispute is not None and item.dispute.state is DisputeState.AWAITING_COUNTERPARTY


def start_clock(item: Item, *, at: datetime, digest: str) -> Item:
    """The waiting digest item with its clock started at ``at``, when the digest of
    window ``digest`` that shows it was posted (``sla_next_at`` is the caller's to
    recompute). An item whose clock already runs is returned as it is."""
    if not item.sla_waits:
        return item
    return dataclasses.replace(
        item, sla_waits=False, sla_started_at=at, sla_credit_seconds=0, shown_in_digest=digest
    )


def start_if_pulled(before: Item, after: Item, now: datetime) -> Item:
    """``after``, with its clock started at ``now`` when a change of state took a waiting
    digest item out of the queue before any digest showed it (someone found it and
    acted: the ladder now chases that decision)."""
    if not (before.sla_waits and after.sla_waits) or after.state is before.state:
        return after
    return dataclasses.replace(after, sla_waits=False, sla_started_at=now, sla_credit_seconds=0)


def next_rung(item: Item) -> Rung | None:
    """The rung the item would take next, or None when the ladder has nothing left."""
    if item.state in SETTLED or item.ladder_level >= Rung.DEAD_LETTER:
        return None
    return Rung(item.ladder_level + 1)


def _due_at(item: Item, after: timedelta | None, policy: Policy) -> datetime | None:
    """When ``after`` of SLA time has run for the item (None while paused, settled, or
    waiting for the digest that shows it)."""
    if after is None or item.state in SETTLED or is_paused(item) or item.sla_waits:
        return None
    remaining = after - timedelta(seconds=item.sla_credit_seconds)
    return add_worktime(item.sla_started_at, remaining, policy.calendar)


def deadline(item: Item, rung: Rung, policy: Policy) -> datetime | None:
    """When ``rung`` falls due for the item (None while paused, settled, or waiting for
    the digest that shows it)."""
    return _due_at(item, threshold(rung, policy, item), policy)


def first_deadline(start: datetime, policy: Policy) -> datetime:
    """:func:`next_deadline` of a new item whose clock starts at ``start``.

    Every item ingested in one batch shares it: pending, no rung taken, no credit.
    """
    return add_worktime(start, policy.sla.remind_after, policy.calendar)


def resolution_reminder_due(item: Item, policy: Policy) -> datetime | None:
    """When the dispute's owner is to be reminded that its expected resolution date has
    passed; None when there is nothing to remind (no open dispute, no date, reminded
    already) or the clock is paused."""
    dispute = item.dispute
    if (
        item.state is not ReviewState.DISPUTED
        or dispute is None
        or dispute.expected_resolution is None
        or dispute.reminded_at is not None
        or is_paused(item)
    ):
        return None
    return working_from(end_of_day(dispute.expected_resolution, policy), policy.calendar)


def desk_zone(policy: Policy) -> ZoneInfo:
    """The desk's time zone, where a date a person gives ends: the business calendar's,
    else the policy's display timezone (``digest.timezone``)."""
    return ZoneInfo(policy.calendar.timezone if policy.calendar else policy.digest.timezone)


def end_of_day(day: date, policy: Policy) -> datetime:
    """The moment ``day`` ends in the desk's time zone (:func:`desk_zone`), in UTC."""
    day_after = day + timedelta(days=1)
    return datetime.combine(day_after, time(0), tzinfo=desk_zone(policy)).astimezone(UTC)


def next_deadline(item: Item, policy: Policy) -> datetime | None:
    """When the next rung or dispute reminder falls due: the value of the indexed
    ``sla_next_at`` column."""
    steps = _steps(item, policy)
    due = [
        _due_at(item, steps[0].after, policy) if steps else None,
        resolution_reminder_due(item, policy),
    ]
    return min((d for d in due if d is not None), default=None)


def sla_due_at(item: Item, policy: Policy) -> datetime | None:
    """When a decision is due (the first rung, ``remind_after``); None once settled or paused."""
    return deadline(item, Rung.REMIND, policy)


def is_overdue(item: Item, policy: Policy, now: datetime) -> bool:
    """Whether the item is past its due time."""
    due = sla_due_at(item, policy)
    return due is not None and now >= due


@dataclass(frozen=True, slots=True, kw_only=True)
class LadderStep:
    """What a sweep should do to one item now."""

    rung: Rung
    skipped: tuple[Rung, ...]  # rungs that fell due while nobody swept (e.g. bot down)
    #: The graph edge the step takes (None for the reminder); its target is the tier the
    #: item moves into. An escalation rung taken by an item already escalated moves it on.
    edge: Edge | None = field(default=None, compare=False)


def due_step(item: Item, policy: Policy, now: datetime) -> LadderStep | None:
    """The furthest step due at ``now``, if any; steps passed over are reported as skipped.

    Taking only the furthest keeps a desk that was down for days from sending a reminder,
    an escalation and a dead-letter alert for the same item in one sweep.
    """
    due: list[_Step] = []
    for step in _steps(item, policy):
        when = _due_at(item, step.after, policy)
        if when is None or when > now:
            break
        due.append(step)
    if not due:
        return None
    return LadderStep(rung=due[-1].rung, skipped=tuple(s.rung for s in due[:-1]), edge=due[-1].edge)


def pause(
    item_started: datetime, credit_seconds: int, now: datetime, cal: BusinessCalendar | None
) -> int:
    """SLA seconds used up to ``now``, to keep while the clock is paused."""
    used = worktime_between(item_started, now, cal)
    return credit_seconds + int(used.total_seconds())
