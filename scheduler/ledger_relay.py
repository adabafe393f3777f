"""The ledger relay: delivers committed journal entries to the ledger, exactly once.

It claims ``ledger`` outbox rows with a lease (the Slack relay never takes them), reads
each row's entry as stored, hands it to the sink (a JSON Lines file or an HTTP ledger,
see ``ledger/``) and records the answer at once (:func:`domain.ledger.decide`):

- accepted (2xx, or 409 for a key the ledger holds): the ledger's reference is stored on
  the entry, the row settled and the item posted, in one transaction
  (:class:`domain.usecases.ledger.LedgerDeliveries`);
- refused (another 4xx): the row is dead-lettered with one alert to compliance (the same
  path as a Slack message that cannot be delivered), and the refusal audited;
- unavailable (5xx, timeout, refused connection): retried after ``min(2**n + jitter,
  30 s)``; and counted by the circuit breaker (:mod:`domain.breaker`, stored in the
  ``breakers`` table so every process sees it). After 5 in a row (no answer from the
  ledger in between: a failure of a request sent before the ledger last answered another
  does not count, since entries are sent concurrently) it opens: nothing is
  sent, compliance hears once, and after the cooldown one probe decides whether it
  closes again.

Every attempt carries the entry's ``Idempotency-Key``. A process killed after the
ledger's answer but before the record leaves its row ``sending``; the lease runs out,
another pass retries, and the ledger's 409 gives back the reference it gave the first
time. Woken after each commit that enqueued a ledger row, and on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain import breaker, ledger
from domain.breaker import Breaker, Change, Step
from domain.delivery import OutboxMessage
from domain.items import JournalEntry
from domain.notifications import NoticeKind, Notification, ledger_breaker
from domain.ports import Clock, LedgerSink
from domain.templates import DeliveryFailed, LedgerPost
from domain.usecases.ledger import ClaimedRow, Delivery, LedgerDeliveries, Recorded
from scheduler.stopping import Interrupted, relay_loop, until
from store.breakers import BreakerStore
from store.journal import JournalReader
from store.outbox import OutboxStore

log = logging.getLogger(__name__)

#: How long a claim holds a row without renewal (renewed while the pass works).
LEASE = timedelta(seconds=30)
#: Entries in flight at once.
CONCURRENCY = 16
#: Accepted entries recorded per transaction.
RECORD_CHUNK = 100
_LEDGER_KINDS = frozenset({NoticeKind.LEDGER})


@dataclass(slots=True)
class LedgerStats:
    """What one pass did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    held_back: int = 0  # claimed, then put back untouched because the breaker opened


class LedgerRelay:
    """Claims and delivers ledger rows (see module docstring)."""

    def __init__(
        self,
        *,
        outbox: OutboxStore,
        journal: JournalReader,
        breakers: BreakerStore,
        deliveries: LedgerDeliveries,
        sink: LedgerSink,
        clock: Clock,
        compliance_channel: Callable[[], str],
        alerted: Callable[[], None] = lambda: None,
        cooldown: timedelta = breaker.COOLDOWN,
        threshold: int = breaker.THRESHOLD,
        lease: timedelta = LEASE,
        batch_size: int = 128,
        concurrency: int = CONCURRENCY,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        cutoff: asyncio.Event | None = None,
        abort: asyncio.Event | None = None,
    ) -> None:
        """Builds the relay.

        Args:
            cutoff: Set when a stop allows no more deliveries: no entry is sent after
                it; the pass's unsent rows go back due now, not counted as failures, for
                the next start to take at once. Answers already received are recorded.
            abort: Set when a stop gives up the requests under way: their rows go back
                due now too (a request given up may have reached the ledger: the retry
                carries the same ``Idempotency-Key``, and the ledger answers 409 with the
                reference it gave).
        """
        self._outbox = outbox
        self._journal = journal
        self._breakers = breakers
        self._deliveries = deliveries
        self._sink = sink
        self._clock = clock
        self._compliance_channel = compliance_channel
        self._alerted = alerted
        self._cooldown = cooldown
        self._threshold = threshold
        self._lease = lease
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._rng = rng or random.Random()
        self._monotonic = monotonic
        # When the ledger last answered (any answer but unavailability), this process.
        self._answered_at = -math.inf
        self._wake = asyncio.Event()
        # This pass: whether the breaker opened (then nothing more is sent), and whether
        # it was last seen closed with no failures counted (successes then write nothing).
        self._open = False
        self._clean = False
        self._accepted: list[Delivery] = []
        self._unsent: list[OutboxMessage] = []
        self._cutoff = cutoff or asyncio.Event()
        self._abort = abort or asyncio.Event()
        # The rows this pass hands back for the cutoff.
        self._stopped: list[OutboxMessage] = []

    def wake(self) -> None:
        """Asks for a pass as soon as possible (called after a commit)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        """Passes until ``stop`` is set; a pass in progress finishes (up to ``cutoff``)."""
        await relay_loop(
            stop,
            wake=self._wake,
            one_pass=self._more_waiting,
            interval=interval,
            log=log,
            failed="ledger relay pass failed",
            event="ledger_relay_failed",
        )

    async def _more_waiting(self) -> bool:
        """One pass; whether it took a full batch with the breaker still closed (then more
        may be waiting)."""
        stats = await self.run_once()
        return stats.claimed >= self._batch_size and not self._open

    async def run_once(self) -> LedgerStats:
        """One pass: unless the breaker is open, claim a batch and deliver it.

        An open breaker whose cooldown is over lets one row through as its probe.
        """
        stats = LedgerStats()
        now = self._clock.now()
        current = await self._breakers.get(breaker.LEDGER)
        if not breaker.may_send(current, now):
            return stats
        probing = not current.is_closed
        limit = 1 if probing else self._batch_size
        claimed = await self._outbox.claim(
            now=now, lease=self._lease, limit=limit, kinds=_LEDGER_KINDS
        )
        stats.claimed = len(claimed)
        if not claimed:
            return stats
        if probing:
            step = await self._change(
                lambda b: breaker.take_probe(b, now, cooldown=self._cooldown), now
            )
            if step.change is not Change.PROBING:  # another process probes, or it closed
                if not step.breaker.is_closed:
                    await self._put_back(claimed, now, step.breaker, stats)
                    return stats
        self._open = False
        # A breaker closed with no failures stays so on success: no write needed.
        self._clean = current.is_closed and current.failures == 0
        heartbeat = asyncio.create_task(self._heartbeat(claimed))
        try:
            entries = await self._journal.by_keys(
                [m.payload.idempotency_key for m in claimed if isinstance(m.payload, LedgerPost)]
            )
            gate = asyncio.Semaphore(self._concurrency)

            async def one(message: OutboxMessage) -> None:
                async with gate:
                    await self._deliver(message, entries, stats)

            await asyncio.gather(*(one(m) for m in claimed))
            await self._record_accepted(stats)
            if self._unsent:
                unsent, self._unsent = self._unsent, []
                current = await self._breakers.get(breaker.LEDGER)
                await self._put_back(unsent, self._clock.now(), current, stats)
            if self._stopped:
                stopped, self._stopped = self._stopped, []
                await self._outbox.put_back(
                    stopped, at=self._clock.now(), error="stopped before the ledger answered"
                )
                stats.held_back += len(stopped)
                log.info(
                    "ledger rows left for the next start",
                    extra={"event": "ledger_let_go", "count": len(stopped)},
                )
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return stats

    async def _heartbeat(self, claimed: list[OutboxMessage]) -> None:
        """Renews the pass's leases every third of a lease (real time: liveness)."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            try:
                await self._outbox.renew_all(claimed, now=self._clock.now(), lease=self._lease)
            except Exception:
                log.exception("lease renewal failed", extra={"event": "ledger_renew_failed"})

    async def _put_back(
        self, claimed: list[OutboxMessage], now: datetime, current: Breaker, stats: LedgerStats
    ) -> None:
        """Returns rows untouched (not a failure) until the breaker lets them through."""
        at = current.probe_at or now + self._cooldown
        await self._outbox.put_back(claimed, at=at, error="ledger circuit breaker open")
        stats.held_back += len(claimed)

    async def _deliver(
        self,
        message: OutboxMessage,
        entries: dict[str, JournalEntry],
        stats: LedgerStats,
    ) -> None:
        payload = message.payload
        entry = entries.get(payload.idempotency_key) if isinstance(payload, LedgerPost) else None
        if entry is None:
            await self._give_up(message, "the row names no stored journal entry", stats)
            return
        if entry.hold is not None:  # (never enqueued held; a row from before a hold)
            await self._give_up(message, f"the entry is held: {entry.hold}", stats)
            return
        if self._open:
            self._unsent.append(message)  # handed back together after the pass
            return
        if self._cutoff.is_set():
            self._stopped.append(message)  # likewise, due now
            return
        sent_at = self._monotonic()
        try:
            outcome = await until(self._abort, self._sink.send(entry))
        except Interrupted:
            self._stopped.append(message)
            return
        if not isinstance(outcome, ledger.Unavailable):
            self._answered_at = self._monotonic()
        now = self._clock.now()
        decision = ledger.decide(
            outcome, failures=message.failures, now=now, jitter=self._rng.random()
        )
        match decision:
            case ledger.Deliver():
                await self._succeeded(now)
                # Recorded with the pass's other answers (one transaction per chunk); a
                # crash before then leaves the row to come back, and the ledger's 409.
                self._accepted.append(
                    Delivery(
                        row=ClaimedRow(id=message.id, attempts=message.attempts),
                        idempotency_key=entry.idempotency_key,
                        reference=decision.reference,
                    )
                )
            case ledger.RetryAt():
                # Consecutive means no answer in between: a failure of a request sent
                # before the ledger last answered another one does not count (a timeout
                # ends long after the fast answers sent after it).
                if self._answered_at <= sent_at:
                    step = await self._change(
                        lambda b: breaker.failed(
                            b,
                            now,
                            error=decision.error,
                            threshold=self._threshold,
                            cooldown=self._cooldown,
                        ),
                        now,
                    )
                    if not step.breaker.is_closed:
                        self._open = True
                await self._outbox.reschedule(
                    message, at=decision.at, error=decision.error, count_failure=True
                )
                stats.retried += 1
                log.warning(
                    "ledger delivery will be retried",
                    extra={
                        "event": "ledger_retry",
                        "outbox_id": message.id,
                        "entry": entry.ledger_ref,
                        "error": decision.error,
                        "at": decision.at.isoformat(),
                    },
                )
            case ledger.DeadLetter():
                # The ledger answered: it is up, whatever it thought of this entry.
                await self._succeeded(now)
                await self._give_up(message, decision.error, stats)
                await self._deliveries.refused(
                    idempotency_key=entry.idempotency_key, error=decision.error, now=now
                )

    async def _record_accepted(self, stats: LedgerStats) -> None:
        """Records the pass's accepted entries, ``RECORD_CHUNK`` per transaction (one by
        one for a chunk that fails, so one changed item does not hold back the rest)."""
        accepted, self._accepted = self._accepted, []
        now = self._clock.now()
        for start in range(0, len(accepted), RECORD_CHUNK):
            chunk = accepted[start : start + RECORD_CHUNK]
            try:
                results = await self._deliveries.delivered_many(chunk, now=now)
            except Exception:
                log.warning(
                    "recording a chunk of ledger answers failed; one by one",
                    extra={"event": "ledger_record_retry", "count": len(chunk)},
                    exc_info=True,
                )
                results = []
                for delivery in chunk:
                    try:
                        results += await self._deliveries.delivered_many([delivery], now=now)
                    except Exception:  # its row comes back with its lease; the ledger: 409
                        log.exception(
                            "recording a ledger answer failed",
                            extra={"event": "ledger_record_failed", "outbox_id": delivery.row.id},
                        )
            for result in results:
                if result is Recorded.LOST_ROW:
                    log.warning(
                        "ledger row taken over by another relay",
                        extra={"event": "ledger_lease_lost"},
                    )
                stats.delivered += result is not Recorded.LOST_ROW

    async def _succeeded(self, now: datetime) -> None:
        if not self._clean:
            await self._change(breaker.succeeded, now)

    async def _change(self, step: Callable[[Breaker], Step], now: datetime) -> Step:
        """Applies one step to the stored breaker; its opening (or closing) alerts
        compliance in the same transaction."""

        def notices(result: Step) -> list[Notification]:
            if result.change is Change.OPENED:
                opened = result.breaker.opened_at or now
                return [
                    ledger_breaker(
                        self._compliance_channel(),
                        state="open",
                        error=result.breaker.last_error or "",
                        since=opened,
                    )
                ]
            if result.change is Change.CLOSED:
                return [
                    ledger_breaker(self._compliance_channel(), state="closed", error="", since=now)
                ]
            return []

        result = await self._breakers.change(breaker.LEDGER, step, now=now, notices=notices)
        # Closed with no failures counted: further successes have nothing to change.
        self._clean = result.breaker.is_closed and result.breaker.failures == 0
        if result.change is Change.OPENED:
            log.error(
                "ledger circuit breaker opened",
                extra={"event": "ledger_breaker_opened", "error": result.breaker.last_error},
            )
        if result.change in (Change.OPENED, Change.CLOSED):
            self._alerted()
        return result

    async def _give_up(self, message: OutboxMessage, error: str, stats: LedgerStats) -> None:
        log.error(
            "ledger delivery dead-lettered",
            extra={"event": "ledger_dead", "outbox_id": message.id, "error": error},
        )
        alert = Notification(
            kind=NoticeKind.ALERT,
            target=self._compliance_channel(),
            dedupe_key=f"alert:delivery_failed:{message.id}:{message.attempts}",
            item_id=message.item_id,
            payload=DeliveryFailed(
                outbox_id=message.id, kind=message.kind, target=message.target, error=error
            ),
        )
        await self._outbox.dead_letter(message, error=error, now=self._clock.now(), alert=alert)
        self._alerted()
        stats.dead += 1
