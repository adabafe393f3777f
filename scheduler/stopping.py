"""Cutting a wait short when the process stops (issue 13's bounded graceful stop).

A stop is two events that every wait of the relays selects on: ``stop`` (take no new
work: no new delivery starts, pacing waits end at once) and ``abort`` (set a moment
later by ``bot.app.Server``: calls already sent to Slack or the ledger are given up,
their rows left for the next start). :func:`until` is the one way to wait on both.
:func:`relay_loop` is the one loop both relays run between their passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Interrupted(Exception):
    """The wait was cut short: the event it selected on was set first."""


async def until(event: asyncio.Event, work: Awaitable[T]) -> T:
    """``work``'s result, unless ``event`` is set first (then ``work`` is cancelled).

    Raises:
        Interrupted: ``event`` was set before ``work`` finished (or already set).
    """
    task = asyncio.ensure_future(work)
    if event.is_set():  # already: the work never runs
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise Interrupted
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when the caller itself is cancelled: leave nothing running
        waiter.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        raise Interrupted
    return task.result()


async def relay_loop(
    stop: asyncio.Event,
    *,
    wake: asyncio.Event,
    one_pass: Callable[[], Awaitable[bool]],
    interval: float,
    log: logging.Logger,
    failed: str,
    event: str,
) -> None:
    """Runs ``one_pass`` until ``stop`` is set; a pass in progress finishes.

    After a pass that says more may be waiting (it returned True) the next one starts at
    once; otherwise the loop waits for ``wake``, ``stop`` or ``interval`` seconds. A pass
    that raises is logged on ``log`` (message ``failed``, event ``event``) and counts as
    one with nothing more waiting, so a broken store is retried on the timer, not in a
    tight loop.
    """
    while not stop.is_set():
        # Cleared before the pass, so a wake-up during it (a commit, or an alert the pass
        # itself enqueued) starts the next pass at once instead of being lost.
        wake.clear()
        try:
            more = await one_pass()
        except Exception:
            log.exception(failed, extra={"event": event})
            more = False
        if more:
            continue
        waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
        _, pending = await asyncio.wait(
            waiters, timeout=interval, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()
