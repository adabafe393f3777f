"""The ledger's circuit breaker as a pure state machine, example by example and as a
property over any sequence of outcomes and clock moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain import breaker
from domain.breaker import Breaker, BreakerState, Change

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
COOL = timedelta(seconds=30)


def _fail(b: Breaker, now: datetime = T0) -> breaker.Step:
    return breaker.failed(b, now, error="HTTP 503", cooldown=COOL)


def test_five_consecutive_failures_open_it_once() -> None:
    b = Breaker(name="ledger")
    changes = []
    for _ in range(5):
        step = _fail(b)
        b = step.breaker
        changes.append(step.change)
    assert changes == [Change.NONE] * 4 + [Change.OPENED]
    assert (b.state, b.failures, b.opened_at, b.probe_at) == (
        BreakerState.OPEN,
        5,
        T0,
        T0 + COOL,
    )
    assert b.last_error == "HTTP 503"
    # More failures reported while open (calls that left before it opened) only count.
    again = _fail(b)
    assert again.change is Change.NONE and again.breaker.state is BreakerState.OPEN


def test_a_success_in_between_resets_the_count() -> None:
    b = Breaker(name="ledger")
    for _ in range(4):
        b = _fail(b).breaker
    b = breaker.succeeded(b).breaker
    assert (b.state, b.failures) == (BreakerState.CLOSED, 0)
    for _ in range(4):
        b = _fail(b).breaker
    assert b.state is BreakerState.CLOSED


def test_nothing_goes_out_while_open_until_the_cooldown_then_one_probe() -> None:
    b = Breaker(name="ledger")
    for _ in range(5):
        b = _fail(b).breaker
    assert not breaker.may_send(b, T0 + timedelta(seconds=29))
    assert breaker.take_probe(b, T0 + timedelta(seconds=29)).change is Change.NONE
    probe = breaker.take_probe(b, T0 + COOL, cooldown=COOL)
    assert probe.change is Change.PROBING
    assert probe.breaker.state is BreakerState.HALF_OPEN
    # A second caller at the same moment gets no probe of its own.
    assert not breaker.may_send(probe.breaker, T0 + COOL)
    closed = breaker.succeeded(probe.breaker)
    assert closed.change is Change.CLOSED and closed.breaker == Breaker(name="ledger")


def test_a_failed_probe_reopens_for_another_cooldown_without_a_new_opening() -> None:
    b = Breaker(name="ledger")
    for _ in range(5):
        b = _fail(b).breaker
    probing = breaker.take_probe(b, T0 + COOL, cooldown=COOL).breaker
    later = T0 + COOL + timedelta(seconds=2)
    step = _fail(probing, later)
    assert step.change is Change.NONE  # compliance already knows it is open
    assert (step.breaker.state, step.breaker.probe_at) == (BreakerState.OPEN, later + COOL)


def test_a_probe_that_never_reports_lets_another_through_after_a_cooldown() -> None:
    b = Breaker(name="ledger")
    for _ in range(5):
        b = _fail(b).breaker
    probing = breaker.take_probe(b, T0 + COOL, cooldown=COOL).breaker
    assert not breaker.may_send(probing, T0 + COOL + timedelta(seconds=29))
    assert breaker.take_probe(probing, T0 + 2 * COOL, cooldown=COOL).change is Change.PROBING


Event = tuple[str, int]  # ("ok" | "fail" | "probe", seconds the clock moves first)
events = st.lists(
    st.tuples(st.sampled_from(["ok", "fail", "probe"]), st.integers(0, 40)), max_size=60
)


@given(events)
def test_any_history_opens_only_after_five_straight_failures_and_alerts_once_per_opening(
    history: list[Event],
) -> None:
    b = Breaker(name="ledger")
    now = T0
    streak = 0
    openings = closings = 0
    was_open = False
    for kind, seconds in history:
        now += timedelta(seconds=seconds)
        before = b
        if kind == "probe":
            step = breaker.take_probe(b, now, cooldown=COOL)
            # A probe only ever comes from a breaker that is not closed, once due.
            assert (step.change is Change.PROBING) == (
                not before.is_closed and breaker.may_send(before, now)
            )
        elif kind == "ok":
            step = breaker.succeeded(b)
            streak = 0
        else:
            step = breaker.failed(b, now, error="x", cooldown=COOL)
            streak += 1
        b = step.breaker
        openings += step.change is Change.OPENED
        closings += step.change is Change.CLOSED
        if step.change is Change.OPENED:
            # Opening needs five failures in a row from closed, and alerts once.
            assert before.is_closed and streak >= 5 and not was_open
        if b.state is BreakerState.CLOSED:
            assert b.failures == streak or kind == "probe"
            assert b.failures < 5
        else:
            # Not closed: nothing may go out before its probe time, and one probe then.
            assert b.probe_at is not None and b.opened_at is not None
            assert not breaker.may_send(b, b.probe_at - timedelta(microseconds=1))
        was_open = not b.is_closed
    # Every opening is followed by at most one closing before the next opening.
    assert closings <= openings
