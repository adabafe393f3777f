"""Intake: ingest runs of validated rows, routed, stored, audited and announced in
batches; re-imports that change nothing are skipped, changed ones amend their items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain import notifications, sla, states
from domain.audit.records import AuditEntry
from domain.errors import StaleItem
from domain.intake import IntakeRow, RowError, same_content
from domain.items import Item, JournalEntry, ReviewState, Route, RoutingDecision, format_human_id
from domain.policy import LoadedPolicy
from domain.ports import UnitOfWork
from domain.routing import rate_date, route_item, routing_data
from domain.usecases.amendments import Amendment, plan_amendment, routed_item
from domain.usecases.assignment import auto_assign
from domain.usecases.posting import accepted_with_entry
from domain.usecases.rates import load_history, load_rates
from domain.usecases.transaction import (
    Transactions,
    UseCase,
    item_entries,
    item_entry,
    marked,
    system_entry,
)


@dataclass(slots=True, kw_only=True)
class IngestResult:
    """Counts for one ingest batch (or a whole file, when added up)."""

    read: int = 0
    inserted: int = 0
    unchanged: int = 0
    amended: int = 0
    rejected: int = 0
    #: Reversing entries made for entries on data a re-ingest changed.
    reversed: int = 0
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
            "reversed": self.reversed,
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
        self.reversed += other.reversed
        for key, value in other.routes.items():
            self.routes[key] = self.routes.get(key, 0) + value
        self.rejected_rows.extend(other.rejected_rows)
        self.changed_items.extend(other.changed_items)


#: What notifications see of a new item's ingest (they read names and states only); its
#: record's data is the item's routing (:func:`domain.routing.routing_data`).
_INGESTED = states.Event(
    name="item.ingested", actor=states.SYSTEM, from_state=None, to_state=ReviewState.PENDING.value
)


class Intake(UseCase):
    """Ingest runs and their batches."""

    async def start_ingest(
        self, *, source: str, file_name: str, policy_text: str, now: datetime
    ) -> int:
        """Opens an ingest run (and remembers the policy text it routes under)."""
        return await open_run(
            self._tx, source=source, file_name=file_name, policy_text=policy_text, now=now
        )

    async def finish_ingest(
        self, *, run_id: int, result: IngestResult, file_sha256: str, file_name: str, now: datetime
    ) -> None:
        """Closes the run with its summary, audited so the provenance of every item is kept."""
        await close_run(
            self._tx,
            event="ingest.completed",
            run_id=run_id,
            result=result,
            file_sha256=file_sha256,
            file_name=file_name,
            now=now,
        )

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
        content amends the item, voids approvals already given and records why. Entries
        already made on the old content (a posted item's) are never changed: each gets a
        reversing entry and the item is reviewed again as a new version.
        Auto-accepted items are approved by policy and posted in the same transaction.
        """
        loaded = self._tx.policy()
        result = IngestResult(read=len(rows) + len(rejected), rejected=len(rejected))
        result.rejected_rows.extend(err for err, _ in rejected)
        quarantined = list(rejected)
        async with self._tx.uow() as uow:
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
        rarer amendments are worked out first and written together.
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

        today = now.date()
        # Each row's rate day: booked_on, else the day its item was first ingested (today
        # for a new one, as plan_amendment converts an amended one).
        days = []
        for row in rows:
            current = existing.get((row.facts.source, row.facts.external_id))
            ingested = current.created_at.date() if current is not None else today
            days.append((row.facts.currency, rate_date(row.facts, ingested) or ingested))
        rates = await load_rates(uow, days, loaded)
        history = await load_history(uow, (r.facts.counterparty for r in rows), loaded, today=today)
        fresh: list[tuple[IntakeRow, RoutingDecision]] = []
        changed: list[tuple[Item, IntakeRow]] = []
        reporting = loaded.policy.reporting_currency
        for row in rows:
            facts = row.facts
            current = existing.get((facts.source, facts.external_id))
            if current is None:
                decision = row.decision
                # A decision made ahead (by the parsing process) knew the policy's static
                # rates only and no match history: with dated rates stored, a foreign
                # amount is routed again, and so is a counterparty with history.
                if (
                    decision is None
                    or decision.policy_version != loaded.version
                    or (rates is not None and facts.currency != reporting)
                    or history.knows(facts.counterparty)
                ):
                    decision = route_item(facts, loaded, rates=rates, today=today, history=history)
                fresh.append((row, decision))
                continue
            if same_content(current.content_hash, facts, hashed=row.content_hash):
                result.unchanged += 1
                continue
            changed.append((current, row))
        # Entries made on the old data (a posted item's, an agreed adjustment) are reversed.
        prior = await uow.journal.for_items([c.id for c, _ in changed if c.id is not None])
        amendments = [
            plan_amendment(
                current,
                row.facts,
                loaded,
                now,
                clocked=self._tx.clocked,
                prior=prior.get(current.id or 0, ()),
                rates=rates,
                history=history,
            )
            for current, row in changed
        ]
        await self._apply_amendments(uow, amendments, now, result)
        if fresh:
            await self._insert_new(uow, fresh, loaded, now, result)

    async def _insert_new(
        self,
        uow: UnitOfWork,
        fresh: Sequence[tuple[IntakeRow, RoutingDecision]],
        loaded: LoadedPolicy,
        now: datetime,
        result: IngestResult,
    ) -> None:
        """Inserts new items, each written once, as it leaves this transaction: one
        accepted by policy is inserted already posted (its audit records tell every step)."""
        policy = loaded.policy
        # Built once each, with their ids and first deadline (the same for the batch).
        ids = await uow.items.reserve_ids(len(fresh))
        due = sla.first_deadline(now, policy)
        stored = [
            routed_item(
                row.facts,
                decision,
                now,
                item_id=new_id,
                # A digest item has no deadline until its digest is posted.
                sla_next_at=None if decision.route is Route.DIGEST else due,
                hashed=row.content_hash,
            )
            for (row, decision), new_id in zip(fresh, ids, strict=True)
        ]
        entries: list[AuditEntry] = []
        notices: list[notifications.Notification] = []
        home_users: dict[str | None, None] = {}
        entries_to_post: list[JournalEntry] = []
        written: list[Item] = []
        fallback: bool | None = None  # read once, at the first acceptance by policy
        for item, (row, decision) in zip(stored, fresh, strict=True):
            # The parsing process made the record's data with the decision; it is only
            # good with that decision (not one re-made under a newer policy).
            record = row.routing_record if decision is row.decision else None
            data = record or routing_data(item.facts, decision, item.content_hash)
            entries.append(item_entry(item, _INGESTED, now, data=data))
            if decision.route is Route.AUTO_ACCEPTED:
                # Accepted by policy at intake: audited, nothing for a human to see.
                final, moves, journal_entry = accepted_with_entry(item, now, policy.accounts)
                if fallback is None:
                    fallback = await self._tx.fallback(uow)
                for _, after, events in moves:
                    marked_events = [marked(e) for e in events] if fallback else events
                    entries.extend(item_entries(after, marked_events, now))
                entries_to_post.append(journal_entry)
                written.append(self._tx.clocked(final))
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
        notices.extend(notifications.home_refreshes(list(home_users), now))
        await uow.audit.append(entries)
        await uow.outbox.enqueue(notices, now=now)
        # After the acceptances in the log: the entries, audited and queued for the ledger.
        await self._tx.store_entries(uow, entries_to_post, items=written)
        # Only auto teams' immediate items: a pull-only policy never reads a person.
        await auto_assign(self._tx, uow, written, now)

    async def _apply_amendments(
        self,
        uow: UnitOfWork,
        amendments: Sequence[Amendment],
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
            for reversal in amendment.reversals:
                await self._tx.store_entry(uow, reversal)
            result.reversed += len(amendment.reversals)
        stale = await uow.items.update_many([(a.final, a.current.version) for a in amendments])
        if stale:
            raise StaleItem(
                f"{format_human_id(stale[0])} changed during ingest; run the ingest again"
            )
        await self._tx.record(uow, [move for a in amendments for move in a.moves], now)
        for amendment in amendments:
            if amendment.entry is not None:
                await self._tx.store_entry(uow, amendment.entry, item=amendment.final)
        for amendment in amendments:
            final = amendment.final
            result.amended += 1
            result.routes[final.route.value] += 1
            assert final.id is not None
            result.changed_items.append(final.id)


async def open_run(
    tx: Transactions, *, source: str, file_name: str, policy_text: str, now: datetime
) -> int:
    """Opens a run of ``source`` (items, ledger...) under the current policy, remembered."""
    loaded = tx.policy()
    async with tx.uow() as uow:
        await uow.intake.remember_policy(version=loaded.version, body=policy_text, now=now)
        run_id = await uow.intake.start_run(
            source=source, file_name=file_name, policy_version=loaded.version, now=now
        )
        await uow.commit()
    return run_id


async def close_run(
    tx: Transactions,
    *,
    event: str,
    run_id: int,
    result: IngestResult,
    file_sha256: str,
    file_name: str,
    now: datetime,
    omit: tuple[str, ...] = ("rejected_rows",),
) -> None:
    """Closes a run with its summary and one audited ``event`` (the file's provenance).

    ``omit`` names the summary keys left out of the record (lists, or counts that mean
    nothing for the run's source).
    """
    summary = result.summary()
    async with tx.uow() as uow:
        await uow.intake.finish_run(run_id=run_id, summary=summary, now=now)
        await uow.audit.append(
            [
                system_entry(
                    event,
                    now,
                    tx.policy().version,
                    run_id=run_id,
                    file=file_name,
                    sha256=file_sha256,
                    **{k: v for k, v in summary.items() if k not in omit},
                )
            ]
        )
        await uow.commit()
