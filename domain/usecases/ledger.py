"""The ledger's answers recorded: an entry delivered (and its item posted), or refused.

The ledger relay (scheduler) sends; these use cases record, each in one transaction:

- :meth:`LedgerDeliveries.delivered`: the ledger holds the entry. Its reference and
  delivery time are stored on the entry, the outbox row is marked sent and, when the
  entry is its item's own decision (approval, write-off) and the item is still
  approved, the item moves to posted with the ledger's reference (audited, and the
  card updates through the usual notifications). Other entries (adjustments,
  reversals) audit ``journal.delivered``. Were the process killed before this commit,
  the row comes back, the ledger answers 409 with the same reference, and this runs
  then: never twice, never lost.
- :meth:`LedgerDeliveries.refused`: the ledger refused the entry for good; audited.
- :meth:`LedgerDeliveries.release_held`: entries held for want of an account mapping,
  rebuilt on the accounts a reloaded policy brings, audited and queued. No placeholder
  account ever leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain import states
from domain.audit.records import AuditEntry
from domain.errors import StaleItem
from domain.items import JournalEntry, ReviewState
from domain.journal import released, unreversed
from domain.notifications import ledger_delivery
from domain.ports import UnitOfWork
from domain.usecases.posting import POSTING_KINDS, delivered
from domain.usecases.transaction import Step, UseCase, item_entry


class Recorded(StrEnum):
    """What :meth:`LedgerDeliveries.delivered` did."""

    DELIVERED = "delivered"  # reference stored (and the item posted, for its own entry)
    ALREADY = "already"  # the entry had its reference already; the row is settled
    LOST_ROW = "lost_row"  # another relay holds the row now: nothing written
    NO_ENTRY = "no_entry"  # the row names no stored entry: nothing written


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedRow:
    """The outbox row a relay holds: its id and the attempt its claim made."""

    id: int
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """The ledger's acceptance of the entry a claimed row delivers."""

    row: ClaimedRow
    idempotency_key: str
    reference: str


class LedgerDeliveries(UseCase):
    """Records what the ledger answered (see module docstring)."""

    async def delivered(
        self, *, row: ClaimedRow, idempotency_key: str, reference: str, now: datetime
    ) -> Recorded:
        """Stores ``reference`` on the entry, settles its row and posts its item."""
        delivery = Delivery(row=row, idempotency_key=idempotency_key, reference=reference)
        (result,) = await self.delivered_many([delivery], now=now)
        return result

    async def delivered_many(
        self, deliveries: Sequence[Delivery], *, now: datetime
    ) -> list[Recorded]:
        """:meth:`delivered` for several answers in one transaction (one audit append,
        one checkpoint), what each did in order.

        Raises:
            StaleItem: an item changed meanwhile; nothing was written (record them one
                by one to keep the others).
        """
        results: list[Recorded] = []
        steps: list[Step] = []
        records: list[AuditEntry] = []
        async with self._tx.uow() as uow:
            for d in deliveries:
                entry = await uow.journal.get_by_key(d.idempotency_key)
                if entry is None:
                    results.append(Recorded.NO_ENTRY)
                elif not await uow.outbox.settle(d.row.id, attempts=d.row.attempts, now=now):
                    results.append(Recorded.LOST_ROW)
                elif entry.reference is not None or not await uow.journal.mark_delivered(
                    d.idempotency_key, reference=d.reference, now=now
                ):
                    results.append(Recorded.ALREADY)
                else:
                    await self._posting(uow, entry, d.reference, now, steps, records)
                    results.append(Recorded.DELIVERED)
            if steps:
                await self._tx.record(uow, steps, now)
            if records:
                await uow.audit.append(records)
            await uow.commit()
        return results

    async def _posting(
        self,
        uow: UnitOfWork,
        entry: JournalEntry,
        reference: str,
        now: datetime,
        steps: list[Step],
        records: list[AuditEntry],
    ) -> None:
        """Posts the entry's item (its own decision's entry), else audits the delivery."""
        item = await self._tx.load(uow, entry.item_id)
        if (
            entry.kind in POSTING_KINDS
            and item.state is ReviewState.APPROVED
            and await self._current(uow, entry)
        ):
            transition = delivered(item, entry, reference, now)
            written = await self._tx.update(uow, transition.item, expected_version=item.version)
            if written is None:
                raise StaleItem(f"{item.human_id} changed while recording its posting")
            steps.append((item, written, transition.events))
            return
        event = states.Event(
            name="journal.delivered",
            actor=states.SYSTEM,
            from_state=None,
            to_state=None,
            data={
                "entry": entry.ledger_ref,
                "idempotency_key": entry.idempotency_key,
                "kind": entry.kind.value,
                "reference": reference,
            },
        )
        records.append(item_entry(item, event, now))

    @staticmethod
    async def _current(uow: UnitOfWork, entry: JournalEntry) -> bool:
        """Whether ``entry`` is its item's live decision entry: not reversed since (a
        changed re-ingest reversed it and the item was approved again under a new key,
        whose own delivery posts the item)."""
        entries = await uow.journal.for_item(entry.item_id)
        return any(e.idempotency_key == entry.idempotency_key for e in unreversed(entries))

    async def refused(self, *, idempotency_key: str, error: str, now: datetime) -> None:
        """Audits that the ledger refused the entry for good (its row is dead-lettered
        and compliance alerted by the relay): the attempt stays on record."""
        async with self._tx.uow() as uow:
            entry = await uow.journal.get_by_key(idempotency_key)
            if entry is None:
                return
            item = await self._tx.load(uow, entry.item_id)
            event = states.Event(
                name="journal.refused",
                actor=states.SYSTEM,
                from_state=None,
                to_state=None,
                data={
                    "entry": entry.ledger_ref,
                    "idempotency_key": entry.idempotency_key,
                    "error": error[:500],
                },
            )
            await uow.audit.append([item_entry(item, event, now)])
            await uow.commit()

    async def release_held(self, *, now: datetime, batch: int = 500) -> int:
        """Rebuilds the held entries on the current policy's accounts (``journal.released``,
        with the old and new accounts) and queues each for the ledger; how many.

        Nothing happens while the policy maps no accounts. An entry whose accounts cannot
        be mapped stays held (and is counted once per call as left).
        """
        accounts = self._tx.policy().policy.accounts
        if accounts is None:
            return 0
        done = 0
        skipped: set[str] = set()
        while True:
            async with self._tx.uow() as uow:
                held = [
                    e
                    for e in await uow.journal.held(limit=batch + len(skipped))
                    if e.idempotency_key not in skipped
                ]
                if not held:
                    return done
                records: list[AuditEntry] = []
                queued: list[JournalEntry] = []
                for entry in held:
                    rebuilt = released(entry, accounts)
                    if rebuilt is None or not await uow.journal.release(rebuilt):
                        skipped.add(entry.idempotency_key)
                        continue
                    item = await self._tx.load(uow, entry.item_id)
                    event = states.Event(
                        name="journal.released",
                        actor=states.SYSTEM,
                        from_state=None,
                        to_state=None,
                        data={
                            "entry": entry.ledger_ref,
                            "idempotency_key": entry.idempotency_key,
                            "hold": entry.hold,
                            "old_accounts": [line.account for line in entry.lines],
                            "new_accounts": [line.account for line in rebuilt.lines],
                            "policy_version": self._tx.policy().version,
                        },
                    )
                    records.append(item_entry(item, event, now))
                    queued.append(rebuilt)
                await uow.audit.append(records)
                await uow.outbox.enqueue([ledger_delivery(e) for e in queued], now=now)
                await uow.commit()
                done += len(queued)
                if not queued:
                    return done
