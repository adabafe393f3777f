"""Use cases: each is one transaction that changes state, audits it, and commits.

The services read no clock: ``now`` comes from the caller (a Slack request, a CLI run, a
scheduler tick). The current policy comes from ``policy()`` so a hot reload is seen by the
next call, while every item keeps the policy version it was routed under.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain import notifications, sla, states
from domain.audit import AuditEntry, CanonicalData
from domain.dashboard import Dashboard, PriorityBand, page_count
from domain.digest import MAX_LISTED, ClusterRecord, DigestPlan, plan_digest
from domain.errors import (
    IllegalTransition,
    InvalidCommand,
    ItemNotFound,
    NotAuthorized,
    NothingToClaim,
    StaleItem,
)
from domain.intake import IntakeRow, RowError, content_hash, same_content
from domain.items import (
    MAX_ITEM_ID,
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
    Item,
    ItemFacts,
    JournalEntry,
    ReviewState,
    Route,
    RoutingDecision,
    format_human_id,
)
from domain.journal import EntryKind, build_entry
from domain.money import Money
from domain.permissions import check_can_act, check_not_someone_elses_claim, roles_of
from domain.policy import LoadedPolicy, Policy
from domain.ports import UnitOfWork, UnitOfWorkFactory
from domain.routing import dual_control_required, route_item, routing_data, to_reporting
from domain.states import Action

SYSTEM = "system"
#: States in which an item still needs a human.
OPEN_STATES = (
    ReviewState.PENDING,
    ReviewState.ASSIGNED,
    ReviewState.AWAITING_SECOND_APPROVAL,
    ReviewState.ESCALATED,
    ReviewState.DISPUTED,
    ReviewState.DEAD_LETTER,
)
CLAIM_CANDIDATES = 25


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a decision did: the item after it, whether it was a repeat, what was audited."""

    item: Item
    noop: bool = False
    events: tuple[states.Event, ...] = ()
    journal_entry: JournalEntry | None = None


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


#: The most digest items one team's window takes (the rest wait for the next window).
MAX_DIGEST_ITEMS = 10_000
#: Cluster key of the items a digest lists for individual review.
APART_KEY = "(individual review: dual control or material)"


def _team_channel(policy: Policy, team_name: str) -> str:
    team = policy.team(team_name)
    return team.channel if team else policy.compliance.channel


@dataclass(slots=True, kw_only=True)
class SweepResult:
    """What one SLA sweep did."""

    taken: dict[str, int] = field(default_factory=lambda: {r.name.lower(): 0 for r in sla.Rung})
    lost: int = 0  # items another process changed first

    @property
    def total(self) -> int:
        """Rungs taken."""
        return sum(self.taken.values())


def _fmt(value: timedelta) -> str:
    hours = value.total_seconds() / 3600
    return f"{hours:g}h" if hours >= 1 else f"{int(value.total_seconds())}s"


@dataclass(slots=True, kw_only=True)
class IngestResult:
    """Counts for one ingest batch (or a whole file, when added up)."""

    read: int = 0
    inserted: int = 0
    unchanged: int = 0
    amended: int = 0
    rejected: int = 0
    routes: dict[str, int] = field(default_factory=lambda: {r.value: 0 for r in Route})
    rejected_rows: list[RowError] = field(default_factory=list)
    changed_items: list[int] = field(default_factory=list)

    def summary(self, *, max_rows: int = 1000) -> dict[str, Any]:
        """The machine summary ``ingest --json`` prints (rejected rows capped)."""
        return {
            "read": self.read,
            "inserted": self.inserted,
            "unchanged": self.unchanged,
            "amended": self.amended,
            "rejected": self.rejected,
            "routes": {
                "immediate": self.routes.get(Route.IMMEDIATE.value, 0),
                "digest": self.routes.get(Route.DIGEST.value, 0),
                "auto_accepted": self.routes.get(Route.AUTO_ACCEPTED.value, 0),
            },
            "rejected_rows": [
                {"line": r.line, "field": r.field, "error": r.error}
                for r in self.rejected_rows[:max_rows]
            ],
        }

    def add(self, other: IngestResult) -> None:
        """Adds another batch's counts to these."""
        self.read += other.read
        self.inserted += other.inserted
        self.unchanged += other.unchanged
        self.amended += other.amended
        self.rejected += other.rejected
        for key, value in other.routes.items():
            self.routes[key] = self.routes.get(key, 0) + value
        self.rejected_rows.extend(other.rejected_rows)
        self.changed_items.extend(other.changed_items)


def _system_entry(event: str, now: datetime, policy_version: str, **data: Any) -> AuditEntry:
    """An audit record of something the desk itself did (not about one item)."""
    return AuditEntry(time=now, event=event, actor=SYSTEM, policy_version=policy_version, data=data)


def _entry(
    item: Item,
    event: states.Event,
    now: datetime,
    data: dict[str, Any] | CanonicalData | None = None,
) -> AuditEntry:
    """The record of one event of ``item``; ``data`` replaces the event's own, if given."""
    return AuditEntry(
        time=now,
        event=event.name,
        actor=event.actor,
        item_id=item.id,
        item=item.human_id,
        from_state=event.from_state,
        to_state=event.to_state,
        policy_version=item.policy_version,
        data=event.data if data is None else data,
    )


def _entries(item: Item, events: Sequence[states.Event], now: datetime) -> list[AuditEntry]:
    return [_entry(item, e, now) for e in events]


#: What notifications see of a new item's ingest (they read names and states only); its
#: record's data is the item's routing (:func:`domain.routing.routing_data`).
_INGESTED = states.Event(
    name="item.ingested", actor=SYSTEM, from_state=None, to_state=ReviewState.PENDING.value
)


def _routed_item(
    facts: ItemFacts,
    decision: RoutingDecision,
    now: datetime,
    *,
    item_id: int | None = None,
    sla_next_at: datetime | None = None,
    hashed: str | None = None,
) -> Item:
    return Item(
        id=item_id,
        facts=facts
        if facts.kind is decision.kind
        else dataclasses.replace(facts, kind=decision.kind),
        content_hash=hashed if hashed is not None else content_hash(facts),
        state=ReviewState.PENDING,
        route=decision.route,
        priority=decision.priority,
        reasons=decision.reasons,
        policy_version=decision.policy_version,
        team=decision.team,
        required_approvals=decision.required_approvals,
        created_at=now,
        updated_at=now,
        sla_started_at=now,
        sla_next_at=sla_next_at,
    )


def _posting(item: Item, kind: EntryKind, now: datetime) -> tuple[Item, states.Event, JournalEntry]:
    """An approved item's journal entry and its move to posted (pure)."""
    entry = build_entry(item, kind=kind, now=now)
    if not entry.balanced:  # pragma: no cover - build_entry always balances
        raise ValueError(f"unbalanced journal entry for {item.human_id}")
    transition = states.post(item, actor=SYSTEM, now=now, ledger_ref=entry.ledger_ref)
    event = dataclasses.replace(
        transition.events[0],
        data={
            **transition.events[0].data,
            "idempotency_key": entry.idempotency_key,
            "lines": [
                {
                    "account": line.account,
                    "debit": str(Money.from_minor(line.debit_minor, entry.currency).amount),
                    "credit": str(Money.from_minor(line.credit_minor, entry.currency).amount),
                }
                for line in entry.lines
            ],
            "currency": entry.currency,
        },
    )
    return transition.item, event, entry


Step = tuple[Item, Item, tuple[states.Event, ...]]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Amendment:
    """One item's changed source data, worked out before anything is written."""

    current: Item  # as read, with the version the write expects
    final: Item  # as it leaves the transaction (auto-accepted and posted, maybe)
    steps: list[Step]  # what to audit and announce, in order
    entry: JournalEntry | None = None  # the posting, when accepted by policy


def _reclock_dispute(before: Item, after: Item, policy: Policy, now: datetime) -> Item:
    """Stops the SLA clock while a dispute waits on the counterparty; restarts it after.

    The time already used is kept as credit, so a paused item resumes where it stopped
    (in working time when the policy has a business calendar).
    """
    if sla.is_paused(after) and not sla.is_paused(before):
        credit = sla.pause(before.sla_started_at, before.sla_credit_seconds, now, policy.calendar)
        return dataclasses.replace(after, sla_credit_seconds=credit, sla_started_at=now)
    if sla.is_paused(before) and not sla.is_paused(after):
        return dataclasses.replace(after, sla_started_at=now)
    return after


def _accept_by_policy(item: Item, now: datetime) -> tuple[Item, list[Step], JournalEntry]:
    """Approval by policy and posting of a stored item (pure): final item, steps, entry."""
    approved = dataclasses.replace(
        item,
        state=ReviewState.APPROVED,
        decided_by=SYSTEM,
        decided_at=now,
        decision_note="auto-accepted by policy",
        version=item.version + 1,
        updated_at=now,
    )
    accepted = states.Event(
        name="item.auto_accepted",
        actor=SYSTEM,
        from_state=item.state.value,
        to_state=approved.state.value,
        data={"reasons": list(item.reasons)},
    )
    posted, event, entry = _posting(approved, EntryKind.APPROVAL, now)
    return posted, [(item, approved, (accepted,)), (approved, posted, (event,))], entry


class ReviewService:
    """Every use case of the review desk."""

    def _clocked(self, item: Item) -> Item:
        """The item with ``sla_next_at`` recomputed: every write keeps the sweep index true."""
        return dataclasses.replace(item, sla_next_at=sla.next_deadline(item, self._policy().policy))

    async def _update(self, uow: UnitOfWork, item: Item, *, expected_version: int) -> Item | None:
        """Version-checked write of an item with its SLA deadline kept current.

        Returns the item exactly as written, or None when someone changed it first.
        """
        clocked = self._clocked(item)
        if await uow.items.update(clocked, expected_version=expected_version):
            return clocked
        return None

    async def _record(
        self,
        uow: UnitOfWork,
        before: Item | None,
        after: Item,
        events: Sequence[states.Event],
        now: datetime,
    ) -> None:
        """Audits the change and enqueues the Slack messages it causes, in its transaction."""
        await self._record_steps(uow, [(before, after, tuple(events))], now)

    async def _record_steps(
        self,
        uow: UnitOfWork,
        steps: Sequence[tuple[Item | None, Item, Sequence[states.Event]]],
        now: datetime,
    ) -> None:
        """:meth:`_record` for many changes: one audit append, one outbox insert."""
        policy = self._policy().policy
        entries: list[AuditEntry] = []
        notices: list[notifications.Notification] = []
        for before, after, events in steps:
            entries.extend(_entries(after, events, now))
            notices.extend(notifications.for_change(before, after, events, policy, now))
        await uow.audit.append(entries)
        await uow.outbox.enqueue(notices, now=now)

    def __init__(self, *, uow: UnitOfWorkFactory, policy: Callable[[], LoadedPolicy]) -> None:
        self._uow = uow
        self._policy = policy

    # --- intake ---------------------------------------------------------------------

    async def start_ingest(
        self, *, source: str, file_name: str, policy_text: str, now: datetime
    ) -> int:
        """Opens an ingest run (and remembers the policy text it routes under)."""
        loaded = self._policy()
        async with self._uow() as uow:
            await uow.intake.remember_policy(version=loaded.version, body=policy_text, now=now)
            run_id = await uow.intake.start_run(
                source=source, file_name=file_name, policy_version=loaded.version, now=now
            )
            await uow.commit()
        return run_id

    async def finish_ingest(
        self, *, run_id: int, result: IngestResult, file_sha256: str, file_name: str, now: datetime
    ) -> None:
        """Closes the run with its summary, audited so the provenance of every item is kept."""
        summary = result.summary()
        async with self._uow() as uow:
            await uow.intake.finish_run(run_id=run_id, summary=summary, now=now)
            await uow.audit.append(
                [
                    _system_entry(
                        "ingest.completed",
                        now,
                        self._policy().version,
                        run_id=run_id,
                        file=file_name,
                        sha256=file_sha256,
                        **{k: v for k, v in summary.items() if k != "rejected_rows"},
                    )
                ]
            )
            await uow.commit()

    async def ingest(
        self,
        rows: Sequence[IntakeRow],
        *,
        now: datetime,
        rejected: Sequence[tuple[RowError, str]] = (),
        run_id: int | None = None,
    ) -> IngestResult:
        """Stores one batch of validated rows in one transaction.

        New items are routed and audited; identical re-ingests change nothing; changed
        content amends the item, voids approvals already given and records why. A posted
        item is never amended (its entry is in the ledger): that row is reported instead.
        Auto-accepted items are approved by policy and posted in the same transaction.
        """
        loaded = self._policy()
        result = IngestResult(read=len(rows) + len(rejected), rejected=len(rejected))
        result.rejected_rows.extend(err for err, _ in rejected)
        quarantined = list(rejected)
        async with self._uow() as uow:
            # A key repeated within the batch must see its first occurrence stored before
            # the next one is compared with it: split the batch at each repeat.
            segment: list[IntakeRow] = []
            seen: set[tuple[str, str]] = set()
            for row in rows:
                key = (row.facts.source, row.facts.external_id)
                if key in seen:
                    await self._ingest_segment(uow, segment, loaded, now, result, quarantined)
                    segment, seen = [], set()
                segment.append(row)
                seen.add(key)
            await self._ingest_segment(uow, segment, loaded, now, result, quarantined)
            if run_id is not None:
                await uow.intake.quarantine(run_id=run_id, rows=quarantined, now=now)
            await uow.commit()
        return result

    async def _ingest_segment(
        self,
        uow: UnitOfWork,
        rows: Sequence[IntakeRow],
        loaded: LoadedPolicy,
        now: datetime,
        result: IngestResult,
        quarantined: list[tuple[RowError, str]],
    ) -> None:
        """Ingests rows whose keys are distinct, with a handful of bulk statements.

        New items are inserted together, then audited and announced together; items
        auto-accepted by policy go straight to posted with their journal entries. The
        rarer amendments are applied one by one.
        """
        if not rows:
            return
        by_source: dict[str, list[str]] = {}
        for row in rows:
            by_source.setdefault(row.facts.source, []).append(row.facts.external_id)
        existing: dict[tuple[str, str], Item] = {}
        for source, external_ids in by_source.items():
            found = await uow.items.get_many_by_external(source, external_ids)
            existing.update({(source, k): v for k, v in found.items()})

        fresh: list[tuple[IntakeRow, RoutingDecision]] = []
        amendments: list[_Amendment] = []
        for row in rows:
            facts = row.facts
            current = existing.get((facts.source, facts.external_id))
            if current is None:
                decision = row.decision
                if decision is None or decision.policy_version != loaded.version:
                    decision = route_item(facts, loaded)
                fresh.append((row, decision))
                continue
            if same_content(current.content_hash, facts, hashed=row.content_hash):
                result.unchanged += 1
                continue
            if current.state is ReviewState.POSTED:
                error = RowError(
                    line=row.line,
                    field="external_id",
                    error=f"{current.human_id} is already posted ({current.ledger_ref}); "
                    "a change needs a reversing entry, not an amendment",
                )
                result.rejected += 1
                result.rejected_rows.append(error)
                quarantined.append((error, row.raw))
                continue
            amendments.append(self._amendment(current, facts, loaded, now))
        await self._apply_amendments(uow, amendments, now, result)

        if not fresh:
            return
        policy = loaded.policy
        # Built once each, with their ids and first deadline (the same for the batch).
        ids = await uow.items.reserve_ids(len(fresh))
        due = sla.first_deadline(now, policy)
        stored = [
            _routed_item(
                row.facts, decision, now, item_id=new_id, sla_next_at=due, hashed=row.content_hash
            )
            for (row, decision), new_id in zip(fresh, ids, strict=True)
        ]
        entries: list[AuditEntry] = []
        notices: list[notifications.Notification] = []
        home_users: dict[str | None, None] = {}
        entries_to_post: list[JournalEntry] = []
        # Each item is written once, as it leaves this transaction: one accepted by
        # policy is inserted already posted (its audit records tell every step).
        written: list[Item] = []
        for item, (row, decision) in zip(stored, fresh, strict=True):
            # The parsing process made the record's data with the decision; it is only
            # good with that decision (not one re-made under a newer policy).
            record = row.routing_record if decision is row.decision else None
            data = record or routing_data(item.facts, decision, item.content_hash)
            entries.append(_entry(item, _INGESTED, now, data=data))
            if decision.route is Route.AUTO_ACCEPTED:
                # Accepted by policy at intake: audited, nothing for a human to see.
                final, steps, journal_entry = _accept_by_policy(item, now)
                for _, after, events in steps:
                    entries.extend(_entries(after, events, now))
                entries_to_post.append(journal_entry)
                written.append(self._clocked(final))
            else:
                written.append(item)
                notices.extend(notifications.messages_for_change(None, item, [_INGESTED], policy))
                home_users.update(
                    dict.fromkeys(notifications.home_users(None, item, [_INGESTED], policy))
                )
            result.inserted += 1
            result.routes[item.route.value] += 1
            assert item.id is not None
            result.changed_items.append(item.id)
        await uow.items.add_many(written)
        await uow.journal.add_many(entries_to_post)
        notices.extend(notifications.home_refreshes(list(home_users), now))
        await uow.audit.append(entries)
        await uow.outbox.enqueue(notices, now=now)

    def _amendment(
        self, current: Item, facts: ItemFacts, loaded: LoadedPolicy, now: datetime
    ) -> _Amendment:
        """Changed source data applied to ``current`` (pure): sign-offs on the old data are
        void.

        An item under dispute stays disputed: the dispute is a person's open question
        that only a person closes (a re-export must not close, say, a suspected-fraud
        dispute), so the amendment is recorded on the disputed item, its write-off
        approvals are voided with its other approvals, its owner and SLA clock are kept,
        and it is never auto-accepted while disputed. A dead-lettered item likewise stays
        in the compliance queue: automatic posting is halted for it until compliance
        resolves it.
        """
        decision = route_item(facts, loaded)
        disputed = current.state is ReviewState.DISPUTED and current.dispute is not None
        dead = (
            current.state is ReviewState.DEAD_LETTER or current.ladder_level >= sla.Rung.DEAD_LETTER
        )
        held = disputed or dead
        if held and decision.route is not Route.IMMEDIATE:
            decision = dataclasses.replace(
                decision,
                route=Route.IMMEDIATE,
                reasons=(
                    *decision.reasons,
                    f"auto-accept withheld: the item is {current.state.value.replace('_', ' ')}",
                ),
            )
        fresh = _routed_item(facts, decision, now)
        changed = sorted(
            f.name
            for f in dataclasses.fields(ItemFacts)
            if getattr(current.facts, f.name) != getattr(fresh.facts, f.name)
        )
        amended = dataclasses.replace(
            current,
            facts=fresh.facts,
            content_hash=fresh.content_hash,
            state=ReviewState.PENDING,
            route=fresh.route,
            priority=fresh.priority,
            reasons=fresh.reasons,
            policy_version=fresh.policy_version,
            team=fresh.team,
            required_approvals=fresh.required_approvals,
            approvals=(),
            assignee=None,
            claim_expires_at=None,
            decided_by=None,
            decided_at=None,
            decision_note=None,
            ladder_level=0,
            sla_started_at=now,
            sla_credit_seconds=0,
            updated_at=now,
            version=current.version + 1,
        )
        if dead and not disputed:
            # Auto-posting stays halted; the item goes back to the compliance queue.
            amended = dataclasses.replace(
                amended,
                state=ReviewState.DEAD_LETTER,
                ladder_level=current.ladder_level,
                sla_started_at=current.sla_started_at,
                sla_credit_seconds=current.sla_credit_seconds,
            )
        voided_write_offs: list[str] = []
        if disputed:
            assert current.dispute is not None
            voided_write_offs = [a.user for a in current.dispute.write_off_approvals]
            amended = dataclasses.replace(
                amended,
                state=ReviewState.DISPUTED,
                dispute=dataclasses.replace(current.dispute, write_off_approvals=()),
                assignee=current.assignee,
                ladder_level=current.ladder_level,
                sla_started_at=current.sla_started_at,
                sla_credit_seconds=current.sla_credit_seconds,
            )
        amended = self._clocked(amended)
        data = routing_data(amended.facts, decision, amended.content_hash)
        data.update(
            changed_fields=changed,
            previous_content_hash=current.content_hash,
            voided_approvals=[a.user for a in current.approvals],
            reason="source data changed: sign-offs on the old data are void",
        )
        if disputed:
            assert current.dispute is not None
            data.update(
                dispute_state=current.dispute.state.value,
                voided_write_off_approvals=voided_write_offs,
            )
        event = states.Event(
            name="item.amended",
            actor=SYSTEM,
            from_state=current.state.value,
            to_state=amended.state.value,
            data=data,
        )
        steps: list[Step] = [(current, amended, (event,))]
        if decision.route is not Route.AUTO_ACCEPTED:
            return _Amendment(current=current, final=amended, steps=steps)
        final, accepting, entry = _accept_by_policy(amended, now)
        return _Amendment(
            current=current, final=self._clocked(final), steps=steps + accepting, entry=entry
        )

    async def _apply_amendments(
        self,
        uow: UnitOfWork,
        amendments: Sequence[_Amendment],
        now: datetime,
        result: IngestResult,
    ) -> None:
        """Writes a segment's amendments together: each item once, as it leaves the
        transaction, with one audit append and one outbox insert for all of them.

        Raises:
            StaleItem: someone changed one of the items since it was read.
        """
        if not amendments:
            return
        for amendment in amendments:
            if amendment.entry is not None:
                await self._store_entry(uow, amendment.entry)
        stale = await uow.items.update_many([(a.final, a.current.version) for a in amendments])
        if stale:
            raise StaleItem(
                f"{format_human_id(stale[0])} changed during ingest; run the ingest again"
            )
        await self._record_steps(uow, [step for a in amendments for step in a.steps], now)
        for amendment in amendments:
            final = amendment.final
            result.amended += 1
            result.routes[final.route.value] += 1
            assert final.id is not None
            result.changed_items.append(final.id)

    @staticmethod
    async def _store_entry(uow: UnitOfWork, entry: JournalEntry) -> JournalEntry:
        """Stores the entry once: a retry finds the one already made under its key."""
        existing = await uow.journal.get_by_key(entry.idempotency_key)
        if existing is not None:
            return existing
        await uow.journal.add(entry)
        return entry

    async def _post(
        self, uow: UnitOfWork, item: Item, kind: EntryKind, now: datetime
    ) -> tuple[Item, JournalEntry]:
        """Creates the entry (once, by idempotency key) and marks the item posted."""
        posted, event, entry = _posting(item, kind, now)
        entry = await self._store_entry(uow, entry)
        written = await self._update(uow, posted, expected_version=item.version)
        if written is None:
            raise StaleItem(f"{item.human_id} changed while posting")
        await self._record(uow, item, written, [event], now)
        return written, entry

    # --- decisions ------------------------------------------------------------------

    async def _load(self, uow: UnitOfWork, item_id: int) -> Item:
        # An id beyond the column's range cannot exist; don't send it to the database.
        item = await uow.items.get(item_id) if 0 < item_id <= MAX_ITEM_ID else None
        if item is None:
            raise ItemNotFound(f"there is no item {format_human_id(item_id)}")
        return item

    @staticmethod
    def _check_version(item: Item, expected_version: int | None) -> None:
        if expected_version is not None and item.version != expected_version:
            raise StaleItem(
                f"{item.human_id} changed since you opened it (it is now "
                f"{item.state.value.replace('_', ' ')}); nothing was changed — look again"
            )

    async def _apply(
        self, uow: UnitOfWork, item: Item, transition: states.Transition, now: datetime
    ) -> Outcome:
        if transition.noop:
            return Outcome(item=item, noop=True)
        written = await self._update(uow, transition.item, expected_version=item.version)
        if written is None:
            raise StaleItem(
                f"{item.human_id} was changed by someone else at the same moment; "
                "nothing was changed — look again"
            )
        await self._record(uow, item, written, transition.events, now)
        return Outcome(item=written, events=transition.events)

    async def approve(
        self,
        *,
        item_id: int,
        actor: str,
        now: datetime,
        note: str | None = None,
        expected_version: int | None = None,
    ) -> Outcome:
        """Records an approval; the last required one posts the journal entry.

        Idempotent: the same approver repeating (a double click, a redelivery) is a no-op.
        """
        policy = self._policy().policy
        async with self._uow() as uow:
            item = await self._load(uow, item_id)
            transition = states.approve(item, actor=actor, now=now, note=note)
            if transition.noop:
                return Outcome(item=item, noop=True)
            roles = check_can_act(policy, item, actor)
            check_not_someone_elses_claim(item, actor, roles)
            self._check_version(item, expected_version)
            outcome = await self._apply(uow, item, transition, now)
            entry = None
            if outcome.item.state is ReviewState.APPROVED:
                posted, entry = await self._post(uow, outcome.item, EntryKind.APPROVAL, now)
                outcome = dataclasses.replace(outcome, item=posted, journal_entry=entry)
            await uow.commit()
            return outcome

    async def reject(
        self,
        *,
        item_id: int,
        actor: str,
        reason: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> Outcome:
        """Rejects with a reason of a few words."""
        policy = self._policy().policy
        async with self._uow() as uow:
            item = await self._load(uow, item_id)
            transition = states.reject(item, actor=actor, now=now, reason=reason)
            if transition.noop:
                return Outcome(item=item, noop=True)
            roles = check_can_act(policy, item, actor)
            check_not_someone_elses_claim(item, actor, roles)
            self._check_version(item, expected_version)
            outcome = await self._apply(uow, item, transition, now)
            await uow.commit()
            return outcome

    async def escalate(
        self,
        *,
        item_id: int,
        actor: str,
        now: datetime,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> Outcome:
        """Sends the item up to its team's leads."""
        policy = self._policy().policy
        async with self._uow() as uow:
            item = await self._load(uow, item_id)
            transition = states.escalate(item, actor=actor, now=now, reason=reason)
            if transition.noop:
                if not roles_of(policy, actor, item.team):
                    team = item.team or "no team"
                    raise NotAuthorized(
                        f"you are not a reviewer of {team}, which owns {item.human_id}"
                    )
                return Outcome(item=item, noop=True)
            check_can_act(policy, item, actor)
            self._check_version(item, expected_version)
            outcome = await self._apply(uow, item, transition, now)
            await uow.commit()
            return outcome

    async def claim_next(self, *, actor: str, now: datetime) -> Outcome:
        """Claims the highest-priority unclaimed item in the actor's teams, exclusively.

        Two concurrent claims never get the same item: each claim is a version-checked
        update, and a lost race moves on to the next candidate.
        """
        policy = self._policy().policy
        teams = [t.name for t in policy.teams_of(actor)]
        if not teams:
            raise NotAuthorized("you are not a reviewer or lead of any team")
        async with self._uow() as uow:
            # The actor's own items are left out by the query (they could never approve
            # them), so they cannot crowd the others out of the candidates.
            candidates = await uow.items.claimable(
                teams=teams, limit=CLAIM_CANDIDATES, exclude_prepared_by=actor
            )
            for item in candidates:
                transition = states.claim(item, actor=actor, now=now, ttl=policy.sla.claim_ttl)
                written = await self._update(uow, transition.item, expected_version=item.version)
                if written is not None:
                    await self._record(uow, item, written, transition.events, now)
                    await uow.commit()
                    return Outcome(item=written, events=transition.events)
        raise NothingToClaim("nothing is waiting in your teams' queues right now")

    async def claim(
        self, *, item_id: int, actor: str, now: datetime, expected_version: int | None = None
    ) -> Outcome:
        """Claims one specific item."""
        policy = self._policy().policy
        async with self._uow() as uow:
            item = await self._load(uow, item_id)
            if item.state is ReviewState.ASSIGNED and item.assignee == actor:
                return Outcome(item=item, noop=True)
            check_can_act(policy, item, actor)
            self._check_version(item, expected_version)
            transition = states.claim(item, actor=actor, now=now, ttl=policy.sla.claim_ttl)
            outcome = await self._apply(uow, item, transition, now)
            await uow.commit()
            return outcome

    async def assign(self, *, item_id: int, actor: str, assignee: str, now: datetime) -> Outcome:
        """Hands the item to a reviewer: leads and officers assign anyone, reviewers themselves."""
        policy = self._policy().policy
        async with self._uow() as uow:
            item = await self._load(uow, item_id)
            roles = check_can_act(policy, item, actor)
            if assignee != actor and not roles & {"lead", "compliance"}:
                raise NotAuthorized(
                    "only team leads and compliance officers assign items to others"
                )
            if not roles_of(policy, assignee, item.team):
                raise InvalidCommand(
                    f"<@{assignee}> is not a reviewer of {item.team or 'any team'}"
                )
            transition = states.assign(
                item, actor=actor, assignee=assignee, now=now, ttl=policy.sla.claim_ttl
            )
            outcome = await self._apply(uow, item, transition, now)
            await uow.commit()
            return outcome

    async def release(self, *, item_id: int, actor: str, now: datetime) -> Outcome:
        """The assignee (or a lead) lets go of a claimed item."""
        policy = self._policy().policy
        async with self._uow() as uow:
            item = await self._load(uow, item_id)
            roles = check_can_act(policy, item, actor)
            states.check_allowed(item, states.Action.RELEASE)  # unclaimed: nothing to release
            if item.assignee != actor and not roles & {"lead", "compliance"}:
                raise NotAuthorized(f"{item.human_id} is claimed by <@{item.assignee}>")
            transition = states.release(item, actor=actor, now=now, reason="released by assignee")
            outcome = await self._apply(uow, item, transition, now)
            await uow.commit()
            return outcome

    async def release_expired_claims(self, *, now: datetime, limit: int = 500) -> list[Item]:
        """Returns claims whose lease ended to the queue (the claim sweeper)."""
        released: list[Item] = []
        async with self._uow() as uow:
            for item in await uow.items.expired_claims(now=now, limit=limit):
                transition = states.release(
                    item, actor=SYSTEM, now=now, reason="claim lease expired"
                )
                written = await self._update(uow, transition.item, expected_version=item.version)
                if written is not None:
                    await self._record(uow, item, written, transition.events, now)
                    released.append(written)
            await uow.commit()
        return released

    # --- the SLA ladder ------------------------------------------------------------

    async def sla_sweep(self, *, now: datetime, limit: int = 200) -> SweepResult:
        """Takes every SLA rung due at ``now`` (reminder, escalation, dead letter), once.

        Reads only due items (the indexed ``sla_next_at``). Each step is a version-checked
        write, so two processes sweeping the same database never both act; its messages
        carry dedupe keys naming the item, the rung and the clock's start.
        """
        loaded = self._policy()
        result = SweepResult()
        entries: list[AuditEntry] = []
        notices: list[notifications.Notification] = []
        async with self._uow() as uow:
            for item in await uow.items.due_for_ladder(now=now, limit=limit):
                step = sla.due_step(item, loaded.policy, now)
                if step is None:
                    # The policy changed since the deadline was stored: store the new one.
                    if await self._update(uow, item, expected_version=item.version) is None:
                        result.lost += 1
                    continue
                climbed = await self._climb(uow, item, step, loaded.policy, now)
                if climbed is None:
                    result.lost += 1
                    continue
                entries.extend(climbed[0])
                notices.extend(climbed[1])
                result.taken[step.rung.name.lower()] += 1
            # One audit append and one enqueue for the whole batch (as ingest does).
            await uow.audit.append(entries)
            await uow.outbox.enqueue(notices, now=now)
            await uow.commit()
        return result

    async def _climb(
        self, uow: UnitOfWork, item: Item, step: sla.LadderStep, policy: Policy, now: datetime
    ) -> tuple[list[AuditEntry], list[notifications.Notification]] | None:
        """Takes one rung for one item and returns what to audit and send.

        None when another writer got there first (nothing was written).
        """
        rung = step.rung
        reason = (
            f"not decided within {_fmt(sla.threshold(rung, policy))} "
            f"({'working time' if policy.calendar else 'wall time'})"
        )
        data: dict[str, Any] = {
            "rung": rung.name.lower(),
            "skipped": [r.name.lower() for r in step.skipped],
            "reason": reason,
        }
        transition: states.Transition | None = None
        if rung is sla.Rung.ESCALATE and item.state in states.ALLOWED_FROM[Action.ESCALATE]:
            transition = states.escalate(
                item, actor=SYSTEM, now=now, reason=f"SLA: {reason}", ladder_level=rung.value
            )
        elif rung is sla.Rung.DEAD_LETTER and item.state in states.ALLOWED_FROM[Action.DEAD_LETTER]:
            transition = states.dead_letter(item, actor=SYSTEM, now=now, reason=f"SLA: {reason}")
        if transition is not None and not transition.noop:
            after = transition.item
            events = tuple(
                dataclasses.replace(e, data={**e.data, **data}) for e in transition.events
            )
        else:
            # A reminder, or a rung whose state change does not apply (e.g. a dispute is
            # already with a person): the ladder still moves and the people are told.
            after = dataclasses.replace(
                item, ladder_level=rung.value, version=item.version + 1, updated_at=now
            )
            events = (
                states.Event(
                    name=f"sla.{'reminded' if rung is sla.Rung.REMIND else rung.name.lower()}",
                    actor=SYSTEM,
                    from_state=item.state.value,
                    to_state=item.state.value,
                    data=data,
                ),
            )
        written = await self._update(uow, after, expected_version=item.version)
        if written is None:
            return None
        notices = notifications.for_change(item, written, events, policy, now)
        notices += notifications.ladder_notices(
            written, rung.value, policy, now, state_changed=transition is not None
        )
        return _entries(written, events, now), notices

    async def refresh_deadlines(self, *, now: datetime, batch: int = 500) -> int:
        """Recomputes every open item's next SLA deadline (at start-up, after a policy
        change, or after an upgrade that added the column). Returns how many changed."""
        policy = self._policy().policy
        changed = 0
        after_id = 0
        while True:
            async with self._uow() as uow:
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

    # --- digests ---------------------------------------------------------------------

    async def digest_window(self, *, window: str, now: datetime) -> list[DigestPlan]:
        """Posts each team's digest for a window: a summary and one thread reply per cluster.

        Items are claimed for the window with a compare-and-set, so running a window
        twice, or in two processes, posts once; an empty window posts nothing.
        """
        loaded = self._policy()
        policy = loaded.policy
        plans: list[DigestPlan] = []
        async with self._uow() as uow:
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
                plan = plan_digest(team_name, window, items, loaded)
                versions = {i.id: (i.version, i.content_hash) for i in items}
                parent = f"digest:{team_name}:{window}"
                notices: list[notifications.Notification] = []
                groups = [(c.key, c.item_ids, False) for c in plan.clusters]
                if plan.apart:
                    groups.append((APART_KEY, plan.apart, True))
                summary = []
                for key, member_ids, apart in groups:
                    cluster_id = await uow.digests.add_cluster(
                        window=window,
                        team=team_name,
                        key=key,
                        items=[(i, *versions[i]) for i in member_ids],
                        apart=apart,
                        now=now,
                    )
                    summary.append({"id": cluster_id, "key": key, "size": len(member_ids)})
                    notices.append(
                        notifications.Notification(
                            kind=notifications.NoticeKind.ALERT,
                            target=team.channel,
                            dedupe_key=f"{parent}:c{cluster_id}",
                            payload={
                                "template": "digest_cluster",
                                "cluster_id": cluster_id,
                                "key": key,
                                "apart": apart,
                                "item_ids": list(member_ids[:MAX_LISTED]),
                                "size": len(member_ids),
                                "thread_of": parent,
                            },
                        )
                    )
                totals = {cur: str(total) for cur, total in sorted(plan.totals.items())}
                notices.insert(
                    0,
                    notifications.Notification(
                        kind=notifications.NoticeKind.ALERT,
                        target=team.channel,
                        dedupe_key=parent,
                        payload={
                            "template": "digest",
                            "team": team_name,
                            "window": window,
                            "count": plan.count,
                            "totals": totals,
                            "oldest_at": plan.oldest_at.isoformat() if plan.oldest_at else None,
                            "clusters": summary[:5],
                            "cluster_count": len(summary),
                        },
                    ),
                )
                await uow.audit.append(
                    [
                        _system_entry(
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
        decided the cluster first. One audit record per item plus one for the batch.
        """
        loaded = self._policy()
        policy = loaded.policy
        verb = "approved" if approve else "rejected"
        async with self._uow() as uow:
            cluster = await uow.digests.get_cluster(cluster_id)
            if cluster is None:
                raise InvalidCommand("that digest group no longer exists")
            if cluster.apart:
                raise InvalidCommand("these items need individual review; use their own buttons")
            if cluster.state != "open":
                if cluster.state == verb and cluster.decided_by == actor:
                    return BulkOutcome(cluster=cluster, items=(), noop=True)
                by = f" by <@{cluster.decided_by}>" if cluster.decided_by else ""
                raise IllegalTransition(f"this group was already {cluster.state}{by}")
            items = [await self._load(uow, item_id) for item_id, _ in cluster.items]
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
                check_can_act(policy, item, actor)
            mine = [i.human_id for i in items if approve and i.facts.prepared_by == actor]
            if mine:
                raise NotAuthorized(
                    f"you prepared {', '.join(mine)}, so you cannot approve this group "
                    "(maker-checker); review it individually"
                )
            text = states.require_reason(reason) if not approve else None
            decided: list[Item] = []
            entries: list[AuditEntry] = []
            notices: list[notifications.Notification] = []
            for item in items:
                events: tuple[states.Event, ...]
                if approve:
                    transition = states.approve(item, actor=actor, now=now, note="digest bulk")
                    if transition.item.state is not ReviewState.APPROVED:  # pragma: no cover
                        raise InvalidCommand(f"{item.human_id} needs individual review")
                    final, event, entry = _posting(transition.item, EntryKind.APPROVAL, now)
                    await self._store_entry(uow, entry)
                    data = {
                        **event.data,
                        "cluster_id": cluster_id,
                        "window": cluster.window,
                        "approvers": [actor],
                    }
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
                written = await self._update(uow, final, expected_version=item.version)
                if written is None:
                    raise StaleItem(
                        f"{item.human_id} was changed by someone else at the same moment; "
                        "nothing was changed"
                    )
                decided.append(written)
                entries.extend(_entries(written, events, now))
                notices.extend(notifications.for_change(item, written, events, policy, now))
            if not await uow.digests.close_cluster(cluster_id, state=verb, actor=actor, now=now):
                raise StaleItem("someone else decided this group at the same moment")
            entries.append(
                AuditEntry(
                    time=now,
                    event=f"digest.cluster_{verb}",
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
            notices.append(
                notifications.Notification(
                    kind=notifications.NoticeKind.ALERT,
                    target=_team_channel(policy, cluster.team),
                    dedupe_key=f"digest:{cluster.team}:{cluster.window}:c{cluster_id}:{verb}",
                    payload={
                        "template": "digest_cluster_decided",
                        "cluster_id": cluster_id,
                        "key": cluster.key,
                        "verdict": verb,
                        "by": actor,
                        "size": len(decided),
                        "update_of": f"digest:{cluster.team}:{cluster.window}:c{cluster_id}",
                    },
                )
            )
            await uow.outbox.enqueue(notices, now=now)
            await uow.commit()
        return BulkOutcome(
            cluster=dataclasses.replace(cluster, state=verb, decided_by=actor),
            items=tuple(decided),
        )

    async def cluster_summary(self, *, cluster_id: int, actor: str) -> ClusterSummary:
        """What a "Reject all" form shows, if the actor may act on the group."""
        policy = self._policy().policy
        async with self._uow(read_only=True) as uow:
            cluster = await uow.digests.get_cluster(cluster_id)
            if cluster is None:
                raise InvalidCommand("that digest group no longer exists")
            if cluster.state != "open":
                raise IllegalTransition(f"this group was already {cluster.state}")
            first = await self._load(uow, cluster.items[0][0]) if cluster.items else None
        if first is not None:
            check_can_act(policy, first, actor)
        return ClusterSummary(id=cluster.id, size=len(cluster.items), title=cluster.key)

    async def review_cluster(self, *, cluster_id: int, actor: str, now: datetime) -> int:
        """Posts a card for each still-open item of a cluster; returns how many."""
        policy = self._policy().policy
        async with self._uow() as uow:
            cluster = await uow.digests.get_cluster(cluster_id)
            if cluster is None:
                raise InvalidCommand("that digest group no longer exists")
            items = [await self._load(uow, item_id) for item_id, _ in cluster.items]
            open_items = [i for i in items if i.state not in sla.SETTLED]
            for item in open_items:
                check_can_act(policy, item, actor)
            notices = [notifications.card(i, policy, force_post=True) for i in open_items]
            await uow.outbox.enqueue([n for n in notices if n is not None], now=now)
            await uow.commit()
        return len(open_items)

    # --- policy ----------------------------------------------------------------------

    async def policy_changed(
        self, *, old_version: str, new_version: str, text: str, now: datetime
    ) -> None:
        """Audits a hot reload; items keep the version they were routed under."""
        async with self._uow() as uow:
            await uow.intake.remember_policy(version=new_version, body=text, now=now)
            await uow.audit.append(
                [
                    _system_entry(
                        "policy.changed",
                        now,
                        new_version,
                        old_version=old_version,
                        new_version=new_version,
                    )
                ]
            )
            await uow.commit()

    async def policy_rejected(
        self, *, problems: Sequence[str], file: str, content_sha256: str, now: datetime
    ) -> None:
        """An edited policy file that does not validate: the old policy stays in force.

        Audited, and compliance is alerted with the validation errors: once per distinct
        broken content, whichever process notices first.
        """
        policy = self._policy()
        digest = content_sha256[:16]
        alert = notifications.Notification(
            kind=notifications.NoticeKind.ALERT,
            target=policy.policy.compliance.channel,
            dedupe_key=f"policy_invalid:{digest}",
            payload={
                "template": "policy_invalid",
                "file": file,
                "problems": list(problems)[:20],
                "kept": policy.version,
            },
        )
        async with self._uow() as uow:
            await uow.audit.append(
                [
                    _system_entry(
                        "policy.rejected",
                        now,
                        policy.version,
                        file=file,
                        problems=list(problems),
                        kept=policy.version,
                    )
                ]
            )
            await uow.outbox.enqueue([alert], now=now)
            await uow.commit()

    # --- disputes -------------------------------------------------------------------

    async def open_dispute(
        self,
        *,
        item_id: int,
        actor: str,
        now: datetime,
        category: DisputeCategory,
        description: str,
        counterparty_contact: str | None = None,
        expected_resolution: date | None = None,
        evidence_links: Sequence[str] = (),
        proposed_adjustment: Decimal | None = None,
        expected_version: int | None = None,
    ) -> Outcome:
        """Opens a dispute on an item under review."""
        policy = self._policy().policy
        async with self._uow() as uow:
            item = await self._load(uow, item_id)
            roles = check_can_act(policy, item, actor)
            check_not_someone_elses_claim(item, actor, roles)
            self._check_version(item, expected_version)
            transition = states.open_dispute(
                item,
                actor=actor,
                now=now,
                category=category,
                description=description,
                counterparty_contact=counterparty_contact,
                expected_resolution=expected_resolution,
                evidence_links=tuple(evidence_links),
                proposed_adjustment=proposed_adjustment,
            )
            outcome = await self._apply(uow, item, transition, now)
            await uow.commit()
            return outcome

    async def update_dispute(
        self,
        *,
        item_id: int,
        actor: str,
        now: datetime,
        state: DisputeState,
        note: str | None = None,
    ) -> Outcome:
        """Marks a dispute as waiting on the counterparty (SLA paused) or open again."""
        policy = self._policy().policy
        async with self._uow() as uow:
            item = await self._load(uow, item_id)
            check_can_act(policy, item, actor)
            transition = states.update_dispute(item, actor=actor, now=now, state=state, note=note)
            if not transition.noop:
                transition = dataclasses.replace(
                    transition, item=_reclock_dispute(item, transition.item, policy, now)
                )
            outcome = await self._apply(uow, item, transition, now)
            await uow.commit()
            return outcome

    async def resolve_dispute(
        self,
        *,
        item_id: int,
        actor: str,
        now: datetime,
        outcome: DisputeOutcome,
        note: str | None = None,
    ) -> Outcome:
        """Closes a dispute; a write-off above the dual-control limit needs two approvers."""
        loaded = self._policy()
        async with self._uow() as uow:
            item = await self._load(uow, item_id)
            check_can_act(loaded.policy, item, actor)
            transition = states.resolve_dispute(
                item,
                actor=actor,
                now=now,
                outcome=outcome,
                note=note,
                write_off_approvals_required=self._write_off_approvers(item, loaded),
            )
            if transition.noop:
                return Outcome(item=item, noop=True)
            result = await self._apply(uow, item, transition, now)
            if result.item.state is ReviewState.APPROVED:
                posted, entry = await self._post(uow, result.item, EntryKind.WRITE_OFF, now)
                result = dataclasses.replace(result, item=posted, journal_entry=entry)
            await uow.commit()
            return result

    @staticmethod
    def _write_off_approvers(item: Item, loaded: LoadedPolicy) -> int:
        """Approvers a write-off needs: routing's dual-control rule on the written-off amount.

        The amount is converted and rounded exactly as routing does, so at the limit the
        write-off and the ordinary approval agree.
        """
        amount = item.facts.amount
        if item.dispute and item.dispute.proposed_adjustment is not None:
            amount = item.dispute.proposed_adjustment
        reporting = to_reporting(amount, item.facts.currency, loaded)
        return 2 if dual_control_required(reporting, loaded) else 1

    async def check_may_act(
        self, *, item_id: int, actor: str, action: Action | None = None
    ) -> Item:
        """The item, if ``actor`` may decide on it now (before showing them a form).

        With ``action``, also whether the item's state allows it, so a form that could
        only fail on submit (what the user typed lost) is not opened at all.

        Raises:
            ItemNotFound, NotAuthorized, IllegalTransition: with the reason to show.
        """
        policy = self._policy().policy
        async with self._uow(read_only=True) as uow:
            item = await self._load(uow, item_id)
        if item.state in (ReviewState.POSTED, ReviewState.REJECTED, ReviewState.APPROVED):
            raise IllegalTransition(
                f"{item.human_id} is already {item.state.value}; there is nothing to decide"
            )
        roles = check_can_act(policy, item, actor)
        check_not_someone_elses_claim(item, actor, roles)
        if action is not None:
            states.check_allowed(item, action)
        return item

    # --- reads ----------------------------------------------------------------------

    async def get(self, item_id: int) -> Item:
        """One item.

        Raises:
            ItemNotFound: no such item.
        """
        async with self._uow(read_only=True) as uow:
            return await self._load(uow, item_id)

    async def queue(
        self,
        *,
        states_: Sequence[ReviewState] | None = None,
        team: str | None = None,
        teams: Sequence[str] | None = None,
        assignee: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Item]:
        """Items by filter, highest priority first."""
        async with self._uow(read_only=True) as uow:
            return await uow.items.query(
                states=states_,
                team=team,
                teams=teams,
                assignee=assignee,
                limit=limit,
                offset=offset,
            )

    async def queue_page(
        self,
        *,
        states_: Sequence[ReviewState],
        teams: Sequence[str] | None = None,
        assignee: str | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[Item], int]:
        """One page of a queue and the total count (for pagination)."""
        async with self._uow(read_only=True) as uow:
            page = await uow.items.query(
                states=states_, teams=teams, assignee=assignee, limit=limit, offset=offset
            )
            total = await uow.items.count(states=states_, teams=teams, assignee=assignee)
        return page, total

    def visible_teams(self, user: str) -> list[str] | None:
        """Teams whose items the user works on; None (all) for compliance officers."""
        policy = self._policy().policy
        if user in policy.compliance.officers:
            return None
        return [t.name for t in policy.teams_of(user)]

    async def dashboard(
        self, *, user: str, now: datetime, page: int | None = None, page_size: int = 10
    ) -> Dashboard:
        """What the user's App Home shows (counts over their teams; one page of each list).

        ``page`` None is the page the user last chose (:meth:`remember_home_page`), so a
        refresh after someone else's change keeps their place; a page past the end (the
        lists got shorter) shows the last one.
        """
        policy = self._policy().policy
        teams = self.visible_teams(user)
        team_names = [t.name for t in policy.teams] if teams is None else teams
        async with self._uow(read_only=True) as uow:
            if page is None:
                page = await uow.views.home_page(user)
            counts = await uow.items.summary(
                teams=teams, overdue_before=now - policy.sla.remind_after
            )
            mine_total = await uow.items.count(states=OPEN_STATES, assignee=user)
            unclaimed_total = await uow.items.count(states=[ReviewState.PENDING], teams=team_names)
            pages = page_count(max(mine_total, unclaimed_total), page_size)
            page = min(max(page, 0), pages - 1)
            offset = page * page_size
            mine = await uow.items.query(
                states=OPEN_STATES, assignee=user, limit=page_size, offset=offset
            )
            unclaimed = await uow.items.claimable(teams=team_names, limit=page_size, offset=offset)
        return Dashboard(
            user=user,
            teams=tuple(team_names),
            refreshed_at=now,
            pending_by_band={
                PriorityBand.HIGH: counts["pending_high"],
                PriorityBand.MEDIUM: counts["pending_medium"],
                PriorityBand.LOW: counts["pending_low"],
            },
            overdue=counts["overdue"],
            awaiting_second_approval=counts["awaiting_second_approval"],
            open_disputes=counts["open_disputes"],
            dead_lettered=counts["dead_lettered"],
            my_items=tuple(mine),
            my_items_total=mine_total,
            unclaimed=tuple(unclaimed),
            unclaimed_total=unclaimed_total,
            page=page,
            page_size=page_size,
        )

    async def remember_home_page(self, *, user: str, page: int, now: datetime) -> None:
        """Keeps the App Home page the user chose for their next refresh (not audited:
        it changes what they see, not an item)."""
        async with self._uow() as uow:
            await uow.views.set_home_page(user, max(page, 0), now=now)
            await uow.commit()

    async def stats(self, *, user: str, now: datetime) -> dict[str, int]:
        """Counts per state and the dashboard figures, over the user's teams."""
        policy = self._policy().policy
        async with self._uow(read_only=True) as uow:
            return await uow.items.summary(
                teams=self.visible_teams(user), overdue_before=now - policy.sla.remind_after
            )
