"""Fault injection for the stand-in's Web API: scripted failures, rate limits, delays.

Pure bookkeeping; the server consults :class:`FaultPlan` before answering a call.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DEFAULT_ERRORS", "FailSpec", "FaultPlan", "Hold", "RateLimit"]

DEFAULT_ERRORS: dict[int, str] = {
    200: "internal_error",
    429: "ratelimited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "request_timeout",
}
"""The ``error`` string used when ``fail_next`` is given a status but no error."""


@dataclass
class FailSpec:
    """One scripted failure: answer the next ``times`` matching calls with this."""

    method: str  # a Web API method name, or "*" for any
    error: str
    status: int
    retry_after: float | None
    times: int
    channel: str | None

    def matches(self, method: str, channel: str | None) -> bool:
        """True when this failure applies to a call of ``method`` on ``channel``."""
        if self.method not in ("*", method):
            return False
        return self.channel is None or self.channel == channel


@dataclass
class RateLimit:
    """A token bucket per (method, channel): ``per_second`` refill, ``burst`` capacity."""

    per_second: float
    burst: int
    buckets: dict[str | None, tuple[float, float]] = field(default_factory=dict)

    def take(self, channel: str | None, now: float) -> float | None:
        """Consumes a token; returns None if allowed, else seconds until one is available."""
        tokens, last = self.buckets.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
        if tokens >= 1.0:
            self.buckets[channel] = (tokens - 1.0, now)
            return None
        self.buckets[channel] = (tokens, now)
        return (1.0 - tokens) / self.per_second


@dataclass
class Hold:
    """Holds back the answer to the next successful call of ``method`` (on ``channel``).

    Slack has done the work (a posted message is stored) when ``reached`` is set; the
    HTTP answer leaves only after :meth:`release`. A test kills the caller in between to
    play "Slack accepted it, the caller never learnt it".
    """

    method: str
    channel: str | None
    #: No answer at all: the connection is closed instead (a dropped connection).
    drop: bool = False
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    answer: dict[str, object] | None = None

    def matches(self, method: str, channel: str | None) -> bool:
        """True when this hold applies to a call of ``method`` on ``channel``."""
        return self.method == method and (self.channel is None or self.channel == channel)

    def release(self) -> None:
        """Lets the held answer go (to whoever is still listening)."""
        self.released.set()


@dataclass(frozen=True)
class Fault:
    """What the server should answer instead of running the method."""

    status: int
    body: dict[str, object]
    headers: dict[str, str]


class FaultPlan:
    """All configured faults. Consulted by the server for every Web API call.

    Args:
        clock: The stand-in clock, used for rate-limit windows.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.failures: list[FailSpec] = []
        self.rate_limits: dict[str, RateLimit] = {}
        self.delays: dict[str, float] = {}
        self.holds: list[Hold] = []

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: float | None = None,
        times: int = 1,
        channel: str | None = None,
    ) -> None:
        """Scripts the next ``times`` calls to ``method`` (``"*"``: any) to fail.

        Args:
            method: Web API method, e.g. ``"chat.postMessage"``, or ``"*"``.
            error: Slack error string; defaults by status (429 -> ``ratelimited``,
                500 -> ``internal_error``, 503 -> ``service_unavailable``).
            status: HTTP status to answer with (200 for ordinary Slack errors).
            retry_after: Seconds for the ``Retry-After`` header (default 1 for 429).
            times: How many matching calls fail.
            channel: Only calls whose ``channel`` argument equals this fail.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        if retry_after is None and status == 429:
            retry_after = 1
        chosen = error or DEFAULT_ERRORS.get(status, "internal_error")
        self.failures.append(FailSpec(method, chosen, status, retry_after, times, channel))

    def rate_limit(
        self, method: str, per_channel_per_second: float = 1.0, *, burst: int = 1
    ) -> None:
        """Enforces a per-channel rate on ``method``; excess calls get HTTP 429."""
        if per_channel_per_second <= 0:
            raise ValueError("per_channel_per_second must be > 0")
        self.rate_limits[method] = RateLimit(per_channel_per_second, max(1, burst))

    def delay(self, method: str, seconds: float) -> None:
        """Delays every answer to ``method`` (``"*"``: any) by ``seconds`` (0 removes)."""
        if seconds <= 0:
            self.delays.pop(method, None)
        else:
            self.delays[method] = seconds

    def hold(self, method: str, *, channel: str | None = None, drop: bool = False) -> Hold:
        """Holds back the answer to the next successful ``method`` call; see :class:`Hold`.

        With ``drop`` the answer never leaves: the connection is closed instead.
        """
        hold = Hold(method, channel, drop=drop)
        self.holds.append(hold)
        return hold

    def take_hold(self, method: str, channel: str | None) -> Hold | None:
        """The hold for this (successful) call, removed from the plan; None if none."""
        for hold in self.holds:
            if hold.matches(method, channel):
                self.holds.remove(hold)
                return hold
        return None

    def clear(self) -> None:
        """Removes every configured fault (and lets held answers go)."""
        self.failures.clear()
        self.rate_limits.clear()
        self.delays.clear()
        for hold in self.holds:
            hold.release()
        self.holds.clear()

    def delay_for(self, method: str) -> float:
        """Seconds to wait before answering ``method``."""
        return self.delays.get(method, self.delays.get("*", 0.0))

    def check(self, method: str, channel: str | None) -> Fault | None:
        """The fault to answer this call with, consuming scripted failures; None if none."""
        for spec in self.failures:
            if spec.matches(method, channel):
                spec.times -= 1
                if spec.times <= 0:
                    self.failures.remove(spec)
                headers: dict[str, str] = {}
                if spec.retry_after is not None:
                    headers["Retry-After"] = str(math.ceil(spec.retry_after))
                return Fault(spec.status, {"ok": False, "error": spec.error}, headers)
        limit = self.rate_limits.get(method)
        if limit is not None:
            wait = limit.take(channel, self._clock())
            if wait is not None:
                headers = {"Retry-After": str(max(1, math.ceil(wait)))}
                return Fault(429, {"ok": False, "error": "ratelimited"}, headers)
        return None
