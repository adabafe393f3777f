"""How a bank statement and its lines map to their ``statements`` and ``statement_lines``
rows and back: money as minor units of the statement's currency."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from domain.money import minor_units, to_minor
from domain.statements.parsed import StatementFormat
from domain.statements.records import (
    Approval,
    Checks,
    LineEdit,
    MatchStatus,
    Stage1Status,
    Statement,
    StatementLine,
)

_LINE_COLUMNS: Final = (
    "statement_id",
    "number",
    "amount_minor",
    "booking_date",
    "value_date",
    "reference",
    "end_to_end_id",
    "counterparty",
    "counterparty_account",
    "description",
    "bank_reference",
    "type_code",
    "location",
    "match_status",
    "edited",
    "added",
    "removed",
)


def _minor(value: Decimal | None, currency: str) -> int | None:
    return None if value is None else to_minor(value, currency)


def _amount(minor: int | None, currency: str) -> Decimal | None:
    return None if minor is None else Decimal(minor).scaleb(-minor_units(currency))


def statement_row(statement: Statement) -> dict[str, Any]:
    """The ``statements`` row of a statement (without its id)."""
    cur = statement.currency
    return {
        "identity": statement.key.text,
        "account": statement.account,
        "file_account": statement.file_account,
        "entity": statement.entity,
        "team": statement.team,
        "gl_account": statement.gl_account,
        "currency": cur,
        "format": statement.format.value,
        "bank": statement.bank,
        "statement_ref": statement.statement_id,
        "sequence": statement.sequence,
        "period_start": statement.period_start,
        "period_end": statement.period_end,
        "opening_minor": _minor(statement.opening, cur),
        "closing_minor": _minor(statement.closing, cur),
        "opening_derived": statement.opening_derived,
        "control_total_minor": _minor(statement.control_total, cur),
        "control_count": statement.control_count,
        "file_name": statement.file_name,
        "sha256": statement.sha256,
        "content_hash": statement.content_hash,
        "revision": statement.revision,
        "stage1_status": statement.stage1_status.value,
        "checks": statement.checks.to_data(),
        "edits": [e.to_data() for e in statement.edits],
        "approvals": [a.to_data() for a in statement.approvals],
        "rejection": statement.rejection,
        "policy_version": statement.policy_version,
        "version": statement.version,
        "created_at": statement.created_at,
        "updated_at": statement.updated_at,
    }


def _line_values(statement_id: int, line: StatementLine, currency: str) -> tuple[Any, ...]:
    return (
        statement_id,
        line.number,
        to_minor(line.amount, currency),
        line.booking_date,
        line.value_date,
        line.reference,
        line.end_to_end_id,
        line.counterparty,
        line.counterparty_account,
        line.description,
        line.bank_reference,
        line.type_code,
        line.where,
        line.match_status.value,
        line.edited,
        line.added,
        line.removed,
    )


def _line(row: Any, currency: str) -> StatementLine:
    amount = _amount(row.amount_minor, currency)
    assert amount is not None
    return StatementLine(
        number=row.number,
        amount=amount,
        booking_date=row.booking_date,
        value_date=row.value_date,
        reference=row.reference,
        end_to_end_id=row.end_to_end_id,
        counterparty=row.counterparty,
        counterparty_account=row.counterparty_account,
        description=row.description,
        bank_reference=row.bank_reference,
        type_code=row.type_code,
        where=row.location,
        match_status=MatchStatus(row.match_status),
        edited=bool(row.edited),
        added=bool(row.added),
        removed=bool(row.removed),
    )


def _statement(row: Any, lines: tuple[StatementLine, ...]) -> Statement:
    cur = row.currency
    return Statement(
        id=row.id,
        account=row.account,
        file_account=row.file_account,
        entity=row.entity,
        team=row.team,
        gl_account=row.gl_account,
        currency=cur,
        format=StatementFormat(row.format),
        bank=row.bank,
        statement_id=row.statement_ref,
        sequence=row.sequence,
        period_start=row.period_start,
        period_end=row.period_end,
        opening=_amount(row.opening_minor, cur),
        closing=_amount(row.closing_minor, cur),
        opening_derived=bool(row.opening_derived),
        control_total=_amount(row.control_total_minor, cur),
        control_count=row.control_count,
        lines=lines,
        file_name=row.file_name,
        sha256=row.sha256,
        content_hash=row.content_hash,
        revision=row.revision,
        stage1_status=Stage1Status(row.stage1_status),
        checks=Checks.from_data(row.checks),
        edits=tuple(LineEdit.from_data(e) for e in row.edits),
        approvals=tuple(Approval.from_data(a) for a in row.approvals),
        rejection=row.rejection,
        policy_version=row.policy_version,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
