"""The two sides of a matching run as the matcher reads them, and what becomes of a side
left without a match: bank lines and ledger lines from the stored statements and GL
entries, and the ``unmatched`` intake rows (with whether intake would write any)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from domain.gl import StoredLedgerEntry
from domain.intake import IntakeRow, same_content
from domain.items import ItemFacts, ItemKind
from domain.matching.records import BankLine, LedgerLine
from domain.ports import UnitOfWork
from domain.statements.records import Statement, StatementLine
from domain.usecases.match_steps import MATCHING_SOURCE, bank_external_id, ledger_external_id


async def unmatched_changed(uow: UnitOfWork, rows: Sequence[IntakeRow]) -> bool:
    """Whether intake would write any of these ``unmatched`` rows: one without an item
    yet, or whose item holds other content (an amendment)."""
    if not rows:
        return False
    found = await uow.items.get_many_by_external(
        MATCHING_SOURCE, [row.facts.external_id for row in rows]
    )
    for row in rows:
        item = found.get(row.facts.external_id)
        if item is None or not same_content(item.content_hash, row.facts, hashed=row.content_hash):
            return True
    return False


def bank_line(head: Statement, line: StatementLine) -> BankLine:
    assert head.id is not None
    return BankLine(
        statement_id=str(head.id),
        line_number=line.number,
        account=head.account,
        currency=head.currency,
        amount=line.amount,
        booking_date=line.booking_date or line.value_date or head.period_end,
        value_date=line.value_date,
        reference=line.reference,
        end_to_end_id=line.end_to_end_id,
        counterparty=line.counterparty,
        description=line.description,
    )


def ledger_line(stored: StoredLedgerEntry) -> LedgerLine:
    e = stored.entry
    return LedgerLine(
        entry_id=e.entry_id,
        gl_account=e.account,
        currency=e.currency,
        amount=e.amount,
        entry_date=e.booked_on,
        reference=e.reference,
        counterparty=e.counterparty,
        description=e.description,
    )


def unmatched_row(
    external_id: str,
    missing: str,
    *,
    entity: str,
    currency: str,
    amount: Decimal,
    counterparty: str | None,
    booked_on: date | None,
    reference: str | None,
) -> IntakeRow:
    """The ``unmatched`` item of one side left without a match (``missing``: why)."""
    facts = ItemFacts(
        source=MATCHING_SOURCE,
        external_id=external_id,
        kind=ItemKind.UNMATCHED,
        entity=entity,
        currency=currency,
        amount=amount,
        counterparty=counterparty,
        booked_on=booked_on,
        reference=reference,
        description=missing[:2000],
    )
    return IntakeRow(line=0, facts=facts)


def unmatched_bank_row(line: BankLine, reason: str, entity: str) -> IntakeRow:
    return unmatched_row(
        bank_external_id(line.statement_id, line.line_number),
        f"bank line without a ledger match: {reason}",
        entity=entity,
        currency=line.currency,
        amount=line.amount,
        counterparty=line.counterparty,
        booked_on=line.booking_date,
        reference=line.reference,
    )


def unmatched_ledger_row(entry: LedgerLine, reason: str, entity: str) -> IntakeRow:
    return unmatched_row(
        ledger_external_id(entry.gl_account, entry.entry_id),
        f"ledger entry without a bank match: {reason}",
        entity=entity,
        currency=entry.currency,
        amount=entry.amount,
        counterparty=entry.counterparty,
        booked_on=entry.entry_date,
        reference=entry.reference,
    )
