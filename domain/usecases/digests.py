"""Digests: each team's low-risk items posted together per window, grouped, and decided
a whole group at a time (all or nothing) or sent back for individual review."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from domain import notifications, sla, states
from domain.audit.records import AuditEntry
from domain.digest import (
    MAX_LISTED,
    ClusterMember,
    ClusterRecord,
    ClusterState,
    DigestPlan,
    plan_digest,
)
from domain.errors import (
    DomainError,
    IllegalTransition,
    InvalidCommand,
    NotAuthorized,
    NotVisible,
    StaleItem,
    User,
)
from domain.items import Item, JournalEntry, ReviewState
from domain.journal import EntryKind
from domain.permissions import (
    Person,
    can_see,
    check_can_act,
    check_not_read_only,
    sees_everything,
)
from domain.policy import Policy
from domain.ports import UnitOfWork
from domain.routing import item_rate_day
from domain.step_up import StepUpRequired, needs_step_up
from domain.templates import DigestGroup, Verdict
from domain.usecases.posting import posting
from domain.usecases.rates import load_rates
from domain.usecases.transaction import (
    FALLBACK_MODE,
    FINAL_STATES,
    SIGNOFF,
    UseCase,
    decision_attributes,
    item_entries,
    marked,
    refusal_entry,
    system_entry,
)

#: The most digest items one team's window takes (the rest wait for the next window).
MAX_DIGEST_ITEMS = 10_000
#: Cluster key of the items a digest lists for individual review.
APART_KEY = "(individual review: dual control or material)"
#: The one answer to someone who may not see a digest group (or names one that is not).
GROUP_NOT_VISIBLE = "you cannot see this digest group"


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkOutcome:
    """What a bulk decision on a digest cluster did."""

    cluster: ClusterRecord
    items: tuple[Item, ...]
    noop: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterSummary:
    """A digest group in one line."""

    id: int
    size: int
    title: str


class Digests(UseCase):
    """Posting digest windows and deciding their groups."""

    async def digest_window(self, *, window: str, now: datetime) -> list[DigestPlan]:
        """Posts each team's digest for a window: a summary and one thread reply per cluster.

        Items are claimed for the window with a compare-and-set, so running a window
        twice, or in two processes, posts once; an empty window posts nothing.
        """
        loaded = self._tx.policy()
        policy = loaded.policy
        plans: list[DigestPlan] = []
        async with self._tx.uow() as uow:
            for team_name in await uow.digests.candidate_teams():
                team = policy.team(team_name)
                if team is None or await uow.digests.window_posted(team=team_name, window=window):
                    # Items that arrived after this window was posted wait for the next.
                    continue
                items = await uow.digests.candidates(team=team_name, limit=MAX_DIGEST_ITEMS)
                if not items:
                    continue
                ids = [i.id for i in items if i.id is not None]
                if await uow.digests.mark(item_ids=ids, window=window) != len(ids):
                    return []  # another process is posting this window: roll back
                rates = await load_rates(
                    uow, [(i.facts.currency, item_rate_day(i)) for i in items], loaded
                )
                plan = plan_digest(team_name, window, items, loaded, rates=rates)
                versions = {i.id: (i.version, i.content_hash) for i in items}
                notices: list[notifications.Notification] = []
                groups = [(c.key, c.item_ids, False) for c in plan.clusters]
                if plan.apart:
                    groups.append((APART_KEY, plan.apart, True))
                summary: list[DigestGroup] = []
                for key, member_ids, apart in groups:
                    cluster_id = await uow.digests.add_cluster(
                        window=window,
                        team=team_name,
                        key=key,
                        items=[ClusterMember(i, *versions[i]) for i in member_ids],
                        apart=apart,
                        now=now,
                    )
                    summary.append(DigestGroup(id=cluster_id, key=key, size=len(member_ids)))
                    notices.append(
                        notifications.digest_cluster(
                            channel=team.channel,
                            team=team_name,
                            window=window,
                            cluster_id=cluster_id,
                            key=key,
                            apart=apart,
                            item_ids=member_ids[:MAX_LISTED],
                            size=len(member_ids),
                        )
                    )
                totals = {cur: str(total) for cur, total in sorted(plan.totals.items())}
                notices.insert(
                    0,
                    notifications.digest_summary(
                        channel=team.channel,
                        team=team_name,
                        window=window,
                        count=plan.count,
                        totals=plan.totals,
                        oldest_at=plan.oldest_at,
                        groups=summary,
                    ),
                )
                await uow.audit.append(
                    [
                        system_entry(
                            "digest.posted",
                            now,
                            loaded.version,
                            team=team_name,
                            window=window,
                            count=plan.count,
                            totals=totals,
                            clusters=len(summary),
                            items=ids,
                        )
                    ]
                )
                await uow.outbox.enqueue(notices, now=now)
                plans.append(plan)
            await uow.commit()
        return plans

    async def start_clocks(self, *, now: datetime, limit: int = 500) -> int:
        """Starts the clock of each digest item whose digest has been posted, at the
        moment Slack accepted the digest's summary; returns how many started.

        The scheduler runs it before each SLA sweep. An item whose digest is not out yet
        (Slack down at digest time, the relay still retrying, a dead row waiting for an
        operator's replay) keeps waiting: nobody has seen it, so nobody is chased; a
        later sweep starts its clock at the real post time, not the sweep's. One
        ``digest.clock_started`` record per digest. The writes keep each item's version:
        nothing a reviewer judges changed (a decision racing this one still applies,
        and starts the clock itself).
        """
        loaded = self._tx.policy()
        async with self._tx.uow() as uow:
            by_digest: dict[tuple[str, str], list[Item]] = {}
            for window, item in await uow.digests.awaiting_post(limit=limit):
                if item.team is not None:  # a digest takes only items of a team
                    by_digest.setdefault((item.team, window), []).append(item)
            entries: list[AuditEntry] = []
            changes: list[tuple[Item, int]] = []
            for (team, window), members in by_digest.items():
                posted = await uow.outbox.sent_at(notifications.digest_key(team, window))
                if posted is None:
                    continue
                changes += [
                    (self._tx.clocked(sla.start_clock(i, at=posted, digest=window)), i.version)
                    for i in members
                ]
                entries.append(
                    system_entry(
                        "digest.clock_started",
                        now,
                        loaded.version,
                        team=team,
                        window=window,
                        posted_at=posted.isoformat(),
                        items=[i.id for i in members],
                    )
                )
            if not changes:
                return 0
            if await uow.items.update_many(changes):
                # Someone acted on one of them meanwhile (which started its clock): roll
                # back; the next sweep starts the others from fresh reads.
                return 0
            await uow.audit.append(entries)
            await uow.commit()
        return len(changes)

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

    @staticmethod
    async def _visible_cluster(
        uow: UnitOfWork, policy: Policy, cluster_id: int, actor: str
    ) -> ClusterRecord:
        """The digest group, if ``actor`` may see its team's items.

        Raises:
            NotVisible: they may not, or (for who does not see every item) there is no
                such group: the same sentence, as for items.
            InvalidCommand: there is no such group, told to who sees every item.
        """
        viewer = Person(actor)
        cluster = await uow.digests.get_cluster(cluster_id)
        if cluster is None and sees_everything(policy, viewer):
            raise InvalidCommand("that digest group no longer exists")
        if cluster is None or not can_see(policy, viewer, cluster.team):
            raise NotVisible(GROUP_NOT_VISIBLE)
        return cluster

    async def cluster_summary(
        self, *, cluster_id: int, actor: str, now: datetime | None = None
    ) -> ClusterSummary:
        """What a "Reject all" form shows, if the actor may act on the group.

        An auditor reaching for the form is refused and (given ``now``, as every shell
        passes it) audited like the group rejection they attempted.
        """
        policy = self._tx.policy().policy
        async with self._tx.uow(read_only=True) as uow:
            cluster = await self._visible_cluster(uow, policy, cluster_id, actor)
        try:
            check_not_read_only(policy, actor)
        except NotAuthorized as refusal:
            if now is not None:
                entry = refusal_entry(
                    action=states.Action.REJECT.value,
                    actor=actor,
                    reason=refusal,
                    now=now,
                    item=None,
                    data={"cluster_id": cluster_id},
                )
                await self._tx.refused(refusal, entry)
            raise
        async with self._tx.uow(read_only=True) as uow:
            if cluster.state is not ClusterState.OPEN:
                raise IllegalTransition(f"this group was already {cluster.state}")
            first = await self._tx.load(uow, cluster.items[0][0]) if cluster.items else None
        if first is not None:
            check_can_act(policy, first, actor)
        return ClusterSummary(id=cluster.id, size=len(cluster.items), title=cluster.key)

    async def review_cluster(self, *, cluster_id: int, actor: str, now: datetime) -> int:
        """Posts a card for each still-open item of a cluster (if the actor may see the
        group and act on its items); returns how many."""
        policy = self._tx.policy().policy
        async with self._tx.uow() as uow:
            cluster = await self._visible_cluster(uow, policy, cluster_id, actor)
            items = [await self._tx.load(uow, item_id) for item_id, _ in cluster.items]
            open_items = [i for i in items if i.state not in sla.SETTLED]
            for item in open_items:
                check_can_act(policy, item, actor)
            notices = [notifications.card(i, policy, force_post=True) for i in open_items]
            await uow.outbox.enqueue([n for n in notices if n is not None], now=now)
            await uow.commit()
        return len(open_items)
