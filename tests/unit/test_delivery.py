"""The pure retry policy of the outbox relay: ``decide`` and ``classify_error``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import delivery
from domain.delivery import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    MAX_FAILURES,
    MAX_RETRY_AGE,
    PERMANENT_ERRORS,
    RATE_LIMIT_JITTER,
    Failed,
    GiveUp,
    RateLimited,
    Retry,
    Sent,
    Skipped,
    classify_error,
    decide,
)

NOW = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)

#: The codes the issue names: no retry can fix them.
LISTED_PERMANENT = (
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "missing_scope",
    "invalid_blocks",
)
#: Codes a retry can fix (Slack's 5xx-ish codes, and the 429 code itself).
TRANSIENT = ("internal_error", "fatal_error", "service_unavailable", "request_timeout")

jitters = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
#: Failure counts before an attempt that still leave room for a retry.
retrying_failures = st.integers(min_value=0, max_value=MAX_FAILURES - 2)
any_failures = st.integers(min_value=0, max_value=10**6)
# Aware UTC datetimes over a few decades either side of NOW.
nows = st.timedeltas(min_value=timedelta(days=-9000), max_value=timedelta(days=9000)).map(
    NOW.__add__
)

deterministic = settings(derandomize=True)


def ceiling(failures: int) -> timedelta:
    """The full-jitter ceiling for a transient failure after ``failures`` earlier ones."""
    return min(BACKOFF_CAP, BACKOFF_BASE * (1 << min(failures, 30)))


#: Failure counts whose ceiling is still below the cap (2 s doubling under 5 min).
UNCAPPED = range(8)


# --- delivered or skipped ------------------------------------------------------------------


@deterministic
@given(
    outcome=st.sampled_from(
        [Sent(), Sent(channel="C0TREASURY", ts="1.000200"), Skipped(reason="no card yet")]
    ),
    failures=any_failures,
    jitter=jitters,
)
def test_sent_and_skipped_are_done(outcome: Sent | Skipped, failures: int, jitter: float) -> None:
    assert decide(outcome, failures=failures, now=NOW, jitter=jitter) is None


# --- rate limits ---------------------------------------------------------------------------


@deterministic
@given(
    retry_after=st.floats(min_value=0.0, max_value=3600.0),
    failures=any_failures,
    jitter=jitters,
    now=nows,
)
def test_rate_limit_waits_retry_after_plus_jitter_and_is_no_failure(
    retry_after: float, failures: int, jitter: float, now: datetime
) -> None:
    decision = decide(
        RateLimited(retry_after=retry_after), failures=failures, now=now, jitter=jitter
    )

    assert decision == Retry(
        at=now + timedelta(seconds=retry_after) + RATE_LIMIT_JITTER * jitter,
        error="ratelimited",
        count_failure=False,
    )
    # Never before Retry-After, never more than one jitter second after it.
    assert now + timedelta(seconds=retry_after) <= decision.at
    assert decision.at <= now + timedelta(seconds=retry_after) + RATE_LIMIT_JITTER


def test_rate_limit_never_gives_up_however_many_failures_came_before() -> None:
    decision = decide(RateLimited(retry_after=1.0), failures=MAX_FAILURES, now=NOW, jitter=0.0)
    assert isinstance(decision, Retry)
    assert decision.count_failure is False


def test_negative_retry_after_is_treated_as_zero() -> None:
    decision = decide(RateLimited(retry_after=-30.0), failures=0, now=NOW, jitter=0.5)
    assert decision == Retry(
        at=NOW + timedelta(seconds=0.5), error="ratelimited", count_failure=False
    )


# --- permanent errors ----------------------------------------------------------------------


@pytest.mark.parametrize("code", LISTED_PERMANENT)
def test_listed_codes_are_permanent_and_give_up_at_once(code: str) -> None:
    assert code in PERMANENT_ERRORS
    assert classify_error(code) is True
    outcome = Failed(error=code, permanent=classify_error(code))
    assert decide(outcome, failures=0, now=NOW, jitter=0.99) == GiveUp(error=code)


@pytest.mark.parametrize("code", [*TRANSIENT, "ratelimited", "", "Channel_Not_Found"])
def test_other_codes_are_not_permanent(code: str) -> None:
    assert classify_error(code) is False


@deterministic
@given(code=st.sampled_from(sorted(PERMANENT_ERRORS)), failures=any_failures, jitter=jitters)
def test_permanent_failure_gives_up_whatever_the_count(
    code: str, failures: int, jitter: float
) -> None:
    assert decide(
        Failed(error=code, permanent=True), failures=failures, now=NOW, jitter=jitter
    ) == GiveUp(error=code)


# --- transient errors: capped exponential backoff with full jitter -------------------------


@deterministic
@given(code=st.sampled_from(TRANSIENT), failures=retrying_failures, jitter=jitters, now=nows)
def test_transient_failure_retries_within_the_full_jitter_bound(
    code: str, failures: int, jitter: float, now: datetime
) -> None:
    decision = decide(
        Failed(error=code, permanent=False), failures=failures, now=now, jitter=jitter
    )

    assert isinstance(decision, Retry)
    assert decision.count_failure is True
    assert decision.error == code
    delay = decision.at - now
    assert timedelta(0) <= delay <= ceiling(failures)
    assert delay == ceiling(failures) * jitter


@pytest.mark.parametrize("failures", [*UNCAPPED, 8, 30, 31, 100, MAX_FAILURES - 2])
def test_full_jitter_spans_zero_to_the_ceiling(failures: int) -> None:
    transient = Failed(error="internal_error", permanent=False)
    low = decide(transient, failures=failures, now=NOW, jitter=0.0)
    high = decide(transient, failures=failures, now=NOW, jitter=1.0 - 2**-53)

    assert isinstance(low, Retry)
    assert isinstance(high, Retry)
    assert low.at == NOW
    assert abs(high.at - (NOW + ceiling(failures))) <= timedelta(microseconds=1)


def test_ceiling_doubles_from_the_base() -> None:
    transient = Failed(error="internal_error", permanent=False)
    highs = [decide(transient, failures=f, now=NOW, jitter=1.0 - 2**-53) for f in UNCAPPED]
    delays = [(d.at - NOW).total_seconds() for d in highs if isinstance(d, Retry)]
    assert delays == pytest.approx(
        [BACKOFF_BASE.total_seconds() * 2**f for f in UNCAPPED], abs=1e-5
    )


def test_seeded_jitter_draws_stay_in_bounds_and_spread_out() -> None:
    """The relay draws jitter from a seeded ``random.Random``: delays cover the range."""
    rng = random.Random(20261120)
    transient = Failed(error="internal_error", permanent=False)
    failures = 3
    delays = []
    for _ in range(500):
        decision = decide(transient, failures=failures, now=NOW, jitter=rng.random())
        assert isinstance(decision, Retry)
        delays.append(decision.at - NOW)
    assert all(timedelta(0) <= d <= ceiling(failures) for d in delays)
    # Full jitter, not "ceiling plus a little": both halves of the range are used.
    assert min(delays) < ceiling(failures) * 0.1
    assert max(delays) > ceiling(failures) * 0.9


@deterministic
@given(failures=st.integers(min_value=0, max_value=44), jitter=jitters)
def test_backoff_is_capped_for_large_failure_counts(failures: int, jitter: float) -> None:
    # With the shipped constants the cap is never reached before MAX_FAILURES gives up
    # (2 s * 2**6 = 128 s < 5 min), so allow more failures to see the cap work.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(delivery, "MAX_FAILURES", 46)
        decision = decide(
            Failed(error="internal_error", permanent=False),
            failures=failures,
            now=NOW,
            jitter=jitter,
        )
    assert isinstance(decision, Retry)
    assert NOW <= decision.at <= NOW + BACKOFF_CAP
    if BACKOFF_BASE * 2**failures >= BACKOFF_CAP:
        assert decision.at - NOW == BACKOFF_CAP * jitter


def test_backoff_cap_holds_for_any_failure_count() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(delivery, "MAX_FAILURES", 10**6)
        decision = decide(
            Failed(error="internal_error", permanent=False), failures=100, now=NOW, jitter=0.5
        )
    assert decision == Retry(at=NOW + BACKOFF_CAP * 0.5, error="internal_error", count_failure=True)


# --- giving up after too many failures -----------------------------------------------------


def test_transient_failures_retry_until_the_message_is_a_day_old() -> None:
    """A Slack outage shorter than MAX_RETRY_AGE loses nothing and needs no operator."""
    transient = Failed(error="service_unavailable", permanent=False)
    created = NOW - MAX_RETRY_AGE + timedelta(seconds=1)
    assert isinstance(
        decide(transient, failures=40, now=NOW, jitter=0.5, created_at=created), Retry
    )
    expired = NOW - MAX_RETRY_AGE
    decision = decide(transient, failures=40, now=NOW, jitter=0.5, created_at=expired)
    assert isinstance(decision, GiveUp)
    assert "service_unavailable" in decision.error


def test_rate_limits_never_give_up_even_on_old_messages() -> None:
    decision = decide(
        RateLimited(retry_after=5.0),
        failures=0,
        now=NOW,
        jitter=0.0,
        created_at=NOW - 10 * MAX_RETRY_AGE,
    )
    assert isinstance(decision, Retry)


def test_the_last_allowed_failure_still_retries() -> None:
    decision = decide(
        Failed(error="internal_error", permanent=False),
        failures=MAX_FAILURES - 2,
        now=NOW,
        jitter=0.5,
    )
    assert isinstance(decision, Retry)


def test_max_failures_gives_up() -> None:
    decision = decide(
        Failed(error="internal_error", permanent=False),
        failures=MAX_FAILURES - 1,
        now=NOW,
        jitter=0.5,
    )
    assert isinstance(decision, GiveUp)
    assert decision.error.startswith("internal_error")
    assert f"{MAX_FAILURES} failures" in decision.error


@deterministic
@given(
    failures=st.integers(min_value=MAX_FAILURES - 1, max_value=10**6),
    code=st.sampled_from(TRANSIENT),
    jitter=jitters,
)
def test_transient_failure_beyond_the_budget_always_gives_up(
    failures: int, code: str, jitter: float
) -> None:
    decision = decide(
        Failed(error=code, permanent=False), failures=failures, now=NOW, jitter=jitter
    )
    assert isinstance(decision, GiveUp)
    assert code in decision.error
