"""The periodic jobs. Each reads the clock once and passes ``now`` into the services.

Nothing here keeps state that matters: deadlines, ladder levels and delivery rows live in
the database, so a restart loses nothing and two processes on one database never act
twice (version compare-and-set on items, unique dedupe keys on outbox rows).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass

from domain.errors import PolicyError
from domain.notifications import NoticeKind, Notification
from domain.ports import Clock
from domain.services import ReviewService
from scheduler.relay import OutboxRelay
from store.audit_log import AnchorFile, latest_checkpoint
from store.engine import Database
from store.outbox import OutboxStore
from store.policy_file import PolicyFile

log = logging.getLogger(__name__)

#: Items one sweep transaction handles; a sweep repeats until fewer are due.
SWEEP_BATCH = 200


@dataclass(slots=True, kw_only=True)
class Jobs:
    """The jobs, with what they need (built by ``bot.app``)."""

    service: ReviewService
    clock: Clock
    relay: OutboxRelay
    database: Database
    anchors: AnchorFile
    policy: PolicyFile

    async def sla_sweep(self) -> int:
        """Takes every SLA rung that is due; returns how many were taken."""
        now = self.clock.now()
        taken = 0
        while True:
            result = await self.service.sla_sweep(now=now, limit=SWEEP_BATCH)
            taken += result.total
            if result.total + result.lost < SWEEP_BATCH:
                break
        if taken:
            log.info("sla sweep", extra={"event": "sla_sweep", "taken": taken})
        return taken

    async def claim_sweep(self) -> int:
        """Returns claims whose lease ended to the queue."""
        released = await self.service.release_expired_claims(now=self.clock.now())
        if released:
            log.info("claims released", extra={"event": "claims_released", "count": len(released)})
        return len(released)

    async def relay_tick(self) -> None:
        """Wakes the relay (rows due for a retry, or enqueued by another process)."""
        self.relay.wake()

    async def anchor(self) -> None:
        """Posts the latest signed checkpoint to compliance and makes sure it is anchored.

        The anchors file gets every checkpoint right after its commit; this also repairs
        the file if a crash came between a commit and its anchor.
        """
        now = self.clock.now()
        async with self.database.reader.connect() as conn:
            checkpoint = await latest_checkpoint(conn)
        if checkpoint is None:
            return
        anchored = await asyncio.to_thread(self.anchors.read)
        if not anchored or anchored[-1].size < checkpoint.size:
            await asyncio.to_thread(self.anchors.append, checkpoint)
        payload = {
            "template": "audit_checkpoint",
            **{
                k: (v.isoformat() if hasattr(v, "isoformat") else v)
                for k, v in dataclasses.asdict(checkpoint).items()
            },
        }
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

    async def policy_reload(self) -> None:
        """Swaps in a changed, valid policy (audited); an invalid one alerts compliance."""
        now = self.clock.now()
        try:
            change = await asyncio.to_thread(self.policy.reload)
        except PolicyError as exc:
            await self.service.policy_rejected(
                problems=[str(exc), *exc.problems], file=str(self.policy.path), now=now
            )
            self.relay.wake()
            return
        if change is None:
            return
        await self.service.policy_changed(
            old_version=change.old.version,
            new_version=change.new.version,
            text=self.policy.text,
            now=now,
        )
        changed = await self.service.refresh_deadlines(now=now)
        log.info(
            "policy reloaded",
            extra={
                "event": "policy_changed",
                "old": change.old.version,
                "new": change.new.version,
                "deadlines_moved": changed,
            },
        )
