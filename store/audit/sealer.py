"""Batched checkpoints: one process's side of the merge delay (see :mod:`domain.audit.sealing`).

The unit of work asks :meth:`AuditSealer.seal_in_commit` whether a commit signs its own
checkpoint, and tells the sealer what it did. Commits left unsealed wake :meth:`run`,
which signs one checkpoint for all of them in a seal transaction of its own before the
oldest is ``merge_delay`` old. :meth:`close` (the serve process's stop path, and every
container close) seals whatever is left; a process that crashed leaves a tail that
:meth:`seal` at the next start covers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import TimeoutError as PoolTimeout

from domain.audit.checkpoints import Checkpoint
from domain.audit.keys import Signer
from domain.audit.sealing import SealSchedule
from store.audit.anchors import AnchorFile, AnchorFileError
from store.audit.log import DEFAULT_LOG, seal_head
from store.engine import Database

log = logging.getLogger(__name__)


class Clock(Protocol):
    """What the sealer reads the time from (``domain.ports.Clock``, which store.audit
    does not import)."""

    def now(self) -> datetime:
        """Aware UTC now."""
        ...


#: Wait after a failed seal before trying again (the database may be briefly unavailable).
RETRY_AFTER_S = 1.0


class AuditSealer:
    """Signs one checkpoint per batch of commits, within the merge delay."""

    def __init__(
        self,
        *,
        database: Database,
        signer: Signer,
        anchors: AnchorFile | None,
        clock: Clock,
        merge_delay: timedelta,
        log_name: str = DEFAULT_LOG,
    ) -> None:
        self._database = database
        self._signer = signer
        self._anchors = anchors
        self._clock = clock
        self._log = log_name
        self._schedule = SealSchedule(merge_delay=merge_delay)
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    @property
    def merge_delay(self) -> timedelta:
        """The bound between a commit and the checkpoint covering it."""
        return self._schedule.merge_delay

    @property
    def schedule(self) -> SealSchedule:
        """The current schedule (what is unsealed, and since when)."""
        return self._schedule

    def seal_in_commit(self, now: datetime) -> bool:
        """Whether a commit at ``now`` that appended records signs its own checkpoint."""
        return self._schedule.seal_in_commit(now)

    def sealed(self, at: datetime) -> None:
        """A commit signed its own checkpoint at ``at``."""
        self._schedule = self._schedule.sealed(at)

    def left_unsealed(self, at: datetime) -> None:
        """A commit at ``at`` left its records unsealed: :meth:`run` covers it in time."""
        self._schedule = self._schedule.committed(at)
        self._wake.set()

    async def seal(self, now: datetime | None = None) -> Checkpoint | None:
        """Signs a checkpoint of the log's head if none covers it, then anchors it.

        Safe to call at any time, from any replica: it does nothing when the newest
        checkpoint already reaches the head.

        Args:
            now: the checkpoint's time; by default the clock's now once the database
                writer is ours (it may have been busy).

        Returns:
            The checkpoint signed, or None when there was nothing to sign.
        """
        async with self._lock:
            # Commits noted from here on stay pending: this seal may not see them.
            waiting = self._schedule.oldest_unsealed
            self._schedule = replace(self._schedule, oldest_unsealed=None)
            try:
                async with self._database.writer.begin() as conn:
                    at = now if now is not None else self._clock.now()
                    checkpoint = await seal_head(conn, signer=self._signer, now=at, log=self._log)
            except BaseException:
                if waiting is not None:
                    self._schedule = self._schedule.committed(waiting)
                raise
            self._schedule = replace(
                self._schedule.sealed(at), oldest_unsealed=self._schedule.oldest_unsealed
            )
        if checkpoint is not None:
            await self.anchor(checkpoint)
            log.debug(
                "audit log sealed",
                extra={"event": "audit_sealed", "size": checkpoint.size},
            )
        return checkpoint

    async def seal_if_due(self, now: datetime | None = None) -> Checkpoint | None:
        """Seals when the oldest unsealed commit reached the merge delay; else nothing."""
        now = now if now is not None else self._clock.now()
        if not self._schedule.due(now):
            return None
        return await self.seal(now)

    async def anchor(self, checkpoint: Checkpoint) -> None:
        """Copies a committed checkpoint to the anchors file; a failure is logged only.

        The change is committed, so failing its request would tell the user otherwise;
        the anchor job re-appends the newest checkpoint later.
        """
        if self._anchors is None:
            return
        try:
            await asyncio.to_thread(self._anchors.append, checkpoint)
        except (OSError, AnchorFileError):
            log.exception(
                "could not append the audit checkpoint to the anchors file",
                extra={"event": "anchor_failed", "size": checkpoint.size},
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Seals batches of commits until ``stop`` is set (a task of the serve process).

        Sleeps until a commit is left unsealed, then until its deadline (never longer
        than the merge delay, in real time, whatever the clock says), then seals.
        """
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                await _first(self._wake.wait(), stopping)
                self._wake.clear()
                deadline = self._schedule.deadline
                if deadline is None or stop.is_set():
                    continue
                delay = self.merge_delay.total_seconds()
                left = min(max((deadline - self._clock.now()).total_seconds(), 0.0), delay)
                # Keep a little of the delay for the seal transaction itself.
                await _first(asyncio.sleep(left * 0.8), stopping)
                if stop.is_set():
                    break
                if self._schedule.oldest_unsealed is None:
                    continue  # a commit sealed itself meanwhile and covered them
                try:
                    await self.seal()
                except PoolTimeout:
                    # Commits kept the writer busy the whole time; each commit that comes
                    # a delay after the last seal seals itself, so the bound held anyway.
                    log.warning(
                        "audit seal waited too long for the database writer; retrying",
                        extra={"event": "audit_seal_waited"},
                    )
                    self._wake.set()
                except Exception:
                    log.exception("audit seal failed", extra={"event": "audit_seal_failed"})
                    self._wake.set()
                    await _first(asyncio.sleep(RETRY_AFTER_S), stopping)
        finally:
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopping

    async def close(self) -> Checkpoint | None:
        """Seals whatever is left (stop path): nothing a reviewer did stays unsigned."""
        return await self.seal()


async def _first(awaitable: Coroutine[Any, Any, object], stopping: asyncio.Future[Any]) -> None:
    """Waits for ``awaitable`` or ``stopping``, whichever comes first."""
    task = asyncio.ensure_future(awaitable)
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
