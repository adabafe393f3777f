"""When things happen: the SLA ladder's times, the digest schedule and the optional
working-time calendar."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from domain.policy.fields import Duration, StrictModel


class Sla(StrictModel):
    """The SLA ladder, counted from when an item enters review."""

    # Defaults are written as in a policy file (and validated), so the exported JSON
    # Schema shows "24h", not the ISO 8601 "P1D" its own pattern would reject.
    remind_after: Duration = Field(default="24h", validate_default=True)
    escalate_after: Duration = Field(default="48h", validate_default=True)
    dead_letter_after: Duration = Field(default="72h", validate_default=True)
    claim_ttl: Duration = Field(default="4h", validate_default=True)

    @model_validator(mode="after")
    def _ordered(self) -> Sla:
        if not self.remind_after < self.escalate_after < self.dead_letter_after:
            raise ValueError("remind_after < escalate_after < dead_letter_after must hold")
        if self.claim_ttl <= timedelta(0):
            raise ValueError("claim_ttl must be positive")
        return self


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r} (use an IANA name)") from None
    return value


_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z]+$")


class Digest(StrictModel):
    """When low-risk items are summarised: a 5-field crontab in the given timezone."""

    cron: str = "0 */4 * * *"
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron_shape(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError("must be a 5-field crontab expression such as '0 */4 * * *'")
        return value

    _tz = field_validator("timezone")(_check_timezone)


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class BusinessCalendar(StrictModel):
    """Optional working-time calendar: when present, the SLA ladder counts working time."""

    timezone: str
    weekdays: list[Weekday] = Field(default=["mon", "tue", "wed", "thu", "fri"], min_length=1)
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: list[date] = Field(default_factory=list)

    _tz = field_validator("timezone")(_check_timezone)

    @model_validator(mode="after")
    def _hours(self) -> BusinessCalendar:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self
