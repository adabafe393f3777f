"""Automatic assignment in ``auto`` teams: each new immediate item goes at once to the best
eligible reviewer (:mod:`domain.assignment`), audited with the reasons; when nobody is
eligible the item waits unassigned and the team's leads are told once."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime

from domain import states
from domain.assignment import Choice, Need, candidates_of, choose
from domain.items import Item, ReviewState, Route
from domain.notifications import NoticeKind, Notification
from domain.policy import AssignmentMode, LoadedPolicy
from domain.ports import UnitOfWork
from domain.routing import reporting_amount
from domain.templates import Unassigned
from domain.usecases.transaction import Transactions, item_entry

#: The audit event of an item nobody was eligible for (once per item).
UNASSIGNABLE = "item.unassignable"


def needs_auto_assignment(item: Item, loaded: LoadedPolicy) -> bool:
    """Whether ``item`` is a waiting immediate item of an ``auto`` team."""
    team = loaded.policy.team(item.team) if item.team else None
    return (
        team is not None
        and team.assignment is AssignmentMode.AUTO
        and item.route is Route.IMMEDIATE
        and item.state is ReviewState.PENDING
        and item.assignee is None
    )


def need_of(item: Item, loaded: LoadedPolicy, let_go: str | None = None) -> Need:
    """What ``item`` asks of its reviewer under the policy."""
    facts = item.facts
    level = loaded.policy.assignment.level_needed(
        reporting_amount=reporting_amount(facts, loaded), risk_tier=facts.risk_tier, kind=facts.kind
    )
    return Need(
        level=level,
        preparer=facts.prepared_by,
        approvers=frozenset(a.user for a in item.approvals),
        let_go=let_go,
    )


async def auto_assign(
    tx: Transactions,
    uow: UnitOfWork,
    items: Sequence[Item],
    now: datetime,
    let_go: Mapping[int, str] | None = None,
) -> list[Item]:
    """Assigns each of ``items`` that :func:`needs_auto_assignment`, best item first,
    inside the caller's transaction; returns the items as written (assigned or not).

    Loads count each assignment made here, so one batch never overfills a reviewer.
    ``let_go`` names, by item id, who just let its lease run out: offered to someone else.
    """
    loaded = tx.policy()
    policy = loaded.policy
    wanted = sorted(
        (i for i in items if needs_auto_assignment(i, loaded)),
        key=lambda i: (-i.priority, i.id or 0),
    )
    if not wanted:
        return []
    users = sorted(
        {u for i in wanted for t in [policy.team(i.team or "")] if t for u in t.reviewers}
    )
    loads = dict(await uow.people.open_counts(users))
    accuracy = await uow.people.accuracy(users, since=now - policy.assignment.accuracy_window)
    away = {d.user for d in await uow.people.active_delegations(now=now)}
    # Decided one after the other (each assignment counts towards the next one's load),
    # then written, audited and announced together: one update batch, one append.
    steps: list[tuple[Item, Item, tuple[states.Event, ...]]] = []
    out: list[Item] = []
    for item in wanted:
        team = policy.team(item.team or "")
        assert team is not None and item.id is not None
        choice = choose(
            candidates_of(policy, team, open_items=loads, accuracy=accuracy),
            need_of(item, loaded, (let_go or {}).get(item.id)),
            away,
        )
        if choice.assignee is None:
            await _tell_leads_once(uow, item, choice, team.leads, now)
            out.append(item)
            continue
        user = choice.assignee.user
        transition = states.assign(
            item, actor=states.SYSTEM, assignee=user, now=now, ttl=policy.sla.claim_ttl
        )
        events = tuple(
            dataclasses.replace(e, data={**e.data, "reasons": choice.reasons, "mode": "auto"})
            for e in transition.events
        )
        steps.append((item, tx.clocked(transition.item), events))
        loads[user] = loads.get(user, 0) + 1
    if steps:
        # Changed meanwhile (claimed by hand): left as its new holder has it.
        stale = set(
            await uow.items.update_many([(after, before.version) for before, after, _ in steps])
        )
        kept = [step for step in steps if step[1].id not in stale]
        await tx.record(uow, kept, now)
        out.extend(after for _, after, _ in kept)
    return out


async def _tell_leads_once(
    uow: UnitOfWork, item: Item, choice: Choice, leads: Sequence[str], now: datetime
) -> None:
    assert item.id is not None
    if not await uow.once.first_time(f"unassignable:{item.id}", item_id=item.id, now=now):
        return
    event = states.Event(
        name=UNASSIGNABLE,
        actor=states.SYSTEM,
        from_state=item.state.value,
        to_state=item.state.value,
        data={"reasons": choice.reasons, "leads_told": list(leads)},
    )
    await uow.audit.append([item_entry(item, event, now)])
    await uow.outbox.enqueue(
        [
            Notification(
                kind=NoticeKind.DM,
                target=lead,
                dedupe_key=f"dm:unassignable:{item.id}:{lead}",
                item_id=item.id,
                payload=Unassigned(reasons=choice.reasons),
            )
            for lead in leads
        ],
        now=now,
    )
