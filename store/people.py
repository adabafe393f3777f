"""People in the store: delegations, the load each reviewer holds, their verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.assignment import Accuracy, DecisionMark, Overturn
from domain.delegation import Delegation
from domain.sla import SETTLED
from store.tables import delegations, items, reviewer_decisions


def _delegation(row: object) -> Delegation:
    values = row._mapping  # type: ignore[attr-defined]
    return Delegation(
        user=values["user_id"],
        delegate=values["delegate_id"],
        until=values["until"],
        note=values["note"],
        started_at=values["started_at"],
        ended_at=values["ended_at"],
    )


class SqlPeopleRepository:
    """Implements :class:`domain.ports.PeopleRepository` on one connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def active_delegations(self, *, now: datetime) -> list[Delegation]:
        rows = await self._conn.execute(
            select(delegations)
            .where(
                delegations.c.ended_at.is_(None),
                delegations.c.until > now,
                delegations.c.started_at <= now,
            )
            .order_by(delegations.c.user_id)
        )
        return [_delegation(r) for r in rows]

    async def start_delegation(self, delegation: Delegation) -> None:
        await self.end_delegation(user=delegation.user, now=delegation.started_at)
        await self._conn.execute(
            insert(delegations).values(
                user_id=delegation.user,
                delegate_id=delegation.delegate,
                until=delegation.until,
                note=delegation.note,
                started_at=delegation.started_at,
                ended_at=None,
            )
        )

    async def end_delegation(self, *, user: str, now: datetime) -> Delegation | None:
        rows = await self._conn.execute(
            select(delegations).where(
                delegations.c.user_id == user,
                delegations.c.ended_at.is_(None),
                delegations.c.until > now,
            )
        )
        running = [_delegation(r) for r in rows]
        await self._conn.execute(
            update(delegations)
            .where(delegations.c.user_id == user, delegations.c.ended_at.is_(None))
            .values(ended_at=now)
        )
        if not running:
            return None
        latest = max(running, key=lambda d: d.started_at)
        return Delegation(
            user=latest.user,
            delegate=latest.delegate,
            until=latest.until,
            note=latest.note,
            started_at=latest.started_at,
            ended_at=now,
        )

    async def open_counts(self, users: Sequence[str]) -> dict[str, int]:
        if not users:
            return {}
        rows = await self._conn.execute(
            select(items.c.assignee, func.count())
            .where(
                items.c.assignee.in_(list(users)),
                items.c.state.not_in([s.value for s in SETTLED]),
            )
            .group_by(items.c.assignee)
        )
        return {str(user): int(count) for user, count in rows}

    async def accuracy(self, users: Sequence[str], *, since: datetime) -> dict[str, Accuracy]:
        if not users:
            return {}
        decisions = reviewer_decisions.c
        rows = await self._conn.execute(
            select(decisions.user_id, func.count(), func.count(decisions.overturned_at))
            .where(decisions.user_id.in_(list(users)), decisions.decided_at >= since)
            .group_by(decisions.user_id)
        )
        return {
            str(user): Accuracy(decided=int(decided), overturned=int(overturned))
            for user, decided, overturned in rows
        }

    async def note_decisions(
        self, overturns: Sequence[Overturn], marks: Sequence[DecisionMark]
    ) -> None:
        decisions = reviewer_decisions.c
        for overturn in overturns:
            await self._conn.execute(
                update(reviewer_decisions)
                .where(
                    and_(
                        decisions.item_id == overturn.item_id,
                        decisions.verdict == overturn.verdict.value,
                        decisions.overturned_at.is_(None),
                        decisions.decided_at <= overturn.at,
                    )
                )
                .values(overturned_at=overturn.at)
            )
        if marks:
            await self._conn.execute(
                insert(reviewer_decisions),
                [
                    {
                        "item_id": m.item_id,
                        "user_id": m.user,
                        "verdict": m.verdict.value,
                        "decided_at": m.at,
                        "overturned_at": None,
                    }
                    for m in marks
                ],
            )
