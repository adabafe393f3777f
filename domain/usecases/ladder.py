"""The SLA ladder: take every rung that is due, once; keep the deadlines index true."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain import escalation, notifications, sla, states
from domain.audit.records import AuditEntry
from domain.delegation import is_reminder, redirect_reminders
from domain.items import Item
from domain.policy import Policy, Tier
from domain.ports import UnitOfWork
from domain.templates import TierReached
from domain.usecases.transaction import UseCase, item_entries


@dataclass(slots=True, kw_only=True)
class SweepResult:
    """What one SLA sweep did."""

    taken: dict[str, int] = field(default_factory=lambda: {r.name.lower(): 0 for r in sla.Rung})
    #: Dispute owners reminded that the expected resolution date passed.
    disputes_reminded: int = 0
    lost: int = 0  # items another process changed first

    @property
    def total(self) -> int:
        """Rungs taken and disputes reminded."""
        return sum(self.taken.values()) + self.disputes_reminded


def _fmt(value: timedelta) -> str:
    hours = value.total_seconds() / 3600
    return f"{hours:g}h" if hours >= 1 else f"{int(value.total_seconds())}s"


def tier_notices(
    item: Item, tier: Tier, people: frozenset[str] = frozenset()
) -> list[notifications.Notification]:
    """The tier's channel (if it has one) and ``people`` (by DM) hear that ``item``
    reached it; the dedupe keys name the item's version, so a repeated sweep tells nobody
    twice."""
    assert item.id is not None
    payload = TierReached(tier=tier.name)
    out: list[notifications.Notification] = []
    if tier.channel:
        out.append(
            notifications.Notification(
                kind=notifications.NoticeKind.ALERT,
                target=tier.channel,
                dedupe_key=f"alert:tier:{item.id}:{tier.name}:v{item.version}",
                item_id=item.id,
                payload=payload,
            )
        )
    for user in sorted(people):
        out.append(
            notifications.Notification(
                kind=notifications.NoticeKind.DM,
                target=user,
                dedupe_key=f"dm:tier:{item.id}:{tier.name}:{user}:v{item.version}",
                item_id=item.id,
                payload=payload,
            )
        )
    return out


class Ladder(UseCase):
    """The sweeps the scheduler runs."""

    async def sla_sweep(self, *, now: datetime, limit: int = 200) -> SweepResult:
        """Takes every SLA rung due at ``now`` (reminder, escalation, dead letter), once.

        Reads only due items (the indexed ``sla_next_at``). Each step is a version-checked
        write, so two processes sweeping the same database never both act; its messages
        carry dedupe keys naming the item, the rung and the clock's start. A dispute whose
        expected resolution date has passed reminds its owner first (once: the dispute
        records it), under the same clock.
        """
        loaded = self._tx.policy()
        result = SweepResult()
        entries: list[AuditEntry] = []
        notices: list[notifications.Notification] = []
        async with self._tx.uow() as uow:
            for item in await uow.items.due_for_ladder(now=now, limit=limit):
                reminded = False
                when = sla.resolution_reminder_due(item, loaded.policy)
                if when is not None and when <= now:
                    written = await self._remind(uow, item, loaded.policy, now, entries, notices)
                    if written is None:
                        result.lost += 1
                        continue
                    result.disputes_reminded += 1
                    item, reminded = written, True
                step = sla.due_step(item, loaded.policy, now)
                if step is None and reminded:
                    continue  # written with its next deadline already
                if step is None:
                    # The policy changed since the deadline was stored: store the new one.
                    if await self._tx.update(uow, item, expected_version=item.version) is None:
                        result.lost += 1
                    continue
                climbed = await self._climb(uow, item, step, loaded.policy, now)
                if climbed is None:
                    result.lost += 1
                    continue
                entries.extend(climbed[0])
                notices.extend(climbed[1])
                result.taken[step.rung.name.lower()] += 1
            # Reminders to someone away reach their delegate.
            if any(is_reminder(n) for n in notices):
                away = await uow.people.active_delegations(now=now)
                notices = redirect_reminders(notices, away, now)
            # One audit append and one enqueue for the whole batch (as ingest does).
            await uow.audit.append(entries)
            await uow.outbox.enqueue(notices, now=now)
            await uow.commit()
        return result

    async def _remind(
        self,
        uow: UnitOfWork,
        item: Item,
        policy: Policy,
        now: datetime,
        entries: list[AuditEntry],
        notices: list[notifications.Notification],
    ) -> Item | None:
        """Reminds a dispute's owner that the expected resolution date passed; returns
        the item as written (None when another writer got there first)."""
        transition = states.remind_dispute(item, now=now)
        if transition.noop:
            return item
        written = await self._tx.update(uow, transition.item, expected_version=item.version)
        if written is None:
            return None
        entries.extend(item_entries(written, transition.events, now))
        # The card too: its buttons carry the item's version.
        notices.extend(notifications.for_change(item, written, transition.events, policy, now))
        owner = states.dispute_owner(written)
        if owner is not None:
            notices.append(notifications.dispute_overdue(written, owner))
        return written

    async def _climb(
        self, uow: UnitOfWork, item: Item, step: sla.LadderStep, policy: Policy, now: datetime
    ) -> tuple[list[AuditEntry], list[notifications.Notification]] | None:
        """Takes one rung for one item and returns what to audit and send.

        None when another writer got there first (nothing was written).
        """
        rung = step.rung
        after = step.edge.after if step.edge is not None else sla.threshold(rung, policy, item)
        assert after is not None  # a rung with no edge never falls due
        reason = (
            f"not decided within {_fmt(after)} "
            f"({'working time' if policy.calendar else 'wall time'})"
        )
        reached = None
        moving = rung is sla.Rung.ESCALATE and item.ladder_level >= sla.Rung.ESCALATE
        left = escalation.tier_of(policy, item).name if moving else None
        if policy.escalation is not None and step.edge is not None:
            reached = policy.ladder.tier(step.edge.target)
            assert reached is not None  # validation keeps edges on known tiers
            reason += f"; now with tier {reached.name}"
        transition = states.climb_ladder(
            item,
            rung=rung,
            skipped=step.skipped,
            reason=reason,
            now=now,
            tier=reached.name if reached is not None else None,
            from_tier=left,
        )
        written = await self._tx.update(uow, transition.item, expected_version=item.version)
        if written is None:
            return None
        notices = notifications.for_change(item, written, transition.events, policy, now)
        if reached is not None and moving:
            # Moved on from tier to tier while escalated: the new tier's people hear of it
            # (the team's channel heard of the escalation already).
            people = escalation.members(policy, reached, written.team)
            notices += tier_notices(written, reached, people)
        else:
            notices += notifications.ladder_notices(
                written, rung.value, policy, now, state_changed=written.state is not item.state
            )
            if reached is not None:
                notices += tier_notices(written, reached)
        return item_entries(written, transition.events, now), notices

    async def refresh_deadlines(self, *, now: datetime, batch: int = 500) -> int:
        """Recomputes every open item's next SLA deadline (at start-up, after a policy
        change, or after an upgrade that added the column). Returns how many changed."""
        policy = self._tx.policy().policy
        changed = 0
        after_id = 0
        while True:
            async with self._tx.uow() as uow:
                page = await uow.items.open_after(after_id=after_id, limit=batch)
                for item in page:
                    wanted = sla.next_deadline(item, policy)
                    if wanted != item.sla_next_at:
                        updated = dataclasses.replace(item, sla_next_at=wanted)
                        # Same version: only the derived index moves, nothing to audit.
                        if await uow.items.update(updated, expected_version=item.version):
                            changed += 1
                await uow.commit()
            if len(page) < batch:
                return changed
            after_id = page[-1].id or after_id
