"""Posting an approved item: its balanced journal entry and its move to ``posted`` (pure)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from domain import states
from domain.accounts import Accounts
from domain.items import Item, JournalEntry
from domain.journal import EntryKind, build_entry
from domain.money import Money


def posting(
    item: Item, kind: EntryKind, now: datetime, accounts: Accounts | None
) -> tuple[Item, states.Event, JournalEntry]:
    """An approved item's journal entry on the policy's ``accounts`` and its move to posted;
    the event lists the lines."""
    entry = build_entry(item, kind=kind, now=now, accounts=accounts)
    if not entry.balanced:  # pragma: no cover - build_entry always balances
        raise ValueError(f"unbalanced journal entry for {item.human_id}")
    transition = states.post(item, actor=states.SYSTEM, now=now, ledger_ref=entry.ledger_ref)
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


#: One move of a stored item: before, after, and what it audits.
Move = tuple[Item, Item, tuple[states.Event, ...]]


def accepted_and_posted(
    item: Item, now: datetime, accounts: Accounts | None
) -> tuple[Item, list[Move], JournalEntry]:
    """Acceptance by policy and posting of ``item``: the final item, its moves, the entry."""
    accepted = states.accept_by_policy(item, now=now)
    posted, event, entry = posting(accepted.item, EntryKind.APPROVAL, now, accounts)
    return (
        posted,
        [(item, accepted.item, accepted.events), (accepted.item, posted, (event,))],
        entry,
    )
