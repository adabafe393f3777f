"""Journal entries: balanced, idempotent, created on final approval and never before."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from domain.accounts import AccountRole, Accounts
from domain.items import (
    DisputeOutcome,
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
    "build_adjustment",
    "build_entry",
    "build_reversal",
    "entry_seq",
    "idempotency_key",
    "ledger_ref",
    "released",
    "unreversed",
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
    AccountRole.ADJUSTMENT: "recon-adjustment",
    AccountRole.FX_DIFFERENCE: "fx-difference",
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


def entry_seq(item: Item, kind: EntryKind, prior: Sequence[JournalEntry] = ()) -> int | None:
    """The ``seq`` of the next ``kind`` entry of ``item``, given the entries it already has.

    A write-off settles one dispute: the first dispute's keeps the key it always had
    (no ``seq``, so entries already stored stay valid), a later dispute's carries its
    number. An approval (or match) recurs only after its predecessor was reversed by a
    changed re-ingest: the first has no ``seq``, the next ones are numbered from 2 by how
    many of that kind the item already has, so a re-approval never collides with, or
    silently returns, the reversed entry.
    """
    if kind is EntryKind.WRITE_OFF:
        number = item.dispute.number if item.dispute is not None else 1
        return number if number > 1 else None
    if kind is EntryKind.ADJUSTMENT:
        return item.dispute.number if item.dispute is not None else 1
    same = sum(1 for e in prior if e.kind is kind)
    return same + 1 if same else None


def _lines(account: str, suspense: str, minor: int) -> tuple[JournalLine, ...]:
    """``minor`` debited to ``account`` against ``suspense`` (the other way when negative)."""
    if minor >= 0:
        return (
            JournalLine(account=account, debit_minor=minor),
            JournalLine(account=suspense, credit_minor=minor),
        )
    return (
        JournalLine(account=suspense, debit_minor=-minor),
        JournalLine(account=account, credit_minor=-minor),
    )


def build_entry(
    item: Item,
    *,
    kind: EntryKind,
    now: datetime,
    accounts: Accounts | None = None,
    prior: Sequence[JournalEntry] = (),
) -> JournalEntry:
    """The balanced entry for an approved item, on the policy's ``accounts``.

    ``prior`` are the item's entries already stored: they decide the key's ``seq``
    (:func:`entry_seq`). A write-off's memo names the dispute it settles and the item.

    Raises:
        ValueError: the item is not approved (posting before approval is a bug).
    """
    if item.state is not ReviewState.APPROVED or item.id is None:
        raise ValueError("journal entries are created only for approved, stored items")
    role, amount = _role_and_amount(item, kind)
    account = account_for(item, role, accounts)
    minor = Money(amount=amount, currency=item.facts.currency).minor
    suspense = account_for(item, AccountRole.SUSPENSE, accounts)
    approvers = ", ".join(a.user for a in item.approvals) or "policy"
    disputed = (
        dispute_id(item.id, item.dispute.number)
        if kind is EntryKind.WRITE_OFF and item.dispute
        else None
    )
    seq = entry_seq(item, kind, prior)
    return JournalEntry(
        idempotency_key=idempotency_key(item.id, kind, seq),
        ledger_ref=ledger_ref(item.id, kind, seq),
        item_id=item.id,
        currency=item.facts.currency,
        lines=_lines(account, suspense, minor),
        memo=f"{item.human_id} {kind.value}"
        + (f" of dispute {disputed} on {item.human_id}" if disputed else "")
        + f" by {approvers}"
        + (f" ({item.facts.reference})" if item.facts.reference else ""),
        created_at=now,
        kind=kind,
        entity=item.facts.entity,
        dispute_id=disputed,
        hold=NO_ACCOUNT_MAPPING if accounts is None else None,
    )


def build_adjustment(
    item: Item, *, now: datetime, accounts: Accounts | None = None
) -> JournalEntry:
    """The entry of a dispute resolved as ``adjusted``: the agreed amount on the policy's
    ``adjustment`` account against ``suspense``.

    Why suspense and not clearing: suspense is where a difference nobody has explained
    yet waits (it is the other side of every entry until settled), and the dispute is
    exactly that difference. The adjustment moves it out of suspense into the adjustment
    account; clearing keeps only amounts that really cleared, which the item's own
    approval entry posts once it has been reviewed again on the agreed facts. A positive
    amount debits adjustment and credits suspense; a negative one the other way round.

    The key carries the dispute number (``item-1042-adjustment-1``, ``JE-00001042-J1``):
    one adjustment per dispute, whatever retries happen.

    Raises:
        ValueError: the item is not stored, or its dispute was not resolved as adjusted
            with an amount.
    """
    dispute = item.dispute
    if (
        item.id is None
        or dispute is None
        or dispute.outcome is not DisputeOutcome.ADJUSTED
        or dispute.resolution_amount is None
    ):
        raise ValueError("an adjustment entry needs a stored item whose dispute was adjusted")
    minor = Money(amount=dispute.resolution_amount, currency=item.facts.currency).minor
    kind = EntryKind.ADJUSTMENT
    disputed = dispute_id(item.id, dispute.number)
    return JournalEntry(
        idempotency_key=idempotency_key(item.id, kind, dispute.number),
        ledger_ref=ledger_ref(item.id, kind, dispute.number),
        item_id=item.id,
        currency=item.facts.currency,
        lines=_lines(
            account_for(item, AccountRole.ADJUSTMENT, accounts),
            account_for(item, AccountRole.SUSPENSE, accounts),
            minor,
        ),
        memo=f"{item.human_id} adjustment of dispute {disputed} on {item.human_id}"
        + f" by {dispute.resolved_by or 'unknown'}"
        + (f" ({item.facts.reference})" if item.facts.reference else ""),
        created_at=now,
        kind=kind,
        entity=item.facts.entity,
        dispute_id=disputed,
        hold=NO_ACCOUNT_MAPPING if accounts is None else None,
    )


def unreversed(entries: Sequence[JournalEntry]) -> list[JournalEntry]:
    """The entries (oldest first) that are not reversals and no reversal cancels yet."""
    reversed_keys = {e.reverses for e in entries if e.kind is EntryKind.REVERSAL}
    return [
        e
        for e in entries
        if e.kind is not EntryKind.REVERSAL and e.idempotency_key not in reversed_keys
    ]


def build_reversal(original: JournalEntry, *, seq: int, now: datetime, item: Item) -> JournalEntry:
    """The entry that cancels ``original`` exactly: every line mirrored (debit <-> credit).

    ``item`` is the item as amended (its new version); ``seq`` numbers the item's
    reversals (``item-1042-reversal-1``, ``JE-00001042-V1``). The reversal keeps the
    original's entity, currency, dispute and hold (its accounts are the original's, so a
    placeholder account that may not leave stays held), and ``reverses`` names the
    original's key; the original itself is never touched.
    """
    if item.id is None or original.item_id != item.id:
        raise ValueError("a reversal belongs to the stored item of the entry it reverses")
    if original.kind is EntryKind.REVERSAL:
        raise ValueError("a reversal is never itself reversed")
    kind = EntryKind.REVERSAL
    return JournalEntry(
        idempotency_key=idempotency_key(item.id, kind, seq),
        ledger_ref=ledger_ref(item.id, kind, seq),
        item_id=item.id,
        currency=original.currency,
        lines=tuple(
            JournalLine(
                account=line.account, debit_minor=line.credit_minor, credit_minor=line.debit_minor
            )
            for line in original.lines
        ),
        memo=f"{item.human_id} reversal of {original.ledger_ref} ({original.kind.value}): "
        f"source data changed, item now version {item.version}",
        created_at=now,
        kind=kind,
        entity=original.entity,
        dispute_id=original.dispute_id,
        reverses=original.idempotency_key,
        hold=original.hold,
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
