"""Keeps the durable inbox (``store.inbox``): beats, adopts, and runs interactions again.

Every ``interval`` this process says it is alive (a loop of its own), and adopts what
dead processes left (stored, acked, never done) and dispatches each again through the
app's listeners, one at a time, oldest first, each until its listener ends. A process
that stops cleanly leaves the table of live processes, so what it could not finish is
adopted at once; one that dies is taken for dead once it has not beaten for the inbox's
``timeout``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from scheduler.stopping import Interrupted, relay_loop, until
from store.inbox import Adopted, SqlInbox

log = logging.getLogger(__name__)

#: Dispatches a stored body through the app's listeners (returns once one acked it).
Dispatch = Callable[[dict[str, Any]], Coroutine[Any, Any, object]]

#: How long one interaction run again may take before the next one starts (it goes on).
REPLAY_WITHIN_S = 30.0
#: Done rows and long-silent processes are forgotten every this many rounds.
FORGET_EVERY = 300


@dataclass(slots=True, kw_only=True)
class InboxKeeper:
    """Beats and adopts for one ``serve`` process (module docstring)."""

    inbox: SqlInbox
    dispatch: Dispatch
    rounds: int = 0

    @property
    def interval(self) -> float:
        """Seconds between beats: a quarter of the timeout, so one late beat is no death."""
        return max(self.inbox.timeout.total_seconds() / 4, 0.05)

    async def tick(self, stop: asyncio.Event | None = None) -> int:
        """One beat, then one round of adoption (what ``run`` does, in one step)."""
        await self.inbox.beat()
        return await self.adopt_round(stop or asyncio.Event())

    async def adopt_round(self, stop: asyncio.Event) -> int:
        """Adopts what dead processes left and runs it again; how many were adopted."""
        self.rounds += 1
        if self.rounds % FORGET_EVERY == 1:
            await self.inbox.forget()
        if stop.is_set():
            return 0
        adopted = await self.inbox.adopt()
        for each in adopted:
            if stop.is_set():  # left to the next process (this one leaves the table)
                break
            await self._replay(each, stop)
        return len(adopted)

    async def run(self, stop: asyncio.Event) -> None:
        """Beats and adopts until ``stop``, in two loops: a round of replays can take a
        while, and must never hold up a beat (the others would take this process for
        dead, and adopt what its own listeners are running)."""
        beating = asyncio.create_task(self._every(stop, self.inbox.beat, "beat"))
        try:
            await self._every(stop, lambda: self.adopt_round(stop), "adoption")
        finally:
            await beating

    async def _every(
        self, stop: asyncio.Event, work: Callable[[], Awaitable[object]], what: str
    ) -> None:
        """Runs ``work`` every :attr:`interval` until ``stop`` (a failure is logged and the
        next round tries again: a database that is away comes back)."""

        async def one_round() -> bool:
            await work()
            return False  # nothing to hurry: the next round waits its interval

        await relay_loop(
            stop,
            wake=asyncio.Event(),  # nothing wakes the keeper early
            one_pass=one_round,
            interval=self.interval,
            log=log,
            failed=f"the inbox keeper's {what} failed; trying again",
            event="inbox_keeper_failed",
        )

    async def _replay(self, adopted: Adopted, stop: asyncio.Event) -> None:
        receipt = adopted.receipt
        log.info(
            "running again an interaction a stopped process had acked",
            extra={"event": "inbox_replayed", "kind": receipt.kind, "row": receipt.id},
        )
        # In a context of its own, which the listener's task copies: the listener finds
        # the receipt there, and this loop's context never holds it.
        context = contextvars.copy_context()
        context.run(SqlInbox.bind, receipt)
        await asyncio.create_task(self.dispatch(adopted.body), context=context)
        if not receipt.started:
            log.warning(
                "no listener took an interaction run again; marked done",
                extra={"event": "inbox_unhandled", "kind": receipt.kind, "row": receipt.id},
            )
            await asyncio.create_task(self.inbox.finish(), context=context)
            return
        try:
            async with asyncio.timeout(REPLAY_WITHIN_S):
                await until(stop, receipt.finished.wait())
        except TimeoutError:
            log.warning(
                "an interaction run again is still running; going on",
                extra={"event": "inbox_replay_slow", "kind": receipt.kind, "row": receipt.id},
            )
        except Interrupted:
            pass  # the stop drains it with the other listeners
