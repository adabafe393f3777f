"""Posting an approved item: its balanced journal entry and its move to ``posted`` (pure)."""

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


def posting(
    item: Item,
    kind: EntryKind,
    now: datetime,
    accounts: Accounts | None,
    prior: Sequence[JournalEntry] = (),
) -> tuple[Item, states.Event, JournalEntry]:
    """An approved item's journal entry on the policy's ``accounts`` and its move to posted;
    the event lists the lines. ``prior``: the item's entries already stored (they number
    a re-approval's key, see :func:`domain.journal.entry_seq`)."""
    entry = build_entry(item, kind=kind, now=now, accounts=accounts, prior=prior)
    if not entry.balanced:  # pragma: no cover - build_entry always balances
        raise ValueError(f"unbalanced journal entry for {item.human_id}")
    transition = states.post(item, actor=states.SYSTEM, now=now, ledger_ref=entry.ledger_ref)
    event = dataclasses.replace(
        transition.events[0],
        data={
            **transition.events[0].data,
            **entry_data(entry),
        },
    )
    return transition.item, event, entry


def entry_data(entry: JournalEntry) -> dict[str, Any]:
    """What an audit record says of an entry: its key, kind, links and lines."""
    data: dict[str, Any] = {
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
    }
    if entry.kind is not EntryKind.APPROVAL:
        data["entry_kind"] = entry.kind.value
    if entry.dispute_id is not None:
        data["dispute_id"] = entry.dispute_id
    if entry.reverses is not None:
        data["reverses"] = entry.reverses
    return data


#: One move of a stored item: before, after, and what it audits.
Move = tuple[Item, Item, tuple[states.Event, ...]]


def accepted_and_posted(
    item: Item, now: datetime, accounts: Accounts | None, prior: Sequence[JournalEntry] = ()
) -> tuple[Item, list[Move], JournalEntry]:
    """Acceptance by policy and posting of ``item``: the final item, its moves, the entry
    (``prior``: the item's entries already stored)."""
    accepted = states.accept_by_policy(item, now=now)
    posted, event, entry = posting(accepted.item, EntryKind.APPROVAL, now, accounts, prior)
    return (
        posted,
        [(item, accepted.item, accepted.events), (accepted.item, posted, (event,))],
        entry,
    )
