"""Builders of matcher inputs for the tests: short calls, everything else a sane default."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from domain.matching.records import BankLine, LedgerLine

DAY0 = date(2026, 3, 2)


def bank(
    line: int,
    amount: str,
    *,
    statement: str = "S1",
    account: str = "ACC1",
    currency: str = "USD",
    day: int = 0,
    value_day: int | None = None,
    reference: str | None = None,
    e2e: str | None = None,
    counterparty: str | None = None,
    description: str | None = None,
) -> BankLine:
    return BankLine(
        statement_id=statement,
        line_number=line,
        account=account,
        currency=currency,
        amount=Decimal(amount),
        booking_date=DAY0 + timedelta(days=day),
        value_date=None if value_day is None else DAY0 + timedelta(days=value_day),
        reference=reference,
        end_to_end_id=e2e,
        counterparty=counterparty,
        description=description,
    )


def ledger(
    entry: str,
    amount: str,
    *,
    gl: str = "1000",
    currency: str = "USD",
    day: int = 0,
    reference: str | None = None,
    counterparty: str | None = None,
    description: str | None = None,
) -> LedgerLine:
    return LedgerLine(
        entry_id=entry,
        gl_account=gl,
        currency=currency,
        amount=Decimal(amount),
        entry_date=DAY0 + timedelta(days=day),
        reference=reference,
        counterparty=counterparty,
        description=description,
    )
