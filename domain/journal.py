"""Journal entries: balanced, idempotent, created on final approval and never before."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

from domain.accounts import AccountRole, Accounts
from domain.items import (
    EntryKind,
    Item,
    ItemKind,
    JournalEntry,
    JournalLine,
    ReviewState,
    dispute_id,
)
from domain.money import Money

__all__ = [
    "NO_ACCOUNT_MAPPING",
    "EntryKind",
    "account_for",
    "build_entry",
    "idempotency_key",
    "ledger_ref",
    "released",
]


#: The letter of each kind in our ledger reference.
_REF_LETTER = {
    EntryKind.APPROVAL: "A",
    EntryKind.WRITE_OFF: "W",
    EntryKind.ADJUSTMENT: "J",
    EntryKind.REVERSAL: "V",
    EntryKind.MATCH: "M",
}

#: Why an entry built without the policy's ``accounts`` section may not leave.
NO_ACCOUNT_MAPPING = "no account mapping"


def idempotency_key(item_id: int, kind: EntryKind, seq: int | None = None) -> str:
    """One entry per item and reason (and ``seq``, for reasons that recur), whatever
    retries happen."""
    return f"item-{item_id}-{kind.value}" + (f"-{seq}" if seq is not None else "")


def ledger_ref(item_id: int, kind: EntryKind, seq: int | None = None) -> str:
    """The reference the ledger shows: ``JE-00001042-A`` (``JE-00001042-V2`` with ``seq``)."""
    return f"JE-{item_id:08d}-{_REF_LETTER[kind]}" + (f"{seq}" if seq is not None else "")


#: Placeholder names of each role's account when the policy maps none (never delivered).
_PLACEHOLDERS = {
    AccountRole.CLEARING: "recon-clearing",
    AccountRole.SUSPENSE: "suspense",
    AccountRole.VARIANCE: "recon-variance",
    AccountRole.WRITE_OFF: "write-off-expense",
}


def _role_and_amount(item: Item, kind: EntryKind) -> tuple[AccountRole, Decimal]:
    if kind is EntryKind.WRITE_OFF:
        dispute = item.dispute
        settled = None
        if dispute is not None:
            settled = (
                dispute.resolution_amount
                if dispute.resolution_amount is not None
                else dispute.proposed_adjustment
            )
        return AccountRole.WRITE_OFF, settled if settled is not None else item.facts.amount
    if item.kind is ItemKind.BATCH and item.facts.variance:
        return AccountRole.VARIANCE, item.facts.variance
    return AccountRole.CLEARING, item.facts.amount


def account_for(item: Item, role: AccountRole, accounts: Accounts | None) -> str:
    """The policy's account for ``role`` in ``item``'s entity and currency, or the
    placeholder ``role:ENTITY`` when the policy maps no accounts."""
    if accounts is None:
        return f"{_PLACEHOLDERS[role]}:{item.facts.entity}"
    return accounts.account(role, entity=item.facts.entity, currency=item.facts.currency)


def build_entry(
    item: Item, *, kind: EntryKind, now: datetime, accounts: Accounts | None = None
) -> JournalEntry:
    """The balanced entry for an approved item, on the policy's ``accounts``.

    Raises:
        ValueError: the item is not approved (posting before approval is a bug).
    """
    if item.state is not ReviewState.APPROVED or item.id is None:
        raise ValueError("journal entries are created only for approved, stored items")
    role, amount = _role_and_amount(item, kind)
    account = account_for(item, role, accounts)
    minor = Money(amount=amount, currency=item.facts.currency).minor
    suspense = account_for(item, AccountRole.SUSPENSE, accounts)
    if minor >= 0:
        lines = (
            JournalLine(account=account, debit_minor=minor),
            JournalLine(account=suspense, credit_minor=minor),
        )
    else:
        lines = (
            JournalLine(account=suspense, debit_minor=-minor),
            JournalLine(account=account, credit_minor=-minor),
        )
    approvers = ", ".join(a.user for a in item.approvals) or "policy"
    return JournalEntry(
        idempotency_key=idempotency_key(item.id, kind),
        ledger_ref=ledger_ref(item.id, kind),
        item_id=item.id,
        currency=item.facts.currency,
        lines=lines,
        memo=f"{item.human_id} {kind.value} by {approvers}"
        + (f" ({item.facts.reference})" if item.facts.reference else ""),
        created_at=now,
        kind=kind,
        entity=item.facts.entity,
        dispute_id=(
            dispute_id(item.id, item.dispute.number)
            if kind is EntryKind.WRITE_OFF and item.dispute
            else None
        ),
        hold=NO_ACCOUNT_MAPPING if accounts is None else None,
    )


def released(entry: JournalEntry, accounts: Accounts) -> JournalEntry | None:
    """A held entry rebuilt on ``accounts``: each placeholder account (``role:ENTITY``)
    replaced by the policy's account for that role, in the entry's entity and currency,
    and the hold lifted. Amounts, key and reference stay.

    Returns None when a line's account is no placeholder this module makes (nothing to
    map it from): the entry stays held rather than leave with a guessed account.
    """
    roles = {name: role for role, name in _PLACEHOLDERS.items()}
    lines = []
    for line in entry.lines:
        name, _, entity = line.account.partition(":")
        role = roles.get(name)
        if role is None or entity != entry.entity:
            return None
        account = accounts.account(role, entity=entry.entity, currency=entry.currency)
        lines.append(dataclasses.replace(line, account=account))
    return dataclasses.replace(entry, lines=tuple(lines), hold=None)
