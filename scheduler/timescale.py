"""Running the schedule faster than the wall clock (``recon-bot sandbox --speed N``).

The bot's clock may run ``speed`` times faster than the wall clock from a common start
(``bot.clock.ScaledClock``). APScheduler fires on the wall clock, so a cron schedule
("weekdays at 09:00") is computed in the bot's time and its fire time mapped back to the
wall: the digest then comes N times as often, at the bot's 09:00.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeScale:
    """Bot time = ``bot_start`` + (wall time - ``wall_start``) x ``speed``."""

    speed: float
    wall_start: datetime
    bot_start: datetime

    def to_bot(self, wall: datetime) -> datetime:
        """The bot's time at wall time ``wall``."""
        return self.bot_start + (wall - self.wall_start) * self.speed

    def to_wall(self, bot: datetime) -> datetime:
        """The wall time at which the bot's clock shows ``bot``."""
        return self.wall_start + (bot - self.bot_start) / self.speed


class ScaledTrigger(BaseTrigger):  # type: ignore[misc]
    """``inner`` evaluated in the bot's time, fired on the wall clock."""

    def __init__(self, inner: BaseTrigger, scale: TimeScale) -> None:
        self.inner = inner
        self.scale = scale
        # The most a wall time's rounding moves it in bot time, plus one microsecond.
        self._rounding = timedelta(microseconds=math.ceil(scale.speed) + 1)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The wall time of ``inner``'s next fire time after the bot's ``now``."""
        zone: tzinfo | None = now.tzinfo
        bot_now = self.scale.to_bot(now)
        previous = None
        if previous_fire_time is not None:
            # The wall fire time was rounded to the microsecond, so mapped back it can fall
            # up to speed/2 us short of the bot time that fired; the inner trigger would then
            # give that same time again, and APScheduler's catch-up loop (fire times up to
            # now) would never end: the loop, the page and Ctrl-C froze. Step past the error
            # (``now`` too: the inner trigger looks from the earlier of the two).
            previous = self.scale.to_bot(previous_fire_time) + self._rounding
            bot_now = max(bot_now, previous)
        following: datetime | None = self.inner.get_next_fire_time(previous, bot_now)
        if following is None:
            return None
        return self.scale.to_wall(following).astimezone(zone)
