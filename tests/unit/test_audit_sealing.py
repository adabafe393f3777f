"""The merge delay as a pure schedule: when a commit seals itself, when the sealer must."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.audit.sealing import CLOCK_SKEW, SealSchedule, TailStatus, tail_status

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def test_an_idle_desk_seals_every_commit_at_once() -> None:
    schedule = SealSchedule(merge_delay=SECOND)

    assert schedule.seal_in_commit(T0)  # nothing sealed yet
    schedule = schedule.sealed(T0)
    assert schedule.seal_in_commit(T0 + 2 * SECOND)  # the last seal is older than the delay


def test_a_commit_soon_after_a_seal_waits_for_the_sealer_until_its_deadline() -> None:
    schedule = SealSchedule(merge_delay=SECOND).sealed(T0)

    at = T0 + timedelta(milliseconds=300)
    assert not schedule.seal_in_commit(at)
    schedule = schedule.committed(at)
    later = schedule.committed(at + timedelta(milliseconds=200))

    assert later.deadline == at + SECOND  # the oldest unsealed commit sets it
    assert not later.due(at + timedelta(milliseconds=999))
    assert later.due(at + SECOND)
    assert later.sealed(at + SECOND).deadline is None


def test_a_late_commit_covers_an_overdue_one_in_its_own_transaction() -> None:
    schedule = SealSchedule(merge_delay=SECOND).sealed(T0).committed(T0 + SECOND / 2)

    # Its own seal is less than a delay old, but the waiting commit's deadline has passed.
    assert schedule.seal_in_commit(T0 + SECOND / 2 + SECOND)


def test_a_zero_delay_seals_every_commit_and_a_negative_one_is_refused() -> None:
    schedule = SealSchedule(merge_delay=timedelta(0)).sealed(T0)

    assert schedule.seal_in_commit(T0)
    with pytest.raises(ValueError, match="negative"):
        SealSchedule(merge_delay=-SECOND)


@given(
    gaps=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=200),
    delay_ms=st.integers(min_value=1, max_value=2000),
)
def test_every_commit_is_covered_within_the_merge_delay(gaps: list[int], delay_ms: int) -> None:
    """Commits at arbitrary times (milliseconds apart) against a sealer that wakes at each
    deadline: each commit's covering checkpoint is signed at most ``merge_delay`` later."""
    delay = timedelta(milliseconds=delay_ms)
    schedule = SealSchedule(merge_delay=delay)
    uncovered: list[datetime] = []
    covered_after: list[timedelta] = []
    now = T0

    def seal(at: datetime) -> None:
        nonlocal schedule
        covered_after.extend(at - commit for commit in uncovered)
        uncovered.clear()
        schedule = schedule.sealed(at)

    for gap in gaps:
        now += timedelta(milliseconds=gap)
        deadline = schedule.deadline
        if deadline is not None and deadline <= now:
            seal(deadline)  # the sealer's timer fired before this commit
        uncovered.append(now)
        if schedule.seal_in_commit(now):
            seal(now)
        else:
            schedule = schedule.committed(now)
    final = schedule.deadline
    if final is not None:
        seal(final)

    assert not uncovered
    assert len(covered_after) == len(gaps)
    assert max(covered_after) <= delay


def test_a_tail_younger_than_the_delay_is_pending_and_an_older_one_overdue() -> None:
    now = T0 + timedelta(hours=1)

    young = tail_status(oldest=now - SECOND, now=now, merge_delay=SECOND)
    skewed = tail_status(oldest=now - SECOND - CLOCK_SKEW, now=now, merge_delay=SECOND)
    old = tail_status(oldest=now - 2 * SECOND - CLOCK_SKEW, now=now, merge_delay=SECOND)
    none = tail_status(oldest=None, now=now, merge_delay=SECOND)

    assert (young.status, skewed.status, old.status, none.status) == (
        TailStatus.PENDING,
        TailStatus.PENDING,
        TailStatus.OVERDUE,
        TailStatus.NONE,
    )
