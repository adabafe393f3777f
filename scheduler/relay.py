"""The outbox relay: delivers committed messages to Slack, owning every retry decision.

Woken right after a commit that enqueued messages, and on a timer. Each pass claims a
batch with a lease, keeps only the newest card update and Home refresh per target (older
ones have nothing left to say), and delivers per target in order, at most about one
message per second per channel, targets in parallel. Outcomes are recorded at once.

Leases are short (``LEASE``) and the live relay renews the rows it holds every third of
a lease while it works (``_heartbeat``), so a long pass keeps its rows while the rows of
a relay that died (a killed process) come back within one lease, not a minute later.
A heartbeat was chosen over "take back this process's rows at start-up" because rows
carry no owner: a starting process cannot tell its dead predecessor's rows from those of
another live relay, whereas an unrenewed lease says exactly that its holder stopped.
A relay that stops gracefully does not leave its rows to that: it hands each one back
due now (in doubt where its call was cut short; see ``cutoff`` and ``abort``), so the
next start takes them at once; only a killed process's rows wait out the lease.

A row taken back that way may already be in Slack (the dead process was killed between
Slack's answer and the record): it arrives ``unsure_since`` and the notifier looks for
it in the channel before posting. A call that got no answer (a timeout, a dropped
connection) leaves its row in doubt the same way, for the retry to look first. A card
post also waits while another claim on the same item's card is live, and inherits the
doubt of a lapsed one, so a newer version of a card never posts beside a copy its dead
predecessor may have left. The other claims are read before the card's location: a claim
that finishes between the two reads is then seen by the second (its outcome and the
location commit together), where the other order could miss both and post a second card.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from domain.delivery import (
    Failed,
    GiveUp,
    MessageLocation,
    OutboxMessage,
    RateLimited,
    Retry,
    Sent,
    decide,
)
from domain.notifications import NoticeKind, Notification
from domain.ports import Clock, Notifier
from domain.templates import CardUpdate, DeliveryFailed
from scheduler.stopping import Interrupted, relay_loop, until
from store.outbox import OutboxStore, RowState

log = logging.getLogger(__name__)

#: How long a message waits for the message it refers to (a thread parent) to go out.
LINK_WAIT = timedelta(seconds=2)
#: How long a claim holds a row without renewal (renewed every third of it while held).
LEASE = timedelta(seconds=15)


class _Coalesce(NamedTuple):
    """What a newer message makes an older one redundant for: a card or a user's Home."""

    kind: NoticeKind
    target: str
    item_id: int | None


class _Linked(NamedTuple):
    """A message with its references resolved, and the message it edits, if any."""

    message: OutboxMessage
    edit: MessageLocation | None


@dataclass(slots=True)
class RelayStats:
    """What one pass did."""

    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    superseded: int = 0
    retried: int = 0
    dead: int = 0


class OutboxRelay:
    """Claims and delivers outbox messages (see module docstring)."""

    def __init__(
        self,
        *,
        store: OutboxStore,
        notifier: Notifier,
        clock: Clock,
        compliance_channel: Callable[[], str],
        lease: timedelta = LEASE,
        batch_size: int = 50,
        per_target_interval: float = 1.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        cutoff: asyncio.Event | None = None,
        abort: asyncio.Event | None = None,
    ) -> None:
        """Builds the relay.

        Args:
            cutoff: Set when a stop allows no more deliveries: no new call to Slack
                starts and pacing waits end at once; each row not called for yet goes
                back due now (:meth:`_let_go`), for the next start to take at once.
            abort: Set when a stop gives up the calls under way: their rows go back in
                doubt (the call may have reached Slack), taken back at once by the next
                start, which looks in Slack before posting.
        """
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._compliance_channel = compliance_channel
        self._lease = lease
        self._batch_size = batch_size
        self._interval = per_target_interval
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._monotonic = monotonic
        self._wake = asyncio.Event()
        # Pacing only: when each target last got a message. Losing it on restart is fine.
        self._last_sent: dict[str, float] = {}
        # Rows this pass holds and has not finished with yet (renewed by the heartbeat).
        self._held: dict[int, OutboxMessage] = {}
        self._cutoff = cutoff or asyncio.Event()
        self._abort = abort or asyncio.Event()

    def wake(self) -> None:
        """Asks for a pass as soon as possible (called after a commit)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, interval: float = 5.0) -> None:
        """Passes until ``stop`` is set; a pass in progress finishes (up to ``cutoff``)."""
        await relay_loop(
            stop,
            wake=self._wake,
            one_pass=self._more_waiting,
            interval=interval,
            log=log,
            failed="outbox relay pass failed",
            event="relay_failed",
        )

    async def _more_waiting(self) -> bool:
        """One pass; whether it took a full batch (then more may be waiting)."""
        stats = await self.run_once()
        return stats.claimed >= self._batch_size

    async def run_once(self) -> RelayStats:
        """One pass: claim a batch and deliver it."""
        stats = RelayStats()
        now = self._clock.now()
        claimed = await self._store.claim(now=now, lease=self._lease, limit=self._batch_size)
        stats.claimed = len(claimed)
        if not claimed:
            return stats
        self._held = {m.id: m for m in claimed}
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            await self._deliver_claimed(claimed, stats, now)
        finally:
            self._held = {}
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return stats

    async def _heartbeat(self) -> None:
        """Renews the leases of the rows this pass still holds, every third of a lease.

        Real time on purpose: the lease is about this process being alive.
        """
        period = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            try:
                await self._store.renew_all(
                    list(self._held.values()), now=self._clock.now(), lease=self._lease
                )
            except Exception:  # the next beat tries again; the pre-send renew still checks
                log.exception("lease renewal failed", extra={"event": "relay_renew_failed"})

    def _release(self, message: OutboxMessage) -> None:
        """This pass is done with the row (its outcome is being recorded)."""
        self._held.pop(message.id, None)

    async def _deliver_claimed(
        self, claimed: list[OutboxMessage], stats: RelayStats, now: datetime
    ) -> None:
        # Only the newest card update per item and Home refresh per user is worth sending.
        newest: dict[_Coalesce, OutboxMessage] = {}
        ordered: list[OutboxMessage] = []
        for message in claimed:
            if message.kind in (NoticeKind.CARD, NoticeKind.HOME):
                item = message.item_id if message.kind is NoticeKind.CARD else None
                key = _Coalesce(kind=message.kind, target=message.target, item_id=item)
                older = newest.get(key)
                if older is not None:
                    self._release(older)
                    await self._store.mark_superseded(older, now=now)
                    ordered.remove(older)
                    stats.superseded += 1
                    # The older one may be in Slack already: the newer one inherits the doubt.
                    message = _with_doubt(message, older.unsure_since)
                newest[key] = message
            ordered.append(message)
        by_target: dict[str, list[OutboxMessage]] = {}
        for message in ordered:
            by_target.setdefault(message.target, []).append(message)
        await asyncio.gather(*(self._deliver_all(msgs, stats) for msgs in by_target.values()))

    async def _deliver_all(self, messages: list[OutboxMessage], stats: RelayStats) -> None:
        """Delivers one target's messages in order; a rate limit defers the rest."""
        for index, message in enumerate(messages):
            if self._cutoff.is_set():
                await self._let_go(messages[index:])
                return
            retry_at = await self._deliver(message, stats)
            if retry_at is not None:
                # Slack said "not before retry_at" for this channel: honour it for the
                # rest of the queue too, in order, without counting failures.
                for later in messages[index + 1 :]:
                    self._release(later)
                    await self._store.reschedule(
                        later,
                        at=retry_at,
                        error="deferred: channel rate-limited",
                        count_failure=False,
                    )
                    stats.retried += 1
                return

    async def _pace(self, target: str) -> None:
        last = self._last_sent.get(target)
        if last is not None:
            wait = last + self._interval - self._monotonic()
            if wait > 0:
                with contextlib.suppress(Interrupted):  # the caller looks at the stop
                    await until(self._cutoff, self._sleep(wait))

    async def _let_go(self, messages: list[OutboxMessage], *, in_doubt: bool = False) -> None:
        """Hands rows back at the ``cutoff``, due now and without counting a failure, so the next
        start takes them at once instead of waiting for their lease to run out.

        A row in doubt (``in_doubt``: its call was cut short; or taken back in doubt
        already) goes back ``sending`` with a lapsed lease, which is how the next claim
        knows to look in Slack before posting (:meth:`store.outbox.OutboxStore.put_back`).
        """
        if not messages:
            return
        now = self._clock.now()
        for message in messages:
            self._release(message)
        if in_doubt:
            messages = [_with_doubt(m, m.created_at or now) for m in messages]
        await self._store.put_back(
            messages,
            at=now,
            error="stopped mid-call; in doubt" if in_doubt else "stopped before delivery",
        )
        log.info(
            "outbox rows left for the next start",
            extra={"event": "relay_let_go", "count": len(messages), "in_doubt": in_doubt},
        )

    async def _deliver(self, message: OutboxMessage, stats: RelayStats) -> datetime | None:
        """Delivers one message; returns the retry time when Slack rate-limited it."""
        card = other = None
        if message.kind in (NoticeKind.CARD, NoticeKind.HOME):
            stats.superseded += await self._store.supersede_older(message, now=self._clock.now())
        if message.kind is NoticeKind.CARD and message.item_id is not None:
            # Other claims first, then the location: a claim that finishes in between
            # saved the location with its outcome (one transaction), so the second read
            # sees it. The other order could see neither and post a second card.
            other = await self._store.card_post_in_flight(message, now=self._clock.now())
            card = await self._store.card_location(message.item_id)
        linked = await self._link(message)
        if linked is None:
            return None  # waiting for the message it refers to
        message = linked.message
        card = card or linked.edit
        if message.kind is NoticeKind.CARD and card is None:
            if other is not None and other.live:
                # Another attempt at this card is under way (or parked in doubt): posting
                # now could make a second card. Not a failure: it is simply ahead.
                self._release(message)
                await self._store.reschedule(
                    message,
                    at=self._clock.now() + LINK_WAIT,
                    error="waiting for another attempt at this card",
                    count_failure=False,
                )
                return None
            if other is not None:
                message = _with_doubt(message, other.unsure_since)
        await self._pace(message.target)
        if self._cutoff.is_set():
            await self._let_go([message])
            return None
        # A long pass (pacing, slow Slack) must not outlive the lease: renew it right
        # before sending, and skip the row if another process has taken it over.
        if not await self._store.renew(message, now=self._clock.now(), lease=self._lease):
            self._release(message)
            log.warning(
                "outbox row taken over by another relay; skipped",
                extra={"event": "relay_lease_lost", "outbox_id": message.id},
            )
            return None
        if message.unsure_since is not None:
            log.info(
                "outbox row taken back from a relay that stopped; checking Slack first",
                extra={"event": "relay_in_doubt", "outbox_id": message.id},
            )
        try:
            outcome = await until(
                self._abort, self._notifier.deliver(message, card=card, now=self._clock.now())
            )
        except Interrupted:
            await self._let_go([message], in_doubt=True)
            return None
        except Exception as exc:  # a notifier bug must not kill the relay
            log.exception(
                "notifier raised", extra={"event": "notifier_raised", "outbox_id": message.id}
            )
            outcome = Failed(error=f"{exc.__class__.__name__}: {exc}", permanent=False)
        self._release(message)
        now = self._clock.now()
        if isinstance(outcome, Sent | Failed | RateLimited):  # Slack was called: pace it
            self._last_sent[message.target] = self._monotonic()
        decision = decide(
            outcome,
            failures=message.failures,
            now=now,
            jitter=self._rng.random(),
            created_at=message.created_at,
        )
        if decision is None:
            if isinstance(outcome, Sent):
                card_version = (
                    message.payload.version if isinstance(message.payload, CardUpdate) else None
                )
                await self._store.mark_sent(
                    message,
                    now=now,
                    channel=outcome.channel,
                    ts=outcome.ts,
                    card_version=card_version,
                )
                stats.sent += 1
            else:
                await self._store.mark_sent(message, now=now)
                stats.skipped += 1
            if message.kind is NoticeKind.CARD:
                # Reminders and alerts show the card too (even a digest item's, which
                # has no card of its own): mark_sent queued their edits; send them.
                self.wake()
            return None
        if isinstance(decision, Retry):
            if decision.in_doubt:
                # The call got no answer and may have reached Slack: in doubt, exactly
                # like a row taken back from a dead relay (the retry looks first).
                message = _with_doubt(message, message.created_at or now)
            await self._store.reschedule(
                message,
                at=decision.at,
                error=decision.error,
                count_failure=decision.count_failure,
            )
            stats.retried += 1
            log.warning(
                "slack delivery will be retried",
                extra={
                    "event": "delivery_retry",
                    "outbox_id": message.id,
                    "error": decision.error,
                    "at": decision.at.isoformat(),
                    "in_doubt": message.unsure_since is not None,
                },
            )
            return decision.at if isinstance(outcome, RateLimited) else None
        assert isinstance(decision, GiveUp)
        await self._give_up(message, decision.error)
        stats.dead += 1
        return None

    async def _link(self, message: OutboxMessage) -> _Linked | None:
        """Resolves references to earlier messages: a thread parent, a message to edit.

        Returns the message (with ``thread_ts`` filled in) and the location to edit, or
        None after rescheduling it because the referenced message is not out yet (not a
        failure: the parent is simply ahead in the queue).
        """
        edit: MessageLocation | None = None
        for ref, is_thread in ((message.thread_of, True), (message.update_of, False)):
            if not ref:
                continue
            found = await self._store.result_of(ref)
            if found is not None and found.state in (RowState.PENDING, RowState.SENDING):
                self._release(message)
                await self._store.reschedule(
                    message,
                    at=self._clock.now() + LINK_WAIT,
                    error=f"waiting for {ref}",
                    count_failure=False,
                )
                return None
            if found is None or found.channel is None or found.ts is None:
                continue  # never sent (dead or superseded): post on its own
            if is_thread:
                message = dataclasses.replace(message, thread_ts=found.ts)
            else:
                edit = MessageLocation(channel=found.channel, ts=found.ts)
        return _Linked(message=message, edit=edit)

    async def _give_up(self, message: OutboxMessage, error: str) -> None:
        now = self._clock.now()
        log.error(
            "slack delivery dead-lettered",
            extra={
                "event": "delivery_dead",
                "outbox_id": message.id,
                "kind": message.kind.value,
                "target": message.target,
                "error": error,
            },
        )
        alert = None
        if not isinstance(message.payload, DeliveryFailed):
            # (When the alert about a failure fails too, the log line above is all we can do.)
            alert = Notification(
                kind=NoticeKind.ALERT,
                target=self._compliance_channel(),
                dedupe_key=f"alert:delivery_failed:{message.id}:{message.attempts}",
                item_id=message.item_id,
                payload=DeliveryFailed(
                    outbox_id=message.id,
                    kind=message.kind,
                    target=message.target,
                    error=error,
                ),
            )
        await self._store.dead_letter(message, error=error, now=now, alert=alert)
        if alert is not None:
            self.wake()


def _with_doubt(message: OutboxMessage, since: datetime | None) -> OutboxMessage:
    """``message``, in doubt since the earlier of its own and ``since`` (None: no news)."""
    if since is None:
        return message
    if message.unsure_since is not None:
        since = min(since, message.unsure_since)
    return dataclasses.replace(message, unsure_since=since)
