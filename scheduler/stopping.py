"""Cutting a wait short when the process stops (issue 13's bounded graceful stop).

A stop is two events that every wait of the relays selects on: ``stop`` (take no new
work: no new delivery starts, pacing waits end at once) and ``abort`` (set a moment
later by ``bot.app.Server``: calls already sent to Slack or the ledger are given up,
their rows left for the next start). :func:`until` is the one way to wait on both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
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
