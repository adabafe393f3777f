"""The periodic jobs. Each reads the clock once and passes ``now`` into the services.

Nothing here keeps state that matters: deadlines, ladder levels and delivery rows live in
the database, so a restart loses nothing and two processes on one database never act
twice (version compare-and-set on items, unique dedupe keys on outbox rows).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.errors import PolicyError
from domain.notifications import NoticeKind, Notification
from domain.ports import Clock
from domain.templates import AuditCheckpoint
from domain.usecases import UseCases
from scheduler.cron import crontab_trigger
from scheduler.matching import MatchTrigger
from scheduler.relay import OutboxRelay
from store.audit.anchors import AnchorFile
from store.audit.log import latest_checkpoint
from store.audit.sealer import AuditSealer
from store.engine import Database
from store.outbox import OutboxStore
from store.policy_file import PolicyFile

log = logging.getLogger(__name__)

#: Items one sweep transaction handles; a sweep repeats until fewer are due.
SWEEP_BATCH = 200


def window_key(cron: str, timezone: str, now: datetime) -> str:
    """The digest window ``now`` closes: the latest scheduled fire time at or before it.

    Every process computes the same key for the same window however late its job runs
    (within the misfire grace), so a window is posted once.
    """
    trigger = crontab_trigger(cron, timezone)
    latest: datetime | None = None
    # Look back a little first (frequent crons), further only when nothing fired.
    for lookback in (timedelta(hours=2), timedelta(days=1), timedelta(days=8), timedelta(days=400)):
        fire = trigger.get_next_fire_time(None, now - lookback)
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        if latest is not None:
            break
    return (latest or now).astimezone(UTC).isoformat()


@dataclass(slots=True, kw_only=True)
class Jobs:
    """The jobs, with what they need (built by ``bot.app``)."""

    usecases: UseCases
    clock: Clock
    relay: OutboxRelay
    database: Database
    anchors: AnchorFile
    policy: PolicyFile
    #: Seals any unsigned tail first (a replica that crashed before its seal left it).
    sealer: AuditSealer | None = None
    #: Set by ``build_scheduler``: moves the digest job when the policy's schedule changes.
    reschedule_digest: Callable[[str, str], None] | None = None
    #: Runs matching (after approvals, and for ``match_sweep``); None: no matching job.
    matcher: MatchTrigger | None = None

    async def sla_sweep(self) -> int:
        """Takes every SLA rung that is due; returns how many were taken.

        First starts the clocks of digest items whose digest is out (at the time Slack
        accepted it), so a rung that fell due since then is taken in the same sweep.
        """
        now = self.clock.now()
        while True:
            started = await self.usecases.digests.start_clocks(now=now, limit=SWEEP_BATCH)
            if started:
                log.info(
                    "digest clocks started", extra={"event": "digest_clocks", "items": started}
                )
            if started < SWEEP_BATCH:
                break
        taken = 0
        while True:
            result = await self.usecases.ladder.sla_sweep(now=now, limit=SWEEP_BATCH)
            taken += result.total
            if result.total + result.lost < SWEEP_BATCH:
                break
        if taken:
            log.info("sla sweep", extra={"event": "sla_sweep", "taken": taken})
        return taken

    async def claim_sweep(self) -> int:
        """Returns claims whose lease ended to the queue."""
        released = await self.usecases.claims.release_expired_claims(now=self.clock.now())
        if released:
            log.info("claims released", extra={"event": "claims_released", "count": len(released)})
        # Auto teams: what waits (or was just released) goes to whoever is eligible now.
        assigned = await self.usecases.claims.assign_waiting(now=self.clock.now())
        if assigned:
            log.info("items assigned", extra={"event": "auto_assigned", "count": len(assigned)})
        return len(released)

    async def match_sweep(self) -> None:
        """A full matching run: retries a run that failed after an approval, and matches
        ledger entries imported since (a run that finds nothing new writes nothing)."""
        if self.matcher is not None:
            await self.matcher.run(None)

    async def relay_tick(self) -> None:
        """Wakes the relay (rows due for a retry, or enqueued by another process)."""
        self.relay.wake()

    async def anchor(self) -> None:
        """Posts the latest signed checkpoint to compliance and makes sure it is anchored.

        The anchors file gets every checkpoint right after its commit; this also repairs
        the file if a crash came between a commit and its anchor, and first seals records
        that no checkpoint covers yet (left by a replica that crashed before its seal).
        """
        now = self.clock.now()
        if self.sealer is not None:
            await self.sealer.seal(now)
        async with self.database.reader.connect() as conn:
            checkpoint = await latest_checkpoint(conn)
        if checkpoint is None:
            return
        anchored = await asyncio.to_thread(self.anchors.read)
        if not anchored or anchored[-1].size < checkpoint.size:
            await asyncio.to_thread(self.anchors.append, checkpoint)
        payload = AuditCheckpoint(
            log=checkpoint.log,
            size=checkpoint.size,
            root=checkpoint.root,
            time=checkpoint.time,
            key_id=checkpoint.key_id,
            signature=checkpoint.signature,
        )
        policy = self.policy.current().policy
        await OutboxStore(self.database).enqueue(
            [
                Notification(
                    kind=NoticeKind.ALERT,
                    target=policy.compliance.channel,
                    dedupe_key=f"anchor:{checkpoint.log}:{checkpoint.size}",
                    payload=payload,
                )
            ],
            now=now,
        )
        self.relay.wake()

    async def digest(self) -> int:
        """Posts the digests of the window that just closed; returns how many teams."""
        now = self.clock.now()
        digest = self.policy.current().policy.digest
        window = window_key(digest.cron, digest.timezone, now)
        plans = await self.usecases.digests.digest_window(window=window, now=now)
        if plans:
            log.info(
                "digests posted",
                extra={
                    "event": "digest_posted",
                    "window": window,
                    "teams": len(plans),
                    "items": sum(p.count for p in plans),
                },
            )
            self.relay.wake()
        return len(plans)

    async def policy_reload(self) -> None:
        """Swaps in a changed, valid policy (audited); an invalid one alerts compliance."""
        now = self.clock.now()
        try:
            change = await asyncio.to_thread(self.policy.reload)
        except PolicyError as exc:
            content = self.policy.rejected_text or ""
            await self.usecases.policy_events.policy_rejected(
                problems=[str(exc), *exc.problems],
                file=str(self.policy.path),
                content_sha256=hashlib.sha256(content.encode()).hexdigest(),
                now=now,
            )
            self.relay.wake()
            return
        if change is None:
            return
        await self.usecases.policy_events.policy_changed(
            old_version=change.old.version,
            new_version=change.new.version,
            text=self.policy.text,
            now=now,
        )
        old_digest, new_digest = change.old.policy.digest, change.new.policy.digest
        if old_digest != new_digest and self.reschedule_digest is not None:
            self.reschedule_digest(new_digest.cron, new_digest.timezone)
        changed = await self.usecases.ladder.refresh_deadlines(now=now)
        log.info(
            "policy reloaded",
            extra={
                "event": "policy_changed",
                "old": change.old.version,
                "new": change.new.version,
                "deadlines_moved": changed,
            },
        )
