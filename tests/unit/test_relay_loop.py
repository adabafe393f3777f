"""``relay_loop``, the one loop both relays run: when it passes again at once, when it
waits, and what a failing pass leaves behind."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from scheduler.stopping import relay_loop

log = logging.getLogger("tests.relay_loop")
# Long enough that a test reaching the timer would time out instead.
NEVER = 30.0


class Passes:
    """Records each pass; answers "more waiting" from a script, then False."""

    def __init__(self, *more: bool, fail_first: int = 0) -> None:
        self.more = list(more)
        self.fail_first = fail_first
        self.count = 0
        self.happened = asyncio.Event()

    async def __call__(self) -> bool:
        self.count += 1
        self.happened.set()
        if self.count <= self.fail_first:
            raise RuntimeError("store unavailable")
        return self.more.pop(0) if self.more else False

    async def wait_for(self, count: int) -> None:
        while self.count < count:
            self.happened.clear()
            await asyncio.wait_for(self.happened.wait(), timeout=2)


def _loop(
    passes: Callable[[], Awaitable[bool]],
    stop: asyncio.Event,
    wake: asyncio.Event,
    *,
    interval: float = NEVER,
) -> asyncio.Task[None]:
    return asyncio.create_task(
        relay_loop(
            stop,
            wake=wake,
            one_pass=passes,
            interval=interval,
            log=log,
            failed="test pass failed",
            event="test_failed",
        )
    )


async def _stop(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait_for(task, timeout=2)


async def test_a_pass_with_more_waiting_is_followed_at_once() -> None:
    passes = Passes(True, True)
    stop, wake = asyncio.Event(), asyncio.Event()
    task = _loop(passes, stop, wake)
    try:
        await passes.wait_for(3)
    finally:
        await _stop(stop, task)
    assert passes.count == 3


async def test_an_idle_loop_waits_for_a_wake() -> None:
    passes = Passes()
    stop, wake = asyncio.Event(), asyncio.Event()
    task = _loop(passes, stop, wake)
    try:
        await passes.wait_for(1)
        await asyncio.sleep(0.05)
        assert passes.count == 1  # idle: no pass until the wake or the timer
        wake.set()
        await passes.wait_for(2)
    finally:
        await _stop(stop, task)
    assert passes.count == 2


async def test_a_wake_during_a_pass_is_not_lost() -> None:
    stop, wake = asyncio.Event(), asyncio.Event()
    count = 0
    second = asyncio.Event()

    async def one_pass() -> bool:
        nonlocal count
        count += 1
        if count == 1:
            wake.set()  # a commit while the pass runs
        else:
            second.set()
        return False

    task = _loop(one_pass, stop, wake)
    try:
        await asyncio.wait_for(second.wait(), timeout=2)
    finally:
        await _stop(stop, task)


async def test_the_timer_starts_a_pass_without_a_wake() -> None:
    passes = Passes()
    stop, wake = asyncio.Event(), asyncio.Event()
    task = _loop(passes, stop, wake, interval=0.01)
    try:
        await passes.wait_for(3)
    finally:
        await _stop(stop, task)


async def test_a_failing_pass_is_logged_and_waits_like_an_idle_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger=log.name)
    passes = Passes(fail_first=1)
    stop, wake = asyncio.Event(), asyncio.Event()
    task = _loop(passes, stop, wake)
    try:
        await passes.wait_for(1)
        await asyncio.sleep(0.05)
        assert passes.count == 1  # not retried in a tight loop
        wake.set()
        await passes.wait_for(2)
    finally:
        await _stop(stop, task)
    failures = [r for r in caplog.records if getattr(r, "event", None) == "test_failed"]
    assert [(r.name, r.getMessage(), r.exc_info is not None) for r in failures] == [
        (log.name, "test pass failed", True)
    ]


async def test_a_set_stop_runs_no_pass() -> None:
    passes = Passes()
    stop, wake = asyncio.Event(), asyncio.Event()
    stop.set()
    await asyncio.wait_for(_loop(passes, stop, wake), timeout=2)
    assert passes.count == 0
