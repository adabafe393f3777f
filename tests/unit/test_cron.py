"""Standard crontab weekdays (0/7 = Sunday), which APScheduler 3's from_crontab gets wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from apscheduler.triggers.cron import CronTrigger

from scheduler.cron import crontab_trigger
from scheduler.jobs import window_key

SATURDAY = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _next_weekday(trigger: CronTrigger) -> str:
    fire = trigger.get_next_fire_time(None, SATURDAY)
    assert fire is not None
    return fire.strftime("%a")


@pytest.mark.parametrize(
    ("weekday", "expected"),
    [
        ("0", "Sun"),
        ("7", "Sun"),
        ("1", "Mon"),
        ("5", "Fri"),
        ("6", "Sat"),
        ("1-5", "Mon"),
        ("mon", "Mon"),
        ("*/2", "Sun"),
        ("3,5", "Wed"),
    ],
)
def test_numeric_weekdays_follow_crontab(weekday: str, expected: str) -> None:
    assert _next_weekday(crontab_trigger(f"30 9 * * {weekday}", "UTC")) == expected


def test_apscheduler_from_crontab_is_off_by_one_which_is_why_we_translate() -> None:
    # The library's own reading: "1" is Tuesday. If this ever changes, drop scheduler.cron.
    assert _next_weekday(CronTrigger.from_crontab("30 9 * * 1", timezone=UTC)) == "Tue"


def test_window_key_is_the_latest_fire_time_in_the_policy_timezone() -> None:
    now = datetime(2026, 11, 21, 14, 3, 27, tzinfo=UTC)
    # Every 4 hours in New York (EST, UTC-5): 08:00 local = 13:00 UTC.
    assert window_key("0 */4 * * *", "America/New_York", now) == "2026-11-21T13:00:00+00:00"
    assert window_key("30 9 * * 1", "Europe/London", now) == "2026-11-16T09:30:00+00:00"
    # Late runs of the same window (within the misfire grace) agree on the key.
    later = datetime(2026, 11, 21, 14, 59, 59, tzinfo=UTC)
    assert window_key("0 */4 * * *", "America/New_York", later) == window_key(
        "0 */4 * * *", "America/New_York", now
    )


def test_bad_weekday_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="out of range"):
        crontab_trigger("0 9 * * 9", "UTC")
