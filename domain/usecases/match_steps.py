"""The steps the Stage 2 use cases share: the version-checked write of a match, the
dated rate of a currency, an accepted match's journal entry (kind ``match``, on an item
of its own: the one posting path every entry takes), the closing of the ``unmatched``
items accepted matches cover, and a match's audit record.

Journal entries are made only on an accepted transition, never for a pending match.
The run (:mod:`domain.usecases.match_run`) and the decisions
(:mod:`domain.usecases.match_decisions`) build on :class:`MatchSteps`;
:class:`~domain.usecases.matching.Matching` brings them together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain import states
from domain.audit.records import AuditEntry
from domain.errors import StaleItem
from domain.items import (
    Approval,
    EntryKind,
    Item,
    ItemFacts,
    ItemKind,
    ReviewState,
    Route,
    RoutingDecision,
)
from domain.matching.stored import MatchRecord
from domain.policy import LoadedPolicy
from domain.ports import UnitOfWork
from domain.routing import applied_rate, routing_data, to_reporting
from domain.usecases.amendments import routed_item
from domain.usecases.posting import posting
from domain.usecases.rates import load_rates
from domain.usecases.transaction import UseCase, item_entries, item_entry, marked

#: The ``source`` of the items matching makes (accepted matches, unmatched sides).
MATCHING_SOURCE = "matching"
_INGESTED = states.Event(
    name="item.ingested", actor=states.SYSTEM, from_state=None, to_state=ReviewState.PENDING.value
)


class MatchSteps(UseCase):
    """What every Stage 2 use case shares: the steps that write a match, read a dated
    rate, post accepted matches and close the ``unmatched`` items they cover."""

    async def _rate(
        self, uow: UnitOfWork, loaded: LoadedPolicy, currency: str, day: date
    ) -> Decimal | None:
        book = await load_rates(uow, [(currency, day)], loaded)
        found = applied_rate(currency, loaded, rates=book, on=day)
        return found.rate if found is not None else None

    async def _write(self, uow: UnitOfWork, record: MatchRecord, expected: int) -> None:
        if not await uow.matches.update(record, expected_version=expected):
            raise StaleItem(f"match {record.id} changed during the run; run it again")

    async def _post(
        self,
        uow: UnitOfWork,
        loaded: LoadedPolicy,
        accepted: Sequence[tuple[MatchRecord, Decimal, str, str]],
        now: datetime,
    ) -> None:
        """Each accepted match's journal entry (kind ``match``), on an item of its own
        that records the acceptance (the one posting path every entry takes): all of them
        in one insert of items, one of audit records and one of entries.

        A match people accepted (its ``approvals``) makes an item approved by them, each
        approval in turn, so the item's approvals, its decider, its records and the
        entry's approvers are those people; one the policy accepted, an item accepted by
        policy.

        ``accepted``: (match, its bank side's total, currency, entity).
        """
        if not accepted:
            return
        ids = await uow.items.reserve_ids(len(accepted))
        fallback = await self._tx.fallback(uow)
        records: list[AuditEntry] = []
        finals = []
        for (record, amount, code, entity), reserved in zip(accepted, ids, strict=True):
            assert record.id is not None
            facts = ItemFacts(
                source=MATCHING_SOURCE,
                external_id=f"match-{record.id}",
                kind=ItemKind.MATCH,
                entity=entity,
                currency=code,
                amount=abs(amount),
                score=record.score,
                reference=record.key[:300],
            )
            people = record.approvals
            reasons = [f"match {record.id} scored {record.score}"]
            if people:
                reasons.append("accepted by " + ", ".join(a.user for a in people))
            decision = RoutingDecision(
                route=Route.IMMEDIATE if people else Route.AUTO_ACCEPTED,
                kind=ItemKind.MATCH,
                reasons=tuple(reasons),
                priority=0,
                team=None,
                required_approvals=len(people),
                policy_version=loaded.version,
                reporting_amount=to_reporting(abs(amount), code, loaded),
            )
            item = routed_item(facts, decision, now, item_id=reserved)
            # Audited as intake audits an item accepted by policy, so the log replays it.
            records.append(
                item_entry(
                    item,
                    _INGESTED,
                    now,
                    data=routing_data(item.facts, decision, item.content_hash),
                )
            )
            if people:
                moved, events = _approved_by(item, people)
            else:
                by_policy = states.accept_by_policy(item, now=now)
                moved, events = by_policy.item, list(by_policy.events)
            events = [marked(e) for e in events] if fallback else events
            records.extend(item_entries(moved, events, now))
            finals.append(self._tx.clocked(moved))
        await uow.items.add_many(finals)
        await uow.audit.append(records)
        entries = [posting(f, EntryKind.MATCH, now, loaded.policy.accounts) for f in finals]
        await self._tx.store_entries(uow, entries, items=finals)

    async def _close_unmatched(
        self, uow: UnitOfWork, accepted: Sequence[MatchRecord], now: datetime
    ) -> None:
        """Closes the open ``unmatched`` items (an earlier run's lone line or entry) that
        the ``accepted`` matches now cover, each through the audited ``close_matched``
        move, its card updated through the outbox ("matched by run N / match M"). A
        disputed one stays for a person to resolve."""
        covering: dict[str, MatchRecord] = {}
        for record in accepted:
            for sid, number in record.bank_lines:
                covering[bank_external_id(sid, number)] = record
            for key in record.ledger_entries:
                covering[ledger_external_id(key.account, key.entry_id)] = record
        if not covering:
            return
        found = await uow.items.get_many_by_external(MATCHING_SOURCE, sorted(covering))
        closable = states.ALLOWED_FROM[states.Action.CLOSE_MATCHED]
        for external_id, item in sorted(found.items()):
            if item.facts.kind is not ItemKind.UNMATCHED or item.state not in closable:
                continue
            record = covering[external_id]
            assert record.id is not None
            moved = states.close_matched(item, match_id=record.id, run=record.run, now=now)
            await self._tx.apply(uow, item, moved, now)


def _approved_by(item: Item, people: Sequence[Approval]) -> tuple[Item, list[states.Event]]:
    """``item`` approved by each of ``people`` in turn (dual control, maker-checker and
    distinct approvers as :func:`domain.states.approve` rules them), and the events."""
    events: list[states.Event] = []
    for approval in people:
        moved = states.approve(item, actor=approval.user, now=approval.at)
        item = moved.item
        events.extend(moved.events)
    return item, events


def bank_external_id(statement: int | str, number: int) -> str:
    """The external id of a bank line's ``unmatched`` item."""
    return f"bank:{statement}#{number}"


def ledger_external_id(account: str, entry_id: str) -> str:
    """The external id of a ledger entry's ``unmatched`` item."""
    return f"ledger:{account}:{entry_id}"


def match_entry(
    event: str,
    now: datetime,
    version: str,
    record: MatchRecord,
    why: object,
    *,
    actor: str = states.SYSTEM,
    voided: Sequence[Approval] = (),
) -> AuditEntry:
    data: dict[str, Any] = {
        "match": record.id,
        "key": record.key,
        "score": record.score,
        "band": record.band.value,
        "state": record.state.value,
        "statement": record.statement_id,
        "bank_lines": [list(k) for k in record.bank_lines],
        "ledger_entries": [k.entry_id for k in record.ledger_entries],
        "components": record.components,
    }
    if record.held is not None:
        data["held"] = record.held
    if record.approvals:
        data["approvals"] = [a.user for a in record.approvals]
    if voided:
        data["voided_approvals"] = [a.user for a in voided]
    if why is not None:
        data["why"] = getattr(why, "reason", str(why))
    return AuditEntry(time=now, event=event, actor=actor, policy_version=version, data=data)
