"""The steps every use case that changes an item shares, in one place.

A change is one transaction: load the item, check who may act and on what version,
apply a pure transition of :mod:`domain.states`, write the item with its SLA deadline
kept current (version-checked), audit every event and enqueue the Slack messages it
causes, commit. :meth:`Transactions.decide` is that opening for a person's decision;
the other methods are its parts, for the use cases that batch or branch. The audit
records they write are worded in :mod:`domain.usecases.audit_entries` (re-exported here).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain import notifications, sla, states
from domain.audit.records import AuditEntry
from domain.breaker import LEDGER
from domain.errors import DomainError, ItemNotFound, StaleItem
from domain.items import MAX_ITEM_ID, Item, JournalEntry, ReviewState, format_human_id
from domain.journal import EntryKind
from domain.permissions import (
    Person,
    Viewer,
    check_can_act,
    check_can_see,
    check_not_read_only,
    check_not_someone_elses_claim,
    not_visible,
    sees_everything,
)
from domain.policy import LoadedPolicy
from domain.ports import NoTelemetry, SpanValue, Telemetry, UnitOfWork, UnitOfWorkFactory
from domain.usecases.audit_entries import REFUSED as REFUSED
from domain.usecases.audit_entries import UNAUDITED as UNAUDITED
from domain.usecases.audit_entries import item_entries as item_entries
from domain.usecases.audit_entries import item_entry as item_entry
from domain.usecases.audit_entries import record_refusal as record_refusal
from domain.usecases.audit_entries import refusal_entry as refusal_entry
from domain.usecases.audit_entries import system_entry as system_entry
from domain.usecases.posting import entry_data, posting

#: The audit data key that marks a decision taken while the ledger's breaker was open.
FALLBACK_MODE = "fallback_mode"

#: One change of one item: before (None when new), after, and what it audits.
Step = tuple[Item | None, Item, Sequence[states.Event]]
#: Where the current policy comes from (a hot reload is seen by the next call).
PolicySource = Callable[[], LoadedPolicy]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a decision did: the item after it, whether it was a repeat, what was audited."""

    item: Item
    noop: bool = False
    events: tuple[states.Event, ...] = ()
    journal_entry: JournalEntry | None = None


def marked(event: states.Event) -> states.Event:
    """``event`` marked as taken while the ledger's breaker was open."""
    return dataclasses.replace(event, data={**event.data, FALLBACK_MODE: True})


def check_version(item: Item, expected_version: int | None) -> None:
    """Refuses a decision taken on a view of the item older than the stored one."""
    if expected_version is not None and item.version != expected_version:
        raise StaleItem(
            f"{item.human_id} changed since you opened it (it is now "
            f"{item.state.label}); nothing was changed — look again"
        )


#: The span attributes of every decision, and of those under dual control.
SIGNOFF = "ledger.reconciliation.signoff"
DUAL_CONTROL = "compliance.dual_control"
#: States in which an item's review is over (its sign-off time is measured then).
FINAL_STATES = frozenset({ReviewState.APPROVED, ReviewState.POSTED, ReviewState.REJECTED})


def decision_attributes(
    *, action: str, item: Item | None, outcome: str, dual_control: bool | None = None
) -> dict[str, SpanValue]:
    """A decision span's attributes: the item, its team and kind, the action and outcome,
    and, where dual control applies, the approvals so far and required.

    Never the actor's words (notes, reasons) nor anything secret: names, counts, states.
    """
    attributes: dict[str, SpanValue] = {
        f"{SIGNOFF}.action": action,
        f"{SIGNOFF}.outcome": outcome,
    }
    if item is None:
        return attributes
    attributes[f"{SIGNOFF}.item"] = item.human_id
    attributes[f"{SIGNOFF}.kind"] = item.kind.value
    attributes[f"{SIGNOFF}.state"] = item.state.value
    if item.team is not None:
        attributes[f"{SIGNOFF}.team"] = item.team
    if dual_control if dual_control is not None else item.required_approvals > 1:
        attributes[f"{DUAL_CONTROL}.item"] = item.human_id
        if item.team is not None:
            attributes[f"{DUAL_CONTROL}.team"] = item.team
        attributes[f"{DUAL_CONTROL}.approvals"] = len(item.approvals)
        attributes[f"{DUAL_CONTROL}.required"] = item.required_approvals
        attributes[f"{DUAL_CONTROL}.outcome"] = outcome
    return attributes


class Transactions:
    """Load, check, write, audit and announce item changes inside a unit of work."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        policy: PolicySource,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.uow = uow
        self.policy = policy
        self.telemetry: Telemetry = telemetry if telemetry is not None else NoTelemetry()

    def clocked(self, item: Item) -> Item:
        """The item with ``sla_next_at`` recomputed: every write keeps the sweep index true."""
        return dataclasses.replace(item, sla_next_at=sla.next_deadline(item, self.policy().policy))

    @staticmethod
    async def load(uow: UnitOfWork, item_id: int) -> Item:
        """The stored item.

        Raises:
            ItemNotFound: no such item.
        """
        # An id beyond the column's range cannot exist; don't send it to the database.
        item = await uow.items.get(item_id) if 0 < item_id <= MAX_ITEM_ID else None
        if item is None:
            raise ItemNotFound(f"there is no item {format_human_id(item_id)}")
        return item

    async def load_for(self, uow: UnitOfWork, item_id: int, viewer: Viewer) -> Item:
        """The stored item, if ``viewer`` may see it (every read a person makes).

        Raises:
            NotVisible: ``viewer`` may not see the item, or there is none and ``viewer``
                does not see every item: one sentence for both, so ids cannot be probed.
            ItemNotFound: there is no such item (told only to who sees every item).
        """
        policy = self.policy().policy
        try:
            item = await self.load(uow, item_id)
        except ItemNotFound:
            if sees_everything(policy, viewer):
                raise
            raise not_visible(item_id) from None
        check_can_see(policy, item, viewer)
        return item

    async def update(self, uow: UnitOfWork, item: Item, *, expected_version: int) -> Item | None:
        """Version-checked write of an item with its SLA deadline kept current.

        Returns the item exactly as written, or None when someone changed it first.
        """
        clocked = self.clocked(item)
        if await uow.items.update(clocked, expected_version=expected_version):
            return clocked
        return None

    @staticmethod
    async def fallback(uow: UnitOfWork) -> bool:
        """Whether decisions are taken in fallback mode now: the ledger's breaker is not
        closed, so their entries wait (each such decision's record says so)."""
        return not (await uow.breakers.get(LEDGER)).is_closed

    async def record(self, uow: UnitOfWork, steps: Sequence[Step], now: datetime) -> None:
        """Audits the changes and enqueues the Slack messages they cause, in one append
        and one outbox insert, inside the caller's transaction."""
        policy = self.policy().policy
        entries: list[AuditEntry] = []
        notices: list[notifications.Notification] = []
        fallback = await self.fallback(uow)
        for before, after, events in steps:
            if fallback:
                # The ledger's breaker is open: the decision still happens, and says so.
                events = [marked(e) for e in events]
            entries.extend(item_entries(after, events, now))
            notices.extend(notifications.for_change(before, after, events, policy, now))
        await uow.audit.append(entries)
        await uow.outbox.enqueue(notices, now=now)

    async def apply(
        self, uow: UnitOfWork, item: Item, transition: states.Transition, now: datetime
    ) -> Outcome:
        """Writes, audits and announces one transition of ``item`` (a repeat writes nothing).

        Raises:
            StaleItem: someone else changed the item at the same moment.
        """
        if transition.noop:
            return Outcome(item=item, noop=True)
        after = sla.start_if_pulled(item, transition.item, now)
        written = await self.update(uow, after, expected_version=item.version)
        if written is None:
            raise StaleItem(
                f"{item.human_id} was changed by someone else at the same moment; "
                "nothing was changed — look again"
            )
        await self.record(uow, [(item, written, transition.events)], now)
        return Outcome(item=written, events=transition.events)

    async def store_entry(
        self, uow: UnitOfWork, entry: JournalEntry, *, item: Item | None = None
    ) -> JournalEntry:
        """Stores the entry once: a retry finds the one already made under its key.

        The one path every journal entry takes (approvals, write-offs, adjustments,
        reversals): in the caller's transaction it stores the entry, audits
        ``journal.created`` (on ``item``, loaded when not given) and, unless the entry is
        held, enqueues its one delivery to the ledger.
        """
        existing = await uow.journal.get_by_key(entry.idempotency_key)
        if existing is not None:
            return existing
        await uow.journal.add(entry)
        await self.announce_entries(uow, [entry], items={item.id: item} if item else {})
        return entry

    async def store_entries(
        self, uow: UnitOfWork, entries: Sequence[JournalEntry], *, items: Sequence[Item]
    ) -> None:
        """:meth:`store_entry` for many new entries at once (an ingest batch's
        acceptances by policy), in one insert; ``items`` are their items."""
        if not entries:
            return
        await uow.journal.add_many(entries)
        await self.announce_entries(uow, entries, items={i.id: i for i in items})

    async def announce_entries(
        self, uow: UnitOfWork, entries: Sequence[JournalEntry], *, items: dict[int | None, Item]
    ) -> None:
        """Audits stored entries (``journal.created``) and enqueues the deliveries of those
        not held, inside the caller's transaction."""
        records: list[AuditEntry] = []
        for entry in entries:
            item = items.get(entry.item_id) or await self.load(uow, entry.item_id)
            event = states.Event(
                name="journal.created",
                actor=states.SYSTEM,
                from_state=None,
                to_state=None,
                data=entry_data(entry),
            )
            records.append(item_entry(item, event, entry.created_at))
        await uow.audit.append(records)
        deliveries = [notifications.ledger_delivery(e) for e in entries if e.hold is None]
        if deliveries:
            await uow.outbox.enqueue(deliveries, now=entries[0].created_at)

    async def post(
        self, uow: UnitOfWork, outcome: Outcome, kind: EntryKind, now: datetime
    ) -> Outcome:
        """Creates the approved item's entry (once, by idempotency key) for the ledger.

        The item stays approved: it moves to posted when the ledger accepts the entry
        (:mod:`domain.usecases.ledger`).
        """
        item = outcome.item
        assert item.id is not None
        # Entries the item already has number a re-approval's key (after a reversal).
        prior = await uow.journal.for_item(item.id)
        entry = posting(item, kind, now, self.policy().policy.accounts, prior)
        entry = await self.store_entry(uow, entry, item=item)
        return dataclasses.replace(outcome, journal_entry=entry)

    def post_when_approved(
        self, kind: EntryKind, now: datetime
    ) -> Callable[[UnitOfWork, Outcome], Awaitable[Outcome]]:
        """A ``then`` for :meth:`decide`: makes the item's entry once its last approval
        is in."""

        async def post(uow: UnitOfWork, outcome: Outcome) -> Outcome:
            if outcome.item.state is not ReviewState.APPROVED:
                return outcome
            return await self.post(uow, outcome, kind, now)

        return post

    async def refused(self, refusal: DomainError, entry: AuditEntry) -> None:
        """Records a refused attempt in a transaction of its own (:func:`record_refusal`)."""
        await record_refusal(self.uow, refusal, entry)

    async def decide(
        self,
        *,
        action: states.Action,
        item_id: int,
        actor: str,
        now: datetime,
        move: Callable[[Item], states.Transition],
        expected_version: int | None = None,
        check_first: bool = False,
        claim_check: bool = True,
        repeat: Callable[[Item], bool] | None = None,
        then: Callable[[UnitOfWork, Outcome], Awaitable[Outcome]] | None = None,
        before_move: Callable[[UnitOfWork, Item], Awaitable[None]] | None = None,
    ) -> Outcome:
        """A person's decision on one item, in one transaction.

        Loads the item if ``actor`` may see it (the same refusal whether it exists or
        not, so a write cannot probe ids either), works out ``move`` (a transition of
        :mod:`domain.states`), checks that ``actor`` may act on the item (and, with
        ``claim_check``, that nobody else holds its claim) and that it is still at
        ``expected_version``, then writes,
        audits, announces, runs ``then`` (e.g. posting) and commits. A repeat (``noop``)
        returns before the checks, so a double click never fails. With ``check_first``
        the checks come before the move, for decisions whose form errors must not tell
        an outsider anything about the item; ``repeat`` then recognises a repeat before
        the checks. ``before_move`` reads what ``move`` needs from the store in the same
        transaction (e.g. the dated FX rate of the item's day), so ``move`` stays pure.

        A refusal is recorded (``decision.refused``: ``action`` and the sentence the
        actor is told) in a transaction of its own after the refused one rolled back,
        and then raised as before. It names the item only when ``actor`` may see it.

        Raises:
            ItemNotFound, NotAuthorized, IllegalTransition, InvalidCommand, StaleItem:
                nothing was changed; the message says why.
        """
        seen: list[Item] = []
        with self.telemetry.decision(action.value) as trace:
            try:
                outcome = await self._decide(
                    action=action,
                    item_id=item_id,
                    actor=actor,
                    now=now,
                    move=move,
                    expected_version=expected_version,
                    check_first=check_first,
                    claim_check=claim_check,
                    repeat=repeat,
                    then=then,
                    before_move=before_move,
                    seen=seen,
                )
            except DomainError as refusal:
                item = seen[0] if seen else None
                trace.record(decision_attributes(action=action.value, item=item, outcome="refused"))
                entry = refusal_entry(
                    action=action.value, actor=actor, reason=refusal, now=now, item=item
                )
                await self.refused(refusal, entry)
                raise
            done = outcome.item
            result = "repeat" if outcome.noop else done.state.value
            trace.record(decision_attributes(action=action.value, item=done, outcome=result))
        if not outcome.noop and done.state in FINAL_STATES and seen:
            routed = seen[0].created_at
            self.telemetry.signed_off(
                kind=done.kind.value, seconds=max(0.0, (now - routed).total_seconds())
            )
        return outcome

    async def _decide(
        self,
        *,
        action: states.Action,
        item_id: int,
        actor: str,
        now: datetime,
        move: Callable[[Item], states.Transition],
        expected_version: int | None,
        check_first: bool,
        claim_check: bool,
        repeat: Callable[[Item], bool] | None,
        then: Callable[[UnitOfWork, Outcome], Awaitable[Outcome]] | None,
        seen: list[Item],
        before_move: Callable[[UnitOfWork, Item], Awaitable[None]] | None = None,
    ) -> Outcome:
        """:meth:`decide` without the refusal record; ``seen`` gets the item once the
        actor may see it."""
        policy = self.policy().policy
        async with self.uow() as uow:
            item = await self.load_for(uow, item_id, Person(actor))
            seen.append(item)
            # Before any repeat is recognised: an auditor's click is refused, never a no-op.
            check_not_read_only(policy, actor)
            if repeat is not None and repeat(item):
                return Outcome(item=item, noop=True)

            def check() -> None:
                roles = check_can_act(policy, item, actor, action.value)
                if claim_check:
                    check_not_someone_elses_claim(item, actor, roles)
                check_version(item, expected_version)

            if check_first:
                check()
            if before_move is not None:
                await before_move(uow, item)
            transition = move(item)
            if transition.noop:
                return Outcome(item=item, noop=True)
            if not check_first:
                check()
            outcome = await self.apply(uow, item, transition, now)
            if then is not None:
                outcome = await then(uow, outcome)
            await uow.commit()
            return outcome


class UseCase:
    """Base of the use-case classes: keyword-only dependencies, one :class:`Transactions`."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        policy: PolicySource,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._tx = Transactions(uow=uow, policy=policy, telemetry=telemetry)
