"""The one place that reads the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Aware UTC now from the system clock."""

    def now(self) -> datetime:
        """Aware UTC now."""
        return datetime.now(UTC)


class ScaledClock:
    """A clock that runs ``speed`` times faster than the wall clock from ``start``.

    ``recon-bot sandbox --speed N`` gives it to the whole bot, so the SLA ladder (whose
    deadlines are stored times compared with ``now``) arrives N times sooner. Times it
    returns never go backwards and stay aware UTC.
    """

    def __init__(self, *, speed: float, start: datetime, wall: SystemClock | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._start = start
        self._wall = wall or SystemClock()
        self._wall_start = self._wall.now()

    @property
    def wall_start(self) -> datetime:
        """The wall time at which this clock showed ``start``."""
        return self._wall_start

    @property
    def start(self) -> datetime:
        """What this clock showed at ``wall_start``."""
        return self._start

    def now(self) -> datetime:
        """``start`` plus the wall time since construction, times ``speed``."""
        return self._start + (self._wall.now() - self._wall_start) * self.speed
