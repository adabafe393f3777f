"""The SLA ladder as pure rules: rungs, deadlines, pauses, and working time.

Working time is checked against hand-computed instants, across weekends, holidays and
both US daylight-saving transitions (America/New_York: 2026-03-08 and 2026-11-01), and
by properties: counting the working time up to ``add_worktime(start, x)`` gives ``x``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import sla
from domain.items import Dispute, DisputeCategory, DisputeState, Item, ReviewState
from domain.policy import BusinessCalendar, LoadedPolicy
from domain.sla import Rung
from tests.builders import make_item, make_policy
from tests.fakes import T0

NY = ZoneInfo("America/New_York")
H = timedelta(hours=1)


def _ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A New York wall-clock time, as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=NY).astimezone(UTC)


def _calendar(**overrides: Any) -> BusinessCalendar:
    values: dict[str, Any] = {
        "timezone": "America/New_York",
        "weekdays": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "17:00",
        "holidays": ["2026-12-25", "2026-07-03"],
    }
    values.update(overrides)
    return BusinessCalendar.model_validate(values)


def _policy(calendar: dict[str, Any] | None = None, **sla_values: str) -> LoadedPolicy:
    overrides: dict[str, Any] = {
        "sla": {"remind_after": "24h", "escalate_after": "48h", "dead_letter_after": "72h"}
        | sla_values
    }
    if calendar is not None:
        overrides["calendar"] = calendar
    return make_policy(**overrides)


def _disputed(item: Item, state: DisputeState) -> Item:
    dispute = Dispute(
        state=state,
        category=DisputeCategory.TIMING,
        description="bank value date differs",
        opened_by="U0ALICE",
        opened_at=item.created_at,
    )
    return dataclasses.replace(item, state=ReviewState.DISPUTED, dispute=dispute)


# --- the ladder in wall time ---------------------------------------------------------


def test_durations_in_seconds_are_accepted_for_fast_ladders() -> None:
    policy = _policy(remind_after="2s", escalate_after="4s", dead_letter_after="6s").policy
    assert [sla.threshold(r, policy) for r in Rung] == [timedelta(seconds=s) for s in (2, 4, 6)]


def test_each_rung_falls_due_at_its_threshold_from_the_clock_start() -> None:
    policy = _policy().policy
    item = make_item()
    assert sla.next_rung(item) is Rung.REMIND
    assert sla.deadline(item, Rung.REMIND, policy) == T0 + 24 * H
    assert sla.deadline(item, Rung.ESCALATE, policy) == T0 + 48 * H
    assert sla.deadline(item, Rung.DEAD_LETTER, policy) == T0 + 72 * H
    assert sla.next_deadline(item, policy) == T0 + 24 * H
    reminded = dataclasses.replace(item, ladder_level=1)
    assert sla.next_rung(reminded) is Rung.ESCALATE
    assert sla.next_deadline(reminded, policy) == T0 + 48 * H
    done = dataclasses.replace(item, ladder_level=3, state=ReviewState.DEAD_LETTER)
    assert sla.next_rung(done) is None and sla.next_deadline(done, policy) is None


@pytest.mark.parametrize("state", sorted(sla.SETTLED))
def test_a_settled_item_has_no_deadline_and_nothing_due(state: ReviewState) -> None:
    policy = _policy().policy
    item = make_item(state=state)
    assert sla.next_deadline(item, policy) is None
    assert sla.due_step(item, policy, T0 + 1000 * H) is None
    assert not sla.is_overdue(item, policy, T0 + 1000 * H)


def test_due_step_takes_the_next_rung_only_when_due() -> None:
    policy = _policy().policy
    item = make_item()
    assert sla.due_step(item, policy, T0 + 24 * H - timedelta(seconds=1)) is None
    step = sla.due_step(item, policy, T0 + 24 * H)
    assert step == sla.LadderStep(rung=Rung.REMIND, skipped=())
    reminded = dataclasses.replace(item, ladder_level=1)
    assert sla.due_step(reminded, policy, T0 + 30 * H) is None
    assert sla.due_step(reminded, policy, T0 + 48 * H) == sla.LadderStep(
        rung=Rung.ESCALATE, skipped=()
    )


def test_a_desk_down_for_days_takes_only_the_highest_rung_and_reports_the_rest() -> None:
    policy = _policy().policy
    step = sla.due_step(make_item(), policy, T0 + 100 * H)
    assert step == sla.LadderStep(rung=Rung.DEAD_LETTER, skipped=(Rung.REMIND, Rung.ESCALATE))
    step = sla.due_step(make_item(), policy, T0 + 50 * H)
    assert step == sla.LadderStep(rung=Rung.ESCALATE, skipped=(Rung.REMIND,))


def test_a_manual_escalation_leaves_only_the_dead_letter_rung() -> None:
    policy = _policy().policy
    escalated = make_item(state=ReviewState.ESCALATED, ladder_level=2)
    assert sla.next_rung(escalated) is Rung.DEAD_LETTER
    assert sla.due_step(escalated, policy, T0 + 60 * H) is None
    assert sla.due_step(escalated, policy, T0 + 72 * H) == sla.LadderStep(
        rung=Rung.DEAD_LETTER, skipped=()
    )


def test_credit_already_used_brings_every_deadline_forward() -> None:
    policy = _policy().policy
    resumed = make_item(sla_started_at=T0 + 100 * H, sla_credit_seconds=int((10 * H).seconds))
    assert sla.next_deadline(resumed, policy) == T0 + 100 * H + 14 * H
    assert sla.deadline(resumed, Rung.DEAD_LETTER, policy) == T0 + 100 * H + 62 * H
    # Credit beyond a threshold: due at once, never in the past of the clock start.
    spent = make_item(sla_credit_seconds=int(timedelta(hours=30).total_seconds()))
    assert sla.deadline(spent, Rung.REMIND, policy) == T0


def test_awaiting_the_counterparty_pauses_the_clock_but_an_open_dispute_does_not() -> None:
    policy = _policy().policy
    waiting = _disputed(make_item(), DisputeState.AWAITING_COUNTERPARTY)
    assert sla.is_paused(waiting)
    assert sla.next_deadline(waiting, policy) is None
    assert sla.due_step(waiting, policy, T0 + 1000 * H) is None
    assert not sla.is_overdue(waiting, policy, T0 + 1000 * H)
    open_dispute = _disputed(make_item(), DisputeState.OPEN)
    assert not sla.is_paused(open_dispute)
    assert sla.next_deadline(open_dispute, policy) == T0 + 24 * H


def test_pause_keeps_the_time_used_as_whole_seconds_of_credit() -> None:
    assert sla.pause(T0, 0, T0 + 10 * H, None) == 36_000
    assert sla.pause(T0, 600, T0 + H + timedelta(microseconds=900_000), None) == 4_200
    assert sla.pause(T0, 600, T0 - H, None) == 600  # a clock going back uses nothing


# --- working time ----------------------------------------------------------------------


def test_without_a_calendar_working_time_is_wall_time() -> None:
    assert sla.worktime_between(T0, T0 + 5 * H, None) == 5 * H
    assert sla.worktime_between(T0 + 5 * H, T0, None) == timedelta(0)
    assert sla.add_worktime(T0, 5 * H, None) == T0 + 5 * H
    assert sla.add_worktime(T0, timedelta(0), None) == T0


def test_working_time_skips_nights_and_weekends() -> None:
    cal = _calendar()
    friday_4pm = _ny(2026, 11, 20, 16, 0)
    assert sla.add_worktime(friday_4pm, 2 * H, cal) == _ny(2026, 11, 23, 10, 0)
    assert sla.worktime_between(friday_4pm, _ny(2026, 11, 23, 10, 0), cal) == 2 * H
    # A start outside working hours begins counting at the next opening.
    saturday = _ny(2026, 11, 21, 12, 0)
    assert sla.add_worktime(saturday, H, cal) == _ny(2026, 11, 23, 10, 0)
    assert sla.worktime_between(saturday, _ny(2026, 11, 22, 23, 0), cal) == timedelta(0)
    # Exactly a full day lands on the closing time, not the next morning.
    monday_9am = _ny(2026, 11, 23, 9, 0)
    assert sla.add_worktime(monday_9am, 8 * H, cal) == _ny(2026, 11, 23, 17, 0)
    # 24h of working time from Monday 9:00 is three working days.
    assert sla.add_worktime(monday_9am, 24 * H, cal) == _ny(2026, 11, 25, 17, 0)


def test_holidays_do_not_count() -> None:
    cal = _calendar()
    thursday_eve = _ny(2026, 12, 24, 16, 0)  # Friday the 25th is a holiday
    assert sla.add_worktime(thursday_eve, 2 * H, cal) == _ny(2026, 12, 28, 10, 0)
    assert sla.worktime_between(thursday_eve, _ny(2026, 12, 28, 10, 0), cal) == 2 * H
    assert sla.worktime_between(_ny(2026, 12, 25, 0, 0), _ny(2026, 12, 26, 0, 0), cal) == (
        timedelta(0)
    )


def test_working_hours_follow_the_local_clock_across_daylight_saving() -> None:
    cal = _calendar()
    # 9-17 is 14:00-22:00 UTC in EST and 13:00-21:00 UTC in EDT.
    friday_before_spring = _ny(2026, 3, 6, 16, 0)
    monday_after = sla.add_worktime(friday_before_spring, 2 * H, cal)
    assert monday_after == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # 10:00 EDT
    friday_before_fall = _ny(2026, 10, 30, 16, 0)
    assert sla.add_worktime(friday_before_fall, 2 * H, cal) == datetime(
        2026, 11, 2, 15, 0, tzinfo=UTC
    )  # 10:00 EST
    # A whole working week has 40 working hours on either side of the change.
    assert sla.worktime_between(_ny(2026, 3, 2, 0, 0), _ny(2026, 3, 16, 0, 0), cal) == 80 * H


def test_a_working_window_on_the_day_of_a_transition_is_shorter_or_longer() -> None:
    cal = _calendar(weekdays=["sun"], start="01:00", end="04:00", holidays=[])
    spring = sla.worktime_between(_ny(2026, 3, 8, 0, 0), _ny(2026, 3, 8, 12, 0), cal)
    fall = sla.worktime_between(_ny(2026, 11, 1, 0, 0), _ny(2026, 11, 1, 12, 0), cal)
    assert (spring, fall) == (2 * H, 4 * H)  # 02:00-03:00 never happened; 01:00-02:00 twice
    assert sla.add_worktime(_ny(2026, 3, 8, 0, 0), 2 * H, cal) == datetime(
        2026, 3, 8, 8, 0, tzinfo=UTC
    )  # 04:00 EDT
    assert sla.add_worktime(_ny(2026, 3, 8, 0, 0), 3 * H, cal) == datetime(
        2026, 3, 15, 6, 0, tzinfo=UTC
    )  # a week later, 02:00 EDT


def test_the_ladder_counts_working_time_when_the_policy_has_a_calendar() -> None:
    calendar = {"timezone": "America/New_York", "holidays": ["2026-11-26"]}
    policy = _policy(calendar, remind_after="8h", escalate_after="16h", dead_letter_after="24h")
    wednesday_noon = _ny(2026, 11, 25, 12, 0)  # Thursday the 26th: Thanksgiving
    item = make_item(now=wednesday_noon)
    assert sla.deadline(item, Rung.REMIND, policy.policy) == _ny(2026, 11, 27, 12, 0)
    assert sla.deadline(item, Rung.ESCALATE, policy.policy) == _ny(2026, 11, 30, 12, 0)
    assert sla.deadline(item, Rung.DEAD_LETTER, policy.policy) == _ny(2026, 12, 1, 12, 0)
    # Over the long weekend nothing is due, however much wall time passes.
    assert sla.due_step(item, policy.policy, _ny(2026, 11, 30, 11, 59)) == sla.LadderStep(
        rung=Rung.REMIND, skipped=()
    )
    # Pausing keeps working time used, not wall time.
    credit = sla.pause(wednesday_noon, 0, _ny(2026, 11, 27, 10, 0), policy.policy.calendar)
    assert credit == int((6 * H).total_seconds())


@given(
    minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
    with_calendar=st.booleans(),
)
def test_first_deadline_is_the_next_deadline_of_a_new_item(
    minutes: int, with_calendar: bool
) -> None:
    # Ingest computes one deadline per batch with first_deadline instead of one per item.
    calendar = {"timezone": "America/New_York", "holidays": ["2026-11-26"]}
    policy = _policy(calendar if with_calendar else None, remind_after="8h").policy
    start = _ny(2026, 1, 1) + timedelta(minutes=minutes)
    new = make_item(now=start)

    assert sla.first_deadline(start, policy) == sla.next_deadline(new, policy)


def test_a_calendar_without_any_working_day_is_refused_by_validation() -> None:
    with pytest.raises(ValueError):
        _calendar(weekdays=[])
    with pytest.raises(ValueError):
        _calendar(start="17:00", end="09:00")


# --- properties ------------------------------------------------------------------------

_CALENDARS = [
    _calendar(),
    _calendar(timezone="Europe/Berlin", holidays=["2026-10-03", "2026-12-25"]),
    _calendar(timezone="Asia/Kolkata", weekdays=["sun", "mon", "tue", "wed", "thu"]),
    _calendar(timezone="Pacific/Kiritimati", start="00:30", end="23:30"),
    _calendar(weekdays=["sun"], start="01:00", end="04:00", holidays=[]),
    None,
]

# hypothesis takes naive bounds and attaches the timezone itself.
_starts = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001
    max_value=datetime(2026, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
_amounts = st.integers(min_value=0, max_value=200 * 3600).map(lambda s: timedelta(seconds=s))
_calendars = st.sampled_from(_CALENDARS)


@given(start=_starts, amount=_amounts, cal=_calendars)
def test_counting_up_to_the_deadline_gives_back_the_amount(
    start: datetime, amount: timedelta, cal: BusinessCalendar | None
) -> None:
    due = sla.add_worktime(start, amount, cal)
    assert due >= start
    assert sla.worktime_between(start, due, cal) == amount
    if amount > timedelta(0):  # and not a second earlier: the deadline is the first instant
        assert sla.worktime_between(start, due - timedelta(seconds=1), cal) < amount


@given(start=_starts, first=_amounts, second=_amounts, cal=_calendars)
def test_working_time_adds_up(
    start: datetime, first: timedelta, second: timedelta, cal: BusinessCalendar | None
) -> None:
    middle = sla.add_worktime(start, first, cal)
    assert sla.add_worktime(middle, second, cal) == sla.add_worktime(start, first + second, cal)
    end = middle + second  # any later instant
    assert sla.worktime_between(start, end, cal) == (
        sla.worktime_between(start, middle, cal) + sla.worktime_between(middle, end, cal)
    )


@given(start=_starts, used=_amounts, cal=_calendars)
def test_a_pause_and_resume_moves_the_deadline_by_exactly_the_pause(
    start: datetime, used: timedelta, cal: BusinessCalendar | None
) -> None:
    """Credit kept over a pause: the remaining SLA time is the same after resuming."""
    policy = make_policy(
        sla={"remind_after": "200h", "escalate_after": "300h", "dead_letter_after": "400h"}
    ).policy
    policy = policy.model_copy(update={"calendar": cal})
    item = make_item(now=start)
    paused_at = sla.add_worktime(start, used, cal)
    credit = sla.pause(item.sla_started_at, item.sla_credit_seconds, paused_at, cal)
    assert credit == int(used.total_seconds())
    resumed_at = paused_at + timedelta(days=9, hours=5)
    resumed = dataclasses.replace(item, sla_started_at=resumed_at, sla_credit_seconds=credit)
    remaining = sla.worktime_between(paused_at, sla.next_deadline(item, policy) or start, cal)
    due = sla.next_deadline(resumed, policy)
    assert due is not None
    assert sla.worktime_between(resumed_at, due, cal) == remaining


def test_the_window_helper_sees_holidays_by_local_date() -> None:
    cal = _calendar(timezone="Asia/Tokyo", holidays=["2026-01-01"])
    # 2025-12-31 23:00 UTC is already New Year's Day in Tokyo.
    new_year = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    assert sla.worktime_between(new_year, new_year + 12 * H, cal) == timedelta(0)
    assert sla.add_worktime(new_year, H, cal) == datetime.combine(
        date(2026, 1, 2), time(10, 0), tzinfo=ZoneInfo("Asia/Tokyo")
    ).astimezone(UTC)
