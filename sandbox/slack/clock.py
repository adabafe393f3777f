"""The stand-in's clock: the monotonic time source and a hand-driven one for tests.

Trigger expiry, response_url expiry and rate-limit windows all read this clock.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Clock", "ManualClock"]

Clock = Callable[[], float]


class ManualClock:
    """A hand-driven monotonic clock for deterministic tests.

    Call the instance to read it; :meth:`advance` moves it forward.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward by ``seconds`` (must be >= 0)."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        self.now += seconds
