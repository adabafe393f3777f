"""Digests: each team's low-risk items posted together per window, grouped, and decided
a whole group at a time (all or nothing) or sent back for individual review.

Deciding a whole group is :mod:`domain.usecases.digest_decisions` (which :class:`Digests`
extends); this module posts the windows, starts the clocks and serves the group reads.
"""

from __future__ import annotations

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
from domain.errors import IllegalTransition, InvalidCommand, NotAuthorized, NotVisible
from domain.items import Item
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
from domain.templates import DigestGroup
from domain.usecases.digest_decisions import BulkOutcome as BulkOutcome
from domain.usecases.digest_decisions import DigestDecisions
from domain.usecases.rates import load_rates
from domain.usecases.transaction import refusal_entry, system_entry

#: The most digest items one team's window takes (the rest wait for the next window).
MAX_DIGEST_ITEMS = 10_000
#: Cluster key of the items a digest lists for individual review.
APART_KEY = "(individual review: dual control or material)"
#: The one answer to someone who may not see a digest group (or names one that is not).
GROUP_NOT_VISIBLE = "you cannot see this digest group"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterSummary:
    """A digest group in one line."""

    id: int
    size: int
    title: str


class Digests(DigestDecisions):
    """Posting digest windows and deciding their groups (the deciding is
    :class:`~domain.usecases.digest_decisions.DigestDecisions`)."""

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
