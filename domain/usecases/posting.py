"""Posting in two phases (pure): the decision makes the entry; the ledger's answer posts.

A final approval (a policy acceptance, a write-off, a digest group accept) builds the
item's balanced journal entry in the decision's own transaction; the item stays
``approved`` ("approved, not posted"). The entry leaves through the outbox; when the
ledger accepts it, :func:`delivered` moves the item to ``posted`` with the ledger's
reference. An item is never posted before the ledger holds its entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain import states
from domain.accounts import Accounts
from domain.items import Item, JournalEntry
from domain.journal import EntryKind, build_entry
from domain.money import Money

#: Entries whose delivery posts their item (the item's own decision).
POSTING_KINDS = frozenset({EntryKind.APPROVAL, EntryKind.WRITE_OFF})
#: The longest ledger reference an item row keeps (``items.ledger_ref``).
ITEM_REF_CHARS = 60


def posting(
    item: Item,
    kind: EntryKind,
    now: datetime,
    accounts: Accounts | None,
    prior: Sequence[JournalEntry] = (),
) -> JournalEntry:
    """An approved item's journal entry on the policy's ``accounts`` (held when the
    policy maps none). ``prior``: the item's entries already stored (they number a
    re-approval's key, see :func:`domain.journal.entry_seq`)."""
    entry = build_entry(item, kind=kind, now=now, accounts=accounts, prior=prior)
    if not entry.balanced:  # pragma: no cover - build_entry always balances
        raise ValueError(f"unbalanced journal entry for {item.human_id}")
    return entry


def entry_data(entry: JournalEntry) -> dict[str, Any]:
    """What the ``journal.created`` record says of an entry: its reference, key, kind,
    currency and lines (amounts as decimal text), and its hold if it has one."""
    data: dict[str, Any] = {
        "ledger_ref": entry.ledger_ref,
        "idempotency_key": entry.idempotency_key,
        "kind": entry.kind.value,
        "currency": entry.currency,
        "lines": [
            {
                "account": line.account,
                "debit": str(Money.from_minor(line.debit_minor, entry.currency).amount),
                "credit": str(Money.from_minor(line.credit_minor, entry.currency).amount),
            }
            for line in entry.lines
        ],
    }
    if entry.dispute_id is not None:
        data["dispute_id"] = entry.dispute_id
    if entry.reverses is not None:
        data["reverses"] = entry.reverses
    if entry.hold is not None:
        data["hold"] = entry.hold
    return data


def delivered(item: Item, entry: JournalEntry, reference: str, now: datetime) -> states.Transition:
    """The item's move to ``posted`` once the ledger accepted its ``entry``.

    The item shows the ledger's ``reference`` (our own entry reference when the ledger's
    is too long for the item's column); the event names both.

    Raises:
        IllegalTransition: the item is not approved.
    """
    shown = reference if len(reference) <= ITEM_REF_CHARS else entry.ledger_ref
    transition = states.post(item, actor=states.SYSTEM, now=now, ledger_ref=shown)
    event = transition.events[0]
    data = {
        **event.data,
        "entry": entry.ledger_ref,
        "idempotency_key": entry.idempotency_key,
        "reference": reference,
    }
    return dataclasses.replace(transition, events=(dataclasses.replace(event, data=data),))


#: One move of a stored item: before, after, and what it audits.
Move = tuple[Item, Item, tuple[states.Event, ...]]


def accepted_with_entry(
    item: Item, now: datetime, accounts: Accounts | None, prior: Sequence[JournalEntry] = ()
) -> tuple[Item, list[Move], JournalEntry]:
    """Acceptance by policy of ``item`` and its entry: the accepted item, its move, the
    entry (stored with :meth:`Transactions.store_entry`, delivered later; ``prior``: the
    item's entries already stored)."""
    accepted = states.accept_by_policy(item, now=now)
    entry = posting(accepted.item, EntryKind.APPROVAL, now, accounts, prior)
    return accepted.item, [(item, accepted.item, accepted.events)], entry
