"""Deciding a digest group a whole group at a time: approved or rejected all or
nothing, each item's record plus one for the batch, a refusal recorded on its own."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from domain import notifications, states
from domain.audit.records import AuditEntry
from domain.digest import ClusterRecord, ClusterState
from domain.errors import (
    DomainError,
    IllegalTransition,
    InvalidCommand,
    NotAuthorized,
    StaleItem,
    User,
)
from domain.items import Item, JournalEntry, ReviewState
from domain.journal import EntryKind
from domain.permissions import check_can_act, check_not_read_only
from domain.step_up import StepUpRequired, needs_step_up
from domain.templates import Verdict
from domain.usecases.posting import posting
from domain.usecases.transaction import (
    FALLBACK_MODE,
    FINAL_STATES,
    SIGNOFF,
    UseCase,
    decision_attributes,
    item_entries,
    marked,
    refusal_entry,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkOutcome:
    """What a bulk decision on a digest cluster did."""

    cluster: ClusterRecord
    items: tuple[Item, ...]
    noop: bool = False


class DigestDecisions(UseCase):
    """Approving or rejecting a whole digest group (:class:`Digests` offers it)."""

    async def decide_cluster(
        self,
        *,
        cluster_id: int,
        actor: str,
        now: datetime,
        approve: bool,
        reason: str | None = None,
    ) -> BulkOutcome:
        """Approves or rejects a whole digest cluster, all or nothing.

        Refused (nothing changes) when any item changed since the digest, when the actor
        may not act on any of them, prepared any of them (approval), or someone else
        decided the cluster first. One audit record per item plus one for the batch. A
        refusal is recorded (``decision.refused``, naming the group, not an item) in a
        transaction of its own after the refused one rolled back, then raised.
        """
        action = states.Action.APPROVE if approve else states.Action.REJECT
        name = f"bulk_{action.value}"
        with self._tx.telemetry.decision(name) as trace:
            try:
                outcome = await self._decide_cluster(
                    cluster_id=cluster_id, actor=actor, now=now, approve=approve, reason=reason
                )
            except DomainError as refusal:
                trace.record(decision_attributes(action=name, item=None, outcome="refused"))
                await self._refused(refusal, action, actor, cluster_id, now)
                raise
            trace.record(
                {
                    **decision_attributes(
                        action=name,
                        item=None,
                        outcome="repeat" if outcome.noop else outcome.cluster.state.value,
                    ),
                    f"{SIGNOFF}.team": outcome.cluster.team,
                    f"{SIGNOFF}.items": len(outcome.items),
                }
            )
        if not outcome.noop:
            for item in outcome.items:
                if item.state in FINAL_STATES:
                    seconds = max(0.0, (now - item.created_at).total_seconds())
                    self._tx.telemetry.signed_off(kind=item.kind.value, seconds=seconds)
        return outcome

    async def _refused(
        self,
        refusal: DomainError,
        action: states.Action,
        actor: str,
        cluster_id: int,
        now: datetime,
    ) -> None:
        """Records a refused bulk decision (naming the group, not an item)."""
        await self._tx.refused(
            refusal,
            refusal_entry(
                action=action.value,
                actor=actor,
                reason=refusal,
                now=now,
                item=None,
                data={"cluster_id": cluster_id},
            ),
        )

    async def _decide_cluster(
        self,
        *,
        cluster_id: int,
        actor: str,
        now: datetime,
        approve: bool,
        reason: str | None,
    ) -> BulkOutcome:
        """:meth:`decide_cluster` without the refusal record."""
        loaded = self._tx.policy()
        policy = loaded.policy
        verdict = ClusterState.APPROVED if approve else ClusterState.REJECTED
        async with self._tx.uow() as uow:
            cluster = await uow.digests.get_cluster(cluster_id)
            if cluster is None:
                raise InvalidCommand("that digest group no longer exists")
            # Before any repeat is recognised, as for one item: an auditor decides nothing.
            check_not_read_only(policy, actor)
            if cluster.apart:
                raise InvalidCommand("these items need individual review; use their own buttons")
            if cluster.state is not ClusterState.OPEN:
                if cluster.state is verdict and cluster.decided_by == actor:
                    return BulkOutcome(cluster=cluster, items=(), noop=True)
                by = (" by ", User(cluster.decided_by)) if cluster.decided_by else ()
                raise IllegalTransition(f"this group was already {cluster.state}", *by)
            items = [await self._tx.load(uow, item_id) for item_id, _ in cluster.items]
            # What the reviewer saw is the content and the state, not the version: a
            # reminder moves the version without changing anything a reviewer judges.
            hashes = cluster.hashes or tuple("" for _ in cluster.items)
            stale = [
                i.human_id
                for i, seen in zip(items, hashes, strict=True)
                if i.state is not ReviewState.PENDING
                or i.approvals
                or (seen and i.content_hash != seen)
            ]
            if stale:
                raise StaleItem(
                    f"{', '.join(stale)} changed since the digest; nothing was changed — "
                    "review the group individually"
                )
            for item in items:
                check_can_act(policy, item, actor, "approve_in_bulk" if approve else "reject")
            # A policy changed since the digest may put an item over the step-up amount:
            # no bulk approval skips the retyped amount.
            large = [i.human_id for i in items if approve and needs_step_up(i, loaded)]
            if large:
                raise StepUpRequired(
                    f"approving {', '.join(large)} needs the amount retyped (step-up); "
                    "review the group individually"
                )
            mine = [i.human_id for i in items if approve and i.facts.prepared_by == actor]
            if mine:
                raise NotAuthorized(
                    f"you prepared {', '.join(mine)}, so you cannot approve this group "
                    "(maker-checker); review it individually"
                )
            text = states.require_reason(reason) if not approve else None
            decided: list[Item] = []
            # Entries the items already have number a re-approval's key (after a reversal).
            prior = (
                await uow.journal.for_items([i.id for i in items if i.id is not None])
                if approve
                else {}
            )
            new_entries: list[JournalEntry] = []
            fallback = await self._tx.fallback(uow)
            entries: list[AuditEntry] = []
            notices: list[notifications.Notification] = []
            for item in items:
                events: tuple[states.Event, ...]
                if approve:
                    transition = states.approve(item, actor=actor, now=now, note="digest bulk")
                    if transition.item.state is not ReviewState.APPROVED:  # pragma: no cover
                        raise InvalidCommand(f"{item.human_id} needs individual review")
                    final = transition.item
                    new_entries.append(
                        posting(
                            final,
                            EntryKind.APPROVAL,
                            now,
                            policy.accounts,
                            prior.get(item.id or 0, ()),
                        )
                    )
                    data = {
                        "cluster_id": cluster_id,
                        "window": cluster.window,
                        "approvers": [actor],
                    }
                    if fallback:
                        data[FALLBACK_MODE] = True
                    events = (
                        states.Event(
                            name="item.approved_in_bulk",
                            actor=actor,
                            from_state=item.state.value,
                            to_state=final.state.value,
                            data=data,
                        ),
                    )
                else:
                    rejected = states.reject(item, actor=actor, now=now, reason=text or "")
                    final = rejected.item
                    events = tuple(
                        dataclasses.replace(
                            e, data={**e.data, "cluster_id": cluster_id, "window": cluster.window}
                        )
                        for e in rejected.events
                    )
                    if fallback:
                        events = tuple(marked(e) for e in events)
                written = await self._tx.update(uow, final, expected_version=item.version)
                if written is None:
                    raise StaleItem(
                        f"{item.human_id} was changed by someone else at the same moment; "
                        "nothing was changed"
                    )
                decided.append(written)
                entries.extend(item_entries(written, events, now))
                notices.extend(notifications.for_change(item, written, events, policy, now))
            if not await uow.digests.close_cluster(cluster_id, state=verdict, actor=actor, now=now):
                raise StaleItem("someone else decided this group at the same moment")
            entries.append(
                AuditEntry(
                    time=now,
                    event=f"digest.cluster_{verdict.value}",
                    actor=actor,
                    policy_version=loaded.version,
                    data={
                        "cluster_id": cluster_id,
                        "window": cluster.window,
                        "team": cluster.team,
                        "key": cluster.key,
                        "items": [i.id for i in decided],
                        "reason": text,
                    },
                )
            )
            await uow.audit.append(entries)
            # Each approved item's entry, after its approval in the log; it leaves for
            # the ledger and the item is posted when the ledger accepts it.
            by_id = {i.id: i for i in decided}
            for entry in new_entries:
                await self._tx.store_entry(uow, entry, item=by_id[entry.item_id])
            notices.append(
                notifications.digest_cluster_decided(
                    channel=policy.channel_for(cluster.team),
                    team=cluster.team,
                    window=cluster.window,
                    cluster_id=cluster_id,
                    key=cluster.key,
                    verdict=Verdict(verdict.value),
                    by=actor,
                    size=len(decided),
                )
            )
            await uow.outbox.enqueue(notices, now=now)
            await uow.commit()
        return BulkOutcome(
            cluster=dataclasses.replace(cluster, state=verdict, decided_by=actor),
            items=tuple(decided),
        )
