"""Standard crontab expressions for APScheduler 3.

APScheduler 3's ``CronTrigger.from_crontab`` reads numeric weekdays as 0 = Monday, while
crontab(5) means 0 (and 7) = Sunday, so ``30 9 * * 1`` would fire on Tuesdays (a known
3.x behaviour, fixed only in 4.0). Numeric weekday fields are therefore expanded to
weekday names, which both agree on, before the trigger is built.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday_names(field: str) -> str:
    """A crontab day-of-week field with every number turned into names (0/7 = Sunday)."""
    if field == "*" or not any(ch.isdigit() for ch in field):
        return field
    days: list[int] = []
    for part in field.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            lo, hi = 0, 6
        elif "-" in body:
            first, last = body.split("-", 1)
            lo, hi = int(first), int(last)
        else:
            lo = int(body)
            hi = 6 if step_text else lo
        if not (0 <= lo <= 7 and 0 <= hi <= 7):
            raise ValueError(f"day of week {part!r} is out of range 0-7")
        days.extend(range(lo, hi + 1, step))
    unique = sorted({d % 7 for d in days})
    return ",".join(_NAMES[d] for d in unique)


def crontab_trigger(expression: str, timezone: str) -> CronTrigger:
    """A trigger for a standard 5-field crontab expression in ``timezone``."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r} is not a 5-field crontab expression")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_weekday_names(weekday),
        timezone=ZoneInfo(timezone),
    )
