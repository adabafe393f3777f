"""Matching in the serve process: right after a Stage 1 approval, and on a clock.

The statements use case tells :meth:`MatchTrigger.approved` (after its commit) the id of
each statement that became approved; the trigger runs matching for that statement in a
background task, so the Slack ack never waits for it. Runs go one at a time (a run reads
and rewrites the pending matches it shares with the next). A failed run is logged and
lost to nobody: the statement stays approved, and the periodic full run
(:meth:`MatchTrigger.run` with no statement, the ``match_sweep`` job) matches every
approved statement again. What a run changes is queued in its own transaction as the
summary and the cards, which the relay delivers.
"""

from __future__ import annotations

import asyncio
import logging

from domain.ports import Clock
from domain.usecases import UseCases
from domain.usecases.matching import RunSummary

log = logging.getLogger(__name__)


class MatchTrigger:
    """Runs matching after approvals (in the background) and for the periodic sweep."""

    def __init__(self, *, usecases: UseCases, clock: Clock) -> None:
        self._usecases = usecases
        self._clock = clock
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[RunSummary | None]] = set()

    def approved(self, statement_id: int) -> None:
        """Starts a run for the statement just approved (call after the commit, inside
        the running loop); returns at once."""
        task = asyncio.get_running_loop().create_task(self.run(statement_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self, statement_id: int | None) -> RunSummary | None:
        """One run (of one statement, or of every approved one); a failure is logged and
        None returned (the next run retries)."""
        async with self._lock:
            try:
                summary = await self._usecases.matching.run(
                    now=self._clock.now(), statement=statement_id
                )
            except Exception:
                log.exception(
                    "matching run failed; the next run retries it",
                    extra={"event": "matching_failed", "statement": statement_id},
                )
                return None
        log.info(
            "matching run",
            extra={"event": "matching_run", "statement": statement_id, **summary.as_dict()},
        )
        return summary

    async def drain(self, grace: float | None = None) -> None:
        """Waits for the runs started so far (shutdown, tests); after ``grace`` seconds
        the runs still going are cancelled: each rolls back whole, and the ``match_sweep`` job
        matches its statement later (nothing is lost, the stop stays bounded)."""
        loop = asyncio.get_running_loop()
        deadline = None if grace is None else loop.time() + grace
        while self._tasks:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            _, pending = await asyncio.wait(list(self._tasks), timeout=left)
            if pending and deadline is not None and loop.time() >= deadline:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                log.warning(
                    "matching runs cancelled at shutdown; match_sweep matches them later",
                    extra={"event": "matching_cancelled", "count": len(pending)},
                )
                return
